//! The text rendering: for a person reading a terminal.
//!
//! Layout: the verdict first; then the blocking failures with their messages
//! and evidence; then the rules that could not be evaluated; then warnings
//! (failures and errors below the blocking threshold); then the rules a
//! selection left out; then a one-line summary. Passing and skipped rules
//! appear in the summary counts, and with `verbose` in sections of their
//! own (skipped ones with their reasons); with `explain`, every result
//! says which branch of its conditions decided it.

use std::io::{self, Write};

use serde_json::Value;

use crate::report::{Evidence, Outcome, Report, RuleResult, Verdict};

/// How to render text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextOptions {
    /// Use ANSI colours. The CLI turns this on only when stdout is a terminal
    /// and `NO_COLOR` is unset.
    pub color: bool,
    /// Also list the rules that passed, the rules that were skipped (with
    /// why) and every rule a selection left out.
    pub verbose: bool,
    /// Under each result, which branch of its conditions decided it (the
    /// report must have been evaluated with `EvalOptions::explain`).
    pub explain: bool,
}

impl TextOptions {
    /// With or without ANSI colours.
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// With or without the passed and skipped rules.
    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// With or without the decisions behind each result.
    pub fn with_explain(mut self, explain: bool) -> Self {
        self.explain = explain;
        self
    }
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// The longest rendering of a found value before it is shortened.
const MAX_VALUE_CHARS: usize = 120;

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }
}

/// Writes `report` as text.
pub fn text(report: &Report, out: &mut dyn Write, options: TextOptions) -> io::Result<()> {
    let p = Painter {
        color: options.color,
    };
    let blocking: Vec<&RuleResult> = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail && r.severity >= report.fail_on)
        .collect();
    let errors: Vec<&RuleResult> = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Error && r.severity >= report.fail_on)
        .collect();
    let warnings: Vec<&RuleResult> = report
        .results
        .iter()
        .filter(|r| {
            matches!(r.outcome, Outcome::Fail | Outcome::Error) && r.severity < report.fail_on
        })
        .collect();

    let who = report.subject();
    let unevaluated = report.unevaluated_blocking();
    let headline = match report.verdict {
        // An order-only check vouches for the order rules, never for the
        // order as a whole: its line must not read like a full READY.
        Verdict::Ready if report.order_only.is_some() => format!(
            "{}: no order rule failed for {who}",
            p.paint(&format!("{BOLD}{GREEN}"), "ORDER RULES PASSED")
        ),
        Verdict::Ready if unevaluated.is_some() => format!(
            "{}: no blocking rule failed for {who}, but none was evaluated: every one was skipped",
            p.paint(&format!("{BOLD}{GREEN}"), "READY")
        ),
        Verdict::Ready => format!(
            "{}: no blocking rule failed for {who}",
            p.paint(&format!("{BOLD}{GREEN}"), "READY")
        ),
        Verdict::Indeterminate if errors.is_empty() => format!(
            "{}: no rule was evaluated for {who}; do not order until one is",
            p.paint(&format!("{BOLD}{MAGENTA}"), "INDETERMINATE"),
        ),
        Verdict::Blocked => format!(
            "{}: {} for {who}",
            p.paint(&format!("{BOLD}{RED}"), "BLOCKED"),
            plural(blocking.len(), "blocking failure", "blocking failures")
        ),
        Verdict::Indeterminate => format!(
            "{}: {} could not be evaluated for {who}; do not order until it can",
            p.paint(&format!("{BOLD}{MAGENTA}"), "INDETERMINATE"),
            plural(errors.len(), "rule", "rules")
        ),
    };
    // A verdict without an order covers the customer checks only: say so
    // on the verdict line, where a reader (and a CI log) looks.
    let scope = match report.inputs {
        Some(inputs) if !inputs.order => "; customer checks only: no order given",
        _ => "",
    };
    // Rules left out are part of what the verdict does not cover.
    let left_out = match report.deselected.len() {
        0 => String::new(),
        1 => "; 1 rule left out by the selection".to_owned(),
        n => format!("; {n} rules left out by the selection"),
    };
    writeln!(out, "{headline}{scope}{left_out}")?;
    let x = options.explain;

    // A reason shared by several rules (one unavailable resource) is
    // printed in full once, briefly after that.
    let mut said = Vec::new();
    section(
        out,
        &p,
        "Blocking failures",
        RED,
        "x",
        &blocking,
        x,
        &mut said,
    )?;
    section(
        out,
        &p,
        "Could not be evaluated",
        MAGENTA,
        "?",
        &errors,
        x,
        &mut said,
    )?;
    section(out, &p, "Warnings", YELLOW, "!", &warnings, x, &mut said)?;
    if let Some(skipped) = &unevaluated {
        section(
            out,
            &p,
            "Blocking rules not evaluated",
            YELLOW,
            "-",
            skipped,
            x,
            &mut said,
        )?;
    }
    if options.verbose || options.explain {
        let passed: Vec<&RuleResult> = report
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Pass)
            .collect();
        section(out, &p, "Passed", GREEN, "✓", &passed, x, &mut said)?;
        // The skipped rules the section above did not already list.
        let skipped: Vec<&RuleResult> = report
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Skip)
            .filter(|r| {
                !unevaluated
                    .as_ref()
                    .is_some_and(|u| u.iter().any(|s| s.rule == r.rule))
            })
            .collect();
        section(out, &p, "Skipped", DIM, "-", &skipped, x, &mut said)?;
    }
    deselected(out, &p, report, options.verbose)?;

    let s = &report.summary;
    writeln!(out)?;
    let not_selected = match report.deselected.len() {
        0 => String::new(),
        n => format!(", {n} left out"),
    };
    writeln!(
        out,
        "{} · {}: {} pass, {} fail ({} blocking, {} not blocking at fail-on {}), {} skip, {} error{not_selected}",
        p.paint(
            BOLD,
            if report.order_only.is_some() && report.verdict == Verdict::Ready {
                "order rules passed"
            } else {
                report.verdict.as_str()
            }
        ),
        plural(s.total, "rule", "rules"),
        s.pass,
        s.fail,
        s.blocking,
        s.warnings,
        report.fail_on,
        s.skip,
        s.error
    )
}

/// The rules a selection left out: every one with `verbose`, else a count
/// per reason.
fn deselected(out: &mut dyn Write, p: &Painter, report: &Report, verbose: bool) -> io::Result<()> {
    if report.deselected.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        p.paint(
            &format!("{BOLD}{YELLOW}"),
            &format!(
                "Left out by the selection (not evaluated): {}",
                plural(report.deselected.len(), "rule", "rules")
            )
        )
    )?;
    if verbose {
        for d in &report.deselected {
            writeln!(
                out,
                "  - {} {}: {}",
                p.paint(BOLD, &d.rule),
                d.title,
                d.reason
            )?;
        }
        return Ok(());
    }
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for d in &report.deselected {
        match reasons.iter_mut().find(|(r, _)| *r == d.reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((&d.reason, 1)),
        }
    }
    for (reason, n) in reasons {
        writeln!(out, "  - {}: {reason}", plural(n, "rule", "rules"))?;
    }
    writeln!(out, "  {}", p.paint(DIM, "(-v lists them)"))
}

#[allow(clippy::too_many_arguments)]
fn section<'a>(
    out: &mut dyn Write,
    p: &Painter,
    heading: &str,
    color: &str,
    mark: &str,
    results: &[&'a RuleResult],
    explain: bool,
    said: &mut Vec<(&'a str, &'a str)>,
) -> io::Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", p.paint(&format!("{BOLD}{color}"), heading))?;
    for r in results {
        let mut tags = vec![r.severity.to_string()];
        if r.outcome == Outcome::Error {
            tags.push("not evaluated".to_owned());
        }
        if let Some(code) = &r.preempts {
            tags.push(format!("pre-empts {code}"));
        }
        writeln!(
            out,
            "  {} {} [{}] {}",
            p.paint(color, mark),
            p.paint(BOLD, &r.rule),
            tags.join(", "),
            r.title
        )?;
        if r.items.is_empty() {
            let earlier = r
                .message
                .as_deref()
                .filter(|_| r.outcome == Outcome::Error)
                .and_then(|m| said.iter().find(|(text, _)| *text == m));
            match (earlier, &r.message) {
                (Some((text, rule)), _) => {
                    let brief = crate::report::brief_reason(text)
                        .unwrap_or_else(|| text.lines().next().unwrap_or_default().to_owned());
                    writeln!(
                        out,
                        "      cannot evaluate: {brief} (in full under {rule} above)"
                    )?;
                }
                (None, Some(message)) => {
                    for line in message.lines() {
                        writeln!(out, "      {line}")?;
                    }
                    if r.outcome == Outcome::Error {
                        said.push((message, &r.rule));
                    }
                }
                (None, None) => {}
            }
            evidence(out, p, "      ", &r.evidence)?;
        } else {
            for item in &r.items {
                let prefix = if item.outcome == Outcome::Error {
                    " (not evaluated)"
                } else {
                    ""
                };
                let earlier = (item.outcome == Outcome::Error)
                    .then(|| said.iter().find(|(text, _)| *text == item.message))
                    .flatten();
                match earlier {
                    Some((text, rule)) => {
                        let brief = crate::report::brief_reason(text)
                            .unwrap_or_else(|| text.lines().next().unwrap_or_default().to_owned());
                        writeln!(
                            out,
                            "      {}{prefix}: cannot evaluate: {brief} (in full under {rule} above)",
                            item.path
                        )?;
                    }
                    None => {
                        writeln!(out, "      {}{prefix}: {}", item.path, item.message)?;
                        if item.outcome == Outcome::Error {
                            said.push((&item.message, &r.rule));
                        }
                    }
                }
                evidence(out, p, "        ", &item.evidence)?;
            }
            if let Some(n) = r.checked_items {
                writeln!(
                    out,
                    "      {}",
                    p.paint(DIM, &format!("{} of {n} items not passing", r.items.len()))
                )?;
            }
        }
        if let Some(docs) = &r.docs
            && matches!(r.outcome, Outcome::Fail | Outcome::Error)
        {
            writeln!(out, "      {}", p.paint(DIM, &format!("docs: {docs}")))?;
        }
        if explain && let Some(e) = &r.explain {
            for line in e.lines() {
                writeln!(out, "      {}", p.paint(DIM, &line))?;
            }
        }
    }
    Ok(())
}

fn evidence(
    out: &mut dyn Write,
    p: &Painter,
    indent: &str,
    evidence: &[Evidence],
) -> io::Result<()> {
    for e in evidence {
        let found = match (&e.found, e.missing) {
            (_, true) => "missing".to_owned(),
            (Some(v), false) => format!("found {}", short_value(v)),
            (None, false) => "nothing found".to_owned(),
        };
        let line = format!("{}: {found}; expected {}", e.path, e.expected);
        writeln!(out, "{indent}{}", p.paint(DIM, &line))?;
    }
    Ok(())
}

fn short_value(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= MAX_VALUE_CHARS {
        return s;
    }
    let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
    format!("{cut}…")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

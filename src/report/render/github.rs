//! GitHub Actions workflow commands: one `::error` / `::warning` /
//! `::notice` annotation per finding, at its file and line when it has
//! one, so a pull request shows each failing order item where it is
//! written.
//!
//! | finding | annotation |
//! |---|---|
//! | `fail` at or above `fail_on` | `::error` |
//! | `error` (not evaluated) at or above `fail_on` | `::error` |
//! | `fail` or `error` below `fail_on`, severity `warning` or `error` | `::warning` |
//! | `fail` or `error` below `fail_on`, severity `info` | `::notice` |
//!
//! A last annotation states the verdict (`::error` unless it is `ready`).

use std::io::{self, Write};

use super::locate::{FileProblem, OrderFile, Position};
use crate::report::{Outcome, Report, RuleResult, Severity, Verdict};

/// An annotation's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `::error`.
    Error,
    /// `::warning`.
    Warning,
    /// `::notice`.
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// One workflow command line: `::LEVEL file=F,line=L,col=C,title=T::MESSAGE`,
/// with GitHub's escaping (`%`, CR and LF everywhere; `:` and `,` in
/// properties too).
pub fn annotation(
    level: Level,
    file: Option<&str>,
    at: Option<Position>,
    title: &str,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", escape_property(f)));
        if let Some(p) = at {
            props.push(format!("line={}", p.line));
            props.push(format!("col={}", p.column));
        }
    }
    props.push(format!("title={}", escape_property(title)));
    format!(
        "::{} {}::{}\n",
        level.command(),
        props.join(","),
        escape_data(message)
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The level of a result that needs attention, `None` for one that does
/// not (`pass`, `skip`).
pub(crate) fn level_of(report: &Report, r: &RuleResult) -> Option<Level> {
    match r.outcome {
        Outcome::Pass | Outcome::Skip => None,
        Outcome::Fail | Outcome::Error if r.severity >= report.fail_on() => Some(Level::Error),
        _ if r.severity == Severity::Info => Some(Level::Notice),
        _ => Some(Level::Warning),
    }
}

/// One finding of a report: a result, or one failing item of it, with where
/// it is in the order file (the most precise evidence path inside the
/// order, else the item, else nothing).
pub(crate) struct Finding<'a> {
    pub(crate) result: &'a RuleResult,
    pub(crate) message: String,
    pub(crate) at: Option<Position>,
}

/// The findings of `report` that need attention, located in `order`.
pub(crate) fn findings<'a>(report: &'a Report, order: Option<&OrderFile>) -> Vec<Finding<'a>> {
    let locate = |paths: &mut dyn Iterator<Item = &str>| -> Option<Position> {
        let order = order?;
        let paths: Vec<&str> = paths.collect();
        // The deepest path inside the order is the most precise place.
        paths
            .iter()
            .filter(|p| p.starts_with("order.") || **p == "order")
            .max_by_key(|p| p.len())
            .and_then(|p| order.locate(p))
    };
    let mut out = Vec::new();
    for r in report.results() {
        if level_of(report, r).is_none() {
            continue;
        }
        if r.items.is_empty() {
            let message = r.message.clone().unwrap_or_else(|| r.title.clone());
            let at = locate(&mut r.evidence.iter().map(|e| e.path.as_str()));
            out.push(Finding {
                result: r,
                message,
                at,
            });
        } else {
            for item in &r.items {
                let at = locate(
                    &mut std::iter::once(item.path.as_str())
                        .chain(item.evidence.iter().map(|e| e.path.as_str())),
                );
                out.push(Finding {
                    result: r,
                    message: format!("{}: {}", item.path, item.message),
                    at,
                });
            }
        }
    }
    out
}

/// Writes `report` as annotations. Findings in the order are placed at their
/// line in `order` (when it is a file); a finding about the customer, or an
/// order read from stdin, is placed at the order file without a line, or
/// nowhere, and says so.
pub fn github(report: &Report, order: Option<&OrderFile>, out: &mut dyn Write) -> io::Result<()> {
    let mut s = String::new();
    let file = order.filter(|o| o.has_file()).map(|o| o.name.as_str());
    for f in findings(report, order) {
        let level = level_of(report, f.result).unwrap_or(Level::Notice);
        let title = format!("{} ({})", f.result.rule, f.result.severity);
        let mut message = f.message;
        if f.result.outcome == Outcome::Error {
            message = format!("not evaluated: {message}");
        }
        if order.is_some_and(|o| !o.has_file()) {
            message.push_str(" (the order was read from stdin: no file location)");
        }
        s.push_str(&annotation(level, file, f.at, &title, &message));
    }
    let (level, verdict) = match report.verdict() {
        Verdict::Ready if report.order_only.is_some() => (Level::Notice, "order rules passed"),
        Verdict::Ready => (Level::Notice, "ready"),
        Verdict::Blocked => (Level::Error, "blocked"),
        Verdict::Indeterminate => (Level::Error, "indeterminate"),
    };
    let s_ = report.summary();
    let mut line = format!(
        "{verdict} for {}: {} blocking failure(s), {} not evaluated, {} warning(s) of {} rules",
        report.subject(),
        s_.blocking,
        s_.error,
        s_.warnings,
        s_.total
    );
    if !report.deselected.is_empty() {
        line.push_str(&format!(
            "; {} rule(s) left out by the selection",
            report.deselected.len()
        ));
    }
    if report.inputs.is_some_and(|i| !i.order) {
        line.push_str("; customer checks only: no order given");
    }
    s.push_str(&annotation(level, None, None, "ion-preflight", &line));
    out.write_all(s.as_bytes())
}

/// Writes problems found in files (rule-file diagnostics) as `::error`
/// annotations at their file, line and column.
pub fn github_diagnostics(problems: &[FileProblem], out: &mut dyn Write) -> io::Result<()> {
    let mut s = String::new();
    for p in problems {
        s.push_str(&annotation(
            Level::Error,
            Some(&p.file),
            Some(p.at),
            &p.code,
            &p.message,
        ));
    }
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_and_data_are_escaped() {
        let a = annotation(
            Level::Error,
            Some("a,b:c.json"),
            Some(Position { line: 3, column: 5 }),
            "x",
            "100% bad\nnext",
        );
        assert_eq!(
            a,
            "::error file=a%2Cb%3Ac.json,line=3,col=5,title=x::100%25 bad%0Anext\n"
        );
        // No file: no line either.
        let b = annotation(
            Level::Notice,
            None,
            Some(Position { line: 1, column: 1 }),
            "t",
            "m",
        );
        assert_eq!(b, "::notice title=t::m\n");
    }
}

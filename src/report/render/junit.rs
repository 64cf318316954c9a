//! The JUnit XML rendering, for CI systems.
//!
//! One `<testsuite>` per report (named after the account and customer), one
//! `<testcase>` per rule (named after the rule id). The mapping:
//!
//! | rule outcome                              | test case                                  |
//! |-------------------------------------------|--------------------------------------------|
//! | `pass`                                    | passes                                     |
//! | `fail`, severity at or above `fail_on`    | `<failure>` with the message and evidence  |
//! | `error`, severity at or above `fail_on`   | `<error>` with the reason                  |
//! | `skip`                                    | `<skipped>` with the reason                |
//! | `fail` or `error` below `fail_on`         | passes, with the warning in `<system-out>` |
//!
//! So a CI job fails exactly when the verdict is not `ready`, and warnings
//! stay visible in the test output without failing the build.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::report::render::ReportStream;
use crate::report::{Evidence, Outcome, Report, RuleResult};

const HEADER: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ion-preflight\">\n";
const FOOTER: &str = "</testsuites>\n";

/// Writes one report as a JUnit XML document.
pub fn junit(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut doc = String::from(HEADER);
    suite(report, &mut doc);
    doc.push_str(FOOTER);
    out.write_all(doc.as_bytes())
}

/// Many reports as one JUnit document, one `<testsuite>` per report, written
/// as each report arrives.
#[derive(Debug)]
pub struct JunitStream<W: Write> {
    out: W,
    started: bool,
}

impl<W: Write> JunitStream<W> {
    /// Streams to `out`.
    pub fn new(out: W) -> Self {
        JunitStream {
            out,
            started: false,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.out.write_all(HEADER.as_bytes())?;
            self.started = true;
        }
        Ok(())
    }
}

impl<W: Write> ReportStream for JunitStream<W> {
    fn report(&mut self, report: &Report) -> io::Result<()> {
        self.start()?;
        let mut s = String::new();
        suite(report, &mut s);
        self.out.write_all(s.as_bytes())?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.start()?;
        self.out.write_all(FOOTER.as_bytes())?;
        self.out.flush()
    }
}

fn suite(report: &Report, x: &mut String) {
    let blocking = |r: &RuleResult| r.severity >= report.fail_on;
    let failures = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail && blocking(r))
        .count();
    let errors = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Error && blocking(r))
        .count();
    let skipped = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Skip)
        .count();
    let (classname, suite) = match &report.new_customer {
        // An order-only check has no account or customer: the file names it.
        None if report.order_only.is_some() => (
            format!(
                "ion-preflight.order-file.{}",
                report
                    .order_only
                    .as_ref()
                    .map(|o| o.file.replace(['/', '\\', '.'], "-"))
                    .unwrap_or_default()
            ),
            report.subject(),
        ),
        None => (
            format!(
                "ion-preflight.account-{}.customer-{}",
                report.account_id, report.customer_id
            ),
            format!(
                "account {} customer {}",
                report.account_id, report.customer_id
            ),
        ),
        Some(n) => (
            match n.line {
                Some(line) => format!(
                    "ion-preflight.account-{}.new-customer-line-{line}",
                    report.account_id
                ),
                None => format!("ion-preflight.account-{}.new-customer", report.account_id),
            },
            report.subject(),
        ),
    };
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" timestamp=\"{}\">",
        escape(&suite),
        report.results.len(),
        escape(&report.checked_at)
    );
    x.push_str("    <properties>\n");
    for (name, value) in [
        ("verdict", report.verdict.as_str()),
        ("fail_on", report.fail_on.as_str()),
    ] {
        let _ = writeln!(x, "      <property name=\"{name}\" value=\"{value}\"/>");
    }
    x.push_str("    </properties>\n");
    for r in &report.results {
        let _ = write!(
            x,
            "    <testcase name=\"{}\" classname=\"{}\"",
            escape(&r.rule),
            escape(&classname)
        );
        let detail = details(r);
        let message = escape(r.message.as_deref().unwrap_or(&r.title));
        match r.outcome {
            Outcome::Pass => x.push_str("/>\n"),
            Outcome::Skip => {
                let _ = writeln!(
                    x,
                    ">\n      <skipped message=\"{message}\"/>\n    </testcase>"
                );
            }
            Outcome::Fail | Outcome::Error if blocking(r) => {
                let tag = if r.outcome == Outcome::Fail {
                    "failure"
                } else {
                    "error"
                };
                let _ = writeln!(
                    x,
                    ">\n      <{tag} message=\"{message}\" type=\"{}\">{}</{tag}>\n    </testcase>",
                    r.severity,
                    escape_text(&detail)
                );
            }
            Outcome::Fail | Outcome::Error => {
                let _ = writeln!(
                    x,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    escape_text(&format!(
                        "{} ({}, {}, below fail-on {}): {detail}",
                        r.rule, r.severity, r.outcome, report.fail_on
                    ))
                );
            }
        }
    }
    x.push_str("  </testsuite>\n");
}

/// The message, the evidence and the docs link of a result, as plain text.
fn details(r: &RuleResult) -> String {
    let mut s = String::new();
    if let Some(code) = &r.preempts {
        let _ = writeln!(s, "pre-empts {code}");
    }
    if r.items.is_empty() {
        if let Some(m) = &r.message {
            let _ = writeln!(s, "{m}");
        }
        evidence(&mut s, "", &r.evidence);
    } else {
        for item in &r.items {
            let _ = writeln!(s, "{}: {}", item.path, item.message);
            evidence(&mut s, "  ", &item.evidence);
        }
    }
    if let Some(docs) = &r.docs {
        let _ = writeln!(s, "docs: {docs}");
    }
    s
}

fn evidence(s: &mut String, indent: &str, evidence: &[Evidence]) {
    for e in evidence {
        let found = match (&e.found, e.missing) {
            (_, true) => "missing".to_owned(),
            (Some(v), false) => format!("found {v}"),
            (None, false) => "nothing found".to_owned(),
        };
        let _ = writeln!(s, "{indent}{}: {found}; expected {}", e.path, e.expected);
    }
}

/// Escapes text for XML attributes and character data, dropping characters
/// XML 1.0 cannot carry.
pub(crate) fn escape(s: &str) -> String {
    escape_as(s, true)
}

/// Escapes character data (element content): newlines stay newlines.
fn escape_text(s: &str) -> String {
    escape_as(s, false)
}

fn escape_as(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\n' => out.push('\n'),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_text};

    #[test]
    fn escape_handles_markup_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}\nd"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;d"
        );
        assert_eq!(escape_text("x\ny<"), "x\ny&lt;");
    }
}

//! Renderers: a [`Report`] as text for a person, JSON, NDJSON, JUnit XML,
//! GitHub Actions annotations ([`github`]) or SARIF 2.1.0 ([`sarif`]); a
//! batch as a table ([`TableStream`]).
//!
//! Single reports are rendered with [`text`], [`json`], [`ndjson`] and
//! [`junit`]. Many reports (a batch) are streamed through a [`ReportStream`]:
//! each report is written whole as soon as it is handed over, so memory does
//! not grow with the number of reports and an interrupted run leaves only
//! complete records behind.

mod github;
mod junit;
mod locate;
mod sarif;
mod text;

use std::io::{self, Write};

use crate::report::Report;

pub use github::{Level, annotation, github, github_diagnostics};
#[cfg(feature = "cli")]
pub(crate) use junit::escape as xml_escape;
pub use junit::{JunitStream, junit};
pub use locate::{FileProblem, OrderFile, Position};
pub use sarif::{SARIF_SCHEMA, sarif, sarif_diagnostics};
pub use text::{TextOptions, text};

/// Writes `report` as pretty-printed JSON followed by a newline.
pub fn json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Writes `report` as one line of compact JSON followed by a newline.
pub fn ndjson(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // Serialize into memory first so that a report is written in one piece
    // (no half-written line if serialization or the writer fails midway).
    let mut line = serde_json::to_vec(report)?;
    line.push(b'\n');
    out.write_all(&line)
}

/// A stream of reports written one at a time (batch output).
///
/// Call [`ReportStream::report`] for each report, then
/// [`ReportStream::finish`] once; implementations flush after every report.
pub trait ReportStream {
    /// Writes one whole report and flushes.
    fn report(&mut self, report: &Report) -> io::Result<()>;
    /// Closes the document (for formats that have one) and flushes.
    fn finish(&mut self) -> io::Result<()>;
}

/// One compact JSON report per line.
#[derive(Debug)]
pub struct NdjsonStream<W: Write> {
    out: W,
}

impl<W: Write> NdjsonStream<W> {
    /// Streams to `out`.
    pub fn new(out: W) -> Self {
        NdjsonStream { out }
    }
}

impl<W: Write> ReportStream for NdjsonStream<W> {
    fn report(&mut self, report: &Report) -> io::Result<()> {
        ndjson(report, &mut self.out)?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A JSON array of reports, written element by element.
#[derive(Debug)]
pub struct JsonArrayStream<W: Write> {
    out: W,
    count: usize,
}

impl<W: Write> JsonArrayStream<W> {
    /// Streams to `out`.
    pub fn new(out: W) -> Self {
        JsonArrayStream { out, count: 0 }
    }
}

impl<W: Write> ReportStream for JsonArrayStream<W> {
    fn report(&mut self, report: &Report) -> io::Result<()> {
        let mut buf = Vec::new();
        buf.extend_from_slice(if self.count == 0 { b"[\n" } else { b",\n" });
        serde_json::to_writer_pretty(&mut buf, report)?;
        self.out.write_all(&buf)?;
        self.count += 1;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        let end: &[u8] = if self.count == 0 { b"[]\n" } else { b"\n]\n" };
        self.out.write_all(end)?;
        self.out.flush()
    }
}

/// A table for a person at a terminal, one row per report as it arrives:
/// customer, verdict, failing rules (blocking ones first, then the ones
/// that could not be evaluated, marked `?`).
#[derive(Debug)]
pub struct TableStream<W: Write> {
    out: W,
    started: bool,
}

impl<W: Write> TableStream<W> {
    /// Streams to `out`.
    pub fn new(out: W) -> Self {
        TableStream {
            out,
            started: false,
        }
    }
}

/// The widths of the first two columns (a customer id has at most 20
/// digits; `indeterminate` is the longest verdict).
const CUSTOMER_WIDTH: usize = 10;
const VERDICT_WIDTH: usize = 13;

impl<W: Write> ReportStream for TableStream<W> {
    fn report(&mut self, report: &Report) -> io::Result<()> {
        let mut line = String::new();
        if !self.started {
            line.push_str(&format!(
                "{:<CUSTOMER_WIDTH$}  {:<VERDICT_WIDTH$}  FAILING RULES\n",
                "CUSTOMER", "VERDICT"
            ));
            self.started = true;
        }
        let mut failing: Vec<String> = report.blocking().map(|r| r.rule.clone()).collect();
        failing.extend(
            report
                .results()
                .iter()
                .filter(|r| {
                    r.outcome == crate::report::Outcome::Error && r.severity >= report.fail_on()
                })
                .map(|r| format!("{}?", r.rule)),
        );
        let who = if report.customer_id == 0 {
            report.subject()
        } else {
            report.customer_id.to_string()
        };
        let failing = if failing.is_empty() {
            "-".to_owned()
        } else {
            failing.join(", ")
        };
        line.push_str(&format!(
            "{who:<CUSTOMER_WIDTH$}  {:<VERDICT_WIDTH$}  {failing}\n",
            report.verdict().as_str()
        ));
        self.out.write_all(line.as_bytes())?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.started {
            self.out.write_all(b"no customer was checked\n")?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
pub(crate) mod tests;

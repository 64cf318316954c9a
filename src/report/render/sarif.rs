//! SARIF 2.1.0 (the OASIS Static Analysis Results Interchange Format), for
//! code scanning: the parts this tool emits, as serde structs.
//!
//! One run, whose `tool.driver.rules` lists every rule that has a result;
//! one result per finding (the same findings as the GitHub annotations),
//! `level` `error`, `warning` or `note`, located at the finding's line in the
//! order file. A finding about the customer (nothing in the order to point
//! at) is located at the start of the order file, since the order is what
//! would be refused; without an order file (stdin, or no order) a result has
//! no location and its message says why.

use std::io::{self, Write};

use serde::Serialize;

use super::github::{Level, findings, level_of};
use super::locate::{FileProblem, OrderFile, Position};
use crate::report::{Outcome, Report};

/// The `$schema` of every document.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
struct Run {
    tool: Tool,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
struct Driver {
    name: &'static str,
    version: &'static str,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    short_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
}

fn level(l: Level) -> &'static str {
    match l {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "note",
    }
}

/// A relative path as a URI reference: `/` separators, and the characters
/// a URI cannot hold percent-encoded.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                s.push(b as char)
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

fn location(file: &str, at: Option<Position>) -> Location {
    let at = at.unwrap_or(Position { line: 1, column: 1 });
    Location {
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation { uri: uri(file) },
            region: Some(Region {
                start_line: at.line,
                start_column: at.column,
            }),
        },
    }
}

struct Builder {
    rules: Vec<ReportingDescriptor>,
    results: Vec<SarifResult>,
}

impl Builder {
    fn rule_index(&mut self, id: &str, describe: impl FnOnce() -> ReportingDescriptor) -> usize {
        match self.rules.iter().position(|r| r.id == id) {
            Some(i) => i,
            None => {
                self.rules.push(describe());
                self.rules.len() - 1
            }
        }
    }

    fn write(self, out: &mut dyn Write) -> io::Result<()> {
        let log = Log {
            schema: SARIF_SCHEMA,
            version: "2.1.0",
            runs: vec![Run {
                tool: Tool {
                    driver: Driver {
                        name: "ion-preflight",
                        version: env!("CARGO_PKG_VERSION"),
                        rules: self.rules,
                    },
                },
                results: self.results,
            }],
        };
        serde_json::to_writer_pretty(&mut *out, &log)?;
        out.write_all(b"\n")
    }
}

/// Writes the findings of `reports` (each with the order file it checked,
/// if any) as one SARIF 2.1.0 log.
pub fn sarif(reports: &[(&Report, Option<&OrderFile>)], out: &mut dyn Write) -> io::Result<()> {
    let mut b = Builder {
        rules: Vec::new(),
        results: Vec::new(),
    };
    for (report, order) in reports {
        for f in findings(report, *order) {
            let r = f.result;
            let index = b.rule_index(&r.rule, || ReportingDescriptor {
                id: r.rule.clone(),
                short_description: Text {
                    text: r.title.clone(),
                },
                help_uri: r.docs.clone(),
                default_configuration: Configuration {
                    level: if r.severity >= report.fail_on() {
                        "error"
                    } else {
                        "warning"
                    },
                },
            });
            let mut message = f.message;
            if r.outcome == Outcome::Error {
                message = format!("not evaluated: {message}");
            }
            let locations = match order {
                Some(o) if o.has_file() => vec![location(&o.name, f.at)],
                Some(_) => {
                    message.push_str(" (the order was read from stdin: no file location)");
                    Vec::new()
                }
                None => {
                    message.push_str(&format!(" ({})", report.subject()));
                    Vec::new()
                }
            };
            b.results.push(SarifResult {
                rule_id: r.rule.clone(),
                rule_index: index,
                level: level(level_of(report, r).unwrap_or(Level::Notice)),
                message: Text { text: message },
                locations,
            });
        }
    }
    b.write(out)
}

/// Writes problems found in files (rule-file diagnostics) as a SARIF 2.1.0
/// log, each result at its file, line and column; the rules are the
/// problems' codes.
pub fn sarif_diagnostics(problems: &[FileProblem], out: &mut dyn Write) -> io::Result<()> {
    let mut b = Builder {
        rules: Vec::new(),
        results: Vec::new(),
    };
    for p in problems {
        let index = b.rule_index(&p.code, || ReportingDescriptor {
            id: p.code.clone(),
            short_description: Text {
                text: format!("rule-file problem: {}", p.code),
            },
            help_uri: None,
            default_configuration: Configuration { level: "error" },
        });
        b.results.push(SarifResult {
            rule_id: p.code.clone(),
            rule_index: index,
            level: "error",
            message: Text {
                text: p.message.clone(),
            },
            locations: vec![location(&p.file, Some(p.at))],
        });
    }
    b.write(out)
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("orders/nce order.json"), "orders/nce%20order.json");
        assert_eq!(uri("a\\b#c.json"), "a/b%23c.json");
    }
}

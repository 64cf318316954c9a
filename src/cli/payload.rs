//! Reading new-customer payloads: one JSON object (`--payload`), or one a
//! line (`--payloads`, ndjson), streamed. Every error names the file, the
//! line and the column.

use std::collections::HashMap;
use std::sync::Arc;

use futures::Stream;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::input::InputPath;
use crate::context::ListPosition;

/// Why a payload could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadFileError {
    /// The file could not be read.
    #[error("cannot read payload file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid JSON.
    #[error("payload file {path}, line {line}, column {column}: invalid JSON: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line (in the file, also for `--payloads`).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The JSON is not an object.
    #[error(
        "payload file {path}, line {line}: expected a JSON object (the body you would POST to ION's customers endpoint), found {found}"
    )]
    NotAnObject {
        /// The file.
        path: String,
        /// 1-based line where the value starts.
        line: usize,
        /// The JSON type found.
        found: &'static str,
    },
    /// `--payloads` has no payload at all.
    #[error("payloads file {path} has no payload (one JSON object a line)")]
    Empty {
        /// The file.
        path: String,
    },
}

/// Parses one payload read from `path`; `first_line` is the file line the
/// text starts on (1 for a whole file).
pub fn parse_payload(path: &str, text: &str, first_line: usize) -> Result<Value, PayloadFileError> {
    // Windows editors start a file with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        // serde_json appends " at line L column C"; we say it ourselves.
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full,
        };
        PayloadFileError::Syntax {
            path: path.to_owned(),
            line: first_line + e.line().saturating_sub(1),
            column: e.column(),
            message,
        }
    })?;
    let found = match &value {
        Value::Object(_) => return Ok(value),
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
    };
    Err(PayloadFileError::NotAnObject {
        path: path.to_owned(),
        line: first_line,
        found,
    })
}

/// Reads and parses the one payload of `--payload`.
pub fn read_payload(input: &InputPath) -> Result<Value, PayloadFileError> {
    let path = input.display();
    let bytes = input
        .read_bytes()
        .map_err(|source| PayloadFileError::Read {
            path: path.clone(),
            source,
        })?;
    let text =
        crate::cli::input::utf8_text(bytes).map_err(|(line, column)| PayloadFileError::Syntax {
            path: path.clone(),
            line,
            column,
            message: crate::cli::input::NOT_UTF8.to_owned(),
        })?;
    parse_payload(&path, &text, 1)
}

/// One payload of a list, with its place in it.
#[derive(Clone, Debug)]
pub struct ListedPayload {
    /// The payload.
    pub payload: Arc<Value>,
    /// Its line and the earlier lines with the same email.
    pub position: ListPosition,
}

/// Tracks the emails of the payloads read so far (ignoring case), so each
/// payload learns which earlier lines share its email.
#[derive(Debug, Default)]
pub struct EmailsSeen {
    lines: HashMap<String, Vec<u64>>,
}

impl EmailsSeen {
    /// Records `payload` (on `line`) and returns the earlier lines with its
    /// email.
    pub fn record(&mut self, line: u64, payload: &Value) -> Vec<u64> {
        let Some(email) = payload
            .get("customerEmail")
            .and_then(Value::as_str)
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
        else {
            return Vec::new();
        };
        let lines = self.lines.entry(email).or_default();
        let earlier = lines.clone();
        lines.push(line);
        earlier
    }
}

/// The payloads of an ndjson list, one a line (blank lines skipped), read
/// as the checks need them. A line that is not a JSON object ends the
/// stream with its error; so does a read error, or a list without any
/// payload.
pub fn payload_lines(
    input: &InputPath,
) -> Result<impl Stream<Item = Result<ListedPayload, PayloadFileError>> + use<>, PayloadFileError> {
    let path = input.display();
    let reader: Box<dyn AsyncRead + Send + Unpin> = match input.path() {
        None => Box::new(tokio::io::stdin()),
        Some(p) => {
            let file = std::fs::File::open(p).map_err(|source| PayloadFileError::Read {
                path: path.clone(),
                source,
            })?;
            Box::new(tokio::fs::File::from_std(file))
        }
    };
    struct State {
        lines: tokio::io::Lines<BufReader<Box<dyn AsyncRead + Send + Unpin>>>,
        path: String,
        line: u64,
        seen: EmailsSeen,
        any: bool,
        done: bool,
    }
    let state = State {
        lines: BufReader::new(reader).lines(),
        path,
        line: 0,
        seen: EmailsSeen::default(),
        any: false,
        done: false,
    };
    Ok(futures::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            let next = s.lines.next_line().await;
            s.line += 1;
            let text = match next {
                Ok(Some(t)) => t,
                Ok(None) => {
                    s.done = true;
                    if s.any {
                        return None;
                    }
                    let e = PayloadFileError::Empty {
                        path: s.path.clone(),
                    };
                    return Some((Err(e), s));
                }
                Err(source) => {
                    s.done = true;
                    let e = if source.kind() == std::io::ErrorKind::InvalidData {
                        PayloadFileError::Syntax {
                            path: s.path.clone(),
                            line: usize::try_from(s.line).unwrap_or(usize::MAX),
                            column: 1,
                            message: crate::cli::input::NOT_UTF8.to_owned(),
                        }
                    } else {
                        PayloadFileError::Read {
                            path: s.path.clone(),
                            source,
                        }
                    };
                    return Some((Err(e), s));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            s.any = true;
            let line = usize::try_from(s.line).unwrap_or(usize::MAX);
            return match parse_payload(&s.path, &text, line) {
                Ok(payload) => {
                    let same_email_lines = s.seen.record(s.line, &payload);
                    let item = ListedPayload {
                        payload: Arc::new(payload),
                        position: ListPosition {
                            line: s.line,
                            same_email_lines,
                        },
                    };
                    Some((Ok(item), s))
                }
                Err(e) => {
                    s.done = true;
                    Some((Err(e), s))
                }
            };
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn a_malformed_payload_names_file_line_and_column() {
        let err = parse_payload("p.json", "{\n  \"customerName\": \"x\",\n}", 1)
            .expect_err("trailing comma");
        assert_eq!(
            err.to_string(),
            "payload file p.json, line 3, column 1: invalid JSON: trailing comma"
        );
        let err = parse_payload("l.ndjson", "{\"a\": tru}", 7).expect_err("bad literal");
        assert!(
            err.to_string()
                .starts_with("payload file l.ndjson, line 7, column 10: invalid JSON: "),
            "{err}"
        );
        let err = parse_payload("p.json", "[1]", 1).expect_err("array");
        assert!(err.to_string().ends_with("found an array"), "{err}");
    }

    #[test]
    fn emails_are_compared_ignoring_case_and_blanks() {
        let mut seen = EmailsSeen::default();
        let p = |e: &str| serde_json::json!({ "customerEmail": e });
        assert!(seen.record(1, &p("a@x.com")).is_empty());
        assert!(seen.record(2, &p("b@x.com")).is_empty());
        assert_eq!(seen.record(4, &p(" A@X.com ")), vec![1]);
        assert_eq!(seen.record(5, &p("a@x.COM")), vec![1, 4]);
        assert!(seen.record(6, &serde_json::json!({})).is_empty());
        assert!(seen.record(7, &p("")).is_empty());
        assert!(seen.record(8, &p("")).is_empty());
    }

    #[tokio::test]
    async fn lines_stream_with_positions_and_stop_at_the_first_bad_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("list.ndjson");
        std::fs::write(
            &path,
            "{\"customerEmail\": \"a@x.com\"}\n\n{\"customerEmail\": \"A@x.com\"}\n{oops\n{}\n",
        )
        .expect("write");
        let items: Vec<_> = payload_lines(&InputPath::File(path.clone()))
            .expect("opens")
            .collect()
            .await;
        assert_eq!(items.len(), 3, "two payloads, then the error, then nothing");
        let first = items[0].as_ref().expect("line 1");
        assert_eq!(first.position.line, 1);
        let second = items[1].as_ref().expect("line 3");
        assert_eq!(second.position.line, 3);
        assert_eq!(second.position.same_email_lines, vec![1]);
        let err = items[2].as_ref().expect_err("line 4");
        assert!(
            err.to_string().contains(", line 4, column 2: invalid JSON"),
            "{err}"
        );
    }
}

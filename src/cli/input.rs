//! Reading what the user hands the CLI: ids, the order file, the customers
//! file. Every error names what was wrong and where.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Parses a customer or account id: a positive integer up to [`u64::MAX`].
/// Each message says what is wrong with this text: negative, zero, too
/// large (with the limit), or not a number.
pub fn parse_id(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        // `-0` is no negative number: it is 0.
        if rest.bytes().all(|b| b == b'0') {
            return Err(format!("{t} is 0: ids start at 1"));
        }
        return Err(format!(
            "{t} is negative: ids are positive integers, e.g. 2002"
        ));
    }
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a positive integer id, e.g. 2002".into());
    }
    match t.parse::<u64>() {
        Ok(0) => Err("ids start at 1".into()),
        Ok(id) => Ok(id),
        Err(_) => Err(format!(
            "{t} is too large for an id (the largest is {})",
            u64::MAX
        )),
    }
}

/// Where an input comes from: a file, or stdin (`-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputPath {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl InputPath {
    /// `-` means stdin.
    pub fn parse(s: &str) -> Result<InputPath, String> {
        if s.is_empty() {
            Err("expected a file path or `-` for stdin".into())
        } else if s == "-" {
            Ok(InputPath::Stdin)
        } else {
            Ok(InputPath::File(PathBuf::from(s)))
        }
    }

    /// The name used in messages.
    pub fn display(&self) -> String {
        match self {
            InputPath::Stdin => "<stdin>".into(),
            InputPath::File(p) => p.display().to_string(),
        }
    }

    /// The input's bytes.
    pub(crate) fn read_bytes(&self) -> std::io::Result<Vec<u8>> {
        match self {
            InputPath::Stdin => {
                let mut b = Vec::new();
                std::io::stdin().read_to_end(&mut b)?;
                Ok(b)
            }
            InputPath::File(p) => std::fs::read(p),
        }
    }

    /// The path, when it is a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            InputPath::Stdin => None,
            InputPath::File(p) => Some(p),
        }
    }
}

/// Why an order file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrderFileError {
    /// The file could not be read.
    #[error("cannot read order file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("order file {path}, line {line}, column {column}: invalid JSON: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The file is JSON but not an object.
    #[error(
        "order file {path}: expected a JSON object (the body you would POST to ION's orders endpoint), found {found}"
    )]
    NotAnObject {
        /// The file.
        path: String,
        /// The JSON type found.
        found: &'static str,
    },
}

/// `bytes` as text, without a leading UTF-8 byte-order mark (Windows
/// editors write one); or the 1-based line and column of the first byte
/// that is not UTF-8.
pub(crate) fn utf8_text(bytes: Vec<u8>) -> Result<String, (usize, usize)> {
    let bytes = match bytes.strip_prefix(b"\xef\xbb\xbf") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[start..]).chars().count() + 1;
        (line, column)
    })
}

/// The message for text that is not UTF-8.
pub(crate) const NOT_UTF8: &str = "not valid UTF-8 (save the file as UTF-8)";

/// Reads and parses an order body.
pub fn read_order(input: &InputPath) -> Result<Value, OrderFileError> {
    read_order_text(input).map(|(value, _)| value)
}

/// Reads and parses an order body, keeping its text (to locate findings
/// at their lines).
pub fn read_order_text(input: &InputPath) -> Result<(Value, String), OrderFileError> {
    let path = input.display();
    let bytes = input.read_bytes().map_err(|source| OrderFileError::Read {
        path: path.clone(),
        source,
    })?;
    let text = utf8_text(bytes).map_err(|(line, column)| OrderFileError::Syntax {
        path: path.clone(),
        line,
        column,
        message: NOT_UTF8.to_owned(),
    })?;
    parse_order(&path, &text).map(|v| (v, text))
}

/// Parses an order body read from `path`.
pub fn parse_order(path: &str, text: &str) -> Result<Value, OrderFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        // serde_json appends " at line L column C"; we say it ourselves.
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full,
        };
        OrderFileError::Syntax {
            path: path.to_owned(),
            line: e.line(),
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
    Err(OrderFileError::NotAnObject {
        path: path.to_owned(),
        found,
    })
}

/// Why a customers file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustomersFileError {
    /// The file could not be read.
    #[error("cannot read customers file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Lines that are not customer ids (every one, up to
    /// [`MAX_BAD_LINES`]).
    #[error("{}", bad_lines_message(path, lines, *more))]
    BadIds {
        /// The file.
        path: String,
        /// The bad lines, in file order.
        lines: Vec<BadLine>,
        /// Bad lines after the first [`MAX_BAD_LINES`], not listed.
        more: usize,
    },
    /// The file holds no customer id at all: a batch would check nothing.
    #[error(
        "customers file {path} holds no customer id (only blank lines and comments): nothing to check"
    )]
    Empty {
        /// The file.
        path: String,
    },
}

/// One line of a customers file that is not a customer id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line.
    pub line: usize,
    /// The line's text (shortened).
    pub text: String,
    /// Why.
    pub reason: String,
}

/// How many bad lines of a customers file are listed; the rest are counted.
pub const MAX_BAD_LINES: usize = 20;

fn bad_lines_message(path: &str, lines: &[BadLine], more: usize) -> String {
    let describe = |b: &BadLine| {
        format!(
            "line {}: {:?} is not a customer id ({})",
            b.line, b.text, b.reason
        )
    };
    match (lines, more) {
        ([one], 0) => format!("customers file {path}, {}", describe(one)),
        _ => {
            let mut s = format!(
                "customers file {path}: {} lines are not customer ids: ",
                lines.len() + more
            );
            let listed: Vec<String> = lines.iter().map(describe).collect();
            s.push_str(&listed.join("; "));
            if more > 0 {
                s.push_str(&format!("; and {more} more"));
            }
            s
        }
    }
}

/// Reads a customers file: one id per line; blank lines, lines starting
/// with `#` and a trailing `# comment` after an id are ignored, as is a
/// UTF-8 byte-order mark. Every line is checked before any check starts, and
/// every bad line is reported at once (up to [`MAX_BAD_LINES`]).
pub fn read_customers(input: &InputPath) -> Result<Vec<u64>, CustomersFileError> {
    let path = input.display();
    let bytes = input
        .read_bytes()
        .map_err(|source| CustomersFileError::Read {
            path: path.clone(),
            source,
        })?;
    parse_customer_bytes(&path, &bytes)
}

/// Parses a customers file read from `path`.
#[cfg(test)]
pub fn parse_customers(path: &str, text: &str) -> Result<Vec<u64>, CustomersFileError> {
    parse_customer_bytes(path, text.as_bytes())
}

/// Parses a customers file's bytes: line by line, so that a byte that is
/// not UTF-8 in a comment (a Latin-1 name, say) is ignored with the
/// comment, and one in an id is reported with its line.
fn parse_customer_bytes(path: &str, bytes: &[u8]) -> Result<Vec<u64>, CustomersFileError> {
    // Excel and Windows editors start UTF-8 files with a byte-order mark.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut ids = Vec::new();
    let mut bad = Vec::new();
    let mut more = 0usize;
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for (i, line) in lines.into_iter().enumerate() {
        let id_part = match line.iter().position(|&b| b == b'#') {
            Some(at) => &line[..at],
            None => line,
        };
        let parsed = match std::str::from_utf8(id_part) {
            Ok(text) => {
                let t = text.trim();
                if t.is_empty() {
                    continue;
                }
                parse_id(t).map_err(|reason| (t.chars().take(40).collect(), reason))
            }
            Err(_) => Err((
                String::from_utf8_lossy(id_part)
                    .trim()
                    .chars()
                    .take(40)
                    .collect(),
                NOT_UTF8.to_owned(),
            )),
        };
        match parsed {
            Ok(id) => ids.push(id),
            Err((text, reason)) if bad.len() < MAX_BAD_LINES => bad.push(BadLine {
                line: i + 1,
                text,
                reason,
            }),
            Err(_) => more += 1,
        }
    }
    if !bad.is_empty() {
        return Err(CustomersFileError::BadIds {
            path: path.to_owned(),
            lines: bad,
            more,
        });
    }
    if ids.is_empty() {
        return Err(CustomersFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(parse_id("2002"), Ok(2002));
        assert_eq!(parse_id(" 7 "), Ok(7));
        assert_eq!(parse_id("0"), Err("ids start at 1".into()));
        assert_eq!(
            parse_id("-3"),
            Err("-3 is negative: ids are positive integers, e.g. 2002".into())
        );
        assert!(parse_id("+3").is_err());
        assert!(parse_id("12a").is_err());
        assert!(parse_id("").is_err());
        assert!(parse_id("-").is_err());
        assert_eq!(parse_id("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_id("99999999999999999999999"),
            Err("99999999999999999999999 is too large for an id (the largest is 18446744073709551615)".into())
        );
    }

    #[test]
    fn malformed_order_names_file_line_and_column() {
        let err = parse_order("o.json", "{\n  \"orderItems\": [\n    {\"a\": 1,}\n  ]\n}")
            .expect_err("trailing comma");
        assert_eq!(
            err.to_string(),
            "order file o.json, line 3, column 13: invalid JSON: trailing comma"
        );
    }

    #[test]
    fn order_must_be_an_object() {
        let err = parse_order("o.json", "[1]").expect_err("array");
        assert!(err.to_string().contains("found an array"), "{err}");
        assert!(parse_order("o.json", "{\"orderItems\": []}").is_ok());
    }

    #[test]
    fn empty_order_file_is_a_syntax_error() {
        let err = parse_order("o.json", "").expect_err("empty");
        assert!(
            matches!(err, OrderFileError::Syntax { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn customers_file_skips_blanks_and_comments_and_names_bad_lines() {
        assert_eq!(
            parse_customers("c.txt", "# ids\n2002\n\n 2003 \n").expect("valid"),
            vec![2002, 2003]
        );
        let err = parse_customers("c.txt", "2002\nabc\n").expect_err("bad line");
        assert_eq!(
            err.to_string(),
            "customers file c.txt, line 2: \"abc\" is not a customer id (expected a positive integer id, e.g. 2002)"
        );
    }

    #[test]
    fn customers_file_accepts_a_bom_and_trailing_comments() {
        assert_eq!(
            parse_customers("c.txt", "\u{feff}2002\r\n2003  # Fabrikam\r\n#2004\r\n")
                .expect("valid"),
            vec![2002, 2003]
        );
    }

    #[test]
    fn customers_file_reports_every_bad_line_up_to_the_limit() {
        let err = parse_customers("c.txt", "2002\nabc\n-5\n2003\n0\n").expect_err("bad");
        assert_eq!(
            err.to_string(),
            "customers file c.txt: 3 lines are not customer ids: line 2: \"abc\" is not a customer id (expected a positive integer id, e.g. 2002); line 3: \"-5\" is not a customer id (-5 is negative: ids are positive integers, e.g. 2002); line 5: \"0\" is not a customer id (ids start at 1)"
        );
        let many: String = (0..25).map(|i| format!("x{i}\n")).collect();
        let err = parse_customers("c.txt", &many).expect_err("bad");
        let CustomersFileError::BadIds { lines, more, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!((lines.len(), *more), (MAX_BAD_LINES, 5));
        assert!(err.to_string().ends_with("; and 5 more"), "{err}");
        assert!(err.to_string().contains(": 25 lines are not"), "{err}");
    }

    #[test]
    fn a_customers_file_without_ids_is_an_error() {
        for text in ["", "\u{feff}", "# nobody yet\n\n"] {
            let err = parse_customers("c.txt", text).expect_err("empty");
            assert!(matches!(err, CustomersFileError::Empty { .. }), "{err:?}");
        }
    }

    #[test]
    fn missing_order_file_names_it() {
        let err = read_order(&InputPath::File("/nonexistent/o.json".into())).expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("cannot read order file /nonexistent/o.json: "),
            "{err}"
        );
    }
}

//! Reading what the user hands the CLI: ids, the order file, the customers
//! file. Every error names what was wrong and where.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Parses a customer or account id: a positive integer.
pub fn parse_id(s: &str) -> Result<u64, String> {
    let t = s.trim();
    match t.parse::<u64>() {
        Ok(0) => Err("ids start at 1".into()),
        Ok(id) if t.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ => Err("expected a positive integer id, e.g. 2002".into()),
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

    pub(crate) fn read(&self) -> std::io::Result<String> {
        match self {
            InputPath::Stdin => {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                Ok(s)
            }
            InputPath::File(p) => std::fs::read_to_string(p),
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

/// Reads and parses an order body.
pub fn read_order(input: &InputPath) -> Result<Value, OrderFileError> {
    let path = input.display();
    let text = input.read().map_err(|source| OrderFileError::Read {
        path: path.clone(),
        source,
    })?;
    parse_order(&path, &text)
}

/// Parses an order body read from `path`.
pub fn parse_order(path: &str, text: &str) -> Result<Value, OrderFileError> {
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
    /// A line is not a customer id.
    #[error("customers file {path}, line {line}: {text:?} is not a customer id ({reason})")]
    BadId {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The line's text (shortened).
        text: String,
        /// Why.
        reason: String,
    },
}

/// Reads a customers file: one id per line; blank lines and lines starting
/// with `#` are ignored. Every line is checked before any check starts.
pub fn read_customers(input: &InputPath) -> Result<Vec<u64>, CustomersFileError> {
    let path = input.display();
    let text = input.read().map_err(|source| CustomersFileError::Read {
        path: path.clone(),
        source,
    })?;
    parse_customers(&path, &text)
}

/// Parses a customers file read from `path`.
pub fn parse_customers(path: &str, text: &str) -> Result<Vec<u64>, CustomersFileError> {
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let id = parse_id(t).map_err(|reason| CustomersFileError::BadId {
            path: path.to_owned(),
            line: i + 1,
            text: t.chars().take(40).collect(),
            reason,
        })?;
        ids.push(id);
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
        assert!(parse_id("0").is_err());
        assert!(parse_id("-3").is_err());
        assert!(parse_id("+3").is_err());
        assert!(parse_id("12a").is_err());
        assert!(parse_id("").is_err());
        assert!(parse_id("99999999999999999999999").is_err());
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
    fn missing_order_file_names_it() {
        let err = read_order(&InputPath::File("/nonexistent/o.json".into())).expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("cannot read order file /nonexistent/o.json: "),
            "{err}"
        );
    }
}

//! Where a path of the order is in the order file: the line and column of
//! every member and element, recorded once from the file's text (the JSON
//! value the rules read keeps no positions), for annotations and SARIF.

use std::collections::HashMap;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A problem found at a place in a file (a rule-file diagnostic, for
/// one), as the GitHub and SARIF renderers take it: they know files and
/// positions, not what found the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    /// A short code naming the kind of problem (`unknown-operator`).
    pub code: String,
    /// What is wrong, with any hint appended.
    pub message: String,
    /// The file as the user named it.
    pub file: String,
    /// Where in the file.
    pub at: Position,
}

/// The order file a report is about: its name as given, and where each
/// path of it is; no positions when it was read from stdin.
#[derive(Clone, Debug, Default)]
pub struct OrderFile {
    /// The file as given on the command line (`<stdin>` for `-`).
    pub name: String,
    positions: Option<HashMap<String, Position>>,
}

impl OrderFile {
    /// An order file whose JSON text is `text` (already parsed once, so it
    /// is valid JSON; on anything unexpected the scan stops and what was
    /// recorded so far is kept).
    pub fn from_text(name: impl Into<String>, text: &str) -> OrderFile {
        let mut scan = Scan {
            bytes: text.as_bytes(),
            at: 0,
            line: 1,
            column: 1,
            map: HashMap::new(),
        };
        scan.skip_ws();
        let start = scan.pos();
        scan.map.insert(String::new(), start);
        scan.value(String::new(), 0);
        OrderFile {
            name: name.into(),
            positions: Some(scan.map),
        }
    }

    /// An order read from stdin: there is no file to point into.
    pub fn stdin() -> OrderFile {
        OrderFile {
            name: "<stdin>".to_owned(),
            positions: None,
        }
    }

    /// `true` when the order has a file (not stdin).
    pub fn has_file(&self) -> bool {
        self.positions.is_some()
    }

    /// Where the report path `path` (`order.orderItems[2].quantity`) is, or
    /// the nearest enclosing member that is in the file (a missing key is
    /// located at its object). `None` for paths outside the order
    /// (`customer.…`) and for stdin.
    pub fn locate(&self, path: &str) -> Option<Position> {
        let map = self.positions.as_ref()?;
        let mut p = if path == "order" {
            ""
        } else {
            path.strip_prefix("order.")
                .or_else(|| path.strip_prefix("order["))
                .map(|_| &path["order".len()..])
                .map(|rest| rest.strip_prefix('.').unwrap_or(rest))?
        };
        loop {
            if let Some(pos) = map.get(p) {
                return Some(*pos);
            }
            if p.is_empty() {
                return None;
            }
            // A top-level member that is missing is located at the root.
            p = p.rfind(['.', '[']).map_or("", |cut| &p[..cut]);
        }
    }
}

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u32,
    column: u32,
    map: HashMap<String, Position>,
}

/// Deeper than serde_json parses (128), so a valid file never reaches it.
const MAX_DEPTH: usize = 256;

impl Scan<'_> {
    fn pos(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn bump(&mut self) {
        if let Some(b) = self.peek() {
            self.at += 1;
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if b & 0xC0 != 0x80 {
                // Not a UTF-8 continuation byte: a new character.
                self.column += 1;
            }
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    fn value(&mut self, path: String, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            b'{' => {
                self.bump();
                loop {
                    self.skip_ws();
                    match self.peek()? {
                        b'}' => {
                            self.bump();
                            return Some(());
                        }
                        b',' => self.bump(),
                        b'"' => {
                            let at = self.pos();
                            let key = self.string()?;
                            let child = if path.is_empty() {
                                key
                            } else {
                                format!("{path}.{key}")
                            };
                            self.map.entry(child.clone()).or_insert(at);
                            self.skip_ws();
                            if self.peek()? != b':' {
                                return None;
                            }
                            self.bump();
                            self.value(child, depth + 1)?;
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.bump();
                let mut i = 0usize;
                loop {
                    self.skip_ws();
                    match self.peek()? {
                        b']' => {
                            self.bump();
                            return Some(());
                        }
                        b',' => self.bump(),
                        _ => {
                            let child = format!("{path}[{i}]");
                            self.map.insert(child.clone(), self.pos());
                            self.value(child, depth + 1)?;
                            i += 1;
                        }
                    }
                }
            }
            b'"' => self.string().map(drop),
            _ => {
                while matches!(self.peek(), Some(b) if !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                {
                    self.bump();
                }
                Some(())
            }
        }
    }

    /// A string at the cursor, unescaped through serde_json.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.bump();
        loop {
            match self.peek()? {
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'"' => {
                    self.bump();
                    break;
                }
                _ => self.bump(),
            }
        }
        serde_json::from_slice(&self.bytes[start..self.at]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = "{\n  \"customerPo\": \"PO-1\",\n  \"orderItems\": [\n    {\"quantity\": 1},\n    {\n      \"quantity\": 0,\n      \"name\": \"é\\\"x\"\n    }\n  ]\n}\n";

    #[test]
    fn members_and_elements_are_at_their_lines() {
        let f = OrderFile::from_text("o.json", ORDER);
        let at = |p: &str| f.locate(p).map(|p| (p.line, p.column));
        assert_eq!(at("order.customerPo"), Some((2, 3)));
        assert_eq!(at("order.orderItems"), Some((3, 3)));
        assert_eq!(at("order.orderItems[0]"), Some((4, 5)));
        assert_eq!(at("order.orderItems[1]"), Some((5, 5)));
        assert_eq!(at("order.orderItems[1].quantity"), Some((6, 7)));
        assert_eq!(at("order.orderItems[1].name"), Some((7, 7)));
    }

    #[test]
    fn a_missing_member_is_located_at_its_object_and_other_roots_nowhere() {
        let f = OrderFile::from_text("o.json", ORDER);
        assert_eq!(
            f.locate("order.orderItems[0].productId").map(|p| p.line),
            Some(4)
        );
        assert_eq!(f.locate("order.nope").map(|p| p.line), Some(1));
        assert_eq!(f.locate("customer.customerStatus"), None);
        assert_eq!(f.locate("orderItems[0]"), None);
        assert_eq!(OrderFile::stdin().locate("order.orderItems[0]"), None);
    }
}

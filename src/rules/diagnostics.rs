//! Problems found while loading rule files, each tied to a file, line and
//! column, rendered with a snippet of the file by miette.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode, SourceSpan};

use super::yaml::Pos;

/// A rule file's text, shared by every diagnostic that points into it.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub(crate) name: String,
    pub(crate) source: Arc<NamedSource<String>>,
}

impl SourceFile {
    pub(crate) fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<SourceFile> {
        let name = name.into();
        let source = Arc::new(NamedSource::new(name.clone(), text.into()).with_language("yaml"));
        Arc::new(SourceFile { name, source })
    }

    pub(crate) fn text(&self) -> &str {
        self.source.inner()
    }

    /// Whether this is a rule set shipped inside the binary
    /// (`builtin:default`, …) rather than a user's file.
    pub(crate) fn is_builtin(&self) -> bool {
        self.name.starts_with("builtin:")
    }
}

/// One problem in a rule file.
#[derive(Clone)]
pub struct Diagnostic {
    code: &'static str,
    message: String,
    label: String,
    help: Option<String>,
    file: String,
    line: u32,
    column: u32,
    span: SourceSpan,
    source: Option<Arc<NamedSource<String>>>,
    /// Other places involved (e.g. the built-in rule a user's file broke).
    related: Vec<Diagnostic>,
}

impl Diagnostic {
    pub(crate) fn at(file: &SourceFile, pos: Pos, code: &'static str, message: String) -> Self {
        let span = span_of(file.text(), pos);
        // A snippet quotes whole lines: for a line longer than a screenful
        // (a hostile or generated file) show the position without it.
        let source = (line_len_at(file.text(), span.offset()) <= MAX_SNIPPET_LINE)
            .then(|| file.source.clone());
        Diagnostic {
            code,
            message,
            label: String::new(),
            help: None,
            file: file.name.clone(),
            line: pos.line,
            column: pos.column,
            span,
            source,
            related: Vec::new(),
        }
    }

    /// A problem that has no place in a file (a file that cannot be read).
    pub(crate) fn without_location(file: &str, code: &'static str, message: String) -> Self {
        Diagnostic {
            code,
            message,
            label: String::new(),
            help: None,
            file: file.to_owned(),
            line: 0,
            column: 0,
            span: SourceSpan::from(0..0),
            source: None,
            related: Vec::new(),
        }
    }

    /// Sets the line and column of a problem that has no source snippet.
    pub(crate) fn with_line_col(mut self, line: u32, column: u32) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds another place involved in the problem, shown after this one.
    pub(crate) fn with_related(mut self, related: Diagnostic) -> Self {
        if !self
            .related
            .iter()
            .any(|r| r.primary_line() == related.primary_line())
            && related.primary_line() != self.primary_line()
        {
            self.related.push(related);
        }
        self
    }

    /// The same problem placed at `file`/`pos` (a user's file), with the
    /// place it was found at kept as related information, described by
    /// `note`.
    pub(crate) fn relocated(self, file: &SourceFile, pos: Pos, note: String) -> Diagnostic {
        let mut moved = Diagnostic::at(file, pos, self.code, self.message.clone());
        moved.label = self.label.clone();
        moved.help = self.help.clone();
        let mut original = self;
        let related = std::mem::take(&mut original.related);
        original.help = None;
        original.code = "related";
        original.message = note;
        original.label = "here".to_owned();
        moved = moved.with_related(original);
        for r in related {
            moved = moved.with_related(r);
        }
        moved
    }

    pub(crate) fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// A stable kebab-case code naming the kind of problem (`unknown-key`).
    pub fn code(&self) -> &str {
        self.code
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A hint, such as "did you mean `one_of`?".
    pub fn hint(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The file.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line (0 when the problem has no place in the file).
    pub fn line(&self) -> u32 {
        self.line
    }

    /// 1-based column (0 when the problem has no place in the file).
    pub fn column(&self) -> u32 {
        self.column
    }

    /// Other places involved in the problem, such as the built-in rule or
    /// condition a user's file broke (the user's own place comes first, as
    /// this diagnostic's location).
    pub fn related(&self) -> &[Diagnostic] {
        &self.related
    }

    /// This diagnostic as the GitHub and SARIF renderers take it: code,
    /// message with its hint, file and position.
    pub fn to_file_problem(&self) -> crate::report::render::FileProblem {
        let mut message = self.message.clone();
        if let Some(h) = &self.help {
            message.push_str(&format!(" ({h})"));
        }
        crate::report::render::FileProblem {
            code: self.code.to_owned(),
            message,
            file: self.file.clone(),
            at: crate::report::render::Position {
                line: self.line,
                column: self.column,
            },
        }
    }
}

impl fmt::Debug for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Diagnostic")
            .field("code", &self.code)
            .field("file", &self.file)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("message", &self.message)
            .field("help", &self.help)
            .field("related", &self.related)
            .finish()
    }
}

impl Diagnostic {
    /// `file:line:column: message (hint)` on one line, for logs and plain
    /// output; related places follow as `[see FILE:LINE:COLUMN: what is there]`.
    pub fn one_line(&self) -> String {
        let mut s = self.primary_line();
        for r in &self.related {
            s.push_str(&format!(
                " [see {}:{}:{}: {}]",
                r.file, r.line, r.column, r.message
            ));
        }
        s
    }

    /// [`Diagnostic::one_line`] without the related places.
    pub(crate) fn primary_line(&self) -> String {
        let mut s = if self.line > 0 {
            format!(
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        } else {
            format!("{}: {}", self.file, self.message)
        };
        if let Some(help) = &self.help {
            s.push_str(&format!(" ({help})"));
        }
        s
    }
}

impl fmt::Display for Diagnostic {
    /// The message alone; the location is shown by the renderer (see
    /// [`Diagnostic::one_line`] for a self-contained line).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn severity(&self) -> Option<miette::Severity> {
        // A related place is information about the problem, not another one.
        (self.code == "related").then_some(miette::Severity::Advice)
    }

    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let label = (!self.label.is_empty()).then(|| self.label.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label, self.span,
        ))))
    }
}

/// Longest source line a diagnostic quotes in its snippet.
const MAX_SNIPPET_LINE: usize = 1000;

/// The length of the line containing byte `offset`.
fn line_len_at(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    end - start
}

/// The byte span a position covers: the node's own length, or the rest of
/// the word at that position, and never empty.
fn span_of(text: &str, pos: Pos) -> SourceSpan {
    let start = match pos.offset {
        Some(o) if o <= text.len() => o,
        _ => offset_of_line_col(text, pos.line, pos.column),
    };
    let len = if pos.len > 0 {
        pos.len
    } else {
        // The word at the position: up to white space or a delimiter, at most
        // a short stretch, at least one character.
        text[start..]
            .char_indices()
            .find(|(_, c)| c.is_whitespace() || matches!(c, ',' | '{' | '}' | '[' | ']'))
            .map_or(text.len() - start, |(i, _)| i)
            .clamp(1, 40)
    };
    SourceSpan::from(start..start + len.min(text.len().saturating_sub(start)))
}

fn offset_of_line_col(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1) as usize)
                .map(|(b, _)| b)
                .unwrap_or(l.len());
            return offset + col;
        }
        offset += l.len();
    }
    text.len()
}

use super::operator::Operator;
pub(crate) use crate::did_you_mean::{closest, did_you_mean};

/// The help for a key that is not an operator: the closest operator when
/// one is close, the operator another language's word means (`in` is
/// `one_of`), and otherwise the keys allowed, like unknown keys get.
pub(crate) fn operator_hint(word: &str, operators: &[&str]) -> String {
    if let Some(h) = did_you_mean(word, operators.iter().copied()) {
        return h;
    }
    let allowed = operators.join(", ");
    match Operator::from_alias(word).filter(|op| operators.contains(&op.name())) {
        Some(op) => format!(
            "this format writes it `{}`; expected one of: {allowed}",
            op.name()
        ),
        None => format!("expected one of: {allowed}"),
    }
}

/// What is wrong with a `matches` pattern holding a control character:
/// written in double quotes, YAML turned an escape meant for the regular
/// expression into that character (`"\b"` is a backspace, not a word
/// boundary), so the pattern would silently never match. Tab, newline and
/// carriage return are allowed (they mean the same in both). The message
/// and the help, or `None`.
pub(crate) fn control_character_in_pattern(pattern: &str) -> Option<(String, String)> {
    let (at, c) = pattern
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))?;
    let name = match c {
        '\u{8}' => " (backspace: `\\b` inside double quotes)",
        '\u{7}' => " (bell: `\\a` inside double quotes)",
        '\u{1b}' => " (escape: `\\e` inside double quotes)",
        '\0' => " (NUL: `\\0` inside double quotes)",
        '\u{b}' => " (vertical tab: `\\v` inside double quotes)",
        '\u{c}' => " (form feed: `\\f` inside double quotes)",
        _ => "",
    };
    Some((
        format!(
            "the regular expression holds the control character U+{:04X}{name} at character {}: YAML turned an escape into it",
            u32::from(c),
            at + 1
        ),
        "inside double quotes `\\` starts a YAML escape: write a pattern in single quotes ('\\bContoso\\b'), or double each backslash".to_owned(),
    ))
}

/// A hint for a YAML syntax error the rule-file format makes easy to hit
/// (docs/rules.md, "Paths"): `[`…`]` in an unquoted path inside `{ … }`,
/// and a regular expression's `\` inside double quotes. `line` is the
/// 1-based line the error is on.
pub(crate) fn yaml_hint(message: &str, text: &str, line: u32) -> Option<String> {
    let at = text
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("");
    if message.contains("unknown escape character") && at.contains('"') && at.contains('\\') {
        return Some(
            "inside double quotes `\\` starts a YAML escape: write a pattern in single quotes ('\\.onmicrosoft\\.com$'), or double each backslash".to_owned(),
        );
    }
    if message.contains("flow mapping") && at.contains('{') && at.contains('[') {
        return Some(
            "inside `{ … }`, `[` and `]` are YAML punctuation: quote a path that contains them, e.g. `path: \"item.attributes[name=domainName].value\"`".to_owned(),
        );
    }
    None
}

#[cfg(test)]
mod hint_tests {
    use super::*;

    #[test]
    fn an_unknown_operator_gets_the_closest_the_alias_or_the_list() {
        let ops = ["path", "equals", "one_of", "lte"];
        assert_eq!(operator_hint("equal", &ops), "did you mean `equals`?");
        assert_eq!(
            operator_hint("in", &ops),
            "this format writes it `one_of`; expected one of: path, equals, one_of, lte"
        );
        assert_eq!(
            operator_hint("<=", &ops),
            "this format writes it `lte`; expected one of: path, equals, one_of, lte"
        );
        assert_eq!(
            operator_hint("bogus", &ops),
            "expected one of: path, equals, one_of, lte"
        );
    }

    #[test]
    fn yaml_errors_in_paths_and_patterns_get_the_documented_hint() {
        let flow = "a: 1\n  x: { path: item.attributes[name=d].value, exists: true }\n";
        let hint = yaml_hint(
            "invalid YAML: while parsing a flow mapping, did not find expected ',' or '}'",
            flow,
            2,
        );
        assert!(hint.is_some_and(|h| h.contains("quote a path")));
        let quoted = "x: { matches: \"\\.com$\" }\n";
        let hint = yaml_hint(
            "invalid YAML: while parsing a quoted scalar, found unknown escape character",
            quoted,
            1,
        );
        assert!(hint.is_some_and(|h| h.contains("single quotes")));
        assert_eq!(
            yaml_hint(
                "invalid YAML: mapping values are not allowed",
                "a: b: c\n",
                1
            ),
            None
        );
    }
}

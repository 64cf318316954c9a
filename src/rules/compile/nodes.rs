//! Node readers: a value of the expected YAML kind or a located
//! diagnostic, and the diagnostic sink every stage reports through.

use serde_json::Value;

use super::Place;
use crate::report::Severity;
use crate::rules::Builtin;
use crate::rules::diagnostics::{Diagnostic, SourceFile, did_you_mean, operator_hint};
use crate::rules::typecheck::Problem;
use crate::rules::yaml::{Key, Node, NodeValue, Pos};

/// Where every stage reports its problems: the diagnostics so far (carried
/// from stage to stage, never dropped) and the rule and condition uses being
/// compiled, which decide whose file a problem is blamed on.
#[derive(Default)]
pub(super) struct Diags {
    found: Vec<Diagnostic>,
    /// The rule being compiled and the `{ condition: … }` uses being
    /// expanded, outermost first: a problem found in a built-in file while a
    /// user's file is on this stack is that file's doing, and is reported
    /// there (see [`Diags::push`]).
    pub(super) uses: Vec<Place>,
}

impl Diags {
    /// A sink holding the diagnostics an earlier stage found.
    pub(super) fn carried(found: Vec<Diagnostic>) -> Diags {
        Diags {
            found,
            uses: Vec::new(),
        }
    }

    /// Whether no problem has been found so far, in any stage.
    pub(super) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The diagnostics, for the next stage.
    pub(super) fn into_vec(self) -> Vec<Diagnostic> {
        self.found
    }

    /// Records a problem. Nothing is muted: a problem found while a named
    /// condition is expanded where it is used is reported like any other
    /// (duplicates are dropped in the plan stage), so a rule is never left out of
    /// the set without a word. A problem found in a built-in file while a
    /// user's file is being expanded (a redefined condition, a user's rule)
    /// is that file's doing: it is placed at the innermost user's place,
    /// with the built-in place as related information.
    pub(super) fn push(&mut self, d: Diagnostic) {
        let d = self.blame_user(d);
        self.found.push(d);
    }

    fn blame_user(&self, d: Diagnostic) -> Diagnostic {
        let builtin = Builtin::from_name(d.file()).is_some();
        if builtin && let Some(user) = self.uses.iter().rev().find(|u| !u.file.is_builtin()) {
            let note = format!(
                "found in {}, reached from {}:{}",
                d.file(),
                user.file.name,
                user.pos.line
            );
            return d.relocated(&user.file, user.pos, note);
        }
        match self.uses.first() {
            Some(rule) if rule.file.name != d.file() => {
                let note = format!(
                    "while compiling the rule defined at {}:{}",
                    rule.file.name, rule.pos.line
                );
                d.with_related(
                    Diagnostic::at(&rule.file, rule.pos, "related", note).label("this rule"),
                )
            }
            _ => d,
        }
    }

    pub(super) fn diag(
        &mut self,
        file: &SourceFile,
        pos: Pos,
        code: &'static str,
        message: impl Into<String>,
    ) {
        let d = Diagnostic::at(file, pos, code, message.into());
        self.push(d);
    }

    /// Reports a type problem. Unlike structural problems, these are reported
    /// inside a named condition's expansion too: only there are the types of
    /// its variables known (duplicates are dropped in the plan stage).
    pub(super) fn type_problem(&mut self, file: &SourceFile, pos: Pos, problem: Problem) {
        let d = Diagnostic::at(file, pos, problem.code, problem.message)
            .label(problem.label)
            .maybe_help(problem.help);
        self.push(d);
    }

    /// Reports a key that is not an operator, with the closest one.
    pub(super) fn unknown_operator(&mut self, file: &SourceFile, key: &Key, operators: &[&str]) {
        let help = Some(operator_hint(&key.name, operators));
        let d = Diagnostic::at(
            file,
            key.pos,
            "unknown-operator",
            format!("unknown operator `{}` in a condition", key.name),
        )
        .label("not an operator")
        .maybe_help(help);
        self.push(d);
    }

    /// Reports "WHAT expects EXPECTED, found KIND" at `node`.
    pub(super) fn expected(
        &mut self,
        file: &SourceFile,
        node: &Node,
        what: &str,
        expected: &str,
        quote: bool,
    ) {
        let what = if quote {
            format!("`{what}`")
        } else {
            what.to_owned()
        };
        let d = Diagnostic::at(
            file,
            node.pos,
            "wrong-type",
            format!("{what} expects {expected}, found {}", node.value.kind()),
        )
        .label(format!("expected {expected}"));
        self.push(d);
    }

    pub(super) fn check_keys(
        &mut self,
        file: &SourceFile,
        entries: &[(Key, Node)],
        allowed: &[&str],
        what: &str,
    ) {
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                let help = did_you_mean(&k.name, allowed.iter().copied());
                let d = Diagnostic::at(
                    file,
                    k.pos,
                    "unknown-key",
                    format!("unknown key `{}` in a {what}", k.name),
                )
                .label("unknown key")
                .maybe_help(
                    help.or_else(|| Some(format!("expected one of: {}", allowed.join(", ")))),
                );
                self.push(d);
            }
        }
    }

    pub(super) fn required<'n>(
        &mut self,
        file: &SourceFile,
        node: &Node,
        entries: &'n [(Key, Node)],
        key: &str,
    ) -> Option<&'n Node> {
        let found = get(entries, key);
        if found.is_none() {
            let d = Diagnostic::at(
                file,
                node.pos,
                "missing-key",
                format!("this rule has no `{key}`"),
            )
            .label(format!("`{key}` is required"));
            self.push(d);
        }
        found
    }

    pub(super) fn mapping<'n>(
        &mut self,
        file: &SourceFile,
        node: &'n Node,
        what: &str,
    ) -> Option<&'n [(Key, Node)]> {
        match &node.value {
            NodeValue::Map(entries) => Some(entries),
            _ => {
                self.expected(file, node, what, "a mapping", false);
                None
            }
        }
    }

    pub(super) fn list<'n>(&mut self, file: &SourceFile, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.value {
            NodeValue::Seq(items) => items,
            _ => {
                self.expected(file, node, what, "a list", true);
                &[]
            }
        }
    }

    pub(super) fn string(&mut self, file: &SourceFile, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            NodeValue::Str(s) => Some(s.clone()),
            _ => {
                self.expected(file, node, what, "a string", false);
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, file: &SourceFile, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            NodeValue::Bool(b) => Some(*b),
            _ => {
                self.expected(file, node, what, "true or false", false);
                None
            }
        }
    }

    pub(super) fn number(&mut self, file: &SourceFile, node: &Node, what: &str) -> Option<f64> {
        match &node.value {
            NodeValue::Int(i) => Some(*i as f64),
            NodeValue::Float(f) if f.is_finite() => Some(*f),
            _ => {
                self.expected(file, node, what, "a number", false);
                None
            }
        }
    }

    pub(super) fn literal(&mut self, file: &SourceFile, node: &Node, what: &str) -> Option<Value> {
        match &node.value {
            NodeValue::Seq(_) | NodeValue::Map(_) => {
                let d = Diagnostic::at(file, node.pos, "wrong-type", format!("`{what}` expects a single value (string, number, boolean or null), found {}", node.value.kind()))
                    .label("expected a scalar");
                self.push(d);
                None
            }
            _ => Some(node.to_json()),
        }
    }

    pub(super) fn severity(&mut self, file: &SourceFile, node: &Node) -> Option<Severity> {
        let s = self.string(file, node, "`severity`")?;
        match Severity::parse(&s) {
            Some(sev) => Some(sev),
            None => {
                let help = did_you_mean(&s, ["error", "warning", "info"]);
                let d = Diagnostic::at(
                    file,
                    node.pos,
                    "bad-severity",
                    format!("unknown severity `{s}`: expected error, warning or info"),
                )
                .label("unknown severity")
                .maybe_help(help);
                self.push(d);
                None
            }
        }
    }
}

pub(super) fn get<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
}

pub(super) fn is_kebab(s: &str) -> bool {
    let mut prev_hyphen = true;
    let first = s.chars().next();
    if !first.is_some_and(|c| c.is_ascii_lowercase()) {
        return false;
    }
    for c in s.chars() {
        match c {
            'a'..='z' | '0'..='9' => prev_hyphen = false,
            '-' if !prev_hyphen => prev_hyphen = true,
            _ => return false,
        }
    }
    !prev_hyphen
}

/// The help for a rule id or condition name that names nothing: the
/// closest name (`did_you_mean`), and, when the name has a character that
/// is not ASCII, which one: names are ASCII, and a look-alike letter
/// (Cyrillic `а`, Latin `ſ`) makes a name that only seems to be the one
/// meant.
pub(super) fn look_alike_help(name: &str, did_you_mean: Option<String>) -> Option<String> {
    let Some(c) = name.chars().find(|c| !c.is_ascii()) else {
        return did_you_mean;
    };
    let note = format!(
        "`{name}` contains U+{:04X} (`{c}`), which is not ASCII: rule ids and condition names are ASCII kebab-case",
        c as u32
    );
    Some(match did_you_mean {
        Some(d) => format!("{d} {note}"),
        None => note,
    })
}

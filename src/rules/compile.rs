//! Loading rule files: parse each into a [`Node`] tree, compose the files,
//! then validate and compile everything, collecting every problem with its
//! file, line and column.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use regex::RegexBuilder;
use serde_json::Value;

use super::condition::{Cmp, Cond, Quantifier, Test, TypeName, When};
use super::diagnostics::{Diagnostic, SourceFile, did_you_mean, operator_hint, yaml_hint};
use super::path::{self as paths, Path, RawPath, RawSeg, Seg, Start};
use super::rows::FieldTable;
use super::shape::Ty;
use super::template::{self, Part, RawPart, Template};
use super::typecheck::{self, Problem};
use super::yaml::{Key, Node, NodeValue, Pos};
use super::{
    Builtin, FileComposition, ForEach, Inner, Origin, Rule, RuleLoadError, UncheckedPath, eval,
};
use crate::context::{Needs, Root};
use crate::report::Severity;

const FILE_KEYS: &[&str] = &[
    "name",
    "description",
    "extends",
    "conditions",
    "rules",
    "overrides",
    "disable",
];
const RULE_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "severity",
    "tags",
    "docs",
    "preempts",
    "requires",
    "for_each",
    "when",
    "assert",
    "message",
];
const COMBINATORS: &[&str] = &["all", "any", "not", "condition"];
const VALUE_OPERATORS: &[&str] = &[
    "exists",
    "null",
    "empty",
    "non_empty",
    "equals",
    "not_equals",
    "one_of",
    "not_one_of",
    "matches",
    "contains",
    "gt",
    "gte",
    "lt",
    "lte",
    "type",
    "before",
    "after",
    "not_before",
    "not_after",
    "length",
    "some",
    "every",
    "none",
];
const NUMERIC_OPERATORS: &[&str] = &["gt", "gte", "lt", "lte"];
const DATE_OPERATORS: &[&str] = &["before", "after", "not_before", "not_after"];
const QUANTIFIERS: &[&str] = &["some", "every", "none"];
const CASE_OPERATORS: &[&str] = &["equals", "not_equals", "one_of", "not_one_of", "contains"];
const MAX_CONDITION_DEPTH: usize = 48;
/// Longest `now±N` offset: 10,000 years of 366 days.
const MAX_RELATIVE_SECONDS: i64 = 10_000 * 366 * 86_400;
const MAX_REGEX_SIZE: usize = 1 << 20;
/// Longest `matches:` pattern accepted: refused before compiling, so a
/// hostile file cannot make the compiler work through megabytes.
const MAX_PATTERN_BYTES: usize = 16 * 1024;

/// One unit of rule text to load.
#[derive(Clone, Debug)]
pub(crate) enum Unit {
    Builtin(Builtin),
    File(PathBuf),
    Text { name: String, text: String },
}

struct NamedCond {
    /// Shared: every use of the condition compiles it from here.
    node: Arc<Node>,
    file: Arc<SourceFile>,
    /// Variables the condition uses that it does not bind itself, each with
    /// the first place (in this definition or one it uses) that reads it.
    free: FreeVars,
}

/// Free variables of a named condition and where each is first read.
type FreeVars = BTreeMap<String, (Arc<SourceFile>, Pos)>;

/// A place in a file: where a rule, a `requires` entry, a severity or a
/// `disable` entry was written.
#[derive(Clone)]
struct Place {
    file: Arc<SourceFile>,
    pos: Pos,
}

struct PendingRule {
    file: Arc<SourceFile>,
    id: String,
    id_pos: Pos,
    title: String,
    description: Option<String>,
    severity: Severity,
    tags: Vec<String>,
    docs: Option<String>,
    preempts: Option<String>,
    requires: Vec<(String, Pos)>,
    for_each: Option<Node>,
    when: Option<Node>,
    assert: Option<Node>,
    message: Option<Node>,
    disabled: bool,
    source_text: String,
    /// Where the rule's effective severity was set: its `severity`, or the
    /// last `overrides` entry that changed it.
    severity_at: Place,
}

struct Loader {
    diags: Vec<Diagnostic>,
    loaded: HashSet<String>,
    stack: Vec<String>,
    conditions: HashMap<String, NamedCond>,
    rules: Vec<PendingRule>,
    /// The index in `rules` of the enabled rule with each id (there is at
    /// most one: a second definition is refused).
    enabled: HashMap<String, usize>,
    /// Where each rule id was disabled (the last `disable` naming it).
    disabled_at: HashMap<String, Place>,
    /// The rule being compiled and the `{ condition: … }` uses being
    /// expanded, outermost first: a problem found in a built-in file while a
    /// user's file is on this stack is that file's doing, and is reported
    /// there (see [`Loader::push`]).
    uses: Vec<Place>,
    /// What each file loaded added, disabled, overrode and redefined, in
    /// load order.
    composition: Vec<FileComposition>,
    /// The last `disable` entry that took effect.
    last_disable: Option<Place>,
    /// The last file loaded, for a problem with the whole set.
    last_file: Option<Arc<SourceFile>>,
    /// Paths with a `~` (unchecked) segment, where they are written.
    unchecked: Vec<UncheckedPath>,
    /// Where each line of each file starts, for cutting out snippets.
    lines: LineIndex,
    /// Regular expressions compiled so far, by pattern.
    regexes: HashMap<String, regex_automata::meta::Regex>,
    /// A number for each named condition used, for memoizing its value.
    named_ids: HashMap<String, u32>,
}

/// Stack for the loading thread: parsing and compiling are recursive, and a
/// hostile file nested as deep as the YAML limits allow must get a clear
/// error, not overflow a small (e.g. async worker) stack.
const LOADER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Loads the units, in order, into a compiled rule set.
pub(crate) fn load(units: &[Unit]) -> Result<Inner, RuleLoadError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("rule-loader".into())
            .stack_size(LOADER_STACK_BYTES)
            .spawn_scoped(s, || load_on_this_thread(units))
            .map_err(|source| RuleLoadError::Read {
                path: "(rule loader thread)".into(),
                source,
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(RuleLoadError::Read {
                    path: "(rule loader thread)".into(),
                    source: std::io::Error::other("the rule loader stopped unexpectedly"),
                })
            })
    })
}

// Not inlined: benches/instructions.sh counts instructions per call of it.
#[inline(never)]
fn load_on_this_thread(units: &[Unit]) -> Result<Inner, RuleLoadError> {
    let mut loader = Loader {
        diags: Vec::new(),
        loaded: HashSet::new(),
        stack: Vec::new(),
        conditions: HashMap::new(),
        rules: Vec::new(),
        enabled: HashMap::new(),
        disabled_at: HashMap::new(),
        uses: Vec::new(),
        last_file: None,
        last_disable: None,
        composition: Vec::new(),
        unchecked: Vec::new(),
        lines: LineIndex::default(),
        regexes: HashMap::new(),
        named_ids: HashMap::new(),
    };
    for unit in units {
        let (key, name, text, base) = match unit {
            Unit::Builtin(set) => (
                set.name().to_owned(),
                set.name().to_owned(),
                set.source().to_owned(),
                None,
            ),
            Unit::File(path) => {
                let bytes = std::fs::read(path).map_err(|source| RuleLoadError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let name = path.display().to_string();
                let text = match decode(&name, bytes) {
                    Ok(t) => t,
                    Err(d) => {
                        loader.diags.push(*d);
                        continue;
                    }
                };
                let key = canonical_key(path);
                (key, name, text, path.parent().map(FsPath::to_path_buf))
            }
            Unit::Text { name, text } => (
                format!("text:{name}"),
                name.clone(),
                text.clone(),
                std::env::current_dir().ok(),
            ),
        };
        if loader.loaded.contains(&key) {
            continue;
        }
        loader.load_unit(key, &name, text, base);
    }
    loader.finish()
}

fn canonical_key(path: &FsPath) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn decode(name: &str, bytes: Vec<u8>) -> Result<String, Box<Diagnostic>> {
    String::from_utf8(bytes).map_err(|e| {
        Box::new({
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let before = String::from_utf8_lossy(&bytes[..valid]);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            Diagnostic::without_location(
                name,
                "not-utf8",
                format!(
                    "the file is not UTF-8 text (invalid byte 0x{:02x}); save it as UTF-8",
                    bytes[valid]
                ),
            )
            .with_line_col(line as u32, column as u32)
        })
    })
}

impl Loader {
    /// Records a problem. Nothing is muted: a problem found while a named
    /// condition is expanded where it is used is reported like any other
    /// (duplicates are dropped in `finish`), so a rule is never left out of
    /// the set without a word. A problem found in a built-in file while a
    /// user's file is being expanded (a redefined condition, a user's rule)
    /// is that file's doing: it is placed at the innermost user's place,
    /// with the built-in place as related information.
    fn push(&mut self, d: Diagnostic) {
        let d = self.blame_user(d);
        self.diags.push(d);
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

    fn diag(
        &mut self,
        file: &SourceFile,
        pos: Pos,
        code: &'static str,
        message: impl Into<String>,
    ) {
        let d = Diagnostic::at(file, pos, code, message.into());
        self.push(d);
    }

    fn load_unit(&mut self, key: String, name: &str, text: String, base: Option<PathBuf>) {
        self.loaded.insert(key.clone());
        self.stack.push(key);
        let file = SourceFile::new(name, text);
        self.last_file = Some(file.clone());
        let me = self.composition.len();
        self.composition.push(FileComposition {
            file: name.to_owned(),
            ..FileComposition::default()
        });
        let parsed = super::yaml::parse(file.text());
        let root = match parsed {
            Ok(root) => root,
            Err(e) => {
                let pos = e
                    .location()
                    .map(|l| Pos {
                        line: l.line() as u32,
                        column: l.column() as u32,
                        offset: l.span().byte_offset().map(|o| o as usize),
                        len: 0,
                    })
                    .unwrap_or(Pos {
                        line: 1,
                        column: 1,
                        offset: Some(0),
                        len: 0,
                    });
                let message = yaml_error_message(&e);
                let code = if message.starts_with("YAML refused") {
                    "yaml-limit"
                } else {
                    "yaml-syntax"
                };
                let help = yaml_hint(&message, file.text(), pos.line);
                self.push(Diagnostic::at(&file, pos, code, message).maybe_help(help));
                self.stack.pop();
                return;
            }
        };
        let root_pos = root.pos;
        let mut entries = match root.value {
            NodeValue::Map(entries) => entries,
            NodeValue::Null => Vec::new(),
            other => {
                self.diag(
                    &file,
                    root_pos,
                    "wrong-type",
                    format!(
                        "a rule file must be a mapping with `rules`, `conditions`, …; found {}",
                        other.kind()
                    ),
                );
                self.stack.pop();
                return;
            }
        };
        self.check_keys(&file, &entries, FILE_KEYS, "rule file");
        for key in ["name", "description"] {
            if let Some(n) = get(&entries, key) {
                self.string(&file, n, key);
            }
        }
        if let Some(ext) = get(&entries, "extends") {
            for item in self.list(&file, ext, "extends") {
                let Some(target) = self.string(&file, item, "an `extends` entry") else {
                    continue;
                };
                self.extend(&file, item.pos, &target, base.as_deref());
            }
        }
        if let Some(conds) = get(&entries, "conditions")
            && let Some(conds) = self.mapping(&file, conds, "conditions")
        {
            // Register every definition first, so definitions may refer to
            // ones further down the file; then validate each on its own.
            for (k, node) in conds {
                let log = &mut self.composition[me];
                if self.conditions.contains_key(&k.name) {
                    log.redefined_conditions.push(k.name.clone());
                } else {
                    log.defined_conditions.push(k.name.clone());
                }
                self.conditions.insert(
                    k.name.clone(),
                    NamedCond {
                        node: Arc::new(node.clone()),
                        file: file.clone(),
                        free: FreeVars::new(),
                    },
                );
            }
            for (k, node) in conds {
                if !is_kebab(&k.name) {
                    self.diag(
                        &file,
                        k.pos,
                        "bad-name",
                        format!(
                            "condition name `{}` is not kebab-case (e.g. `microsoft-nce-item`)",
                            k.name
                        ),
                    );
                }
                let mut free = FreeVars::new();
                let mut scope = Scope {
                    bound: Vec::new(),
                    types: Vec::new(),
                    free: Some(&mut free),
                };
                let mut expanding = vec![k.name.clone()];
                // Validates the definition on its own; free variables are
                // checked wherever it is used.
                let _ = self.cond(&file, node, &mut scope, 0, &mut expanding);
                if let Some(c) = self.conditions.get_mut(&k.name) {
                    c.free = free;
                }
            }
        }
        if let Some(i) = entries.iter().position(|(k, _)| k.name == "rules") {
            // Moved out: each rule's nodes are kept (not copied) until the
            // rules are compiled.
            let rules = std::mem::replace(
                &mut entries[i].1,
                Node {
                    pos: Pos::default(),
                    value: NodeValue::Null,
                },
            );
            if let NodeValue::Seq(items) = rules.value {
                for node in items {
                    let before = self.rules.len();
                    self.collect_rule(&file, node);
                    if let Some(r) = self.rules.get(before) {
                        let id = r.id.clone();
                        self.composition[me].added.push(id);
                    }
                }
            } else {
                self.list(&file, &rules, "rules");
            }
        }
        if let Some(ov) = get(&entries, "overrides")
            && let Some(ov) = self.mapping(&file, ov, "overrides")
        {
            for (k, node) in ov {
                let Some(idx) = self.find_rule(&file, k) else {
                    continue;
                };
                let Some(fields) = self.mapping(&file, node, "an override") else {
                    continue;
                };
                self.check_keys(&file, fields, &["severity"], "override");
                if let Some(sev) = get(fields, "severity")
                    && let Some(s) = self.severity(&file, sev)
                {
                    self.rules[idx].severity = s;
                    self.rules[idx].severity_at = Place {
                        file: file.clone(),
                        pos: sev.pos,
                    };
                    self.composition[me].overridden.push((k.name.clone(), s));
                }
            }
        }
        if let Some(dis) = get(&entries, "disable") {
            for item in self.list(&file, dis, "disable") {
                let Some(id) = self.string(&file, item, "a rule id") else {
                    continue;
                };
                let key = Key {
                    pos: item.pos,
                    name: id,
                };
                if let Some(idx) = self.find_rule(&file, &key) {
                    self.rules[idx].disabled = true;
                    self.enabled.remove(&key.name);
                    let at = Place {
                        file: file.clone(),
                        pos: key.pos,
                    };
                    self.disabled_at.insert(key.name.clone(), at.clone());
                    self.last_disable = Some(at);
                    self.composition[me].disabled.push(key.name.clone());
                }
            }
        }
        self.stack.pop();
    }

    fn extend(&mut self, file: &Arc<SourceFile>, pos: Pos, target: &str, base: Option<&FsPath>) {
        if let Some(set) = Builtin::from_name(target) {
            let name = set.name();
            if self.stack.iter().any(|k| k == name) {
                self.diag(
                    file,
                    pos,
                    "extends-cycle",
                    format!("`{target}` extends itself"),
                );
            } else if !self.loaded.contains(name) {
                self.load_unit(name.to_owned(), name, set.source().to_owned(), None);
            }
            return;
        }
        if let Some(rest) = target.strip_prefix("builtin:") {
            let help = did_you_mean(target, Builtin::ALL.map(Builtin::name));
            let d = Diagnostic::at(
                file,
                pos,
                "unknown-builtin",
                format!("there is no built-in rule set `{rest}`"),
            )
            .label("unknown built-in set")
            .maybe_help(help);
            self.push(d);
            return;
        }
        let path = match base {
            Some(b) => b.join(target),
            None => PathBuf::from(target),
        };
        let key = canonical_key(&path);
        if self.stack.contains(&key) {
            let d = Diagnostic::at(
                file,
                pos,
                "extends-cycle",
                format!("`extends: {target}` makes a cycle: that file is already being loaded"),
            )
            .label("cycle");
            self.push(d);
            return;
        }
        if self.loaded.contains(&key) {
            return;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                let d = Diagnostic::at(
                    file,
                    pos,
                    "unreadable-file",
                    format!("cannot read `{}`: {e}", path.display()),
                )
                .label("this file");
                self.push(d);
                return;
            }
        };
        let name = path.display().to_string();
        match decode(&name, bytes) {
            Ok(text) => {
                let base = path.parent().map(FsPath::to_path_buf);
                self.load_unit(key, &name, text, base);
            }
            Err(d) => self.push(*d),
        }
    }

    fn find_rule(&mut self, file: &SourceFile, key: &Key) -> Option<usize> {
        match self.enabled.get(&key.name) {
            Some(&i) => Some(i),
            None => {
                let help = did_you_mean(
                    &key.name,
                    self.rules
                        .iter()
                        .filter(|r| !r.disabled)
                        .map(|r| r.id.as_str()),
                );
                let d = Diagnostic::at(
                    file,
                    key.pos,
                    "unknown-rule",
                    format!("no rule `{}` is defined before this point", key.name),
                )
                .label("unknown rule id")
                .maybe_help(help);
                self.push(d);
                None
            }
        }
    }

    fn collect_rule(&mut self, file: &Arc<SourceFile>, owned: Node) {
        let node = &owned;
        let Some(fields) = self.mapping(file, node, "a rule") else {
            return;
        };
        self.check_keys(file, fields, RULE_KEYS, "rule");
        let id_node = self.required(file, node, fields, "id");
        let (id, id_pos) = match id_node {
            Some(n) => match self.string(file, n, "`id`") {
                Some(id) => {
                    if !is_kebab(&id) {
                        let d = Diagnostic::at(
                            file,
                            n.pos,
                            "bad-id",
                            format!("rule id `{id}` is not kebab-case"),
                        )
                        .label("ids look like `customer-active`")
                        .help("ids are public API: lowercase letters and digits separated by single hyphens");
                        self.push(d);
                    }
                    (id, n.pos)
                }
                None => return,
            },
            None => return,
        };
        if let Some(prev) = self.enabled.get(&id).map(|&i| &self.rules[i]) {
            let msg = format!(
                "duplicate rule id `{id}`: already defined at {}:{}:{}",
                prev.file.name, prev.id_pos.line, prev.id_pos.column
            );
            let d = Diagnostic::at(file, id_pos, "duplicate-id", msg)
                .label("second definition")
                .help("give the rule another id, or use `overrides`/`disable` to change the existing one");
            self.push(d);
            return;
        }
        let title = self
            .required(file, node, fields, "title")
            .and_then(|n| self.string(file, n, "`title`"))
            .unwrap_or_default();
        let severity_node = self.required(file, node, fields, "severity");
        let severity_at = Place {
            file: file.clone(),
            pos: severity_node.map_or(id_pos, |n| n.pos),
        };
        let severity = severity_node
            .and_then(|n| self.severity(file, n))
            .unwrap_or(Severity::Error);
        let description =
            get(fields, "description").and_then(|n| self.string(file, n, "`description`"));
        let docs = get(fields, "docs").and_then(|n| self.string(file, n, "`docs`"));
        let preempts = get(fields, "preempts").and_then(|n| self.string(file, n, "`preempts`"));
        let tags = get(fields, "tags")
            .map(|n| {
                self.list(file, n, "tags")
                    .iter()
                    .filter_map(|t| self.string(file, t, "a tag"))
                    .collect()
            })
            .unwrap_or_default();
        let requires = get(fields, "requires")
            .map(|n| {
                self.list(file, n, "requires")
                    .iter()
                    .filter_map(|t| self.string(file, t, "a rule id").map(|s| (s, t.pos)))
                    .collect()
            })
            .unwrap_or_default();
        // Reported here when missing; taken below.
        let _ = self.required(file, node, fields, "assert");
        let _ = self.required(file, node, fields, "message");
        let source_text = self.lines.snippet(file, node);
        // The rule's own nodes are moved into it, not copied.
        let NodeValue::Map(mut fields) = owned.value else {
            return;
        };
        let mut take = |key: &str| {
            let i = fields.iter().position(|(k, _)| k.name == key)?;
            Some(std::mem::replace(
                &mut fields[i].1,
                Node {
                    pos: Pos::default(),
                    value: NodeValue::Null,
                },
            ))
        };
        let (for_each, when) = (take("for_each"), take("when"));
        let (assert, message) = (take("assert"), take("message"));
        self.enabled.insert(id.clone(), self.rules.len());
        self.rules.push(PendingRule {
            file: file.clone(),
            id,
            id_pos,
            title,
            description,
            severity,
            tags,
            docs,
            preempts,
            requires,
            for_each,
            when,
            assert,
            message,
            disabled: false,
            source_text,
            severity_at,
        });
    }

    fn finish(mut self) -> Result<Inner, RuleLoadError> {
        let pending = std::mem::take(&mut self.rules);
        let active: Vec<&PendingRule> = pending.iter().filter(|r| !r.disabled).collect();
        // Enabled rules that require a disabled id, by that id.
        let mut orphaned: BTreeMap<String, Vec<(&PendingRule, Pos)>> = BTreeMap::new();
        let index: HashMap<&str, usize> = active
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let mut rules = Vec::with_capacity(active.len());
        let mut needs = Needs::default();
        let mut dropped = Vec::new();
        for p in &active {
            self.uses.clear();
            self.uses.push(Place {
                file: p.file.clone(),
                pos: p.id_pos,
            });
            let compiled = self.compile_rule(p, &active, &index, &mut orphaned, &mut needs);
            self.uses.clear();
            match compiled {
                Some(rule) => rules.push(rule),
                None => dropped.push(*p),
            }
        }
        // Fail closed: every enabled rule is in the set, or the load fails
        // with a located diagnostic. Every path that leaves a rule out
        // reports why (here or when the file was read); should one ever not,
        // this says so rather than load a smaller set.
        if self.diags.is_empty() {
            for p in dropped {
                let d = Diagnostic::at(
                    &p.file,
                    p.id_pos,
                    "rule-not-compiled",
                    format!(
                        "rule `{}` could not be compiled, and a rule set without it is refused",
                        p.id
                    ),
                )
                .label("this rule")
                .help("this is a bug in ion-preflight: please report it with this file");
                self.diags.push(d);
            }
        }
        for (id, dependents) in &orphaned {
            let Some(at) = self.disabled_at.get(id).cloned() else {
                continue;
            };
            let names: Vec<String> = dependents
                .iter()
                .map(|(r, _)| format!("`{}`", r.id))
                .collect();
            let mut d = Diagnostic::at(
                &at.file,
                at.pos,
                "disabled-required-rule",
                format!(
                    "`{id}` cannot be disabled while {} {} it: {}",
                    if names.len() == 1 { "a rule" } else { "rules" },
                    if names.len() == 1 { "requires" } else { "require" },
                    names.join(", ")
                ),
            )
            .label("required by enabled rules")
            .help(format!(
                "a rule that requires `{id}` would judge data `{id}` guards (a missing customer would pass `customer-active`); disable those rules too, or define a rule of your own with the id `{id}` after this `disable`"
            ));
            for (r, pos) in dependents {
                d = d.with_related(
                    Diagnostic::at(
                        &r.file,
                        *pos,
                        "related",
                        format!("`{}` requires `{id}` here", r.id),
                    )
                    .label("requires it"),
                );
            }
            self.diags.push(d);
        }
        if rules.is_empty() && self.diags.is_empty() {
            let message = "the effective rule set is empty: there is no rule to vouch for an order, so every check would be indeterminate".to_owned();
            let d = match (&self.last_disable, &self.last_file) {
                (Some(at), _) => Diagnostic::at(&at.file, at.pos, "empty-rule-set", message)
                    .label("the last rule is disabled here"),
                (None, Some(file)) => Diagnostic::at(
                    file,
                    Pos {
                        line: 1,
                        column: 1,
                        offset: Some(0),
                        len: 0,
                    },
                    "empty-rule-set",
                    message,
                )
                .label("this file defines no rule"),
                (None, None) => {
                    Diagnostic::without_location("(rule set)", "empty-rule-set", message)
                }
            }
            .help("load the built-in set (leave out --no-default-rules) or a file with `rules:`");
            self.diags.push(d);
        }
        // `requires` cycles.
        if rules.len() == active.len()
            && let Some(cycle) = find_cycle(&rules)
        {
            let first = active[cycle[0]];
            let names: Vec<&str> = cycle.iter().map(|&i| rules[i].id.as_str()).collect();
            let d = Diagnostic::at(
                &first.file,
                first.id_pos,
                "requires-cycle",
                format!(
                    "`requires` makes a cycle: {} -> {}",
                    names.join(" -> "),
                    names[0]
                ),
            )
            .label("in this cycle");
            self.push(d);
        }
        if !self.diags.is_empty() {
            let mut seen = HashSet::new();
            let mut diags = std::mem::take(&mut self.diags);
            diags.retain(|d| seen.insert(d.primary_line()));
            // File order: files in the order they were first reported, then
            // line and column.
            let mut files: Vec<String> = Vec::new();
            for d in &diags {
                if !files.iter().any(|f| f == d.file()) {
                    files.push(d.file().to_owned());
                }
            }
            diags.sort_by_key(|d| {
                let fi = files.iter().position(|f| f == d.file()).unwrap_or(0);
                (fi, d.line(), d.column())
            });
            return Err(RuleLoadError::Invalid { diagnostics: diags });
        }
        let plan = eval::plan(&rules, &topo_order(&rules));
        let fields = number_fields(&mut rules);
        let mut unchecked = std::mem::take(&mut self.unchecked);
        unchecked.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.path).cmp(&(&b.file, b.line, b.column, &b.path))
        });
        Ok(Inner {
            rules,
            plan,
            needs,
            unchecked,
            fields,
            named_conditions: self.named_ids.len(),
            composition: std::mem::take(&mut self.composition),
        })
    }

    /// Compiles one enabled rule: its `for_each`, conditions, message and
    /// `requires` (resolved by id against the effective set). `None` when
    /// it could not be compiled (the reason is reported).
    fn compile_rule<'p>(
        &mut self,
        p: &'p PendingRule,
        active: &[&'p PendingRule],
        index: &HashMap<&str, usize>,
        orphaned: &mut BTreeMap<String, Vec<(&'p PendingRule, Pos)>>,
        needs: &mut Needs,
    ) -> Option<Rule> {
        let file = p.file.clone();
        let mut scope = Scope {
            bound: Vec::new(),
            types: Vec::new(),
            free: None,
        };
        let mut expanding = Vec::new();
        let for_each = p.for_each.as_ref().and_then(|n| {
            let text = self.string(&file, n, "`for_each`")?;
            let Some((path_text, var)) = text.rsplit_once(" as ") else {
                let d = Diagnostic::at(
                    &file,
                    n.pos,
                    "bad-for-each",
                    format!("`for_each: {text}` must read `PATH as NAME`"),
                )
                .help("for example `for_each: order.orderItems as item`");
                self.push(d);
                return None;
            };
            let (path, ty) = self.path_text(&file, n.pos, path_text.trim(), &mut scope)?;
            let var = var.trim().to_owned();
            self.check_var_name(&file, n.pos, &var, &scope)?;
            let element = match ty {
                Ty::Array(e) => *e,
                t if t.is_open() => Ty::Unchecked,
                other => {
                    let problem = Problem {
                        code: "type-mismatch",
                        message: format!(
                            "`for_each` iterates over a list, but `{}` is {other}",
                            path_text.trim()
                        ),
                        label: "not a list",
                        help: None,
                    };
                    self.type_problem(&file, n.pos, problem);
                    return None;
                }
            };
            Some((ForEach { path, var }, element))
        });
        if p.for_each.is_some() && for_each.is_none() {
            return None;
        }
        let for_each = for_each.map(|(fe, element)| {
            scope.bound.push(fe.var.clone());
            scope.types.push(element);
            fe
        });
        let when = p
            .when
            .as_ref()
            .and_then(|n| self.cond(&file, n, &mut scope, 0, &mut expanding));
        let assert = p
            .assert
            .as_ref()
            .and_then(|n| self.cond(&file, n, &mut scope, 0, &mut expanding));
        let message = p
            .message
            .as_ref()
            .and_then(|n| self.template(&file, n, &scope, for_each.is_some()));
        let mut requires = Vec::new();
        for (req, pos) in &p.requires {
            // Resolved by id against the effective set: a rule defined
            // after a `disable` of the same id takes the disabled rule's
            // place for every rule that requires it.
            match index.get(req.as_str()) {
                Some(&i) => {
                    let dep = active[i];
                    if dep.severity < p.severity {
                        self.severity_inversion(p, *pos, dep);
                    }
                    requires.push(i);
                }
                None if self.disabled_at.contains_key(req) => {
                    orphaned.entry(req.clone()).or_default().push((p, *pos));
                }
                None => {
                    let help = did_you_mean(req, index.keys().copied());
                    let d = Diagnostic::at(
                        &file,
                        *pos,
                        "unknown-rule",
                        format!("`requires` names `{req}`, which is not a rule"),
                    )
                    .label("unknown rule id")
                    .maybe_help(help);
                    self.push(d);
                }
            }
        }
        let (Some(assert), Some(message)) = (assert, message) else {
            return None;
        };
        if p.when.is_some() && when.is_none() {
            return None;
        }
        let mut reads = Vec::new();
        if let Some(fe) = &for_each {
            fe.path.roots(&mut reads);
        }
        if let Some(w) = &when {
            cond_roots(w, &mut reads);
        }
        cond_roots(&assert, &mut reads);
        reads.sort();
        reads.dedup();
        for r in &reads {
            needs.add(*r);
        }
        // The resources a message's placeholders name are fetched (except
        // product details, a request per product, which a message alone
        // never costs), but never widen what the rule needs: a rule reading only
        // `customer` is not skipped for a check without an order because its
        // message names `{order.referenceId|…}` (the fallback renders).
        let mut shown = Vec::new();
        for part in &message.parts {
            if let Part::Path { path, .. } | Part::Each { list: path, .. } = part {
                path.roots(&mut shown);
            }
        }
        for r in shown {
            if !message_never_fetches(r) {
                needs.add(r);
            }
        }
        let mut conditions_used = BTreeSet::new();
        for n in [p.when.as_ref(), p.assert.as_ref()].into_iter().flatten() {
            self.conditions_used(n, &mut conditions_used, &mut Vec::new());
        }
        let conditions_text = conditions_used
            .into_iter()
            .filter_map(|name| {
                let c = self.conditions.get(&name)?;
                Some((name, self.lines.snippet(&c.file, &c.node)))
            })
            .collect();
        Some(Rule {
            id: p.id.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            severity: p.severity,
            tags: p.tags.clone(),
            docs: p.docs.clone(),
            preempts: p.preempts.clone(),
            requires: p.requires.iter().map(|(r, _)| r.clone()).collect(),
            origin: Origin {
                file: p.file.name.clone(),
                line: p.id_pos.line,
            },
            for_each,
            when,
            assert,
            message,
            requires_idx: requires,
            reads,
            source_text: p.source_text.clone(),
            conditions_text,
        })
    }

    /// `p` (its `requires` entry at `pos`) requires `dep`, whose severity is
    /// lower. Reported in the user's file that caused it: the `requires`
    /// entry, else where `dep`'s severity was set (an `overrides` entry, a
    /// replacement rule), else where `p`'s was; the other places are
    /// related information.
    fn severity_inversion(&mut self, p: &PendingRule, pos: Pos, dep: &PendingRule) {
        let message = format!(
            "`{}` ({}) requires `{}`, whose severity is only {}",
            p.id, p.severity, dep.id, dep.severity
        );
        let requires_at = Place {
            file: p.file.clone(),
            pos,
        };
        let candidates = [&requires_at, &dep.severity_at, &p.severity_at];
        let primary = candidates
            .iter()
            .find(|c| !c.file.is_builtin())
            .copied()
            .unwrap_or(&requires_at);
        let mut d = Diagnostic::at(&primary.file, primary.pos, "requires-lower-severity", message)
            .label("lower severity")
            .help("a failing lower-severity rule would silence this one and let the order through; raise the required rule's severity or drop the requirement");
        let notes = [
            (
                &requires_at,
                format!("`{}` requires `{}` here", p.id, dep.id),
            ),
            (
                &dep.severity_at,
                format!("`{}` gets severity {} here", dep.id, dep.severity),
            ),
            (
                &p.severity_at,
                format!("`{}` gets severity {} here", p.id, p.severity),
            ),
        ];
        for (place, note) in notes {
            if !std::ptr::eq(place, primary) {
                d = d.with_related(
                    Diagnostic::at(&place.file, place.pos, "related", note).label("here"),
                );
            }
        }
        self.diags.push(d);
    }

    fn conditions_used(&self, node: &Node, out: &mut BTreeSet<String>, stack: &mut Vec<String>) {
        match &node.value {
            NodeValue::Map(entries) => {
                for (k, v) in entries {
                    if k.name == "condition" {
                        if let Some(name) = v.as_str()
                            && !stack.iter().any(|s| s == name)
                            && out.insert(name.to_owned())
                            && let Some(c) = self.conditions.get(name)
                        {
                            stack.push(name.to_owned());
                            self.conditions_used(&c.node, out, stack);
                            stack.pop();
                        }
                    } else {
                        self.conditions_used(v, out, stack);
                    }
                }
            }
            NodeValue::Seq(items) => {
                for i in items {
                    self.conditions_used(i, out, stack);
                }
            }
            _ => {}
        }
    }

    // ---- conditions ----------------------------------------------------

    fn cond(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        scope: &mut Scope<'_>,
        depth: usize,
        expanding: &mut Vec<String>,
    ) -> Option<Cond> {
        if depth > MAX_CONDITION_DEPTH {
            self.diag(
                file,
                node.pos,
                "too-deep",
                format!("conditions nest more than {MAX_CONDITION_DEPTH} levels deep"),
            );
            return None;
        }
        let entries = self.mapping(file, node, "a condition")?;
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.name.as_str()).collect();
        let combinators: Vec<&(Key, Node)> = entries
            .iter()
            .filter(|(k, _)| COMBINATORS.contains(&k.name.as_str()))
            .collect();
        if let Some((k, v)) = combinators.first() {
            let mut ok = true;
            for (other, _) in entries {
                if other.name != k.name && other.name != "description" {
                    let msg = if COMBINATORS.contains(&other.name.as_str()) {
                        format!("`{}` and `{}` cannot share one mapping", k.name, other.name)
                    } else {
                        format!("`{}` cannot appear beside `{}`", other.name, k.name)
                    };
                    let d = Diagnostic::at(file, other.pos, "conflicting-keys", msg)
                        .label("conflicts")
                        .help("wrap each condition in its own mapping inside `all:` or `any:`");
                    self.push(d);
                    ok = false;
                }
            }
            if !ok {
                return None;
            }
            return match k.name.as_str() {
                "all" | "any" => {
                    let items = self.list(file, v, &k.name);
                    if items.is_empty() && matches!(v.value, NodeValue::Seq(_)) {
                        self.diag(
                            file,
                            v.pos,
                            "empty-list",
                            format!("`{}` needs at least one condition", k.name),
                        );
                        return None;
                    }
                    let mut parts = Vec::with_capacity(items.len());
                    let mut failed = false;
                    for item in items {
                        match self.cond(file, item, scope, depth + 1, expanding) {
                            Some(c) => parts.push(c),
                            None => failed = true,
                        }
                    }
                    if failed || parts.is_empty() {
                        return None;
                    }
                    Some(if k.name == "all" {
                        Cond::All(parts)
                    } else {
                        Cond::Any(parts)
                    })
                }
                "not" => self
                    .cond(file, v, scope, depth + 1, expanding)
                    .map(|c| Cond::Not(Box::new(c))),
                _ => self.reference(file, v, scope, depth, expanding),
            };
        }
        if entries.iter().any(|(k, _)| k.name == "attribute") {
            return self.attribute(file, node, entries, scope, depth, expanding);
        }
        let Some(path_node) = get(entries, "path") else {
            // No recognisable form: say which keys are not understood.
            let mut all_keys: Vec<&str> = COMBINATORS.to_vec();
            all_keys.extend([
                "path",
                "attribute",
                "of",
                "as",
                "ignore_case",
                "description",
            ]);
            all_keys.extend(VALUE_OPERATORS);
            let mut reported = false;
            for (k, _) in entries {
                if !all_keys.contains(&k.name.as_str()) {
                    self.unknown_operator(file, k, &all_keys);
                    reported = true;
                }
            }
            if !reported {
                let d = Diagnostic::at(
                    file,
                    node.pos,
                    "incomplete-condition",
                    format!(
                        "a condition needs `path`, `attribute`, `all`, `any`, `not` or `condition`; found only {}",
                        keys.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                self.push(d);
            }
            return None;
        };
        let path_text = self.string(file, path_node, "`path`")?;
        let path = self.path_text(file, path_node.pos, &path_text, scope);
        self.value_test(
            file,
            node,
            entries,
            path,
            &path_text,
            &["path"],
            scope,
            depth,
            expanding,
        )
    }

    fn attribute(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        entries: &[(Key, Node)],
        scope: &mut Scope<'_>,
        depth: usize,
        expanding: &mut Vec<String>,
    ) -> Option<Cond> {
        let name_node = get(entries, "attribute")?;
        let name = self.string(file, name_node, "`attribute`")?;
        if get(entries, "path").is_some() {
            let k = entries
                .iter()
                .find(|(k, _)| k.name == "path")
                .map(|(k, _)| k.pos)
                .unwrap_or(node.pos);
            self.diag(file, k, "conflicting-keys", "`path` cannot appear beside `attribute`; `of` names the object that has the attributes");
            return None;
        }
        let Some(of_node) = get(entries, "of") else {
            let d = Diagnostic::at(
                file,
                name_node.pos,
                "missing-key",
                format!(
                    "`attribute: {name}` needs `of`: the object whose `attributes` list to search"
                ),
            )
            .help("for example `{ attribute: domainName, of: item, non_empty: true }`");
            self.push(d);
            return None;
        };
        let of = self.string(file, of_node, "`of`")?;
        if let Ok(raw) = paths::parse(&of) {
            let var = |v: &str| scope_type(scope, v);
            if let Ok(t) = typecheck::path_type(&raw, &var)
                && let Err(problem) = typecheck::attributes_of(&of, &t.ty)
            {
                self.type_problem(file, of_node.pos, problem);
                return None;
            }
        }
        let text = format!("{of}.attributes[name={name}].value");
        let path = self.path_text(file, of_node.pos, &text, scope);
        self.value_test(
            file,
            node,
            entries,
            path,
            &text,
            &["attribute", "of"],
            scope,
            depth,
            expanding,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn value_test(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        entries: &[(Key, Node)],
        path: Option<(Path, Ty)>,
        path_text: &str,
        subject_keys: &[&str],
        scope: &mut Scope<'_>,
        depth: usize,
        expanding: &mut Vec<String>,
    ) -> Option<Cond> {
        let mut allowed: Vec<&str> = subject_keys.to_vec();
        allowed.extend(["as", "ignore_case", "description"]);
        allowed.extend(VALUE_OPERATORS);
        let mut ops: Vec<&(Key, Node)> = Vec::new();
        for entry in entries {
            let k = &entry.0;
            if VALUE_OPERATORS.contains(&k.name.as_str()) {
                ops.push(entry);
            } else if !allowed.contains(&k.name.as_str()) {
                self.unknown_operator(file, k, &allowed);
                return None;
            }
        }
        if ops.is_empty() {
            let d = Diagnostic::at(
                file,
                node.pos,
                "missing-operator",
                format!("the condition on `{path_text}` has no operator"),
            )
            .help("add one, e.g. `non_empty: true`, `equals: …`, `one_of: […]`, `matches: …`");
            self.push(d);
            return None;
        }
        let family = |name: &str| -> &str {
            if NUMERIC_OPERATORS.contains(&name) {
                "numeric"
            } else if DATE_OPERATORS.contains(&name) {
                "date"
            } else {
                "single"
            }
        };
        let first = ops[0].0.name.as_str();
        for (k, _) in &ops[1..] {
            if family(first) == "single" || family(&k.name) != family(first) {
                let d = Diagnostic::at(
                    file,
                    k.pos,
                    "conflicting-operators",
                    format!("`{}` and `{}` cannot share one condition", first, k.name),
                )
                .label("second operator")
                .help("combine separate conditions with `all:` or `any:`");
                self.push(d);
                return None;
            }
        }
        let ignore_case = match get(entries, "ignore_case") {
            Some(n) => {
                let b = self.boolean(file, n, "`ignore_case`")?;
                if !CASE_OPERATORS.contains(&first) {
                    let d = Diagnostic::at(file, n.pos, "misplaced-key", format!("`ignore_case` does not apply to `{first}`"))
                        .help("it applies to equals, not_equals, one_of, not_one_of and contains; for `matches` use `(?i)` in the pattern");
                    self.push(d);
                    return None;
                }
                b
            }
            None => false,
        };
        let (path, ty) = match path {
            Some((p, t)) => (Some(p), Some(t)),
            None => (None, None),
        };
        let mut element = Ty::Unknown;
        if let Some(ty) = &ty {
            match typecheck::operator(first, path_text, ty) {
                Ok(e) => element = e.unwrap_or(Ty::Unknown),
                Err(problem) => {
                    self.type_problem(file, ops[0].0.pos, problem);
                    return None;
                }
            }
        }
        let as_node = get(entries, "as");
        if QUANTIFIERS.contains(&first) {
            let Some(as_node) = as_node else {
                let d = Diagnostic::at(file, ops[0].0.pos, "missing-key", format!("`{first}` needs `as: NAME` to name the current element"))
                    .help("for example `{ path: cloudProfiles, as: profile, some: { path: profile.enabled, equals: true } }`");
                self.push(d);
                return None;
            };
            let var = self.string(file, as_node, "`as`")?;
            self.check_var_name(file, as_node.pos, &var, scope)?;
            scope.bound.push(var);
            scope.types.push(element);
            let body = self.cond(file, &ops[0].1, scope, depth + 1, expanding);
            scope.bound.pop();
            scope.types.pop();
            let kind = match first {
                "some" => Quantifier::Some,
                "every" => Quantifier::Every,
                _ => Quantifier::None,
            };
            return Some(Cond::Quant {
                path: path?,
                kind,
                body: Box::new(body?),
            });
        }
        if let Some(n) = as_node {
            let d = Diagnostic::at(
                file,
                n.pos,
                "misplaced-key",
                "`as` only goes with `some`, `every` or `none`".to_owned(),
            );
            self.push(d);
            return None;
        }
        let op_node = &ops[0].1;
        let (test, negate, expected): (Test, bool, String) = match first {
            "exists" | "null" | "empty" | "non_empty" => {
                let b = self.boolean(file, op_node, &format!("`{first}`"))?;
                let (test, what) = match first {
                    "exists" => (Test::Exists, "present"),
                    "null" => (Test::Null, "null"),
                    "empty" => (Test::Empty, "empty (\"\", [] or {})"),
                    _ => (Test::NonEmpty, "a non-empty value"),
                };
                (test, !b, what.to_owned())
            }
            "equals" | "not_equals" => {
                let value = self.literal(file, op_node, first)?;
                let exp = format!("equal to {}{}", value, case_note(ignore_case));
                (
                    Test::Equals { value, ignore_case },
                    first == "not_equals",
                    exp,
                )
            }
            "one_of" | "not_one_of" => {
                let items = self.list(file, op_node, first);
                if items.is_empty() {
                    self.diag(
                        file,
                        op_node.pos,
                        "empty-list",
                        format!("`{first}` needs at least one value"),
                    );
                    return None;
                }
                let mut values = Vec::new();
                for i in items {
                    values.push(self.literal(file, i, "a value")?);
                }
                let shown: Vec<String> = values
                    .iter()
                    .map(|v| super::condition::show(v).into_owned())
                    .collect();
                let exp = format!("one of [{}]{}", shown.join(", "), case_note(ignore_case));
                let mut strings: Vec<Box<str>> = values
                    .iter()
                    .filter_map(|v| v.as_str().map(Box::from))
                    .collect();
                strings.sort_unstable();
                (
                    Test::OneOf {
                        values,
                        strings: strings.into_boxed_slice(),
                        ignore_case,
                    },
                    first == "not_one_of",
                    exp,
                )
            }
            "matches" => {
                let pattern = self.string(file, op_node, "`matches`")?;
                if pattern.len() > MAX_PATTERN_BYTES {
                    let d = Diagnostic::at(
                        file,
                        op_node.pos,
                        "bad-regex",
                        format!(
                            "the regular expression is {} bytes long; patterns are limited to {MAX_PATTERN_BYTES}",
                            pattern.len()
                        ),
                    )
                    .label("this pattern");
                    self.push(d);
                    return None;
                }
                if let Some((message, help)) =
                    super::diagnostics::control_character_in_pattern(&pattern)
                {
                    let d = Diagnostic::at(file, op_node.pos, "bad-regex", message)
                        .label("this pattern")
                        .help(help);
                    self.push(d);
                    return None;
                }
                // A named condition is compiled again at every use, and files
                // repeat patterns: compile each pattern once per load (a
                // `Regex` clone shares the compiled program).
                let built = match self.regexes.get(&pattern) {
                    Some(re) => Ok(re.clone()),
                    None => build_regex(&pattern).inspect(|re| {
                        self.regexes.insert(pattern.clone(), re.clone());
                    }),
                };
                match built {
                    Ok(re) => (
                        Test::Matches(re),
                        false,
                        format!("a string matching /{pattern}/"),
                    ),
                    Err(e) => {
                        let msg = e.to_string();
                        let short = msg.lines().last().unwrap_or(&msg).trim();
                        let short = short.strip_prefix("error: ").unwrap_or(short).to_owned();
                        let d = Diagnostic::at(file, op_node.pos, "bad-regex", format!("invalid regular expression: {short}"))
                            .label("this pattern")
                            .help("patterns use the `regex` crate's syntax (no look-around, no back-references)");
                        self.push(d);
                        return None;
                    }
                }
            }
            "contains" => {
                let value = self.literal(file, op_node, "contains")?;
                let exp = format!("containing {}{}", value, case_note(ignore_case));
                (Test::Contains { value, ignore_case }, false, exp)
            }
            "gt" | "gte" | "lt" | "lte" => {
                let mut cmps = Vec::new();
                for (k, v) in &ops {
                    let n = self.number(file, v, &format!("`{}`", k.name))?;
                    cmps.push((cmp_of(&k.name), n));
                }
                let exp = format!(
                    "a number {}",
                    cmps.iter()
                        .map(|(c, n)| format!("{} {}", c.symbol(), n))
                        .collect::<Vec<_>>()
                        .join(" and ")
                );
                (Test::Numeric(cmps), false, exp)
            }
            "before" | "after" | "not_before" | "not_after" => {
                let mut cmps = Vec::new();
                let mut words = Vec::new();
                for (k, v) in &ops {
                    let text = match &v.value {
                        NodeValue::Str(s) => s.clone(),
                        _ => {
                            let d = Diagnostic::at(
                                file,
                                v.pos,
                                "wrong-type",
                                format!(
                                    "`{}` expects `now`, `now-30d` or a date, found {}",
                                    k.name,
                                    v.value.kind()
                                ),
                            );
                            self.push(d);
                            return None;
                        }
                    };
                    let Some(when) = parse_when(&text) else {
                        let d = if super::condition::date_form(&text)
                            == Some(super::condition::DateForm::NoOffset)
                        {
                            Diagnostic::at(file, v.pos, "bad-date", format!("`{text}` has no offset, so it names no point in time (it is a different instant in every time zone)"))
                                .label("no offset")
                                .help(format!("write the offset it is meant in, e.g. `{text}Z` for UTC or `{text}+01:00`"))
                        } else {
                            Diagnostic::at(file, v.pos, "bad-date", format!("`{text}` is not `now`, `now±N(d|h|m|s)`, an RFC 3339 timestamp such as 2026-01-31T09:30:00Z or a calendar date such as 2026-01-31"))
                                .label("not a point in time")
                        };
                        self.push(d);
                        return None;
                    };
                    let cmp = match k.name.as_str() {
                        "before" => Cmp::Lt,
                        "after" => Cmp::Gt,
                        "not_before" => Cmp::Gte,
                        _ => Cmp::Lte,
                    };
                    words.push(format!("{} {}", k.name.replace('_', " "), text));
                    cmps.push((cmp, when));
                }
                (
                    Test::Date(cmps),
                    false,
                    format!("a date {}", words.join(" and ")),
                )
            }
            "type" => {
                let t = if op_node.value == NodeValue::Null {
                    "null".to_owned()
                } else {
                    self.string(file, op_node, "`type`")?
                };
                let Some(tn) = TypeName::parse(&t) else {
                    let help = did_you_mean(&t, TypeName::NAMES);
                    let d = Diagnostic::at(
                        file,
                        op_node.pos,
                        "unknown-type",
                        format!(
                            "unknown type `{t}`: expected one of {}",
                            TypeName::NAMES.join(", ")
                        ),
                    )
                    .maybe_help(help);
                    self.push(d);
                    return None;
                };
                (Test::Type(tn), false, format!("of type {t}"))
            }
            "length" => {
                let cmps = match &op_node.value {
                    NodeValue::Int(_) | NodeValue::Float(_) => {
                        vec![(Cmp::Eq, self.number(file, op_node, "`length`")?)]
                    }
                    NodeValue::Map(m) => {
                        let mut cmps = Vec::new();
                        for (k, v) in m {
                            if !NUMERIC_OPERATORS.contains(&k.name.as_str()) {
                                let help = did_you_mean(&k.name, NUMERIC_OPERATORS.iter().copied());
                                let d = Diagnostic::at(
                                    file,
                                    k.pos,
                                    "unknown-operator",
                                    format!("`length` takes gt, gte, lt, lte; found `{}`", k.name),
                                )
                                .maybe_help(help);
                                self.push(d);
                                return None;
                            }
                            cmps.push((
                                cmp_of(&k.name),
                                self.number(file, v, &format!("`{}`", k.name))?,
                            ));
                        }
                        if cmps.is_empty() {
                            self.diag(
                                file,
                                op_node.pos,
                                "empty-list",
                                "`length` needs a number or at least one of gt, gte, lt, lte",
                            );
                            return None;
                        }
                        cmps
                    }
                    other => {
                        let d = Diagnostic::at(
                            file,
                            op_node.pos,
                            "wrong-type",
                            format!(
                                "`length` expects a number or a mapping like {{gte: 1}}, found {}",
                                other.kind()
                            ),
                        );
                        self.push(d);
                        return None;
                    }
                };
                let exp = format!(
                    "length {}",
                    cmps.iter()
                        .map(|(c, n)| format!("{} {}", c.symbol(), n))
                        .collect::<Vec<_>>()
                        .join(" and ")
                );
                (Test::Length(cmps), false, exp)
            }
            _ => return None,
        };
        if let Some(ty) = &ty {
            let literals: Vec<&Node> = match (&test, &op_node.value) {
                (Test::OneOf { .. }, NodeValue::Seq(items)) => items.iter().collect(),
                (Test::Equals { .. } | Test::Contains { .. }, _) => vec![op_node],
                _ => Vec::new(),
            };
            for n in literals {
                if let Err(problem) = typecheck::literal(first, path_text, ty, &n.to_json()) {
                    self.type_problem(file, n.pos, problem);
                    return None;
                }
            }
        }
        let path = path?;
        let cond = Cond::Test {
            path,
            test,
            expected: expected.into_boxed_str(),
        };
        Some(if negate {
            Cond::Not(Box::new(cond))
        } else {
            cond
        })
    }

    fn reference(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        scope: &mut Scope<'_>,
        depth: usize,
        expanding: &mut Vec<String>,
    ) -> Option<Cond> {
        let name = self.string(file, node, "`condition`")?;
        if expanding.iter().any(|n| n == &name) {
            let d = Diagnostic::at(
                file,
                node.pos,
                "condition-cycle",
                format!(
                    "condition `{name}` refers to itself: {} -> {name}",
                    expanding.join(" -> ")
                ),
            )
            .label("cycle");
            self.push(d);
            return None;
        }
        let Some(named) = self.conditions.get(&name) else {
            let help = did_you_mean(&name, self.conditions.keys().map(String::as_str));
            let d = Diagnostic::at(
                file,
                node.pos,
                "unknown-condition",
                format!("no named condition `{name}` is defined"),
            )
            .label("unknown condition")
            .maybe_help(help);
            self.push(d);
            return None;
        };
        let (cnode, cfile, free) = (named.node.clone(), named.file.clone(), named.free.clone());
        let mut missing = Vec::new();
        for (var, at) in &free {
            if !scope.bound.iter().any(|b| b == var) {
                if let Some(f) = scope.free.as_deref_mut() {
                    f.entry(var.clone()).or_insert_with(|| at.clone());
                } else {
                    missing.push((var.clone(), at.clone()));
                }
            }
        }
        if !missing.is_empty() {
            // Where the unbound variable is read: when that is a user's file
            // (a redefined condition) and this use is built in, the user's
            // line is the place to fix.
            let (var_file, var_pos) = missing[0].1.clone();
            let missing: Vec<String> = missing.into_iter().map(|(v, _)| v).collect();
            let mut d = Diagnostic::at(
                file,
                node.pos,
                "unbound-variable",
                format!(
                    "condition `{name}` uses {}, which {} not bound here",
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if missing.len() == 1 { "is" } else { "are" }
                ),
            )
            .label("used here")
            .help(format!(
                "use it inside `for_each: … as {0}` or a quantifier with `as: {0}`",
                missing[0]
            ));
            if file.is_builtin() && !var_file.is_builtin() {
                let note = format!(
                    "the condition is used here ({}:{}), where `{}` is not bound",
                    file.name, node.pos.line, missing[0]
                );
                d = d.relocated(&var_file, var_pos, note);
            } else if var_file.name != file.name || var_pos.line != node.pos.line {
                d = d.with_related(
                    Diagnostic::at(
                        &var_file,
                        var_pos,
                        "related",
                        format!("`{}` is read here", missing[0]),
                    )
                    .label("read here"),
                );
            }
            self.push(d);
            return None;
        }
        // Where the condition's free variable is bound, so its value can
        // be remembered per element (one free variable at most; none when
        // it reads only context roots, or while compiling a named
        // condition on its own).
        let memo_slot = match free.keys().collect::<Vec<_>>().as_slice() {
            [] if scope.free.is_none() => Some(None),
            [var] if scope.free.is_none() => scope.bound.iter().rposition(|b| b == *var).map(Some),
            _ => None,
        };
        let next_id = u32::try_from(self.named_ids.len()).unwrap_or(u32::MAX);
        let id = *self.named_ids.entry(name.clone()).or_insert(next_id);
        expanding.push(name);
        self.uses.push(Place {
            file: file.clone(),
            pos: node.pos,
        });
        let c = self.cond(&cfile, &cnode, scope, depth + 1, expanding);
        self.uses.pop();
        expanding.pop();
        match (c, memo_slot) {
            (Some(body), Some(slot)) => Some(Cond::Named {
                id,
                slot,
                body: Box::new(body),
            }),
            (c, _) => c,
        }
    }

    // ---- paths, variables, templates -------------------------------------

    fn path_text(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        text: &str,
        scope: &mut Scope<'_>,
    ) -> Option<(Path, Ty)> {
        match paths::parse(text) {
            Ok(raw) => {
                let path = self.resolve(file, pos, &raw, text, scope)?;
                let ty = self.typed(file, pos, &raw, text, scope)?;
                Some((path, ty))
            }
            Err(e) => {
                let d = Diagnostic::at(file, pos, "bad-path", e).label("malformed path");
                self.push(d);
                None
            }
        }
    }

    fn resolve(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        raw: &RawPath,
        text: &str,
        scope: &mut Scope<'_>,
    ) -> Option<Path> {
        let start = if let Some(slot) = scope.bound.iter().rposition(|b| b == &raw.head) {
            Start::Var(slot)
        } else if let Some(root) = Root::from_name(&raw.head) {
            Start::Root(root)
        } else if let Some(free) = scope.free.as_deref_mut() {
            free.entry(raw.head.clone())
                .or_insert_with(|| (file.clone(), pos));
            Start::Var(usize::MAX)
        } else {
            let mut candidates: Vec<&str> = Root::ALL.iter().map(|r| r.name()).collect();
            candidates.extend(scope.bound.iter().map(String::as_str));
            let help = did_you_mean(&raw.head, candidates.iter().copied());
            let bound = if scope.bound.is_empty() {
                String::new()
            } else {
                format!(" nor a variable bound here ({})", scope.bound.join(", "))
            };
            let d = Diagnostic::at(
                file,
                pos,
                "unknown-root",
                format!(
                    "path `{text}` starts at `{}`, which is not a context root (request, customer, cloudProfiles, order, products){bound}",
                    raw.head
                ),
            )
            .label("unknown start")
            .help(help.unwrap_or_else(|| {
                "variables are bound by `for_each: PATH as NAME` or by a quantifier's `as: NAME`"
                    .to_owned()
            }));
            self.push(d);
            return None;
        };
        if let (Start::Root(r @ (Root::Products | Root::Subscriptions)), true) =
            (start.clone(), raw.segs.is_empty())
        {
            let example = if r == Root::Products {
                "a product id, e.g. `products[item.productId]`"
            } else {
                "a subscription id, e.g. `subscriptions[item.resourceId]`"
            };
            let d = Diagnostic::at(
                file,
                pos,
                "bad-path",
                format!("path `{text}`: `{}` must be indexed by {example}", r.name()),
            );
            self.push(d);
            return None;
        }
        let mut segs = Vec::with_capacity(raw.segs.len());
        for s in &raw.segs {
            segs.push(match s {
                RawSeg::Field(f) | RawSeg::Unchecked(f) => Seg::Field(f.as_str().into()),
                RawSeg::Index(i) => Seg::Index(*i),
                RawSeg::Select { field, value } => Seg::Select {
                    field: field.as_str().into(),
                    value: value.as_str().into(),
                },
                RawSeg::Dynamic(inner) => {
                    let inner_text = render_raw(inner);
                    Seg::Dynamic(Box::new(self.resolve(
                        file,
                        pos,
                        inner,
                        &inner_text,
                        scope,
                    )?))
                }
                RawSeg::Keyed { field, key } => self.resolve_keyed(file, pos, field, key, scope)?,
            });
        }
        Some(Path {
            start,
            segs,
            text: text.into(),
            first_field: None,
        })
    }

    /// Resolves a keyed step, `[field=$key]` or `[=$key]`: its key is a path
    /// of its own, starting at a root or a bound variable.
    fn resolve_keyed(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        field: &Option<String>,
        key: &RawPath,
        scope: &mut Scope<'_>,
    ) -> Option<Seg> {
        let key_text = render_raw(key);
        let key = self.resolve(file, pos, key, &key_text, scope)?;
        Some(Seg::Keyed {
            field: field.as_deref().map(Into::into),
            key: Box::new(key),
        })
    }

    /// Type-checks a resolved path; records it when it has unchecked parts.
    fn typed(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        raw: &RawPath,
        text: &str,
        scope: &Scope<'_>,
    ) -> Option<Ty> {
        let var = |v: &str| scope_type(scope, v);
        match typecheck::path_type(raw, &var) {
            Ok(t) => {
                if t.unchecked {
                    let u = UncheckedPath {
                        file: file.name.clone(),
                        line: pos.line,
                        column: pos.column,
                        path: text.to_owned(),
                    };
                    if !self.unchecked.contains(&u) {
                        self.unchecked.push(u);
                    }
                }
                Some(t.ty)
            }
            Err(problem) => {
                self.type_problem(file, pos, problem);
                None
            }
        }
    }

    /// Reports a type problem. Unlike structural problems, these are reported
    /// inside a named condition's expansion too: only there are the types of
    /// its variables known (duplicates are dropped in `finish`).
    fn type_problem(&mut self, file: &SourceFile, pos: Pos, problem: Problem) {
        let d = Diagnostic::at(file, pos, problem.code, problem.message)
            .label(problem.label)
            .maybe_help(problem.help);
        self.push(d);
    }

    fn check_var_name(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        var: &str,
        scope: &Scope<'_>,
    ) -> Option<()> {
        let ident = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            self.diag(
                file,
                pos,
                "bad-variable",
                format!("`{var}` is not a valid variable name (letters, digits, `_`)"),
            );
            return None;
        }
        if Root::from_name(var).is_some() {
            self.diag(
                file,
                pos,
                "bad-variable",
                format!("`{var}` is a context root and cannot name a variable"),
            );
            return None;
        }
        if scope.bound.iter().any(|b| b == var) {
            self.diag(
                file,
                pos,
                "bad-variable",
                format!("`{var}` is already bound here; choose another name"),
            );
            return None;
        }
        Some(())
    }

    fn template(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        scope: &Scope<'_>,
        in_for_each: bool,
    ) -> Option<Template> {
        let text = self.string(file, node, "`message`")?;
        let raw = match template::parse(&text) {
            Ok(r) => r,
            Err((_, e)) => {
                let d = Diagnostic::at(file, node.pos, "bad-template", e).label("in this message");
                self.push(d);
                return None;
            }
        };
        let mut parts = Vec::new();
        let mut ok = true;
        let mut scope = Scope {
            bound: scope.bound.clone(),
            types: scope.types.clone(),
            free: None,
        };
        for p in raw {
            parts.push(match p {
                RawPart::Text(t) => Part::Text(t.into()),
                RawPart::Index(offset) | RawPart::Number(offset) if !in_for_each => {
                    let name = if matches!(p, RawPart::Index(_)) { "$index" } else { "$number" };
                    let at = placeholder_pos(file.text(), node.pos, offset);
                    let d = Diagnostic::at(
                        file,
                        at,
                        "bad-placeholder",
                        format!("`{{{name}}}` is the position of the current `for_each` element, but this rule has no `for_each`"),
                    )
                    .label("no element here")
                    .help("add `for_each: PATH as NAME` to the rule, or leave the placeholder out");
                    self.push(d);
                    ok = false;
                    continue;
                }
                RawPart::Index(_) => Part::Index,
                RawPart::Number(_) => Part::Number,
                RawPart::Each {
                    list,
                    fields,
                    fallback,
                    offset,
                } => {
                    let at = placeholder_pos(file.text(), node.pos, offset);
                    match self.each_part(file, at, &list, &fields, &mut scope) {
                        Some(list) => Part::Each {
                            list,
                            fields: fields.into_iter().map(Into::into).collect(),
                            fallback: fallback.map(Into::into),
                        },
                        None => {
                            ok = false;
                            continue;
                        }
                    }
                }
                RawPart::Path {
                    path,
                    fallback,
                    offset,
                } => {
                    let t = render_raw(&path);
                    let at = placeholder_pos(file.text(), node.pos, offset);
                    let resolved = self
                        .resolve(file, at, &path, &t, &mut scope)
                        .and_then(|p| self.typed(file, at, &path, &t, &scope).map(|_| p));
                    match resolved {
                        Some(path) => Part::Path {
                            path,
                            fallback: fallback.map(Into::into),
                        },
                        None => {
                            ok = false;
                            continue;
                        }
                    }
                }
            });
        }
        ok.then_some(Template { parts })
    }

    /// Resolves the list of a `{LIST[*].field}` placeholder, type-checking
    /// `LIST[0].field` (a list whose elements have the field).
    fn each_part(
        &mut self,
        file: &Arc<SourceFile>,
        at: Pos,
        list: &RawPath,
        fields: &[String],
        scope: &mut Scope<'_>,
    ) -> Option<Path> {
        let t = render_raw(list);
        let path = self.resolve(file, at, list, &t, scope)?;
        let mut element = list.clone();
        element.segs.push(RawSeg::Index(0));
        element
            .segs
            .extend(fields.iter().map(|f| RawSeg::Field(f.clone())));
        let et = format!("{t}[*].{}", fields.join("."));
        self.typed(file, at, &element, &et, scope)?;
        Some(path)
    }

    // ---- node helpers ------------------------------------------------------

    /// Reports a key that is not an operator, with the closest one.
    fn unknown_operator(&mut self, file: &SourceFile, key: &Key, operators: &[&str]) {
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
    fn expected(
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

    fn check_keys(
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

    fn required<'n>(
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

    fn mapping<'n>(
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

    fn list<'n>(&mut self, file: &SourceFile, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.value {
            NodeValue::Seq(items) => items,
            _ => {
                self.expected(file, node, what, "a list", true);
                &[]
            }
        }
    }

    fn string(&mut self, file: &SourceFile, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            NodeValue::Str(s) => Some(s.clone()),
            _ => {
                self.expected(file, node, what, "a string", false);
                None
            }
        }
    }

    fn boolean(&mut self, file: &SourceFile, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            NodeValue::Bool(b) => Some(*b),
            _ => {
                self.expected(file, node, what, "true or false", false);
                None
            }
        }
    }

    fn number(&mut self, file: &SourceFile, node: &Node, what: &str) -> Option<f64> {
        match &node.value {
            NodeValue::Int(i) => Some(*i as f64),
            NodeValue::Float(f) if f.is_finite() => Some(*f),
            _ => {
                self.expected(file, node, what, "a number", false);
                None
            }
        }
    }

    fn literal(&mut self, file: &SourceFile, node: &Node, what: &str) -> Option<Value> {
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

    fn severity(&mut self, file: &SourceFile, node: &Node) -> Option<Severity> {
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

/// Variables in scope while compiling a condition.
struct Scope<'f> {
    bound: Vec<String>,
    /// The type of each bound variable (parallel to `bound`).
    types: Vec<Ty>,
    /// When compiling a named condition on its own: unbound names are
    /// collected here (with where they are read) instead of being errors.
    free: Option<&'f mut FreeVars>,
}

/// The type of variable `name` when it is bound in `scope`.
fn scope_type(scope: &Scope<'_>, name: &str) -> Option<Ty> {
    let slot = scope.bound.iter().rposition(|b| b == name)?;
    Some(scope.types.get(slot).cloned().unwrap_or(Ty::Unknown))
}

fn get<'n>(entries: &'n [(Key, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
}

fn is_kebab(s: &str) -> bool {
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

fn case_note(ignore_case: bool) -> &'static str {
    if ignore_case { " (ignoring case)" } else { "" }
}

fn cmp_of(name: &str) -> Cmp {
    match name {
        "gt" => Cmp::Gt,
        "gte" => Cmp::Gte,
        "lt" => Cmp::Lt,
        _ => Cmp::Lte,
    }
}

/// `now`, `now-30d`, `now+12h`, or a date / timestamp.
pub(crate) fn parse_when(text: &str) -> Option<When> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("now") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Some(When::Now(jiff::SignedDuration::ZERO));
        }
        let (sign, rest) = match rest.as_bytes()[0] {
            b'+' => (1i64, rest[1..].trim()),
            b'-' => (-1i64, rest[1..].trim()),
            _ => return None,
        };
        let unit = rest.chars().last()?;
        // Digits only (no sign of their own); the unit may be any character,
        // so it is cut off by its own length.
        let digits = &rest[..rest.len() - unit.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i64 = digits.parse().ok()?;
        let secs = match unit {
            'd' => n.checked_mul(86_400)?,
            'h' => n.checked_mul(3_600)?,
            'm' => n.checked_mul(60)?,
            's' => n,
            _ => return None,
        };
        // At most 10,000 years either way: further and "now" plus the offset
        // leaves the range of timestamps, where it would silently read as
        // "now".
        if secs > MAX_RELATIVE_SECONDS {
            return None;
        }
        return Some(When::Now(jiff::SignedDuration::from_secs(sign * secs)));
    }
    super::condition::parse_date(t).map(When::At)
}

/// The position of a placeholder inside a message string: exact when the
/// string is written on one line without escapes before the placeholder,
/// else the message's own position.
fn placeholder_pos(text: &str, node: Pos, offset: usize) -> Pos {
    let Some(start) = node.offset else {
        return node;
    };
    let quoted = matches!(text.as_bytes().get(start), Some(b'"' | b'\''));
    let at = start + usize::from(quoted) + offset;
    let before = text.get(start..at).unwrap_or("\n");
    if text.as_bytes().get(at) == Some(&b'{') && !before.contains(['\n', '\\']) {
        Pos {
            line: node.line,
            column: node.column + before.chars().count() as u32,
            offset: Some(at),
            len: text[at..].find('}').map_or(1, |e| e + 1),
        }
    } else {
        node
    }
}

/// Roots a message's placeholders alone never have fetched: each costs
/// requests of its own (a product, a subscription lookup, a paged scan).
fn message_never_fetches(root: Root) -> bool {
    matches!(
        root,
        Root::Products | Root::Subscriptions | Root::CustomerSubscriptions | Root::PlacedOrders
    )
}

fn render_raw(p: &RawPath) -> String {
    let mut s = p.head.clone();
    for seg in &p.segs {
        match seg {
            RawSeg::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            RawSeg::Unchecked(f) => {
                s.push_str(".~");
                s.push_str(f);
            }
            RawSeg::Index(i) => s.push_str(&format!("[{i}]")),
            RawSeg::Select { field, value } => s.push_str(&format!("[{field}={value}]")),
            RawSeg::Dynamic(inner) => s.push_str(&format!("[{}]", render_raw(inner))),
            RawSeg::Keyed { field, key } => s.push_str(&format!(
                "[{}=${}]",
                field.as_deref().unwrap_or(""),
                render_raw(key)
            )),
        }
    }
    s
}

/// Compiles `pattern` for `matches`: the `regex` crate's semantics
/// (`regex::Regex::new` with a size limit), without building a full DFA up
/// front. `regex` lets regex-automata determinize every small pattern
/// eagerly (its `dfa-build` feature is on in this build, through
/// tracing-subscriber's `env-filter`), which was half the cost of compiling
/// a pattern; a rule tests a pattern against a few short strings, where the
/// lazy DFA is as fast. Rules only ask whether a pattern matches, so no
/// capture groups are compiled. Errors are `regex`'s own, word for word.
fn build_regex(pattern: &str) -> Result<regex_automata::meta::Regex, regex::Error> {
    use regex_automata::MatchKind;
    use regex_automata::meta;
    let config = meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(true)
        .nfa_size_limit(Some(MAX_REGEX_SIZE))
        .hybrid_cache_capacity(2 * (1 << 20))
        .dfa(false)
        // Patterns are only ever asked whether they match (`is_match`): no
        // capture groups, and no one-pass DFA (which exists to report them).
        .onepass(false)
        .which_captures(regex_automata::nfa::thompson::WhichCaptures::None);
    // `(?i)` folds ASCII letters only (see `rules::regex_fold`).
    let mut builder = meta::Builder::new();
    builder.configure(config);
    match super::regex_fold::ascii_folded(pattern) {
        Some(hir) => builder.build_from_hir(&hir),
        None => builder.build(pattern),
    }
    .map_err(|_| {
        match RegexBuilder::new(pattern)
            .size_limit(MAX_REGEX_SIZE)
            .build()
        {
            Err(e) => e,
            // Unreachable in practice: both accept the same patterns.
            Ok(_) => regex::Error::Syntax(format!("the pattern `{pattern}` could not be compiled")),
        }
    })
}

fn cond_roots(c: &Cond, out: &mut Vec<Root>) {
    match c {
        Cond::All(ps) | Cond::Any(ps) => ps.iter().for_each(|p| cond_roots(p, out)),
        Cond::Not(p) | Cond::Named { body: p, .. } => cond_roots(p, out),
        Cond::Test { path, .. } => path.roots(out),
        Cond::Quant { path, body, .. } => {
            path.roots(out);
            cond_roots(body, out);
        }
    }
}

/// The source lines a node spans (from its first line to the last line of
/// anything inside it).
/// The start of every line of each file seen, so that cutting a rule's
/// source out of its file costs the length of the rule, not of the file
/// before it (walking `text.lines()` from the top for every rule made loading
/// quadratic in the file's size).
#[derive(Default)]
struct LineIndex {
    files: Vec<(Arc<SourceFile>, Vec<usize>)>,
}

impl LineIndex {
    /// The lines of `file` that `node` spans, as `text.lines()` gives them,
    /// joined with `\n`.
    fn snippet(&mut self, file: &Arc<SourceFile>, node: &Node) -> String {
        fn last_line(n: &Node) -> u32 {
            match &n.value {
                NodeValue::Seq(items) => items.iter().map(last_line).max().unwrap_or(n.pos.line),
                NodeValue::Map(entries) => entries
                    .iter()
                    .map(|(_, v)| last_line(v))
                    .max()
                    .unwrap_or(n.pos.line),
                NodeValue::Str(s) => n.pos.line + s.matches('\n').count() as u32,
                _ => n.pos.line,
            }
        }
        let text = file.text();
        let i = match self.files.iter().position(|(f, _)| Arc::ptr_eq(f, file)) {
            Some(i) => i,
            None => {
                let starts = std::iter::once(0)
                    .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                    .filter(|&s| s < text.len())
                    .collect();
                self.files.push((file.clone(), starts));
                self.files.len() - 1
            }
        };
        let starts = &self.files[i].1;
        let first = node.pos.line.max(1) as usize;
        let last = (last_line(node).max(node.pos.line) as usize).min(starts.len());
        if first > last {
            return String::new();
        }
        // The lines are contiguous in the file: without `\r` in them, they
        // are one slice (minus the last line break).
        let end = starts.get(last).copied().unwrap_or(text.len());
        let all = &text[starts[first - 1]..end];
        if !all.contains('\r') {
            return all.strip_suffix('\n').unwrap_or(all).to_owned();
        }
        let mut out = String::with_capacity(all.len());
        for line in first..=last {
            let start = starts[line - 1];
            let end = starts.get(line).copied().unwrap_or(text.len());
            let l = &text[start..end];
            let l = match l.strip_suffix('\n') {
                Some(l) => l.strip_suffix('\r').unwrap_or(l),
                None => l,
            };
            if line > first {
                out.push('\n');
            }
            out.push_str(l);
        }
        out
    }
}

fn find_cycle(rules: &[Rule]) -> Option<Vec<usize>> {
    // 0 = unvisited, 1 = on stack, 2 = done
    fn visit(
        i: usize,
        rules: &[Rule],
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        stack.push(i);
        for &d in &rules[i].requires_idx {
            if state[d] == 1 {
                let start = stack.iter().position(|&x| x == d).unwrap_or(0);
                return Some(stack[start..].to_vec());
            }
            if state[d] == 0
                && let Some(c) = visit(d, rules, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    let mut state = vec![0u8; rules.len()];
    for i in 0..rules.len() {
        if state[i] == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(i, rules, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// An evaluation order in which every rule comes after the rules it requires
/// (stable: otherwise file order). Assumes no cycles.
fn topo_order(rules: &[Rule]) -> Vec<usize> {
    let mut done = vec![false; rules.len()];
    let mut order = Vec::with_capacity(rules.len());
    fn visit(i: usize, rules: &[Rule], done: &mut [bool], order: &mut Vec<usize>) {
        if done[i] {
            return;
        }
        done[i] = true;
        for &d in &rules[i].requires_idx {
            visit(d, rules, done, order);
        }
        order.push(i);
    }
    for i in 0..rules.len() {
        visit(i, rules, &mut done, &mut order);
    }
    order
}

fn yaml_error_message(e: &serde_saphyr::Error) -> String {
    // The library's message starts with its own "error: line L column C:"
    // prefix; the location is shown separately.
    let full = e.to_string();
    let first = full.lines().next().unwrap_or("invalid YAML").trim();
    let mut text = first.strip_prefix("error: ").unwrap_or(first);
    if let Some(rest) = text.strip_prefix("line ")
        && let Some(i) = rest.find(": ")
        && rest[..i].contains(" column ")
    {
        text = &rest[i + 2..];
    }
    if let Some(what) = text.strip_prefix("budget breached: ") {
        let why = if what.starts_with("Depth") {
            "the document nests deeper than 64 levels".to_owned()
        } else if what.starts_with("Nodes") || what.starts_with("Alias") {
            "the document has more than 250000 YAML nodes, counting what aliases expand to; split the file or remove aliases that multiply content".to_owned()
        } else {
            format!("the document is larger than allowed ({what})")
        };
        return format!("YAML refused: {why}");
    }
    format!("invalid YAML: {text}")
}

/// Numbers the fields that the rules' paths read directly from a variable,
/// so evaluation reads them from the bound element's row (see
/// `rules::rows`) — when that pays: filling a row walks the whole element,
/// which costs more than it saves unless the rules read its fields several
/// times over (the built-in set numbers 18 fields and reads most of them in
/// several rules; Bench 1's two rules read each of their 5 once).
fn number_fields(rules: &mut [Rule]) -> FieldTable {
    /// Reads per numbered field below which rows are not filled.
    const MIN_READS_PER_FIELD: usize = 2;
    let mut fields = FieldTable::default();
    let mut reads = 0usize;
    for_each_path(rules, &mut |path| {
        if let (Start::Var(_), Some(Seg::Field(name))) = (&path.start, path.segs.first()) {
            path.first_field = fields.intern(name);
            reads += 1;
        }
    });
    if reads < MIN_READS_PER_FIELD * fields.len() {
        for_each_path(rules, &mut |path| path.first_field = None);
        return FieldTable::default();
    }
    fields
}

/// Calls `f` with every path of the rules' conditions (dynamic keys
/// included).
fn for_each_path(rules: &mut [Rule], f: &mut impl FnMut(&mut Path)) {
    fn in_path(path: &mut Path, f: &mut impl FnMut(&mut Path)) {
        f(path);
        for seg in &mut path.segs {
            if let Seg::Dynamic(inner) | Seg::Keyed { key: inner, .. } = seg {
                in_path(inner, f);
            }
        }
    }
    fn in_cond(cond: &mut Cond, f: &mut impl FnMut(&mut Path)) {
        match cond {
            Cond::All(parts) | Cond::Any(parts) => {
                for p in parts {
                    in_cond(p, f);
                }
            }
            Cond::Not(inner) | Cond::Named { body: inner, .. } => in_cond(inner, f),
            Cond::Test { path, .. } => in_path(path, f),
            Cond::Quant { path, body, .. } => {
                in_path(path, f);
                in_cond(body, f);
            }
        }
    }
    for rule in rules {
        if let Some(when) = &mut rule.when {
            in_cond(when, f);
        }
        in_cond(&mut rule.assert, f);
    }
}

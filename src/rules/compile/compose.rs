//! Stage 1, composition: read and parse each file, follow `extends`,
//! register named conditions, collect rules, apply `overrides` and `disable`.

use std::collections::{HashMap, HashSet};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use super::lines::LineIndex;
use super::nodes::{Diags, get, is_kebab, look_alike_help};
use super::{FreeVars, NamedCond, PendingRule, Place, Unit};
use crate::report::Severity;
use crate::rules::diagnostics::{Diagnostic, SourceFile, did_you_mean, yaml_hint};
use crate::rules::yaml::{Key, Node, NodeValue, Pos};
use crate::rules::{Builtin, FileComposition, RuleLoadError};

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

/// What composition hands the linker: every rule collected (disabled ones
/// marked), every named condition, what each file did, and the problems.
pub(super) struct Composed {
    /// Every rule defined, in load order; `disabled` marks those a
    /// `disable` removed.
    pub(super) rules: Vec<PendingRule>,
    /// The effective definition of each named condition.
    pub(super) conditions: HashMap<String, NamedCond>,
    /// Every definition written, in load order (redefined ones included:
    /// each is checked, used or not).
    pub(super) definitions: Vec<Definition>,
    /// Where each rule id was disabled (the last `disable` naming it).
    pub(super) disabled_at: HashMap<String, Place>,
    /// What each file loaded added, disabled, overrode and redefined, in
    /// load order.
    pub(super) composition: Vec<FileComposition>,
    /// The last `disable` entry that took effect.
    pub(super) last_disable: Option<Place>,
    /// The last file loaded, for a problem with the whole set.
    pub(super) last_file: Option<Arc<SourceFile>>,
    /// Where each line of each file starts, for cutting out snippets.
    pub(super) lines: LineIndex,
    pub(super) diags: Vec<Diagnostic>,
}

/// One named condition as written.
pub(super) struct Definition {
    pub(super) name: String,
    pub(super) node: Arc<Node>,
    pub(super) file: Arc<SourceFile>,
}

/// Composition's working state, private to this stage.
struct Composer {
    diags: Diags,
    loaded: HashSet<String>,
    stack: Vec<String>,
    conditions: HashMap<String, NamedCond>,
    definitions: Vec<Definition>,
    rules: Vec<PendingRule>,
    /// The index in `rules` of the enabled rule with each id (there is at
    /// most one: a second definition is refused).
    enabled: HashMap<String, usize>,
    disabled_at: HashMap<String, Place>,
    composition: Vec<FileComposition>,
    last_disable: Option<Place>,
    last_file: Option<Arc<SourceFile>>,
    lines: LineIndex,
}

/// Stage 1: the units, in order, composed into one set of rules and named
/// conditions. `Err` only when a unit named on the command line cannot be
/// read; every other problem is a diagnostic in the result.
pub(super) fn compose(units: &[Unit]) -> Result<Composed, RuleLoadError> {
    let mut loader = Composer {
        diags: Diags::default(),
        loaded: HashSet::new(),
        stack: Vec::new(),
        conditions: HashMap::new(),
        definitions: Vec::new(),
        rules: Vec::new(),
        enabled: HashMap::new(),
        disabled_at: HashMap::new(),
        last_file: None,
        last_disable: None,
        composition: Vec::new(),
        lines: LineIndex::default(),
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
    Ok(Composed {
        rules: loader.rules,
        conditions: loader.conditions,
        definitions: loader.definitions,
        disabled_at: loader.disabled_at,
        composition: loader.composition,
        last_disable: loader.last_disable,
        last_file: loader.last_file,
        lines: loader.lines,
        diags: loader.diags.into_vec(),
    })
}

impl Composer {
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
        let parsed = crate::rules::yaml::parse(file.text());
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
                self.diags
                    .push(Diagnostic::at(&file, pos, code, message).maybe_help(help));
                self.stack.pop();
                return;
            }
        };
        let root_pos = root.pos;
        let mut entries = match root.value {
            NodeValue::Map(entries) => entries,
            NodeValue::Null => Vec::new(),
            other => {
                self.diags.diag(
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
        self.diags
            .check_keys(&file, &entries, FILE_KEYS, "rule file");
        for key in ["name", "description"] {
            if let Some(n) = get(&entries, key) {
                self.diags.string(&file, n, key);
            }
        }
        if let Some(ext) = get(&entries, "extends") {
            for item in self.diags.list(&file, ext, "extends") {
                let Some(target) = self.diags.string(&file, item, "an `extends` entry") else {
                    continue;
                };
                self.extend(&file, item.pos, &target, base.as_deref());
            }
        }
        if let Some(conds) = get(&entries, "conditions")
            && let Some(conds) = self.diags.mapping(&file, conds, "conditions")
        {
            // Registered here, checked by the conditions stage against the
            // final table: a later file's definition replaces an earlier one
            // everywhere it is used, in conditions as in rules.
            for (k, node) in conds {
                let log = &mut self.composition[me];
                if self.conditions.contains_key(&k.name) {
                    log.redefined_conditions.push(k.name.clone());
                } else {
                    log.defined_conditions.push(k.name.clone());
                }
                if !is_kebab(&k.name) {
                    self.diags.diag(
                        &file,
                        k.pos,
                        "bad-name",
                        format!(
                            "condition name `{}` is not kebab-case (e.g. `microsoft-nce-item`)",
                            k.name
                        ),
                    );
                }
                let node = Arc::new(node.clone());
                self.definitions.push(Definition {
                    name: k.name.clone(),
                    node: node.clone(),
                    file: file.clone(),
                });
                self.conditions.insert(
                    k.name.clone(),
                    NamedCond {
                        node,
                        file: file.clone(),
                        free: FreeVars::new(),
                    },
                );
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
                self.diags.list(&file, &rules, "rules");
            }
        }
        if let Some(ov) = get(&entries, "overrides")
            && let Some(ov) = self.diags.mapping(&file, ov, "overrides")
        {
            for (k, node) in ov {
                let Some(idx) = self.find_rule(&file, k) else {
                    continue;
                };
                let Some(fields) = self.diags.mapping(&file, node, "an override") else {
                    continue;
                };
                self.diags
                    .check_keys(&file, fields, &["severity"], "override");
                if let Some(sev) = get(fields, "severity")
                    && let Some(s) = self.diags.severity(&file, sev)
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
            for item in self.diags.list(&file, dis, "disable") {
                let Some(id) = self.diags.string(&file, item, "a rule id") else {
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
                self.diags.diag(
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
            self.diags.push(d);
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
            self.diags.push(d);
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
                self.diags.push(d);
                return;
            }
        };
        let name = path.display().to_string();
        match decode(&name, bytes) {
            Ok(text) => {
                let base = path.parent().map(FsPath::to_path_buf);
                self.load_unit(key, &name, text, base);
            }
            Err(d) => self.diags.push(*d),
        }
    }

    /// The enabled rule an `overrides` or `disable` entry names. An id
    /// that was disabled earlier is not "unknown": the diagnostic says
    /// where it was disabled, since the entry would change nothing.
    fn find_rule(&mut self, file: &SourceFile, key: &Key) -> Option<usize> {
        if let Some(&i) = self.enabled.get(&key.name) {
            return Some(i);
        }
        let d = match self.disabled_at.get(&key.name) {
            Some(at) => Diagnostic::at(
                file,
                key.pos,
                "unknown-rule",
                format!(
                    "no rule `{}` is defined before this point: it was disabled at {}:{}, so this entry would change nothing",
                    key.name, at.file.name, at.pos.line
                ),
            )
            .label("disabled rule")
            .with_related(
                Diagnostic::at(&at.file, at.pos, "related", format!("`{}` is disabled here", key.name))
                    .label("disabled here"),
            )
            .help("remove this entry, or the `disable` entry if the rule is meant to stay"),
            None => {
                let help = did_you_mean(
                    &key.name,
                    self.rules
                        .iter()
                        .filter(|r| !r.disabled)
                        .map(|r| r.id.as_str()),
                );
                Diagnostic::at(
                    file,
                    key.pos,
                    "unknown-rule",
                    format!("no rule `{}` is defined before this point", key.name),
                )
                .label("unknown rule id")
                .maybe_help(look_alike_help(&key.name, help))
            }
        };
        self.diags.push(d);
        None
    }

    fn collect_rule(&mut self, file: &Arc<SourceFile>, owned: Node) {
        let node = &owned;
        let Some(fields) = self.diags.mapping(file, node, "a rule") else {
            return;
        };
        self.diags.check_keys(file, fields, RULE_KEYS, "rule");
        let id_node = self.diags.required(file, node, fields, "id");
        let (id, id_pos) = match id_node {
            Some(n) => match self.diags.string(file, n, "`id`") {
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
                        self.diags.push(d);
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
            self.diags.push(d);
            return;
        }
        let title = self
            .diags
            .required(file, node, fields, "title")
            .and_then(|n| self.diags.string(file, n, "`title`"))
            .unwrap_or_default();
        let severity_node = self.diags.required(file, node, fields, "severity");
        let severity_at = Place {
            file: file.clone(),
            pos: severity_node.map_or(id_pos, |n| n.pos),
        };
        let severity = severity_node
            .and_then(|n| self.diags.severity(file, n))
            .unwrap_or(Severity::Error);
        let description =
            get(fields, "description").and_then(|n| self.diags.string(file, n, "`description`"));
        let docs = get(fields, "docs").and_then(|n| self.diags.string(file, n, "`docs`"));
        let preempts =
            get(fields, "preempts").and_then(|n| self.diags.string(file, n, "`preempts`"));
        let tags = get(fields, "tags")
            .map(|n| {
                self.diags
                    .list(file, n, "tags")
                    .iter()
                    .filter_map(|t| self.diags.string(file, t, "a tag"))
                    .collect()
            })
            .unwrap_or_default();
        let requires = get(fields, "requires")
            .map(|n| {
                self.diags
                    .list(file, n, "requires")
                    .iter()
                    .filter_map(|t| self.diags.string(file, t, "a rule id").map(|s| (s, t.pos)))
                    .collect()
            })
            .unwrap_or_default();
        // Reported here when missing; taken below.
        let _ = self.diags.required(file, node, fields, "assert");
        let _ = self.diags.required(file, node, fields, "message");
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

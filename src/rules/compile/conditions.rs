//! Stage 3, compiling conditions: every named condition checked on its
//! own, then each enabled rule's `for_each`, `when`, `assert` and message,
//! named conditions expanded where they are used (operators in
//! [`super::operators`], paths and templates in [`super::resolve`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::lines::LineIndex;
use super::link::Linked;
use super::nodes::{Diags, get, look_alike_help};
use super::resolve::{Scope, scope_type};
use super::{FreeVars, NamedCond, PendingRule, Place};
use crate::context::Root;
use crate::rules::condition::Cond;
use crate::rules::diagnostics::{Diagnostic, SourceFile, did_you_mean};
use crate::rules::operator::Operator;
use crate::rules::path as paths;
use crate::rules::shape::Ty;
use crate::rules::template::Template;
use crate::rules::typecheck::{self, Problem};
use crate::rules::yaml::{Key, Node, NodeValue};
use crate::rules::{FileComposition, ForEach, Origin, Rule, UncheckedPath};

/// The keys that combine conditions (or name one) instead of testing a
/// value.
const COMBINATORS: &[&str] = &["all", "any", "not", "condition"];
const MAX_CONDITION_DEPTH: usize = 48;

/// What compiling hands the planner.
pub(super) struct Compiled {
    /// The rules that compiled, in load order.
    pub(super) rules: Vec<Rule>,
    /// Where each compiled rule's id is written (parallel to `rules`).
    pub(super) places: Vec<Place>,
    /// How many rules were linked (all of them compiled when equal).
    pub(super) linked: usize,
    /// Paths with a `~` (unchecked) segment, where they are written.
    pub(super) unchecked: Vec<UncheckedPath>,
    /// How many named conditions were given a memo number.
    pub(super) named_conditions: usize,
    pub(super) composition: Vec<FileComposition>,
    pub(super) last_disable: Option<Place>,
    pub(super) last_file: Option<Arc<SourceFile>>,
    pub(super) diags: Vec<Diagnostic>,
}

/// What compiling one rule's nodes gives.
struct Parts {
    for_each: Option<ForEach>,
    when: Option<Cond>,
    assert: Cond,
    message: Template,
    reads: Vec<Root>,
    conditions_text: Vec<(String, String)>,
}

impl PendingRule {
    /// The compiled rule: the pending rule's fields moved in, not copied.
    fn into_rule(self, parts: Parts, requires_idx: Vec<usize>) -> Rule {
        Rule {
            id: self.id,
            title: self.title,
            description: self.description,
            severity: self.severity,
            tags: self.tags,
            docs: self.docs,
            preempts: self.preempts,
            requires: self.requires.into_iter().map(|(r, _)| r).collect(),
            origin: Origin {
                file: self.file.name.clone(),
                line: self.id_pos.line,
            },
            for_each: parts.for_each,
            when: parts.when,
            assert: parts.assert,
            message: parts.message,
            requires_idx,
            reads: parts.reads,
            source_text: self.source_text,
            conditions_text: parts.conditions_text,
        }
    }
}

/// The compiler's working state, private to this stage.
pub(super) struct Compiler {
    pub(super) diags: Diags,
    conditions: HashMap<String, NamedCond>,
    /// Paths with a `~` (unchecked) segment, where they are written.
    pub(super) unchecked: Vec<UncheckedPath>,
    /// Where each line of each file starts, for cutting out snippets.
    lines: LineIndex,
    /// Regular expressions compiled so far, by pattern.
    pub(super) regexes: HashMap<String, regex_automata::meta::Regex>,
    /// A number for each named condition used, for memoizing its value.
    named_ids: HashMap<String, u32>,
}

/// Stage 3: checks every named condition on its own, then compiles every
/// linked rule. A rule that does not compile is left out only with a
/// located diagnostic (which fails the load).
pub(super) fn compile(l: Linked) -> Compiled {
    let mut c = Compiler {
        diags: Diags::carried(l.diags),
        conditions: l.conditions,
        unchecked: Vec::new(),
        lines: l.lines,
        regexes: HashMap::new(),
        named_ids: HashMap::new(),
    };
    for def in &l.definitions {
        let mut free = FreeVars::new();
        let mut scope = Scope {
            bound: Vec::new(),
            types: Vec::new(),
            free: Some(&mut free),
        };
        let mut expanding = vec![def.name.clone()];
        // Checks the definition on its own; free variables are checked
        // wherever it is used.
        let _ = c.cond(&def.file, &def.node, &mut scope, 0, &mut expanding);
        if let Some(named) = c.conditions.get_mut(&def.name)
            && Arc::ptr_eq(&named.node, &def.node)
        {
            named.free = free;
        }
    }
    let linked = l.rules.len();
    let mut rules = Vec::with_capacity(linked);
    let mut places = Vec::with_capacity(linked);
    let mut dropped = Vec::new();
    // Each rule is taken by value: its fields move into the compiled rule
    // and its YAML nodes are freed as soon as it is compiled, so the
    // stages' data are not all alive at once (every byte alive at the peak
    // is a page the kernel must hand out again on the next load).
    for lr in l.rules {
        let place = Place {
            file: lr.rule.file.clone(),
            pos: lr.rule.id_pos,
        };
        c.diags.uses.clear();
        c.diags.uses.push(place.clone());
        let compiled = c.compile_rule(lr.rule, lr.requires);
        c.diags.uses.clear();
        match compiled {
            Ok(rule) => {
                rules.push(rule);
                places.push(place);
            }
            Err(id) => dropped.push((place, id)),
        }
    }
    // Fail closed: every enabled rule is in the set, or the load fails
    // with a located diagnostic. Every path that leaves a rule out
    // reports why (here or when the file was read); should one ever not,
    // this says so rather than load a smaller set.
    if c.diags.is_empty() {
        for (place, id) in dropped {
            let d = Diagnostic::at(
                &place.file,
                place.pos,
                "rule-not-compiled",
                format!("rule `{id}` could not be compiled, and a rule set without it is refused"),
            )
            .label("this rule")
            .help("this is a bug in ion-preflight: please report it with this file");
            c.diags.push(d);
        }
    }
    Compiled {
        rules,
        places,
        linked,
        unchecked: c.unchecked,
        named_conditions: c.named_ids.len(),
        composition: l.composition,
        last_disable: l.last_disable,
        last_file: l.last_file,
        diags: c.diags.into_vec(),
    }
}

impl Compiler {
    /// Compiles one enabled rule: its `for_each`, conditions and message.
    /// `Err` with the rule's id when it could not be compiled (the reason is
    /// reported).
    fn compile_rule(&mut self, p: PendingRule, requires: Vec<usize>) -> Result<Rule, String> {
        match self.compile_parts(&p) {
            Some(parts) => Ok(p.into_rule(parts, requires)),
            None => Err(p.id),
        }
    }

    /// The compiled parts of `p`: `None` when one did not compile.
    fn compile_parts(&mut self, p: &PendingRule) -> Option<Parts> {
        let file = p.file.clone();
        let mut scope = Scope {
            bound: Vec::new(),
            types: Vec::new(),
            free: None,
        };
        let mut expanding = Vec::new();
        let for_each = p.for_each.as_ref().and_then(|n| {
            let text = self.diags.string(&file, n, "`for_each`")?;
            let Some((path_text, var)) = text.rsplit_once(" as ") else {
                let d = Diagnostic::at(
                    &file,
                    n.pos,
                    "bad-for-each",
                    format!("`for_each: {text}` must read `PATH as NAME`"),
                )
                .help("for example `for_each: order.orderItems as item`");
                self.diags.push(d);
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
                    self.diags.type_problem(&file, n.pos, problem);
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
        Some(Parts {
            for_each,
            when,
            assert,
            message,
            reads,
            conditions_text,
        })
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

    pub(super) fn cond(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        scope: &mut Scope<'_>,
        depth: usize,
        expanding: &mut Vec<String>,
    ) -> Option<Cond> {
        if depth > MAX_CONDITION_DEPTH {
            self.diags.diag(
                file,
                node.pos,
                "too-deep",
                format!("conditions nest more than {MAX_CONDITION_DEPTH} levels deep"),
            );
            return None;
        }
        let entries = self.diags.mapping(file, node, "a condition")?;
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
                    self.diags.push(d);
                    ok = false;
                }
            }
            if !ok {
                return None;
            }
            return match k.name.as_str() {
                "all" | "any" => {
                    let items = self.diags.list(file, v, &k.name);
                    if items.is_empty() && matches!(v.value, NodeValue::Seq(_)) {
                        self.diags.diag(
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
            all_keys.extend(Operator::names());
            let mut reported = false;
            for (k, _) in entries {
                if !all_keys.contains(&k.name.as_str()) {
                    self.diags.unknown_operator(file, k, &all_keys);
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
                self.diags.push(d);
            }
            return None;
        };
        let path_text = self.diags.string(file, path_node, "`path`")?;
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
        let name = self.diags.string(file, name_node, "`attribute`")?;
        if get(entries, "path").is_some() {
            let k = entries
                .iter()
                .find(|(k, _)| k.name == "path")
                .map(|(k, _)| k.pos)
                .unwrap_or(node.pos);
            self.diags.diag(file, k, "conflicting-keys", "`path` cannot appear beside `attribute`; `of` names the object that has the attributes");
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
            self.diags.push(d);
            return None;
        };
        let of = self.diags.string(file, of_node, "`of`")?;
        if let Ok(raw) = paths::parse(&of) {
            let var = |v: &str| scope_type(scope, v);
            if let Ok(t) = typecheck::path_type(&raw, &var)
                && let Err(problem) = typecheck::attributes_of(&of, &t.ty)
            {
                self.diags.type_problem(file, of_node.pos, problem);
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

    fn reference(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        scope: &mut Scope<'_>,
        depth: usize,
        expanding: &mut Vec<String>,
    ) -> Option<Cond> {
        let name = self.diags.string(file, node, "`condition`")?;
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
            self.diags.push(d);
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
            .maybe_help(look_alike_help(&name, help));
            self.diags.push(d);
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
            self.diags.push(d);
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
        self.diags.uses.push(Place {
            file: file.clone(),
            pos: node.pos,
        });
        let c = self.cond(&cfile, &cnode, scope, depth + 1, expanding);
        self.diags.uses.pop();
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

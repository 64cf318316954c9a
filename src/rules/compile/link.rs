//! Stage 2, linking: the effective set (the enabled rules), each rule's
//! `requires` resolved by id against it, a disabled rule that enabled rules
//! still require, and severity inversions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::compose::{Composed, Definition};
use super::lines::LineIndex;
use super::nodes::{Diags, look_alike_help};
use super::{NamedCond, PendingRule, Place};
use crate::rules::FileComposition;
use crate::rules::diagnostics::{Diagnostic, SourceFile, did_you_mean};
use crate::rules::yaml::{Node, Pos};

/// What linking hands the compiler: the enabled rules with their
/// requirements resolved, and everything composition found.
pub(super) struct Linked {
    /// The enabled rules, in load order.
    pub(super) rules: Vec<LinkedRule>,
    pub(super) conditions: HashMap<String, NamedCond>,
    pub(super) definitions: Vec<Definition>,
    pub(super) composition: Vec<FileComposition>,
    pub(super) last_disable: Option<Place>,
    pub(super) last_file: Option<Arc<SourceFile>>,
    pub(super) lines: LineIndex,
    pub(super) diags: Vec<Diagnostic>,
}

/// An enabled rule and the rules it requires.
pub(super) struct LinkedRule {
    pub(super) rule: PendingRule,
    /// Indices in [`Linked::rules`] of the rules it requires that are in
    /// the set (the others are reported).
    pub(super) requires: Vec<usize>,
}

/// Stage 2: links the composed rules.
pub(super) fn link(c: Composed) -> Linked {
    let mut diags = Diags::carried(c.diags);
    // What lets each disabled rule `skip`, by id: the last one for each id
    // is the rule a later rule with that id replaces.
    let mut replaced: HashMap<String, Replaced> = HashMap::new();
    for r in c.rules.iter().filter(|r| r.disabled) {
        replaced.insert(r.id.clone(), Replaced::of(r));
    }
    let active: Vec<PendingRule> = c.rules.into_iter().filter(|r| !r.disabled).collect();
    let index: HashMap<&str, usize> = active
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    // Enabled rules that require a disabled id, by that id.
    let mut orphaned: BTreeMap<&str, Vec<(&PendingRule, Pos)>> = BTreeMap::new();
    // Enabled rules that require a replacement (an enabled rule whose id
    // was disabled earlier), by its index.
    let mut dependents: BTreeMap<usize, Vec<(&PendingRule, Pos)>> = BTreeMap::new();
    let mut requires = Vec::with_capacity(active.len());
    for p in &active {
        let mut resolved = Vec::new();
        for (req, pos) in &p.requires {
            // Resolved by id against the effective set: a rule defined
            // after a `disable` of the same id takes the disabled rule's
            // place for every rule that requires it.
            match index.get(req.as_str()) {
                Some(&i) => {
                    let dep = &active[i];
                    if dep.severity < p.severity {
                        severity_inversion(&mut diags, p, *pos, dep);
                    }
                    resolved.push(i);
                    if replaced.contains_key(req) {
                        dependents.entry(i).or_default().push((p, *pos));
                    }
                }
                None if c.disabled_at.contains_key(req) => {
                    orphaned.entry(req.as_str()).or_default().push((p, *pos));
                }
                None => {
                    let help = did_you_mean(req, index.keys().copied());
                    let d = Diagnostic::at(
                        &p.file,
                        *pos,
                        "unknown-rule",
                        format!("`requires` names `{req}`, which is not a rule"),
                    )
                    .label("unknown rule id")
                    .maybe_help(look_alike_help(req, help));
                    diags.push(d);
                }
            }
        }
        requires.push(resolved);
    }
    for (id, dependents) in &orphaned {
        let Some(at) = c.disabled_at.get(*id) else {
            continue;
        };
        diags.push(disabled_required(id, at, dependents));
    }
    for (&i, deps) in &dependents {
        let replacement = &active[i];
        let Some(original) = replaced.get(&replacement.id) else {
            continue;
        };
        if let Some(d) = replacement_can_skip(replacement, original, deps) {
            diags.push(d);
        }
    }
    let rules = active
        .into_iter()
        .zip(requires)
        .map(|(rule, requires)| LinkedRule { rule, requires })
        .collect();
    Linked {
        rules,
        conditions: c.conditions,
        definitions: c.definitions,
        composition: c.composition,
        last_disable: c.last_disable,
        last_file: c.last_file,
        lines: c.lines,
        diags: diags.into_vec(),
    }
}

/// A disabled rule, as far as a rule replacing it must match it: what can
/// make it `skip` (its `when` and `for_each` as written, its `requires`).
struct Replaced {
    place: Place,
    when: Option<serde_json::Value>,
    for_each: Option<serde_json::Value>,
    requires: Vec<String>,
}

impl Replaced {
    fn of(r: &PendingRule) -> Replaced {
        Replaced {
            place: Place {
                file: r.file.clone(),
                pos: r.id_pos,
            },
            when: r.when.as_ref().map(|n| n.to_json()),
            for_each: r.for_each.as_ref().map(|n| n.to_json()),
            requires: r.requires.iter().map(|(id, _)| id.clone()).collect(),
        }
    }
}

/// `replacement` takes the place of `original`, a disabled rule, for the
/// rules in `dependents` that require it. A rule whose requirement was
/// skipped is skipped too, so a replacement that can `skip` where the rule
/// it replaces could not — a `when` or `for_each` other than its own (as
/// written), a `requires` it did not have — would silence every dependent
/// (a replacement `customer-exists` that never applies: a missing customer
/// `ready`). Refused at that key, unless every dependent is in the
/// replacement's own file (its author wrote both). Leaving a `when` out is
/// fine: the replacement then applies more often, never less.
fn replacement_can_skip(
    replacement: &PendingRule,
    original: &Replaced,
    dependents: &[(&PendingRule, Pos)],
) -> Option<Diagnostic> {
    let differs = |mine: &Option<Node>, theirs: &Option<serde_json::Value>| {
        mine.as_ref()
            .is_some_and(|n| theirs.as_ref() != Some(&n.to_json()))
    };
    let new_requirement = replacement
        .requires
        .iter()
        .find(|(id, _)| !original.requires.contains(id));
    let (key, pos, theirs) = if differs(&replacement.when, &original.when) {
        let pos = replacement
            .when
            .as_ref()
            .map_or(replacement.id_pos, |n| n.pos);
        ("when", pos, original.when.is_some())
    } else if differs(&replacement.for_each, &original.for_each) {
        let pos = replacement
            .for_each
            .as_ref()
            .map_or(replacement.id_pos, |n| n.pos);
        ("for_each", pos, original.for_each.is_some())
    } else if let Some((_, pos)) = new_requirement {
        ("requires", *pos, !original.requires.is_empty())
    } else {
        return None;
    };
    let others: Vec<&(&PendingRule, Pos)> = dependents
        .iter()
        .filter(|(r, _)| r.file.name != replacement.file.name)
        .collect();
    if others.is_empty() {
        return None;
    }
    let id = &replacement.id;
    let names: Vec<String> = others.iter().map(|(r, _)| format!("`{}`", r.id)).collect();
    let d = Diagnostic::at(
        &replacement.file,
        pos,
        "replacement-can-skip",
        format!(
            "this `{key}` lets `{id}` be skipped where the `{id}` it replaces {}: {} {} it would be skipped with it ({})",
            if theirs {
                format!("has another `{key}`")
            } else {
                format!("has no `{key}`")
            },
            if names.len() == 1 { "a rule" } else { "the rules" },
            if names.len() == 1 { "that requires" } else { "that require" },
            names.join(", ")
        ),
    )
    .label("can skip")
    .help(format!(
        "a rule requiring `{id}` is skipped whenever `{id}` is, so a `{id}` that does not apply would silence them all; keep the replaced rule's `when`, `for_each` and `requires` (or leave them out) and change what it asserts, or disable the rules that require it too"
    ))
    .with_related(
        Diagnostic::at(
            &original.place.file,
            original.place.pos,
            "related",
            format!("the `{id}` it replaces"),
        )
        .label("replaced rule"),
    );
    Some(with_requirers(d, id, others.into_iter()))
}

/// `id`, disabled `at`, is still required by `dependents`: refused, so that
/// no rule judges the data a missing rule guarded.
fn disabled_required(id: &str, at: &Place, dependents: &[(&PendingRule, Pos)]) -> Diagnostic {
    let names: Vec<String> = dependents
        .iter()
        .map(|(r, _)| format!("`{}`", r.id))
        .collect();
    let d = Diagnostic::at(
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
        "a rule that requires `{id}` would judge data `{id}` guards (`{}` would be evaluated where `{id}` never vouched for its data); disable those rules too, or define a rule of your own with the id `{id}` after this `disable`",
        dependents.first().map_or(id, |(r, _)| r.id.as_str())
    ));
    with_requirers(d, id, dependents.iter())
}

/// `d` with each rule that requires `id` as a related place: its
/// `requires` entry.
fn with_requirers<'a, 'r: 'a>(
    mut d: Diagnostic,
    id: &str,
    requirers: impl Iterator<Item = &'a (&'r PendingRule, Pos)>,
) -> Diagnostic {
    for (r, pos) in requirers {
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
    d
}

/// `p` (its `requires` entry at `pos`) requires `dep`, whose severity is
/// lower. Reported in the user's file that caused it: the `requires`
/// entry, else where `dep`'s severity was set (an `overrides` entry, a
/// replacement rule), else where `p`'s was; the other places are
/// related information.
fn severity_inversion(diags: &mut Diags, p: &PendingRule, pos: Pos, dep: &PendingRule) {
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
    diags.push(d);
}

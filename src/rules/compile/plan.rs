//! Stage 4, planning: checks on the set as a whole (an empty set, `requires`
//! cycles), then either every diagnostic found by any stage, deduplicated
//! and in file order, or the compiled set with its evaluation plan, what it
//! needs fetched and its field rows.

use std::collections::HashSet;

use super::conditions::Compiled;
use super::nodes::Diags;
use crate::context::{Needs, Root};
use crate::rules::condition::Cond;
use crate::rules::diagnostics::Diagnostic;
use crate::rules::path::{Path, Seg, Start};
use crate::rules::rows::FieldTable;
use crate::rules::template::Part;
use crate::rules::yaml::Pos;
use crate::rules::{Inner, Rule, RuleLoadError, eval};

/// Stage 4: the rule set, or every problem found.
pub(super) fn plan(c: Compiled) -> Result<Inner, RuleLoadError> {
    let mut diags = Diags::carried(c.diags);
    let rules = c.rules;
    if rules.is_empty() && diags.is_empty() {
        let message = "the effective rule set is empty: there is no rule to vouch for an order, so every check would be indeterminate".to_owned();
        let d = match (&c.last_disable, &c.last_file) {
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
            (None, None) => Diagnostic::without_location("(rule set)", "empty-rule-set", message),
        }
        .help("keep the built-in rules (leave out --no-default-rules, or --no-default-new-customer-rules for the new-customer set) or load a file with `rules:`");
        diags.push(d);
    }
    // `requires` cycles.
    if rules.len() == c.linked
        && let Some(cycle) = find_cycle(&rules)
    {
        let first = &c.places[cycle[0]];
        let names: Vec<&str> = cycle.iter().map(|&i| rules[i].id.as_str()).collect();
        let d = Diagnostic::at(
            &first.file,
            first.pos,
            "requires-cycle",
            format!(
                "`requires` makes a cycle: {} -> {}",
                names.join(" -> "),
                names[0]
            ),
        )
        .label("in this cycle");
        diags.push(d);
    }
    if !diags.is_empty() {
        let mut seen = HashSet::new();
        let mut diags = diags.into_vec();
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
    let needs = needs(&rules);
    let plan = eval::plan(&rules, &topo_order(&rules));
    let mut rules = rules;
    let fields = number_fields(&mut rules);
    let mut unchecked = c.unchecked;
    unchecked.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.path).cmp(&(&b.file, b.line, b.column, &b.path))
    });
    Ok(Inner {
        rules,
        plan,
        needs,
        unchecked,
        fields,
        named_conditions: c.named_conditions,
        composition: c.composition,
    })
}

/// What the rules need fetched: what their conditions read, and the
/// resources their messages' placeholders name (except product details, a
/// request per product, which a message alone never costs). A message never
/// widens what a rule needs to be evaluated (`Rule::reads`): a rule reading
/// only `customer` is not skipped for a check without an order because its
/// message names `{order.referenceId|…}` (the fallback renders).
fn needs(rules: &[Rule]) -> Needs {
    let mut needs = Needs::default();
    let mut shown = Vec::new();
    for rule in rules {
        for r in &rule.reads {
            needs.add(*r);
        }
        for part in &rule.message.parts {
            if let Part::Path { path, .. } | Part::Each { list: path, .. } = part {
                path.roots(&mut shown);
            }
        }
    }
    for r in shown {
        if !message_never_fetches(r) {
            needs.add(r);
        }
    }
    needs
}

/// Roots a message's placeholders alone never have fetched: each costs
/// requests of its own (a product, a subscription lookup, a paged scan).
fn message_never_fetches(root: Root) -> bool {
    matches!(
        root,
        Root::Products | Root::Subscriptions | Root::CustomerSubscriptions | Root::PlacedOrders
    )
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

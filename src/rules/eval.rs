//! Evaluating a compiled rule set against a context.

use serde_json::Value;

use super::condition::{Cond, Env, json_kind};
use super::path::Lookup;
use super::rows::Rows;
use super::{EvalOptions, Inner, Rule};
use crate::context::{Context, Root};
use crate::report::{Evidence, ItemResult, Outcome, Report, RuleResult};

/// One step of a rule set's evaluation (see [`plan`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Step {
    /// A rule without `for_each`.
    One(usize),
    /// Rules that walk the same list, evaluated in one walk over it.
    Walk(Vec<usize>),
}

/// The steps that evaluate `rules` in `order` (every rule after the rules
/// it requires), decided once when the set loads.
///
/// Rules that walk the same list (`for_each: order.orderItems as item`)
/// share one walk over it, element by element, when every rule they require
/// is evaluated in an earlier step: each element is then visited once for
/// all of them (its row found once, the list read once from memory), not
/// once per rule. Results are the same as one walk per rule: rules only see
/// each other's outcomes through `requires`.
pub(crate) fn plan(rules: &[Rule], order: &[usize]) -> Vec<Step> {
    let mut planned = vec![false; rules.len()];
    let mut steps = Vec::new();
    for (at, &i) in order.iter().enumerate() {
        if planned[i] {
            continue;
        }
        let Some(fe) = &rules[i].for_each else {
            planned[i] = true;
            steps.push(Step::One(i));
            continue;
        };
        // Requirements decided before this step, not by it: the walk's
        // rules are marked planned only after it is complete.
        let mut walk = vec![i];
        for &j in &order[at + 1..] {
            let other = &rules[j];
            if !planned[j]
                && other
                    .for_each
                    .as_ref()
                    .is_some_and(|f| f.path.text == fe.path.text)
                && other.requires_idx.iter().all(|&d| planned[d])
            {
                walk.push(j);
            }
        }
        for &j in &walk {
            planned[j] = true;
        }
        steps.push(Step::Walk(walk));
    }
    steps
}

/// Evaluates every rule, step by step ([`plan`]), and reports in rule-set
/// order.
pub(crate) fn evaluate(inner: &Inner, ctx: &Context, options: &EvalOptions) -> Report {
    // Filled in place, not cloned from a `None` (a `RuleResult` is large).
    let mut results: Vec<Option<RuleResult>> = (0..inner.rules.len()).map(|_| None).collect();
    let mut env = Env {
        ctx,
        scope: Vec::new(),
        rows: Rows::new(inner.fields.len(), inner.named_conditions),
        fields: &inner.fields,
    };
    for step in &inner.plan {
        match step {
            Step::One(i) => {
                let rule = &inner.rules[*i];
                results[*i] =
                    Some(blocked(rule, &results).unwrap_or_else(|| evaluate_rule(rule, &mut env)));
            }
            Step::Walk(walk) => {
                for &j in walk {
                    let rule = &inner.rules[j];
                    results[j] = blocked(rule, &results).or_else(|| no_order(rule, &env));
                }
                evaluate_for_each(&inner.rules, walk, &mut results, &mut env);
            }
        }
    }
    // Sized once: `flatten` gives no size hint, and growing the vector
    // step by step moved every large `RuleResult` several times.
    let mut flat = Vec::with_capacity(results.len());
    flat.extend(results.into_iter().flatten());
    let results = flat;
    Report::from_results(
        ctx.account_id,
        ctx.customer_id,
        ctx.now,
        options.fail_on,
        results,
    )
}

/// A `skip` when a rule that `rule` requires did not pass.
fn blocked(rule: &Rule, results: &[Option<RuleResult>]) -> Option<RuleResult> {
    rule.requires_idx.iter().find_map(|&d| {
        let r = results[d].as_ref()?;
        (r.outcome != Outcome::Pass)
            .then(|| skip(rule, format!("requires {} ({})", r.rule, r.outcome)))
    })
}

fn base(rule: &Rule, outcome: Outcome, message: Option<String>) -> RuleResult {
    RuleResult {
        rule: rule.id.clone(),
        title: rule.title.clone(),
        severity: rule.severity,
        outcome,
        message,
        preempts: rule.preempts.clone(),
        docs: rule.docs.clone(),
        evidence: Vec::new(),
        items: Vec::new(),
        checked_items: None,
        explain: None,
    }
}

fn skip(rule: &Rule, reason: String) -> RuleResult {
    base(rule, Outcome::Skip, Some(reason))
}

fn error(rule: &Rule, reason: String) -> RuleResult {
    base(
        rule,
        Outcome::Error,
        Some(format!("cannot evaluate: {reason}")),
    )
}

/// A rule without `for_each`.
fn evaluate_rule<'a>(rule: &Rule, env: &mut Env<'a>) -> RuleResult {
    if let Some(r) = no_order(rule, env) {
        return r;
    }
    env.scope.clear();
    if let Some(when) = &rule.when {
        match when.eval(env) {
            Ok(true) => {}
            Ok(false) => return skip(rule, precondition_reason(when, env)),
            Err(e) => return error(rule, e),
        }
    }
    match rule.assert.eval(env) {
        Ok(true) => base(rule, Outcome::Pass, None),
        Ok(false) => {
            let mut evidence = Vec::new();
            rule.assert.explain(env, false, &mut evidence);
            let message = rule.message.render(env.ctx, &env.scope, None);
            let mut r = base(rule, Outcome::Fail, Some(message));
            r.evidence = evidence;
            r
        }
        Err(e) => {
            let mut r = error(rule, e);
            rule.assert.explain(env, false, &mut r.evidence);
            r
        }
    }
}

/// A `skip` for a rule that reads the order when the check has none.
fn no_order(rule: &Rule, env: &Env<'_>) -> Option<RuleResult> {
    (rule.reads.contains(&Root::Order) && env.ctx.order.is_none())
        .then(|| skip(rule, "this check has no order".to_owned()))
}

/// What one `for_each` rule has found so far in its walk.
#[derive(Default)]
struct Walk {
    checked: usize,
    failures: Vec<ItemResult>,
    any_fail: bool,
    any_error: bool,
}

/// Evaluates the rules of `walk` (which all walk the same list) that have
/// no result yet, in one walk, and puts their results in `results`.
fn evaluate_for_each(
    rules: &[Rule],
    walk: &[usize],
    results: &mut [Option<RuleResult>],
    env: &mut Env<'_>,
) {
    let pending: Vec<usize> = walk
        .iter()
        .copied()
        .filter(|&j| results[j].is_none())
        .collect();
    let Some(list) = pending
        .first()
        .and_then(|&j| rules[j].for_each.as_ref())
        .map(|fe| &fe.path)
    else {
        return;
    };
    let items = match list.lookup(env.ctx, &[], None, None) {
        Lookup::Found(Value::Array(items)) => items,
        other => {
            for &j in &pending {
                let rule = &rules[j];
                results[j] = Some(match &other {
                    Lookup::Found(v) => skip(
                        rule,
                        format!(
                            "nothing to check: {} is {}, not a list",
                            list.text,
                            json_kind(v)
                        ),
                    ),
                    Lookup::Missing => {
                        skip(rule, format!("nothing to check: {} is missing", list.text))
                    }
                    Lookup::Unknown(e) => error(rule, e.to_string()),
                });
            }
            return;
        }
    };
    let mut walks: Vec<Walk> = pending.iter().map(|_| Walk::default()).collect();
    let block = env.rows.block(items);
    for i in 0..items.len() {
        env.scope.clear();
        env.bind(items, block, i, None);
        for (&j, walk) in pending.iter().zip(&mut walks) {
            env.scope.truncate(1);
            if let Some(b) = env.scope.first_mut() {
                b.path = None;
            }
            check_element(&rules[j], &list.text, i, env, walk);
        }
    }
    env.scope.clear();
    for (&j, walk) in pending.iter().zip(walks) {
        results[j] = Some(finish(&rules[j], &list.text, items.len(), walk));
    }
}

/// One element (bound in scope slot 0) of `rule`'s walk over `list`.
fn check_element(rule: &Rule, list: &str, i: usize, env: &mut Env<'_>, walk: &mut Walk) {
    if let Some(when) = &rule.when {
        match when.eval(env) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                walk.any_error = true;
                walk.checked += 1;
                walk.failures.push(ItemResult {
                    path: format!("{list}[{i}]"),
                    outcome: Outcome::Error,
                    message: format!("cannot evaluate: {e}"),
                    evidence: Vec::new(),
                });
                return;
            }
        }
    }
    walk.checked += 1;
    let unknown = match rule.assert.eval(env) {
        Ok(true) => return,
        Ok(false) => None,
        Err(e) => Some(e),
    };
    let element_path = format!("{list}[{i}]");
    if let Some(b) = env.scope.first_mut() {
        b.path = Some(element_path.clone());
    }
    let mut evidence = Vec::new();
    rule.assert.explain(env, false, &mut evidence);
    let (outcome, message) = match unknown {
        None => {
            walk.any_fail = true;
            let message = rule.message.render(env.ctx, &env.scope, Some(i));
            (Outcome::Fail, message)
        }
        Some(e) => {
            walk.any_error = true;
            (Outcome::Error, format!("cannot evaluate: {e}"))
        }
    };
    walk.failures.push(ItemResult {
        path: element_path,
        outcome,
        message,
        evidence,
    });
}

/// A `for_each` rule's result from its walk over `list` (`len` elements).
fn finish(rule: &Rule, list: &str, len: usize, walk: Walk) -> RuleResult {
    if walk.checked == 0 {
        let reason = if len == 0 {
            format!("nothing to check: {list} is empty")
        } else {
            format!(
                "precondition not met by any of the {len} element{} of {list}",
                if len == 1 { "" } else { "s" },
            )
        };
        let mut r = skip(rule, reason);
        r.checked_items = Some(0);
        return r;
    }
    let outcome = if walk.any_fail {
        Outcome::Fail
    } else if walk.any_error {
        Outcome::Error
    } else {
        Outcome::Pass
    };
    let message = (outcome != Outcome::Pass).then(|| {
        walk.failures
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    });
    let mut r = base(rule, outcome, message);
    r.items = walk.failures;
    r.checked_items = Some(walk.checked);
    r
}

fn precondition_reason(when: &Cond, env: &mut Env<'_>) -> String {
    let mut evidence: Vec<Evidence> = Vec::new();
    when.explain(env, false, &mut evidence);
    match evidence.first() {
        Some(e) => {
            let found = if e.missing {
                "missing".to_owned()
            } else {
                e.found
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "unknown".to_owned())
            };
            format!(
                "precondition not met: {} is {found}, not {}",
                e.path, e.expected
            )
        }
        None => "precondition not met".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Step;
    use crate::context::{Context, Fetched};
    use crate::report::Outcome;
    use crate::rules::RuleSet;

    /// Named conditions are remembered per bound element: every element and
    /// every rule still gets its own answer.
    #[test]
    fn remembered_named_conditions_answer_per_element() {
        let rules = RuleSet::from_yaml(
            "memo.yaml",
            r#"
conditions:
  ms-item: { path: item.providerName, equals: AZURE }
  ms-profile: { path: profile.shortName, equals: MS }
  active: { path: customer.customerStatus, equals: ACTIVE }
rules:
  - id: ms-items-have-sku
    title: t
    message: m
    severity: error
    for_each: order.orderItems as item
    when: { condition: ms-item }
    assert: { path: item.skuId, non_empty: true }
  - id: no-ms-items
    title: t
    message: m
    severity: error
    for_each: order.orderItems as item
    assert: { not: { condition: ms-item } }
  - id: ms-item-needs-ms-profile
    title: t
    message: m
    severity: error
    for_each: order.orderItems as item
    assert:
      any:
        - { not: { condition: ms-item } }
        - { path: cloudProfiles, as: profile, some: { condition: ms-profile } }
  - id: active-once
    title: t
    message: m
    severity: error
    assert: { condition: active }
  - id: active-twice
    title: t
    message: m
    severity: error
    assert: { not: { condition: active } }
"#,
        )
        .expect("loads");
        let order = json!({"orderItems": [
            {"providerName": "AZURE", "skuId": "a"},
            {"providerName": "AWS"},
            {"providerName": "AZURE", "skuId": ""},
        ]});
        let ctx = Context::new(1, 2, jiff::Timestamp::UNIX_EPOCH)
            .with_customer(Fetched::present(json!({"customerStatus": "ACTIVE"})))
            .with_cloud_profiles(Fetched::present(json!([{"shortName": "AWS"}])))
            .with_order(Some(order));
        let report = rules.evaluate(&ctx);
        let failing = |id: &str| -> (Outcome, Vec<String>) {
            let r = report.result(id).expect("rule present");
            (r.outcome, r.items.iter().map(|i| i.path.clone()).collect())
        };
        assert_eq!(
            failing("ms-items-have-sku"),
            (Outcome::Fail, vec!["order.orderItems[2]".to_owned()])
        );
        assert_eq!(
            failing("no-ms-items"),
            (
                Outcome::Fail,
                vec![
                    "order.orderItems[0]".to_owned(),
                    "order.orderItems[2]".to_owned()
                ]
            )
        );
        assert_eq!(
            failing("ms-item-needs-ms-profile"),
            (
                Outcome::Fail,
                vec![
                    "order.orderItems[0]".to_owned(),
                    "order.orderItems[2]".to_owned()
                ]
            )
        );
        assert_eq!(failing("active-once").0, Outcome::Pass);
        assert_eq!(failing("active-twice").0, Outcome::Fail);
        assert_eq!(
            report.result("ms-items-have-sku").unwrap().checked_items,
            Some(2)
        );
    }

    /// Field rows are filled only when rules read fields several times over:
    /// a set reading each field once leaves them off (filling would cost
    /// more than it saves); the built-in set turns them on.
    #[test]
    fn field_rows_only_when_fields_are_read_repeatedly() {
        let once = RuleSet::from_yaml(
            "once.yaml",
            r#"
rules:
  - id: r
    title: t
    message: m
    severity: error
    for_each: order.orderItems as item
    assert: { path: item.skuId, non_empty: true }
"#,
        )
        .expect("loads");
        assert_eq!(once.inner.fields.len(), 0);
        let builtin = RuleSet::try_builtin().expect("the built-in set loads");
        assert!(
            builtin.inner.fields.len() >= 15,
            "{} fields numbered",
            builtin.inner.fields.len()
        );
        let some_path_uses_a_row = builtin.inner.rules.iter().any(|r| {
            fn any_numbered(c: &crate::rules::condition::Cond) -> bool {
                use crate::rules::condition::Cond;
                match c {
                    Cond::All(ps) | Cond::Any(ps) => ps.iter().any(any_numbered),
                    Cond::Not(b) | Cond::Named { body: b, .. } => any_numbered(b),
                    Cond::Test { path, .. } => path.first_field.is_some(),
                    Cond::Quant { path, body, .. } => {
                        path.first_field.is_some() || any_numbered(body)
                    }
                }
            }
            any_numbered(&r.assert)
        });
        assert!(some_path_uses_a_row);
    }

    /// Rules over the same list share one walk only when what they require
    /// is decided before it: a rule requiring another rule of the walk waits
    /// for its outcome, and each rule keeps its own elements and outcome.
    #[test]
    fn rules_over_one_list_share_a_walk_but_keep_their_own_results() {
        let rules = RuleSet::from_yaml(
            "walk.yaml",
            r#"
rules:
  - id: has-sku
    title: t
    message: "item {$number} has no sku"
    severity: error
    for_each: order.orderItems as item
    assert: { path: item.skuId, non_empty: true }
  - id: sku-long
    title: t
    message: m
    severity: error
    requires: [has-sku]
    for_each: order.orderItems as item
    assert: { path: item.skuId, length: { gte: 2 } }
  - id: azure-only
    title: t
    message: m
    severity: error
    for_each: order.orderItems as item
    when: { path: item.providerName, exists: true }
    assert: { path: item.providerName, equals: AZURE }
  - id: after-active
    title: t
    message: m
    severity: error
    requires: [active]
    for_each: order.orderItems as item
    assert: { path: item.quantity, gte: 1 }
  - id: active
    title: t
    message: m
    severity: error
    assert: { path: customer.customerStatus, equals: ACTIVE }
"#,
        )
        .expect("loads");
        let order = json!({"orderItems": [
            {"providerName": "AZURE", "skuId": "ab", "quantity": 1},
            {"providerName": "AWS", "skuId": "cd", "quantity": 0},
            {"skuId": "", "quantity": 2},
        ]});
        let ctx = Context::new(1, 2, jiff::Timestamp::UNIX_EPOCH)
            .with_customer(Fetched::present(json!({"customerStatus": "ACTIVE"})))
            .with_order(Some(order));
        // Evaluation order: has-sku, sku-long, azure-only, active, after-active.
        // has-sku and azure-only share the first walk; sku-long waits for
        // has-sku, after-active for active.
        assert_eq!(
            rules.inner.plan,
            [
                Step::Walk(vec![0, 2]),
                Step::Walk(vec![1]),
                Step::One(4),
                Step::Walk(vec![3]),
            ]
        );
        let report = rules.evaluate(&ctx);
        let got = |id: &str| {
            let r = report.result(id).expect("rule present");
            (
                r.outcome,
                r.checked_items,
                r.items.iter().map(|i| i.path.clone()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            got("has-sku"),
            (
                Outcome::Fail,
                Some(3),
                vec!["order.orderItems[2]".to_owned()]
            )
        );
        let sku_long = report.result("sku-long").expect("present");
        assert_eq!(sku_long.outcome, Outcome::Skip);
        assert_eq!(sku_long.message.as_deref(), Some("requires has-sku (fail)"));
        assert_eq!(
            got("azure-only"),
            (
                Outcome::Fail,
                Some(2),
                vec!["order.orderItems[1]".to_owned()]
            )
        );
        assert_eq!(
            got("after-active"),
            (
                Outcome::Fail,
                Some(3),
                vec!["order.orderItems[1]".to_owned()]
            )
        );
        assert_eq!(
            report.result("has-sku").unwrap().message.as_deref(),
            Some("item 3 has no sku")
        );
        let order: Vec<&str> = report.results().iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(
            order,
            [
                "has-sku",
                "sku-long",
                "azure-only",
                "after-active",
                "active"
            ],
            "results stay in file order"
        );
    }
}

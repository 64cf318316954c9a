//! Evaluating a compiled rule set against a context.

use serde_json::Value;

use super::condition::{Cond, Env, json_kind};
use super::path::Lookup;
use super::rows::Rows;
use super::{EvalOptions, Inner, Rule};
use crate::context::{Context, Root};
use crate::report::{Evidence, ItemResult, Outcome, Report, RuleResult};

/// Evaluates every rule, in dependency order, and reports in rule-set order.
pub(crate) fn evaluate(inner: &Inner, ctx: &Context, options: &EvalOptions) -> Report {
    let mut results: Vec<Option<RuleResult>> = vec![None; inner.rules.len()];
    let mut env = Env {
        ctx,
        scope: Vec::new(),
        rows: Rows::new(inner.fields.len(), inner.named_conditions),
        fields: &inner.fields,
    };
    for &i in &inner.order {
        let rule = &inner.rules[i];
        let blocked_by = rule.requires_idx.iter().find_map(|&d| {
            let r = results[d].as_ref()?;
            (r.outcome != Outcome::Pass).then(|| (r.rule.clone(), r.outcome))
        });
        let result = match blocked_by {
            Some((dep, outcome)) => skip(rule, format!("requires {dep} ({outcome})")),
            None => evaluate_rule(rule, &mut env),
        };
        results[i] = Some(result);
    }
    let results = results.into_iter().flatten().collect();
    Report::from_results(
        ctx.account_id,
        ctx.customer_id,
        ctx.now,
        options.fail_on,
        results,
    )
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

fn evaluate_rule<'a>(rule: &Rule, env: &mut Env<'a>) -> RuleResult {
    if rule.reads.contains(&Root::Order) && env.ctx.order.is_none() {
        return skip(rule, "this check has no order".to_owned());
    }
    env.scope.clear();
    match &rule.for_each {
        None => {
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
        Some(fe) => {
            let ctx = env.ctx;
            let items = match fe.path.lookup(ctx, &[], None, None) {
                Lookup::Found(Value::Array(items)) => items,
                Lookup::Found(other) => {
                    return skip(
                        rule,
                        format!(
                            "nothing to check: {} is {}, not a list",
                            fe.path.text,
                            json_kind(other)
                        ),
                    );
                }
                Lookup::Missing => {
                    return skip(
                        rule,
                        format!("nothing to check: {} is missing", fe.path.text),
                    );
                }
                Lookup::Unknown(e) => return error(rule, e.into_owned()),
            };
            let mut checked = 0;
            let mut failures = Vec::new();
            let mut any_fail = false;
            let mut any_error = false;
            let block = env.rows.block(items);
            for i in 0..items.len() {
                env.scope.clear();
                env.bind(items, block, i, None);
                if let Some(when) = &rule.when {
                    match when.eval(env) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => {
                            any_error = true;
                            checked += 1;
                            failures.push(ItemResult {
                                path: format!("{}[{i}]", fe.path.text),
                                outcome: Outcome::Error,
                                message: format!("cannot evaluate: {e}"),
                                evidence: Vec::new(),
                            });
                            continue;
                        }
                    }
                }
                checked += 1;
                let unknown = match rule.assert.eval(env) {
                    Ok(true) => continue,
                    Ok(false) => None,
                    Err(e) => Some(e),
                };
                let element_path = format!("{}[{i}]", fe.path.text);
                env.scope[0].path = Some(element_path.clone());
                let mut evidence = Vec::new();
                rule.assert.explain(env, false, &mut evidence);
                let (outcome, message) = match unknown {
                    None => {
                        any_fail = true;
                        let message = rule.message.render(env.ctx, &env.scope, Some(i));
                        (Outcome::Fail, message)
                    }
                    Some(e) => {
                        any_error = true;
                        (Outcome::Error, format!("cannot evaluate: {e}"))
                    }
                };
                failures.push(ItemResult {
                    path: element_path,
                    outcome,
                    message,
                    evidence,
                });
            }
            env.scope.clear();
            if checked == 0 {
                let reason = if items.is_empty() {
                    format!("nothing to check: {} is empty", fe.path.text)
                } else {
                    format!(
                        "precondition not met by any of the {} element{} of {}",
                        items.len(),
                        if items.len() == 1 { "" } else { "s" },
                        fe.path.text
                    )
                };
                let mut r = skip(rule, reason);
                r.checked_items = Some(0);
                return r;
            }
            let outcome = if any_fail {
                Outcome::Fail
            } else if any_error {
                Outcome::Error
            } else {
                Outcome::Pass
            };
            let message = (outcome != Outcome::Pass).then(|| {
                failures
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            let mut r = base(rule, outcome, message);
            r.items = failures;
            r.checked_items = Some(checked);
            r
        }
    }
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
}

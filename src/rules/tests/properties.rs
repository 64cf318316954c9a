//! Property tests over the loader and the evaluator: generated rule files
//! and contexts, a bounded number of cases so they run in CI.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::now;
use crate::context::{Context, Fetched};
use crate::report::{Outcome, Verdict};
use crate::rules::RuleSet;

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9 .@-]{0,12}".prop_map(Value::String),
        Just(json!("ACTIVE")),
        Just(json!("2026-01-01")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("customerStatus".to_owned()),
                    Just("x".to_owned()),
                    Just("attributes".to_owned()),
                    Just("name".to_owned()),
                    Just("value".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A path into `customer` (the generated rules read only the customer).
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("customer.~self".to_owned()),
        Just("customer.~customerStatus".to_owned()),
        Just("customer.~x".to_owned()),
        Just("customer.~x[0]".to_owned()),
        Just("customer.~x.name".to_owned()),
        Just("customer.~attributes[name=x].value".to_owned()),
        "[a-z]{1,4}".prop_map(|f| format!("customer.~{f}")),
    ]
}

/// A leaf condition in YAML flow syntax.
fn leaf_condition() -> impl Strategy<Value = String> {
    let p = path();
    (p, 0..16usize, "[A-Za-z]{0,6}", -100i64..100).prop_map(|(p, op, s, n)| {
        // Quoted: `[` and `]` are YAML indicators inside flow mappings.
        let p = format!("\"{p}\"");
        match op {
            0 => format!("{{ path: {p}, exists: true }}"),
            1 => format!("{{ path: {p}, null: true }}"),
            2 => format!("{{ path: {p}, empty: true }}"),
            3 => format!("{{ path: {p}, non_empty: true }}"),
            4 => format!("{{ path: {p}, equals: \"{s}\", ignore_case: true }}"),
            5 => format!("{{ path: {p}, one_of: [\"{s}\", ACTIVE, {n}] }}"),
            6 => format!("{{ path: {p}, matches: \"^{s}\" }}"),
            7 => format!("{{ path: {p}, gt: {n} }}"),
            8 => format!("{{ path: {p}, gte: {n}, lt: 1000 }}"),
            9 => format!("{{ path: {p}, type: string }}"),
            10 => format!("{{ path: {p}, before: now-{}d }}", n.unsigned_abs()),
            11 => format!(
                "{{ path: {p}, length: {{ gte: {} }} }}",
                n.unsigned_abs() % 5
            ),
            12 => format!("{{ path: {p}, contains: \"{s}\" }}"),
            13 => format!("{{ attribute: x, of: {p}, exists: true }}"),
            14 => format!("{{ path: {p}, as: el, some: {{ path: el, exists: true }} }}"),
            _ => format!("{{ path: {p}, as: el, every: {{ path: el.name, non_empty: false }} }}"),
        }
    })
}

fn condition() -> impl Strategy<Value = String> {
    leaf_condition().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|v| format!("{{ all: [{}] }}", v.join(", "))),
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|v| format!("{{ any: [{}] }}", v.join(", "))),
            inner.prop_map(|c| format!("{{ not: {c} }}")),
        ]
    })
}

fn rule_file(conds: &[String]) -> String {
    let mut s = String::from("rules:\n");
    for (i, c) in conds.iter().enumerate() {
        s.push_str(&format!(
            "  - id: r{i}\n    title: generated\n    severity: error\n    assert: {c}\n    message: \"rule {i}: {{customer.customerStatus|none}}\"\n"
        ));
    }
    s
}

fn ctx(customer: Fetched) -> Context {
    Context::new(1, 2, now())
        .with_customer(customer)
        .with_cloud_profiles(Fetched::present(json!([])))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Generated rule files load, and evaluate on arbitrary customers
    /// without panicking, one result per rule, in order.
    #[test]
    fn generated_rules_load_and_evaluate_on_any_data(
        conds in prop::collection::vec(condition(), 1..6),
        customer in json_value(),
    ) {
        let text = rule_file(&conds);
        let set = RuleSet::from_yaml("gen.yaml", &text)
            .map_err(|e| TestCaseError::fail(format!("{text}\n{:?}", e.diagnostics().iter().map(|d| d.one_line()).collect::<Vec<_>>())))?;
        let customer_is_null = customer.is_null();
        let report = set.evaluate(&ctx(Fetched::present(customer)));
        prop_assert_eq!(report.results().len(), conds.len());
        for (i, r) in report.results().iter().enumerate() {
            prop_assert_eq!(&r.rule, &format!("r{i}"));
            if customer_is_null {
                // JSON null is no customer: unavailable, never judged.
                prop_assert_eq!(r.outcome, Outcome::Error);
                continue;
            }
            prop_assert!(r.outcome == Outcome::Pass || r.outcome == Outcome::Fail);
            if r.outcome == Outcome::Fail {
                let prefix = format!("rule {i}: ");
                let starts = r.message.as_deref().is_some_and(|m| m.starts_with(&prefix));
                prop_assert!(starts, "message {:?}", r.message);
            }
        }
    }

    /// With the customer unavailable, a rule that reads only the customer is
    /// never `pass` or `fail`: it is `error`, and the verdict is never ready.
    #[test]
    fn rules_on_unavailable_data_are_errors_never_passes(
        conds in prop::collection::vec(condition(), 1..6),
    ) {
        let set = RuleSet::from_yaml("gen.yaml", &rule_file(&conds)).unwrap();
        let report = set.evaluate(&ctx(Fetched::unavailable("ION timed out")));
        for r in report.results() {
            prop_assert_eq!(r.outcome, Outcome::Error, "{:?}", r);
        }
        prop_assert_eq!(report.verdict(), Verdict::Indeterminate);
    }

    /// `not` inverts, and `any [c, not c]` always holds, on any data.
    #[test]
    fn negation_is_exact(cond in condition(), customer in json_value()) {
        let text = format!(
            "rules:\n  - id: plain\n    title: t\n    severity: error\n    assert: {cond}\n    message: m\n  - id: negated\n    title: t\n    severity: error\n    assert: {{ not: {cond} }}\n    message: m\n  - id: excluded-middle\n    title: t\n    severity: error\n    assert: {{ any: [{cond}, {{ not: {cond} }}] }}\n    message: m\n"
        );
        let set = RuleSet::from_yaml("neg.yaml", &text).unwrap();
        let null = customer.is_null();
        let report = set.evaluate(&ctx(Fetched::present(customer)));
        if null {
            // A customer answered as JSON null is no resource: unavailable,
            // so neither the condition nor its negation can be decided.
            for r in report.results() {
                prop_assert_eq!(r.outcome, Outcome::Error);
            }
        } else {
            prop_assert_ne!(report.results()[0].outcome, report.results()[1].outcome);
            prop_assert_eq!(report.results()[2].outcome, Outcome::Pass);
        }
    }

    /// Arbitrary text never panics the loader; a rejection always carries
    /// diagnostics with a position.
    #[test]
    fn the_loader_never_panics_on_arbitrary_text(text in "(rules|conditions|id|title|assert|path|: |- |\\{|\\}|\\[|\\]|&a|\\*a|\n|  |[a-z.]{1,8}|\"|'){0,60}") {
        if let Err(e) = RuleSet::from_yaml("fuzz.yaml", &text) {
            prop_assert!(!e.diagnostics().is_empty());
            for d in e.diagnostics() {
                prop_assert!(d.line() > 0, "{}", d.one_line());
            }
        }
    }
}

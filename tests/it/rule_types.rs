//! Rule paths are checked against the context's types at load time; the
//! `~` escape reads fields the types do not know yet, and every such path is
//! listed with its position.

use ion_preflight::context::{Context, Fetched};
use ion_preflight::report::Outcome;
use ion_preflight::rules::{RuleSet, RuleSetLoader, UncheckedPath};
use serde_json::json;

#[test]
fn the_builtin_set_reads_only_fields_the_types_know() {
    let set = RuleSet::try_builtin().expect("the built-in set loads");
    assert!(!set.rules().is_empty());
    assert_eq!(set.unchecked_paths(), &[] as &[UncheckedPath]);
}

#[test]
fn every_shipped_rule_file_loads_without_unchecked_paths() {
    let set = RuleSetLoader::new()
        .file("rules/tests/rules/acme-nce.yaml")
        .load()
        .expect("loads");
    assert_eq!(set.unchecked_paths(), &[] as &[UncheckedPath]);
}

const ESCAPED: &str = r#"conditions:
  has-new-flag: { path: item.~isNce, equals: true }
rules:
  - id: segment-known
    title: t
    severity: error
    assert: { path: customer.~customerSegment, one_of: [SMB, ENTERPRISE] }
    message: "segment {customer.~customerSegment|none}"
  - id: nce-flag
    title: t
    severity: warning
    for_each: order.orderItems as item
    when: { condition: has-new-flag }
    assert: { path: "item.~extension.tier", equals: gold }
    message: "item {$number} tier {item.~extension.tier|-}"
"#;

#[test]
fn escaped_paths_load_unchecked_and_are_listed_with_positions() {
    let set = RuleSet::from_yaml("escaped.yaml", ESCAPED).expect("loads");
    let listed: Vec<String> = set
        .unchecked_paths()
        .iter()
        .map(|u| format!("{}:{}:{} {}", u.file, u.line, u.column, u.path))
        .collect();
    assert_eq!(
        listed,
        [
            "escaped.yaml:2:25 item.~isNce",
            "escaped.yaml:7:21 customer.~customerSegment",
            "escaped.yaml:8:23 customer.~customerSegment",
            "escaped.yaml:14:21 item.~extension.tier",
            "escaped.yaml:15:35 item.~extension.tier",
        ]
    );
}

#[test]
fn an_escaped_field_is_read_like_any_other() {
    let set = RuleSet::from_yaml("escaped.yaml", ESCAPED).expect("loads");
    let ctx = Context::new(1, 2, "2026-06-15T12:00:00Z".parse().unwrap())
        .with_customer(Fetched::present(json!({"customerSegment": "HOBBY"})))
        .with_cloud_profiles(Fetched::present(json!([])))
        .with_order(Some(json!({"orderItems": [
            {"isNce": true, "extension": {"tier": "silver"}},
            {"isNce": false},
            {"isNce": true, "extension": {"tier": "gold"}}
        ]})));
    let report = set.evaluate(&ctx);
    let segment = &report.results()[0];
    assert_eq!(segment.outcome, Outcome::Fail);
    assert_eq!(segment.message.as_deref(), Some("segment HOBBY"));
    let nce = &report.results()[1];
    assert_eq!(nce.outcome, Outcome::Fail);
    assert_eq!(nce.message.as_deref(), Some("item 1 tier silver"));
}

#[test]
fn a_known_field_escaped_is_still_read_and_listed() {
    // A field the types learn later keeps working in files that escaped it.
    let set = RuleSet::from_yaml(
        "t.yaml",
        "rules:\n  - id: r\n    title: t\n    severity: error\n    assert: { path: customer.~customerStatus, equals: ACTIVE }\n    message: m\n",
    )
    .expect("loads");
    assert_eq!(set.unchecked_paths().len(), 1);
    let ctx = Context::new(1, 2, "2026-06-15T12:00:00Z".parse().unwrap())
        .with_customer(Fetched::present(json!({"customerStatus": "ACTIVE"})));
    assert_eq!(set.evaluate(&ctx).results()[0].outcome, Outcome::Pass);
}

//! Rule-level evaluation: `requires`, `when`, `for_each`, messages, evidence,
//! unavailable data and the verdict.

use serde_json::json;

use super::{ctx_with, now, run};
use crate::context::{Context, Fetched};
use crate::report::{Outcome, Severity, Verdict};
use crate::rules::{EvalOptions, RuleSet};

const EXISTS_AND_ACTIVE: &str = r#"
rules:
  - id: customer-active
    title: Only active customers can order
    severity: error
    requires: [customer-exists]
    assert: { path: customer.customerStatus, one_of: [ACTIVE, CUSTOMER_STATUS_UNSPECIFIED] }
    message: "{customer.customerOrganization} is {customer.customerStatus}"
  - id: customer-exists
    title: The customer exists
    severity: error
    assert: { path: customer, exists: true }
    message: "customer {request.customerId} does not exist in account {request.accountId}"
"#;

#[test]
fn requires_skips_dependents_of_a_failed_rule_and_keeps_file_order() {
    let ctx = Context::new(1001, 2002, now()).with_customer(Fetched::Absent);
    let report = run(EXISTS_AND_ACTIVE, &ctx);
    let ids: Vec<&str> = report.results().iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(ids, ["customer-active", "customer-exists"]);
    let exists = report.result("customer-exists").unwrap();
    assert_eq!(exists.outcome, Outcome::Fail);
    assert_eq!(
        exists.message.as_deref(),
        Some("customer 2002 does not exist in account 1001")
    );
    assert!(exists.evidence[0].missing);
    let active = report.result("customer-active").unwrap();
    assert_eq!(active.outcome, Outcome::Skip);
    assert_eq!(
        active.message.as_deref(),
        Some("requires customer-exists (fail)")
    );
    assert_eq!(report.verdict(), Verdict::Blocked);
    assert_eq!(report.summary().fail, 1);
    assert_eq!(report.summary().skip, 1);
}

#[test]
fn a_message_interpolates_context_values_and_evidence_names_the_path() {
    let ctx = ctx_with(json!({"customerOrganization": "Contoso", "customerStatus": "INACTIVE"}));
    let report = run(EXISTS_AND_ACTIVE, &ctx);
    let active = report.result("customer-active").unwrap();
    assert_eq!(active.outcome, Outcome::Fail);
    assert_eq!(active.message.as_deref(), Some("Contoso is INACTIVE"));
    assert_eq!(active.evidence.len(), 1);
    assert_eq!(active.evidence[0].path, "customer.customerStatus");
    assert_eq!(active.evidence[0].found, Some(json!("INACTIVE")));
    assert_eq!(
        active.evidence[0].expected,
        "one of [ACTIVE, CUSTOMER_STATUS_UNSPECIFIED]"
    );
}

#[test]
fn unavailable_data_is_an_error_and_the_verdict_indeterminate_never_ready() {
    let ctx = Context::new(1001, 2002, now())
        .with_customer(Fetched::unavailable("ION answered 503 three times"));
    let report = run(EXISTS_AND_ACTIVE, &ctx);
    let exists = report.result("customer-exists").unwrap();
    assert_eq!(exists.outcome, Outcome::Error);
    assert!(
        exists
            .message
            .as_deref()
            .unwrap()
            .contains("customer unavailable: ION answered 503 three times"),
        "{:?}",
        exists.message
    );
    assert_eq!(
        report.result("customer-active").unwrap().outcome,
        Outcome::Skip
    );
    assert_eq!(report.verdict(), Verdict::Indeterminate);
}

#[test]
fn a_context_nobody_fetched_fails_closed() {
    let ctx = Context::new(1001, 2002, now());
    let report = run(EXISTS_AND_ACTIVE, &ctx);
    assert_eq!(report.verdict(), Verdict::Indeterminate);
}

/// An empty effective rule set is a configuration error at load, located
/// in the file; and a report without results (whatever made it) is never
/// ready: the verdict comes from one function, which says so.
#[test]
fn an_empty_rule_set_is_refused_and_never_ready() {
    let err = RuleSet::from_yaml("empty.yaml", "rules: []\n").unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(
        (d.code(), d.file(), d.line()),
        ("empty-rule-set", "empty.yaml", 1)
    );
    let report = crate::report::Report::from_results(
        1001,
        2002,
        now(),
        crate::report::Severity::Error,
        Vec::new(),
    );
    assert_eq!(report.verdict(), Verdict::Indeterminate);
    assert_eq!(
        report.with_fail_on(crate::report::Severity::Info).verdict(),
        Verdict::Indeterminate,
        "re-judging with another threshold cannot make it ready"
    );
}

#[test]
fn three_valued_logic_lets_known_facts_decide() {
    let yaml = r#"
rules:
  - id: any-known-true
    title: t
    severity: error
    assert: { any: [{ path: customer.~x, exists: true }, { path: request.accountId, equals: 1001 }] }
    message: m
  - id: all-known-false
    title: t
    severity: error
    assert: { all: [{ path: customer.~x, exists: true }, { path: request.accountId, equals: 1 }] }
    message: m
  - id: any-unknown
    title: t
    severity: error
    assert: { any: [{ path: customer.~x, exists: true }, { path: request.accountId, equals: 1 }] }
    message: m
  - id: not-unknown
    title: t
    severity: error
    assert: { not: { path: customer.~x, exists: true } }
    message: m
"#;
    let ctx = Context::new(1001, 2002, now()).with_customer(Fetched::unavailable("timeout"));
    let report = run(yaml, &ctx);
    let outcome = |id| report.result(id).unwrap().outcome;
    assert_eq!(outcome("any-known-true"), Outcome::Pass);
    assert_eq!(outcome("all-known-false"), Outcome::Fail);
    assert_eq!(outcome("any-unknown"), Outcome::Error);
    assert_eq!(outcome("not-unknown"), Outcome::Error);
}

const PER_ITEM: &str = r#"
rules:
  - id: azure-create-needs-domain
    title: AZURE CREATE items carry a domainName attribute
    severity: error
    preempts: COMM-VL-004
    for_each: order.orderItems as item
    when:
      all:
        - { path: item.providerName, equals: AZURE, ignore_case: true }
        - { path: item.action, equals: CREATE }
    assert: { attribute: domainName, of: item, non_empty: true }
    message: "item {$number} ({item.productId}, ref {item.referenceId|none}) has no domainName attribute"
"#;

fn order_ctx(order: serde_json::Value) -> Context {
    ctx_with(json!({})).with_order(Some(order))
}

#[test]
fn for_each_reports_every_failing_element_with_its_own_message() {
    let ctx = order_ctx(json!({"orderItems": [
        {"providerName": "AZURE", "action": "CREATE", "productId": "P1", "referenceId": "r1",
         "attributes": [{"name": "domainName", "value": "a.onmicrosoft.com"}]},
        {"providerName": "azure", "action": "CREATE", "productId": "P2", "attributes": []},
        {"providerName": "AZURE", "action": "UPDATE", "productId": "P3"},
        {"providerName": "AZURE", "action": "CREATE", "productId": "P4", "referenceId": "r4",
         "attributes": [{"name": "domainName", "value": " "}]}
    ]}));
    let report = run(PER_ITEM, &ctx);
    let r = &report.results()[0];
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(r.preempts.as_deref(), Some("COMM-VL-004"));
    assert_eq!(r.checked_items, Some(3));
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.items[0].path, "order.orderItems[1]");
    assert_eq!(
        r.items[0].message,
        "item 2 (P2, ref none) has no domainName attribute"
    );
    assert!(r.items[0].evidence[0].missing);
    assert_eq!(
        r.items[0].evidence[0].path,
        "order.orderItems[1].attributes[name=domainName].value"
    );
    assert_eq!(r.items[1].path, "order.orderItems[3]");
    assert_eq!(
        r.items[1].evidence[0].path,
        "order.orderItems[3].attributes[0].value"
    );
    assert_eq!(r.items[1].evidence[0].found, Some(json!(" ")));
    assert_eq!(
        r.message.as_deref(),
        Some(
            "item 2 (P2, ref none) has no domainName attribute\nitem 4 (P4, ref r4) has no domainName attribute"
        )
    );
}

#[test]
fn for_each_with_no_applicable_element_is_skip_with_the_reason() {
    let ctx = order_ctx(json!({"orderItems": [{"providerName": "GOOGLE", "action": "CREATE"}]}));
    let report = run(PER_ITEM, &ctx);
    let r = &report.results()[0];
    assert_eq!(r.outcome, Outcome::Skip);
    assert_eq!(
        r.message.as_deref(),
        Some("precondition not met by any of the 1 element of order.orderItems")
    );
    let ctx = order_ctx(json!({"orderItems": []}));
    let report = run(PER_ITEM, &ctx);
    let r = &report.results()[0];
    assert_eq!(r.outcome, Outcome::Skip);
    let ctx = order_ctx(json!({"displayName": "no items"}));
    let report = run(PER_ITEM, &ctx);
    let r = &report.results()[0];
    assert_eq!(
        r.message.as_deref(),
        Some("nothing to check: order.orderItems is missing")
    );
}

#[test]
fn order_rules_skip_when_the_check_has_no_order() {
    let ctx = ctx_with(json!({})).with_order(None);
    let report = run(PER_ITEM, &ctx);
    let r = &report.results()[0];
    assert_eq!(r.outcome, Outcome::Skip);
    assert_eq!(r.message.as_deref(), Some("this check has no order"));
}

#[test]
fn when_false_is_skip_with_the_reason_and_when_unknown_is_error() {
    let yaml = r#"
rules:
  - id: only-for-inactive
    title: t
    severity: error
    when: { path: customer.customerStatus, equals: INACTIVE }
    assert: { path: customer.~reason, non_empty: true }
    message: m
"#;
    let r = run(yaml, &ctx_with(json!({"customerStatus": "ACTIVE"})));
    assert_eq!(r.results()[0].outcome, Outcome::Skip);
    assert_eq!(
        r.results()[0].message.as_deref(),
        Some(
            "precondition not met: customer.customerStatus is \"ACTIVE\", not equal to \"INACTIVE\""
        )
    );
    let ctx = Context::new(1, 2, now()).with_customer(Fetched::unavailable("403"));
    let r = run(yaml, &ctx);
    assert_eq!(r.results()[0].outcome, Outcome::Error);
}

#[test]
fn warnings_do_not_block_unless_asked() {
    let yaml = r#"
rules:
  - id: email-present
    title: t
    severity: warning
    assert: { path: customer.customerEmail, non_empty: true }
    message: no email
"#;
    let set = RuleSet::from_yaml("w.yaml", yaml).unwrap();
    let ctx = ctx_with(json!({}));
    let report = set.evaluate(&ctx);
    assert_eq!(report.verdict(), Verdict::Ready);
    assert_eq!(report.summary().warnings, 1);
    assert_eq!(report.summary().blocking, 0);
    let strict = set.evaluate_with(
        &ctx,
        &EvalOptions::default().with_fail_on(Severity::Warning),
    );
    assert_eq!(strict.verdict(), Verdict::Blocked);
    assert_eq!(
        report.with_fail_on(Severity::Warning).verdict(),
        Verdict::Blocked
    );
}

#[test]
fn a_failing_warning_rule_that_cannot_be_evaluated_does_not_block() {
    let yaml = r#"
rules:
  - id: email-present
    title: t
    severity: warning
    assert: { path: customer.customerEmail, non_empty: true }
    message: no email
"#;
    let ctx = Context::new(1, 2, now()).with_customer(Fetched::unavailable("timeout"));
    let report = run(yaml, &ctx);
    assert_eq!(report.results()[0].outcome, Outcome::Error);
    assert_eq!(report.verdict(), Verdict::Ready);
}

#[test]
fn product_details_are_looked_up_by_the_items_product_id() {
    let yaml = r#"
rules:
  - id: product-enabled
    title: t
    severity: error
    for_each: order.orderItems as item
    assert: { path: "products[item.productId].disabled", not_equals: true }
    message: "{item.productId} is disabled"
"#;
    let set = RuleSet::from_yaml("p.yaml", yaml).unwrap();
    assert!(set.needs().products);
    assert!(set.needs().order);
    assert!(!set.needs().customer);
    let ctx = Context::new(1, 2, now())
        .with_order(Some(
            json!({"orderItems": [{"productId": "A"}, {"productId": "B"}, {"productId": "C"}]}),
        ))
        .with_product("A", Fetched::present(json!({"disabled": false})))
        .with_product("B", Fetched::present(json!({"disabled": true})))
        .with_product("C", Fetched::unavailable("timeout"));
    let report = set.evaluate(&ctx);
    let r = &report.results()[0];
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.items[0].outcome, Outcome::Fail);
    assert_eq!(r.items[0].message, "B is disabled");
    assert_eq!(r.items[0].evidence[0].path, "products[\"B\"].disabled");
    assert_eq!(r.items[1].outcome, Outcome::Error);
    assert!(r.items[1].message.contains("product unavailable: timeout"));
}

#[test]
fn needs_lists_only_the_roots_the_rules_read() {
    let set = RuleSet::from_yaml("n.yaml", EXISTS_AND_ACTIVE).unwrap();
    let needs = set.needs();
    assert!(needs.customer);
    assert!(!needs.cloud_profiles);
    assert!(!needs.products);
    assert!(!needs.order);
}

#[test]
fn evaluation_never_panics_on_odd_data() {
    let set = RuleSet::from_yaml("n.yaml", EXISTS_AND_ACTIVE).unwrap();
    for customer in [
        json!(null),
        json!([]),
        json!("text"),
        json!(42),
        json!({"customerStatus": {"nested": [1, 2]}}),
        json!({"customerStatus": null}),
    ] {
        let report = set.evaluate(&ctx_with(customer.clone()));
        assert_ne!(report.verdict(), Verdict::Ready, "{customer}");
    }
}

#[test]
fn a_rule_set_is_shared_across_threads_without_copying() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<RuleSet>();
    let set = RuleSet::from_yaml("n.yaml", EXISTS_AND_ACTIVE).unwrap();
    let clone = set.clone();
    assert!(std::ptr::eq(set.rules().as_ptr(), clone.rules().as_ptr()));
    let verdicts: Vec<Verdict> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let set = set.clone();
                s.spawn(move || {
                    let status = if i % 2 == 0 { "ACTIVE" } else { "INACTIVE" };
                    set.evaluate(&ctx_with(json!({"customerStatus": status})))
                        .verdict()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        verdicts,
        [
            Verdict::Ready,
            Verdict::Blocked,
            Verdict::Ready,
            Verdict::Blocked
        ]
    );
}

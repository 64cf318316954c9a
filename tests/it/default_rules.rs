//! Whole-report snapshots of the built-in rule set against the realistic
//! scenarios in `fixtures/scenarios/`. Each snapshot is a claim about what an
//! ION expert expects for that order; `checked_at` is redacted.
//!
//! A scenario folder holds `customer.json` (absent: ION answered 404),
//! `cloudProfiles.json` (the GET …/cloudProfiles response; absent: 404 too)
//! and `order.json` (the body about to be POSTed). The catalog, the
//! subscriptions an UPDATE names, the customer's subscriptions and its
//! placed orders come from `fixtures/scenarios/catalog/` (a product without
//! a file there: ION answered 404).

use std::path::Path;

use ion_preflight::context::{Context, Fetched};
use ion_preflight::report::{Outcome, Report, Verdict};
use ion_preflight::rules::RuleSet;
use serde_json::Value;

const NOW: &str = "2026-03-01T12:00:00Z";

fn read(dir: &Path, name: &str) -> Option<Value> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn scenario(name: &str) -> Context {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/scenarios")
        .join(name);
    assert!(dir.is_dir(), "no scenario {name}");
    let customer = read(&dir, "customer.json");
    let customer_id = customer
        .as_ref()
        .and_then(|c| c["name"].as_str())
        .and_then(|n| n.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or(2999);
    let profiles = read(&dir, "cloudProfiles.json")
        .map(|p| Fetched::present(p["customerCloudProfiles"].clone()))
        .unwrap_or(Fetched::Absent);
    let order = read(&dir, "order.json");
    let catalog = dir.join("../catalog");
    let mut context = Context::new(1001, customer_id, NOW.parse().unwrap())
        .with_customer(customer.map(Fetched::present).unwrap_or(Fetched::Absent))
        .with_cloud_profiles(profiles)
        .with_customer_subscriptions(Fetched::present(
            read(&catalog, "customer-subscriptions.json").expect("customer subscriptions"),
        ))
        .with_placed_orders(Fetched::present(
            read(&catalog, "placed-orders.json").expect("placed orders"),
        ));
    let found = read(&catalog, "subscriptions-6a1f0c1e.json").expect("subscriptions");
    let items = order
        .as_ref()
        .and_then(|o| o["orderItems"].as_array().cloned())
        .unwrap_or_default();
    for item in &items {
        if let Some(p) = item["productId"].as_str() {
            let product = read(&catalog, &format!("{p}.json"))
                .map(Fetched::present)
                .unwrap_or(Fetched::Absent);
            context = context.with_product(p, product);
        }
        if let Some(r) = item["resourceId"].as_str() {
            let mine: Vec<Value> = found
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["subscriptionId"] == r)
                .cloned()
                .collect();
            context = context.with_subscription(r, Fetched::present(Value::Array(mine)));
        }
    }
    context.with_order(order)
}

fn check(name: &str) -> Report {
    let rules = RuleSet::builtin();
    assert!(rules.needs().products, "the built-in set reads the catalog");
    rules.evaluate(&scenario(name))
}

fn outcome(report: &Report, rule: &str) -> Outcome {
    report
        .result(rule)
        .unwrap_or_else(|| panic!("no result for {rule}"))
        .outcome
}

fn failing_items(report: &Report, rule: &str) -> Vec<String> {
    report
        .result(rule)
        .map(|r| r.items.iter().map(|i| i.path.clone()).collect())
        .unwrap_or_default()
}

/// The rules that failed, for assertion messages.
fn failing(report: &Report) -> Vec<(&str, Option<&str>)> {
    report
        .results()
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| (r.rule.as_str(), r.message.as_deref()))
        .collect()
}

macro_rules! snapshot {
    ($name:expr, $report:expr) => {
        insta::assert_json_snapshot!($name, $report, { ".checked_at" => "[checked_at]" })
    };
}

#[test]
fn ready_nce_order() {
    let report = check("ready-nce");
    assert_eq!(report.verdict(), Verdict::Ready);
    assert_eq!(report.summary().fail, 0, "{report:#?}");
    assert_eq!(report.summary().error, 0);
    snapshot!("ready_nce_order", report);
}

#[test]
fn inactive_customer() {
    let report = check("inactive-customer");
    assert_eq!(report.verdict(), Verdict::Blocked);
    assert_eq!(outcome(&report, "customer-active"), Outcome::Fail);
    assert_eq!(report.summary().blocking, 1, "only the status blocks");
    snapshot!("inactive_customer", report);
}

#[test]
fn unknown_customer() {
    let report = check("unknown-customer");
    assert_eq!(report.verdict(), Verdict::Blocked);
    assert_eq!(outcome(&report, "customer-exists"), Outcome::Fail);
    for dependent in [
        "customer-active",
        "nce-item-has-microsoft-tenant",
        "customer-email-valid",
        "microsoft-profile-gdap-active",
    ] {
        assert_eq!(outcome(&report, dependent), Outcome::Skip, "{dependent}");
    }
    assert_eq!(
        report.summary().blocking,
        1,
        "one root cause, one failure: {:?}",
        failing(&report)
    );
    snapshot!("unknown_customer", report);
}

#[test]
fn nce_without_tenant() {
    let report = check("nce-without-tenant");
    assert_eq!(report.verdict(), Verdict::Blocked);
    assert_eq!(
        failing_items(&report, "nce-item-has-microsoft-tenant"),
        ["order.orderItems[0]"]
    );
    assert_eq!(report.summary().blocking, 1, "{:?}", failing(&report));
    snapshot!("nce_without_tenant", report);
}

#[test]
fn update_without_resource_id() {
    let report = check("update-without-resource-id");
    assert_eq!(report.verdict(), Verdict::Blocked);
    assert_eq!(
        failing_items(&report, "update-item-has-resource-id"),
        ["order.orderItems[0]"]
    );
    assert_eq!(report.summary().blocking, 1);
    snapshot!("update_without_resource_id", report);
}

#[test]
fn mixed_faults() {
    let report = check("mixed-faults");
    assert_eq!(report.verdict(), Verdict::Blocked);
    let expect = [
        ("order-item-required-fields", vec!["order.orderItems[1]"]),
        ("order-item-action-allowed", vec!["order.orderItems[2]"]),
        (
            "order-item-quantity-positive-integer",
            vec!["order.orderItems[2]"],
        ),
        ("update-item-has-resource-id", vec!["order.orderItems[4]"]),
        ("azure-create-has-domain-name", vec!["order.orderItems[3]"]),
        ("addon-action-allowed", vec!["order.orderItems[4]"]),
        ("mca-attestation-present", vec!["order.orderItems[3]"]),
        ("mca-attestation-date-valid", vec!["order.orderItems[3]"]),
        ("customer-email-valid", vec![]),
        ("customer-address-complete", vec![]),
        ("customer-address-country-code", vec![]),
        (
            "microsoft-profile-delegated-access",
            vec!["cloudProfiles[0]"],
        ),
        ("microsoft-profile-gdap-active", vec!["cloudProfiles[0]"]),
    ];
    for (rule, items) in &expect {
        assert_eq!(outcome(&report, rule), Outcome::Fail, "{rule}");
        assert_eq!(&failing_items(&report, rule), items, "{rule}");
    }
    assert_eq!(
        report.summary().fail,
        expect.len(),
        "{:?}",
        failing(&report)
    );
    assert_eq!(report.summary().warnings, 5);
    snapshot!("mixed_faults", report);
}

#[test]
fn builtin_rules_are_complete_and_well_described() {
    let rules = RuleSet::builtin();
    assert!(rules.rules().len() >= 20);
    for rule in rules.rules() {
        assert!(!rule.title().is_empty(), "{}", rule.id());
        assert!(
            rule.description().is_some_and(|d| d.len() > 40),
            "{} needs a description",
            rule.id()
        );
        assert!(!rule.tags().is_empty(), "{} needs tags", rule.id());
    }
    let preempted: Vec<(&str, &str)> = rules
        .rules()
        .iter()
        .filter_map(|r| r.preempts().map(|p| (r.id(), p)))
        .collect();
    for code in ["COMM-VL-001", "COMM-VL-002", "COMM-VL-003", "COMM-VL-004"] {
        assert!(
            preempted.iter().any(|(_, p)| *p == code),
            "no rule pre-empts {code}"
        );
    }
}

//! Hostile and malformed input: huge and pathological rule files, order
//! files and ION responses with wrong types, huge arrays, deep nesting and
//! unexpected nulls. Each gets one clear error or the correct outcome, never
//! a panic, a hang or unbounded memory. Property tests generate order and
//! ION bodies through the snapshot source and the CLI.
//!
//! Rule-file runs happen under an address-space limit (`ulimit -v`), so a
//! loader that tried to hold an expanded document in memory would fail the
//! test instead of the machine.

use std::path::{Path, PathBuf};

use ion_preflight::context::{Context, Fetched};
use ion_preflight::ion::{Customer, CustomerCloudProfiles};
use ion_preflight::report::{Outcome, Report, Verdict};
use ion_preflight::rules::RuleSet;
use ion_preflight::source::SnapshotSource;
use ion_preflight::{CheckRequest, Preflight};
use proptest::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::cli_live::run_async;
use crate::cli_support::{Run, assert_one_line, fixture, json_check_of, live_json_check, run};

/// Address-space limit for rule-file runs (KiB).
const RULES_MEMORY_LIMIT_KIB: u64 = 1024 * 1024;

/// Runs the binary with `args` under `ulimit -v`.
/// `rules lint --no-default-rules FILE` under the memory limit.
fn lint_limited(file: &str) -> Run {
    run_limited(&["rules", "lint", "--no-default-rules", file])
}

fn run_limited(args: &[&str]) -> Run {
    let mut script = format!(
        "ulimit -v {RULES_MEMORY_LIMIT_KIB} && exec '{}'",
        env!("CARGO_BIN_EXE_ion-preflight")
    );
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    let mut sh = assert_cmd::Command::new("sh");
    sh.current_dir(crate::cli_support::root())
        .args(["-c", &script])
        .env("RUST_BACKTRACE", "1")
        .timeout(std::time::Duration::from_secs(120));
    run(&mut sh)
}

fn no_panic(r: &Run) {
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(!r.stderr.contains("memory allocation"), "{}", r.stderr);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    crate::cli_support::write(dir, name, text)
}

// ---- Rule files ------------------------------------------------------------

#[test]
fn a_50k_rule_file_is_refused_with_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("rules:\n");
    for i in 0..50_000 {
        text.push_str(&format!(
            "  - id: r-{i}\n    title: Rule {i}\n    severity: warning\n    assert: {{ path: customer.customerStatus, equals: ACTIVE }}\n    message: \"customer is {{customer.customerStatus}}\"\n"
        ));
    }
    let f = write(dir.path(), "50k.yaml", &text);
    let r = lint_limited(f.to_str().expect("utf8"));
    no_panic(&r);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("yaml-limit"), "{}", r.stderr);
    assert!(r.stderr.contains("1 problem"), "{}", r.stderr);
    // One diagnostic, not one per rule.
    assert!(r.stderr.len() < 4096, "{} bytes on stderr", r.stderr.len());
}

#[test]
fn a_2k_rule_file_loads_and_evaluates() {
    let mut text = String::from("rules:\n");
    for i in 0..2_000 {
        text.push_str(&format!(
            "  - id: r-{i}\n    title: Rule {i}\n    severity: warning\n    assert: {{ path: customer.customerStatus, equals: ACTIVE }}\n    message: \"customer is {{customer.customerStatus}}\"\n"
        ));
    }
    let set = RuleSet::from_yaml("2k.yaml", &text).expect("loads");
    assert_eq!(set.rules().len(), 2_000);
    let ctx = Context::new(1, 2, jiff::Timestamp::UNIX_EPOCH)
        .with_customer(Fetched::present(json!({"customerStatus": "INACTIVE"})));
    let report = set.evaluate(&ctx);
    assert_eq!(report.summary().fail, 2_000);
    // Warnings only: visible, not blocking.
    assert_eq!(report.verdict(), Verdict::Ready);
}

#[test]
fn a_20_mb_string_in_a_rule_file_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = "x".repeat(20 * 1024 * 1024);
    let text = format!(
        "rules:\n  - id: big\n    title: Big\n    severity: warning\n    description: \"{big}\"\n    assert: {{ path: customer.customerStatus, equals: ACTIVE }}\n    message: fine\n"
    );
    let f = write(dir.path(), "20mb.yaml", &text);
    let r = lint_limited(f.to_str().expect("utf8"));
    no_panic(&r);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_huge_regular_expression_is_a_clear_error() {
    // 1 MiB of pattern: refused by length before anything compiles it, so a
    // 20 MiB one costs no more than reading the file.
    let dir = tempfile::tempdir().expect("tempdir");
    let pattern = "a".repeat(1024 * 1024);
    let text = format!(
        "rules:\n  - id: big\n    title: Big\n    severity: warning\n    assert: {{ path: customer.customerStatus, matches: \"{pattern}\" }}\n    message: fine\n"
    );
    let f = write(dir.path(), "regex.yaml", &text);
    let r = lint_limited(f.to_str().expect("utf8"));
    no_panic(&r);
    assert_eq!(r.code, 2, "{}", &r.stderr[..r.stderr.len().min(2000)]);
    assert!(r.stderr.contains("bad-regex"));
    assert!(
        r.stderr
            .contains("1048576 bytes long; patterns are limited to 16384"),
        "{}",
        &r.stderr[..r.stderr.len().min(2000)]
    );
    // The megabyte-long line is not quoted back.
    assert!(
        r.stderr.len() < 10_000,
        "{} bytes on stderr",
        r.stderr.len()
    );
}

#[test]
fn catastrophic_patterns_run_in_linear_time() {
    // `(a+)+$` is exponential for a backtracking engine on "aaaa…!"; the
    // `regex` crate is linear, so this finishes (and does not match).
    let set = RuleSet::from_yaml(
        "redos.yaml",
        "rules:\n  - id: redos\n    title: t\n    severity: error\n    assert: { path: customer.customerName, matches: '^(a+)+$' }\n    message: m\n",
    )
    .expect("loads");
    let evil = format!("{}!", "a".repeat(200_000));
    let ctx = Context::new(1, 2, jiff::Timestamp::UNIX_EPOCH)
        .with_customer(Fetched::present(json!({ "customerName": evil })));
    let report = set.evaluate(&ctx);
    assert_eq!(report.results()[0].outcome, Outcome::Fail);
    assert_eq!(report.verdict(), Verdict::Blocked);
}

#[test]
fn every_broken_rule_file_is_refused_under_the_memory_limit() {
    let dir = crate::cli_support::root().join("tests/broken-rules");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("broken-rules") {
        let p = entry.expect("entry").path();
        let r = lint_limited(p.to_str().expect("utf8"));
        no_panic(&r);
        assert_eq!(r.code, 2, "{}: {}", p.display(), r.stderr);
        n += 1;
    }
    assert!(n >= 10, "only {n} broken rule files");
}

// ---- Order files -------------------------------------------------------------

fn check_demo(order: &Path) -> Run {
    check_snapshot(&fixture("demo"), order)
}

fn report_of(r: &Run) -> Report {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stderr))
}

fn failing(report: &Report) -> Vec<&str> {
    report
        .results()
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| r.rule.as_str())
        .collect()
}

#[test]
fn a_10k_deep_order_is_a_clear_error_not_a_stack_overflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deep = format!(
        "{{\"orderItems\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let f = write(dir.path(), "deep.json", &deep);
    let r = check_demo(&f);
    no_panic(&r);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_one_line(&r.stderr);
    assert!(
        r.stderr.contains("recursion limit exceeded"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("deep.json, line 1, column"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn orders_with_wrong_types_and_nulls_are_judged_not_crashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            json!({"orderItems": [{"action": 5, "productId": null, "skuId": [1], "planId": {"a": 1},
                                   "quantity": "ten", "attributes": "x"}, null, 3, "s"]}),
            vec![
                "order-item-required-fields",
                "order-item-attributes-present",
            ],
        ),
        (
            json!({"orderItems": "all of them"}),
            vec!["order-has-items"],
        ),
        (
            json!({"orderItems": null, "referenceId": null}),
            vec!["order-has-items"],
        ),
        (json!({}), vec!["order-has-items"]),
    ];
    for (order, must_fail) in cases {
        let f = write(dir.path(), "order.json", &order.to_string());
        let r = check_demo(&f);
        no_panic(&r);
        assert_eq!(r.code, 1, "{order}: {}", r.stderr);
        let report = report_of(&r);
        assert_eq!(report.verdict(), Verdict::Blocked);
        let fails = failing(&report);
        for rule in must_fail {
            assert!(fails.contains(&rule), "{order}: {rule} not in {fails:?}");
        }
    }
    for (text, says) in [
        ("[]", "expected a JSON object"),
        ("null", "expected a JSON object"),
        ("{\"orderItems\": [", "EOF while parsing"),
        // (A leading byte-order mark is accepted: cli_adversarial.rs.)
        ("{\"orderItems\": [],}", "trailing comma"),
    ] {
        let f = write(dir.path(), "bad.json", text);
        let r = check_demo(&f);
        no_panic(&r);
        assert_eq!(r.code, 2, "{text}: {}", r.stderr);
        assert_one_line(&r.stderr);
        assert!(r.stderr.contains(says), "{text}: {}", r.stderr);
    }
}

fn valid_update_item(i: usize) -> Value {
    json!({"action": "UPDATE", "resourceId": format!("r{i}"), "productId": "P-1", "skuId": "S-1",
           "planId": "L-1", "quantity": 1, "attributes": []})
}

#[test]
fn an_order_of_100k_items_through_the_cli_is_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let items: Vec<Value> = (0..100_000).map(|i| valid_update_item(i % 7)).collect();
    let f = write(
        dir.path(),
        "big.json",
        &json!({ "orderItems": items }).to_string(),
    );
    // The demo customer, a catalog holding P-1, and the 7 subscriptions the
    // items update (active, of this customer, of that product and SKU).
    let snap = snapshot(
        dir.path(),
        &demo_text("2002.json"),
        &demo_text("2002/cloudProfiles.json"),
    );
    let account = snap.join("accounts/1001");
    std::fs::write(
        account.join("products/P-1.json"),
        json!({"id": "P-1", "definition": {"skus": [{"id": "S-1", "plans": [{"id": "L-1"}]}]}})
            .to_string(),
    )
    .expect("product");
    std::fs::create_dir_all(account.join("subscriptions")).expect("mkdir");
    for i in 0..7 {
        let found = json!({"items": [{"customerId": "2002", "subscriptionId": format!("r{i}"),
            "subscriptionStatus": "ACTIVE", "ccpProductId": "P-1", "ccpSkuId": "S-1"}]});
        std::fs::write(
            account.join(format!("subscriptions/r{i}.json")),
            found.to_string(),
        )
        .expect("subscription");
    }
    let r = check_snapshot(&snap, &f);
    no_panic(&r);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = report_of(&r);
    assert_eq!(report.verdict(), Verdict::Ready);
    let required = report
        .results()
        .iter()
        .find(|r| r.rule == "order-item-required-fields")
        .expect("rule");
    assert_eq!(required.checked_items, Some(100_000));
    // The report does not grow with the items: evidence is per failure.
    assert!(r.stdout.len() < 64 * 1024, "{} bytes", r.stdout.len());
}

#[test]
fn a_million_item_order_and_a_million_profiles_evaluate_correctly() {
    let items: Vec<Value> = (0..1_000_000).map(|_| json!({})).collect();
    let mut items_ok = items;
    items_ok[999_999] = valid_update_item(1);
    let order = json!({ "orderItems": items_ok });
    let profiles: Vec<Value> = (0..1_000_000).map(|_| json!({})).collect();
    let customer: Value = serde_json::from_slice(
        &std::fs::read(fixture("demo/accounts/1001/customers/2002.json")).expect("fixture"),
    )
    .expect("json");
    let ctx = Context::new(1001, 2002, jiff::Timestamp::now())
        .with_customer(Fetched::present(customer))
        .with_cloud_profiles(Fetched::present(Value::Array(profiles)))
        .with_order(Some(order));
    let report = RuleSet::builtin().evaluate(&ctx);
    assert_eq!(report.verdict(), Verdict::Blocked);
    let required = report
        .results()
        .iter()
        .find(|r| r.rule == "order-item-required-fields")
        .expect("rule");
    assert_eq!(required.outcome, Outcome::Fail);
    assert_eq!(required.checked_items, Some(1_000_000));
    // Every failing item is named (the report is linear in the order).
    assert_eq!(required.items.len(), 999_999);
}

// ---- ION responses -----------------------------------------------------------

/// A snapshot directory holding the demo customer 2002, with `edit` applied
/// to the customer body and `edit_profiles` to the cloud-profiles body.
/// A snapshot of customer 2002 with these customer and cloud-profile
/// bodies, the demo catalog, and no subscriptions or orders yet.
fn snapshot(dir: &Path, customer: &str, profiles: &str) -> PathBuf {
    let account = dir.join("snap/accounts/1001");
    let base = account.join("customers");
    std::fs::create_dir_all(base.join("2002")).expect("mkdir");
    std::fs::write(base.join("2002.json"), customer).expect("write");
    std::fs::write(base.join("2002/cloudProfiles.json"), profiles).expect("write");
    std::fs::write(
        base.join("2002/subscriptions.json"),
        r#"{"items": [], "totalCount": "0"}"#,
    )
    .expect("write");
    std::fs::write(base.join("2002/orders.json"), r#"{"orders": []}"#).expect("write");
    std::fs::create_dir_all(account.join("products")).expect("mkdir");
    for entry in std::fs::read_dir(fixture("demo/accounts/1001/products")).expect("demo catalog") {
        let entry = entry.expect("entry");
        std::fs::copy(
            entry.path(),
            account.join("products").join(entry.file_name()),
        )
        .expect("copy");
    }
    dir.join("snap")
}

fn demo_text(rel: &str) -> String {
    std::fs::read_to_string(fixture(&format!("demo/accounts/1001/customers/{rel}")))
        .expect("fixture")
}

/// The fault test's order: NCE items that need a Microsoft tenant profile.
fn tenant_order(dir: &Path) -> PathBuf {
    write(dir, "order.json", &crate::faults::order().to_string())
}

fn check_snapshot(snap: &Path, order: &Path) -> Run {
    run(json_check_of(snap).arg("--order").arg(order))
}

#[test]
fn malformed_recorded_responses_make_the_check_indeterminate() {
    let customer = demo_text("2002.json");
    let profiles = demo_text("2002/cloudProfiles.json");
    let mut c: Value = serde_json::from_str(&customer).expect("json");
    c["customerStatus"] = json!(5);
    let status_number = c.to_string();
    let mut p: Value = serde_json::from_str(&profiles).expect("json");
    p["customerCloudProfiles"][0]["enabled"] = json!("true");
    let enabled_string = p.to_string();
    p["customerCloudProfiles"] = json!("x");
    let profiles_string = p.to_string();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: [(&str, &str, &str, &str); 7] = [
        (
            "deep customer",
            &deep,
            &profiles,
            "recursion limit exceeded",
        ),
        ("customer null", "null", &profiles, "invalid type: null"),
        (
            "status a number",
            &status_number,
            &profiles,
            "invalid type: integer `5`",
        ),
        (
            "truncated customer",
            &customer[..customer.len() / 2],
            &profiles,
            "EOF while parsing",
        ),
        (
            "deep profiles",
            &customer,
            &deep,
            "recursion limit exceeded",
        ),
        (
            "profiles a string",
            &customer,
            &profiles_string,
            "expected a sequence",
        ),
        (
            "enabled a string",
            &customer,
            &enabled_string,
            "expected a boolean",
        ),
    ];
    for (what, c, p, says) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let snap = snapshot(dir.path(), c, p);
        let r = check_snapshot(&snap, &tenant_order(dir.path()));
        no_panic(&r);
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        assert_one_line(&r.stderr);
        // The report states the reason in full; stderr says it short.
        assert!(r.stdout.contains(says), "{what}: {}", r.stdout);
        assert!(r.stderr.contains("unavailable: "), "{what}: {}", r.stderr);
        assert_eq!(report_of(&r).verdict(), Verdict::Indeterminate, "{what}");
    }
}

#[test]
fn unexpected_nulls_and_huge_arrays_in_responses_get_correct_outcomes() {
    let customer = demo_text("2002.json");
    let profiles = demo_text("2002/cloudProfiles.json");
    // ION omits or nulls optional fields: a null profile list is no
    // profiles (so the tenant rule fails), a null email fails its warning.
    let mut p: Value = serde_json::from_str(&profiles).expect("json");
    p["customerCloudProfiles"] = Value::Null;
    let mut c: Value = serde_json::from_str(&customer).expect("json");
    c["customerEmail"] = Value::Null;
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = snapshot(dir.path(), &c.to_string(), &p.to_string());
    let r = check_snapshot(&snap, &tenant_order(dir.path()));
    no_panic(&r);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = report_of(&r);
    let fails = failing(&report);
    assert!(
        fails.contains(&"nce-item-has-microsoft-tenant"),
        "{fails:?}"
    );
    assert!(fails.contains(&"customer-email-valid"), "{fails:?}");

    // A million profiles, the Microsoft one last: found, ready.
    let mut p: Value = serde_json::from_str(&profiles).expect("json");
    let real = p["customerCloudProfiles"]
        .as_array()
        .expect("array")
        .clone();
    let mut many: Vec<Value> = (0..1_000_000)
        .map(|i| json!({"providerId": "9", "shortName": format!("P{i}"), "enabled": false}))
        .collect();
    many.extend(real);
    p["customerCloudProfiles"] = Value::Array(many);
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = snapshot(dir.path(), &customer, &p.to_string());
    let r = check_snapshot(&snap, &tenant_order(dir.path()));
    no_panic(&r);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report_of(&r).verdict(), Verdict::Ready);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_live_responses_make_the_check_indeterminate() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases = [
        (
            "deep",
            ResponseTemplate::new(200).set_body_string(deep),
            "recursion limit exceeded",
        ),
        (
            "wrong type",
            ResponseTemplate::new(200).set_body_json(json!({"name": 7, "customerStatus": []})),
            "invalid type",
        ),
        (
            "null",
            ResponseTemplate::new(200).set_body_string("null"),
            "invalid type: null",
        ),
        (
            "proxy page",
            ResponseTemplate::new(200)
                .set_body_string("<html><body>Service Unavailable</body></html>"),
            "not JSON",
        ),
        (
            "html 404",
            ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"),
            "without ION's error envelope",
        ),
    ];
    for (what, answer, says) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v3/accounts/1001/customers/2002"))
            .respond_with(answer)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v3/accounts/1001/customers/2002/cloudProfiles"))
            .respond_with(
                ResponseTemplate::new(200).set_body_string(demo_text("2002/cloudProfiles.json")),
            )
            .mount(&server)
            .await;
        let mut cmd = live_json_check(&server.uri());
        cmd.env("ION_ACCESS_TOKEN", "at-hostile-1");
        let r = run_async(cmd).await;
        no_panic(&r);
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        assert_one_line(&r.stderr);
        // The report states the reason in full; stderr says it short.
        assert!(r.stdout.contains(says), "{what}: {}", r.stdout);
        assert!(r.stderr.contains("unavailable: "), "{what}: {}", r.stderr);
        assert!(!r.stderr.contains("at-hostile-1"));
        // Not retried: a malformed answer is not transient.
        let hits = server.received_requests().await.expect("recording").len();
        assert_eq!(hits, 2, "{what}");
    }
}

// ---- Property tests ----------------------------------------------------------

/// Arbitrary JSON with the keys ION bodies and orders use.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "ACTIVE",
            "INACTIVE",
            "AZURE",
            "CREATE",
            "UPDATE",
            "MICROSOFT",
            "domainName",
            "contoso.onmicrosoft.com",
            "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f",
            "2025-03-14T09:12:00Z",
            "CFQ7TTC0LH18",
            "",
            "accounts/1001/customers/2002",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "name",
                    "value",
                    "customerStatus",
                    "customerEmail",
                    "customerAddress",
                    "country",
                    "orderItems",
                    "action",
                    "productId",
                    "skuId",
                    "planId",
                    "quantity",
                    "resourceId",
                    "attributes",
                    "providerName",
                    "customerCloudProfiles",
                    "enabled",
                    "customerTenantId",
                    "shortName",
                    "displayName",
                    "gdapStatus",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid body with the value at one of `pointers` replaced.
fn mutated(base: Value, pointers: &'static [&'static str]) -> impl Strategy<Value = Value> {
    (prop::sample::select(pointers), json_value()).prop_map(move |(ptr, v)| {
        let mut b = base.clone();
        if let Some(slot) = b.pointer_mut(ptr) {
            *slot = v;
        }
        b
    })
}

fn demo_json(rel: &str) -> Value {
    serde_json::from_str(&demo_text(rel)).expect("json")
}

const CUSTOMER_POINTERS: &[&str] = &[
    "",
    "/name",
    "/customerStatus",
    "/customerEmail",
    "/customerAddress",
    "/customerAddress/country",
    "/customerOrganization",
];
const PROFILE_POINTERS: &[&str] = &[
    "",
    "/customerCloudProfiles",
    "/customerCloudProfiles/0",
    "/customerCloudProfiles/0/enabled",
    "/customerCloudProfiles/0/customerTenantId",
    "/customerCloudProfiles/0/shortName",
    "/customerCloudProfiles/0/gdapStatus",
];
const ORDER_POINTERS: &[&str] = &[
    "",
    "/orderItems",
    "/orderItems/0",
    "/orderItems/0/action",
    "/orderItems/0/quantity",
    "/orderItems/0/attributes",
    "/orderItems/0/attributes/0",
    "/orderItems/0/attributes/0/value",
    "/orderItems/0/providerName",
    "/orderItems/1/productId",
];

fn body(rel: &'static str, pointers: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![1 => json_value(), 3 => mutated(demo_json(rel), pointers)]
}

fn order_body() -> impl Strategy<Value = Value> {
    let base = crate::faults::order();
    prop_oneof![1 => json_value(), 3 => mutated(base, ORDER_POINTERS)]
}

/// What the evaluator gives when the resources are taken as the source
/// should take them: typed-valid bodies present, anything else unavailable.
fn expected(customer: &Value, profiles: &Value, order: &Value) -> Report {
    let c = match serde_json::from_value::<Customer>(customer.clone()) {
        Ok(_) => Fetched::present(customer.clone()),
        Err(e) => Fetched::unavailable(e.to_string()),
    };
    let p = match serde_json::from_value::<CustomerCloudProfiles>(profiles.clone()) {
        Ok(_) => Fetched::present(match profiles.get("customerCloudProfiles") {
            None | Some(Value::Null) => json!([]),
            Some(v) => v.clone(),
        }),
        Err(e) => Fetched::unavailable(e.to_string()),
    };
    // What `snapshot` holds besides: the demo catalog (a product it does not
    // have, and any subscription lookup, was not recorded: unavailable) and
    // empty scans.
    let mut ctx = Context::new(1001, 2002, jiff::Timestamp::UNIX_EPOCH)
        .with_customer(c)
        .with_cloud_profiles(p)
        .with_customer_subscriptions(Fetched::present(
            json!({"subscriptions": [], "scanned": 0, "limit": 500, "complete": true}),
        ))
        .with_placed_orders(Fetched::present(
            json!({"orders": [], "scanned": 0, "limit": 300, "complete": true}),
        ));
    for item in order["orderItems"].as_array().into_iter().flatten() {
        if let Some(id) = item["productId"].as_str() {
            let product = crate::fault_server::demo_product(id)
                .and_then(|b| serde_json::from_slice(&b).ok())
                .map_or_else(|| Fetched::unavailable("not recorded"), Fetched::present);
            ctx = ctx.with_product(id, product);
        }
        if let Some(id) = item["resourceId"].as_str() {
            ctx = ctx.with_subscription(id, Fetched::unavailable("not recorded"));
        }
    }
    RuleSet::builtin().evaluate(&ctx.with_order(Some(order.clone())))
}

fn outcomes(r: &Report) -> Vec<(String, Outcome)> {
    r.results()
        .iter()
        .map(|x| (x.rule.clone(), x.outcome))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Generated ION bodies and orders through the snapshot source: never a
    /// panic, every rule reported, `ready` only on typed-valid data, and the
    /// same outcomes as the evaluator on the same data.
    #[test]
    fn generated_ion_bodies_and_orders_through_the_snapshot_source(
        customer in body("2002.json", CUSTOMER_POINTERS),
        profiles in body("2002/cloudProfiles.json", PROFILE_POINTERS),
        order in order_body(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let snap = snapshot(dir.path(), &customer.to_string(), &profiles.to_string());
        let source = SnapshotSource::open(&snap).expect("snapshot");
        let preflight = Preflight::new(source, RuleSet::builtin());
        let req = CheckRequest::new(1001, 2002)
            .with_order(order.clone())
            .at(jiff::Timestamp::UNIX_EPOCH);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let report = rt.block_on(preflight.check(req));
        prop_assert_eq!(report.results().len(), RuleSet::builtin().rules().len());
        if report.verdict() == Verdict::Ready {
            prop_assert!(serde_json::from_value::<Customer>(customer.clone()).is_ok());
            prop_assert!(report.results().iter().all(|r| r.outcome != Outcome::Error || r.severity < report.fail_on()));
        }
        let want = expected(&customer, &profiles, &order);
        prop_assert_eq!(report.verdict(), want.verdict());
        prop_assert_eq!(outcomes(&report), outcomes(&want));
        // The report survives its own JSON shape.
        let back: Report = serde_json::from_str(&serde_json::to_string(&report).expect("ser")).expect("de");
        prop_assert_eq!(back.verdict(), report.verdict());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Generated order files through the real binary: an object is judged
    /// (exit 0 or 1, a whole JSON report), anything else is one line on
    /// stderr with exit 2; never a panic.
    #[test]
    fn generated_order_files_through_the_cli(
        order in prop_oneof![
            3 => order_body().prop_map(|v| v.to_string()),
            1 => "\\PC{0,40}",
        ],
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(dir.path(), "order.json", &order);
        let r = check_demo(&f);
        no_panic(&r);
        let is_object = serde_json::from_str::<Value>(&order).is_ok_and(|v| v.is_object());
        if is_object {
            prop_assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
            let report: Report = serde_json::from_str(&r.stdout).expect("a whole report");
            prop_assert_eq!(r.code == 0, report.verdict() == Verdict::Ready);
        } else {
            prop_assert_eq!(r.code, 2, "{}", r.stderr);
            assert_one_line(&r.stderr);
            prop_assert!(r.stdout.is_empty());
        }
    }
}

//! `serve`: `POST /v1/check-new-customer` over real loopback HTTP, against
//! the demo snapshot or a fake ION (wiremock) that records what reached it.

use std::time::Duration;

use ion_preflight::service::{RuleSpec, ServeConfig, Service};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer};

use crate::cli_support::{bin, fixture};
use crate::ion_support::{ion_error, ok_json};
use crate::service_support::{
    http, live_config, post_json, rule_file, snapshot_config, start_service,
};

const LIST: &str = "/api/v3/accounts/1001/customers";

async fn service(config: ServeConfig) -> (String, Service) {
    let service = Service::new(config).expect("service starts");
    let base = start_service(&service).await;
    (base, service)
}

fn payload(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("new-customers/{name}"))).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn request(payload: &Value) -> String {
    json!({"account_id": 1001, "payload": payload}).to_string()
}

fn without_volatile(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("checked_at");
        o.remove("decision_id");
    }
    v
}

async fn metrics(base: &str) -> String {
    http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_customer_check_answers_exactly_the_cli_report_plus_a_decision_id() {
    let (base, _s) = service(snapshot_config()).await;
    for (file, verdict) in [("acme.json", "ready"), ("contoso-again.json", "blocked")] {
        let (status, headers, got) = post_json(
            &format!("{base}/v1/check-new-customer"),
            &request(&payload(file)),
            None,
        )
        .await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["verdict"], verdict, "{file}: {got}");
        assert_eq!(got["decision_id"].as_str().map(str::len), Some(32));
        assert!(got.get("customer_id").is_none(), "{got}");
        assert!(headers.contains_key("x-ion-preflight-rules-revision"));

        let out = bin()
            .args([
                "check-new-customer",
                "--account",
                "1001",
                "--format",
                "json",
            ])
            .arg("--data")
            .arg(fixture("demo"))
            .arg("--payload")
            .arg(fixture(&format!("new-customers/{file}")))
            .output()
            .expect("cli runs");
        let cli: Value = serde_json::from_slice(&out.stdout).expect("cli JSON");
        assert_eq!(without_volatile(got), without_volatile(cli), "{file}");
    }
    let text = metrics(&base).await;
    for line in [
        "ion_preflight_checks_total{check=\"new-customer\",verdict=\"ready\"} 1",
        "ion_preflight_checks_total{check=\"new-customer\",verdict=\"blocked\"} 1",
        "ion_preflight_checks_total{check=\"order\",verdict=\"ready\"} 0",
        "ion_preflight_rule_outcomes_total{rule=\"new-customer-email-not-in-use\",outcome=\"fail\"} 1",
        "ion_preflight_check_duration_seconds_count 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_new_customer_requests_are_400_saying_what_and_where() {
    let (base, _s) = service(snapshot_config()).await;
    let url = format!("{base}/v1/check-new-customer");
    for (body, says, line) in [
        (
            r#"{"account_id": 1001}"#,
            "missing field `payload`",
            Some(1),
        ),
        (
            r#"{"account_id": 1001, "payload": [1]}"#,
            "`payload` must be the JSON object you are about to POST to ION's customers endpoint, not an array",
            Some(1),
        ),
        (
            r#"{"account_id": 1001, "payload": null}"#,
            "not null",
            Some(1),
        ),
        (
            r#"{"account_id": 1001, "customer_id": 2002, "payload": {}}"#,
            "unknown field `customer_id`",
            Some(1),
        ),
        (
            "{\"account_id\": 1001,\n \"payload\": {\"customerEmail\" \"x\"}}",
            "expected `:`",
            Some(2),
        ),
        (
            r#"{"account_id": 0, "payload": {}}"#,
            "`account_id` must be a positive ION id",
            None,
        ),
    ] {
        let (status, _, got) = post_json(&url, body, None).await;
        assert_eq!(status, 400, "{body}: {got}");
        assert_eq!(got["error"], "malformed_request", "{got}");
        let message = got["message"].as_str().expect("message");
        assert!(message.contains(says), "{body}: {message}");
        assert_eq!(got["line"].as_u64(), line, "{body}: {got}");
    }
    let huge = request(&json!({"customerOrganization": "x".repeat(70 * 1024)}));
    let (status, _, got) = post_json(&url, &huge, None).await;
    assert_eq!(status, 413, "{got}");
    assert_eq!(got["error"], "payload_too_large");
}

/// A fake ION where nobody has the payload's e-mail or organization.
async fn fake_ion_nobody() -> MockServer {
    let ion = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .respond_with(ok_json(json!({"customers": []})))
        .mount(&ion)
        .await;
    ion
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_token_is_used_for_the_lookups_and_no_credentials_is_401() {
    let ion = fake_ion_nobody().await;
    let (base, _s) = service(live_config(&ion.uri())).await;
    let url = format!("{base}/v1/check-new-customer");
    let body = request(&payload("acme.json"));

    // Without the caller's token (and none of its own) nothing is fetched.
    let (status, headers, got) = post_json(&url, &body, None).await;
    assert_eq!(status, 401, "{got}");
    assert_eq!(got["error"], "unauthorized");
    assert!(headers.contains_key("www-authenticate"));
    assert!(ion.received_requests().await.expect("recorded").is_empty());

    let (status, _, got) = post_json(&url, &body, Some("caller-nc")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["verdict"], "ready", "{got}");
    let seen = ion.received_requests().await.expect("recorded");
    // E-mail and organization, each for ACTIVE and INACTIVE.
    assert_eq!(seen.len(), 4, "{seen:?}");
    for r in &seen {
        assert_eq!(
            r.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some("Bearer caller-nc")
        );
    }
    let text = metrics(&base).await;
    assert!(
        text.lines().any(|l| l
            == "ion_preflight_ion_requests_total{endpoint=\"GET /api/v3/accounts/{id}/customers\",status=\"200\"} 4"),
        "{text}"
    );
    assert!(!text.contains("caller-nc"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_ion_refuses_makes_the_new_customer_indeterminate_not_ready() {
    let ion = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param("filter.customerStatus", "INACTIVE"))
        .respond_with(ion_error(500, "INTERNAL_ERROR", "Internal Server Error"))
        .mount(&ion)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .respond_with(ok_json(json!({"customers": []})))
        .mount(&ion)
        .await;
    let (base, _s) = service(ServeConfig {
        check_timeout: Duration::from_secs(5),
        ..live_config(&ion.uri())
    })
    .await;
    let (status, _, got) = post_json(
        &format!("{base}/v1/check-new-customer"),
        &request(&payload("acme.json")),
        Some("caller-nc"),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["verdict"], "indeterminate", "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_log_masks_the_payloads_email_phone_name_and_street() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A rule that quotes every contact value of the payload, some in forms
    // no pattern recognises.
    let loud = rule_file(
        &dir,
        "loud.yaml",
        "rules:\n  - id: loud-new-customer\n    title: Loud\n    severity: error\n    assert: { path: newCustomer.customerName, equals: NOBODY }\n    message: \"{newCustomer.customerEmail} / {newCustomer.customerPhone} / {newCustomer.customerName} / {newCustomer.customerAddress.street}\"\n",
    );
    let log = dir.path().join("decisions.ndjson");
    let (base, _s) = service(ServeConfig {
        rules: RuleSpec {
            new_customer_files: vec![loud],
            ..RuleSpec::default()
        },
        decision_log: Some(log.clone()),
        ..snapshot_config()
    })
    .await;
    let mut p = payload("contoso-again.json");
    p["customerPhone"] = json!("55 01");
    p["customerEmail"] = json!("megan at contoso");
    let (status, _, got) =
        post_json(&format!("{base}/v1/check-new-customer"), &request(&p), None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["verdict"], "blocked", "{got}");
    let message = got["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["rule"] == "loud-new-customer")
        .and_then(|r| r["message"].as_str())
        .expect("the file's rule ran on the new-customer set");
    // The caller gets its own data back.
    assert_eq!(
        message,
        "megan at contoso / 55 01 / Megan Bowen / 1 Microsoft Way"
    );

    let text = std::fs::read_to_string(&log).expect("log written");
    let entry: Value = serde_json::from_str(text.trim()).expect("one ndjson line");
    assert_eq!(entry["check"], "new-customer");
    assert_eq!(entry["decision_id"], got["decision_id"]);
    assert_eq!(entry["account_id"], 1001);
    assert!(entry.get("customer_id").is_none(), "{entry}");
    let logged = entry["failing_rules"]
        .as_array()
        .expect("failing rules")
        .iter()
        .find(|r| r["rule"] == "loud-new-customer")
        .expect("logged");
    assert_eq!(
        logged["message"],
        "[contact] / [contact] / [contact] / [contact]"
    );
    for secret in ["megan", "Megan", "Bowen", "55 01", "Microsoft Way"] {
        assert!(
            !text.contains(secret),
            "{secret} in the decision log: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_customer_rules_reload_with_the_order_rules_as_one_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v1 = "rules:\n  - id: org-named\n    title: Named\n    severity: error\n    assert: { path: newCustomer.customerOrganization, exists: true }\n    message: no organization\n";
    let file = rule_file(&dir, "nc.yaml", v1);
    let (base, service) = service(ServeConfig {
        rules: RuleSpec {
            new_customer_builtin: false,
            new_customer_files: vec![file.clone()],
            ..RuleSpec::default()
        },
        ..snapshot_config()
    })
    .await;
    let first = service.rules().current();
    assert_eq!(first.new_customer.rules().len(), 1);
    assert!(
        first.rules.rules().len() > 1,
        "the order set is the built-in one"
    );
    let url = format!("{base}/v1/check-new-customer");
    let body = request(&payload("acme.json"));
    let (_, _, got) = post_json(&url, &body, None).await;
    let ids: Vec<&str> = got["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert_eq!(ids, ["org-named"]);

    // A broken new-customer file keeps both sets.
    std::fs::write(&file, "rules:\n  - id: x\n    severity: eror\n").expect("write");
    assert!(!service.reload());
    assert_eq!(service.rules().current().id, first.id);

    std::fs::write(&file, v1.replace("org-named", "org-named-v2")).expect("write");
    assert!(service.reload());
    assert_ne!(service.rules().current().id, first.id);
    let (_, headers, got) = post_json(&url, &body, None).await;
    assert_eq!(got["results"][0]["rule"], "org-named-v2");
    assert_eq!(
        headers
            .get("x-ion-preflight-rules-revision")
            .and_then(|v| v.to_str().ok()),
        Some(service.rules().current().id.as_str())
    );
    let (_, _, ready) = post_json(&format!("{base}/readyz"), "", None).await;
    // (readyz is a GET; a POST is 405 in the API's error shape)
    assert_eq!(ready["error"], "method_not_allowed");
    let readyz: Value = http()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert_eq!(readyz["new_customer_rules"], 1, "{readyz}");
}

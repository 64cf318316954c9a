//! `serve`: the HTTP API over real loopback HTTP, against the demo snapshot
//! or a fake ION (wiremock) that records what reached it.

use std::time::Duration;

use ion_preflight::rules::EvalOptions;
use ion_preflight::service::{RuleSpec, ServeConfig, Service};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

use crate::cli_support::{bin, fixture, json_check_of};
use crate::ion_support::{
    ACCOUNT, CUSTOMER, customer_body, customer_path, ion_error, mount_get, ok_json, profiles_body,
    profiles_path,
};
use crate::service_support::{
    http, live_config, nce_order, post_json, rule_file, snapshot_config, start_service,
};

async fn service(config: ServeConfig) -> (String, Service) {
    let service = Service::new(config).expect("service starts");
    let base = start_service(&service).await;
    (base, service)
}

fn without_volatile(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("checked_at");
        o.remove("decision_id");
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_answers_exactly_the_cli_report_plus_a_decision_id() {
    let (base, _s) = service(snapshot_config()).await;
    let order = nce_order();
    let body = json!({"account_id": 1001, "customer_id": 2002, "order": order}).to_string();
    let (status, headers, got) = post_json(&format!("{base}/v1/check"), &body, None).await;
    assert_eq!(status, 200, "{got}");
    let id = got["decision_id"].as_str().expect("decision id");
    assert_eq!(id.len(), 32);
    assert!(headers.contains_key("x-ion-preflight-rules-revision"));

    let out = json_check_of(&fixture("demo"))
        .args(["--order", "fixtures/orders/nce-order.json"])
        .output()
        .expect("cli runs");
    let cli: Value = serde_json::from_slice(&out.stdout).expect("cli JSON");
    assert_eq!(without_volatile(got), without_volatile(cli));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verdict_is_a_200_with_the_report() {
    let (base, _s) = service(snapshot_config()).await;
    // 2003 is INACTIVE in the demo data.
    let (status, _, got) = post_json(
        &format!("{base}/v1/check"),
        r#"{"account_id": 1001, "customer_id": 2003}"#,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got["verdict"], "blocked");
    let failed: Vec<&str> = got["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["outcome"] == "fail")
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert!(failed.contains(&"customer-active"), "{failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_400_saying_what_and_where() {
    let (base, _s) = service(snapshot_config()).await;
    let url = format!("{base}/v1/check");
    for (body, says) in [
        (
            "{\"account_id\": 1001,\n \"customer_id\": \"2002\"}",
            "`customer_id` must be a number, not a string",
        ),
        (r#"{"account_id": 1001}"#, "missing field `customer_id`"),
        (
            r#"{"account_id": 1001, "customer_id": 2002, "ordr": {}}"#,
            "unknown field `ordr`",
        ),
        (
            r#"{"account_id": 1001, "customer_id": 2002, "order": null}"#,
            "not null",
        ),
        (
            r#"{"account_id": 1001, "customer_id": 2002, "order": []}"#,
            "not an array",
        ),
        (
            r#"{"account_id": 0, "customer_id": 2002}"#,
            "ids start at 1",
        ),
        ("{\"account_id\": 1001,", "EOF"),
        ("", "EOF"),
    ] {
        let (status, _, got) = post_json(&url, body, None).await;
        assert_eq!(status, 400, "{body}: {got}");
        assert_eq!(got["error"], "malformed_request", "{body}");
        let message = got["message"].as_str().expect("message");
        assert!(message.contains(says), "{body}: {message}");
    }
    let (_, _, got) = post_json(
        &url,
        "{\"account_id\": 1001,\n \"customer_id\": \"2002\"}",
        None,
    )
    .await;
    assert_eq!(
        (got["line"].as_u64(), got["column"].as_u64()),
        (Some(2), Some(23))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413() {
    let (base, _s) = service(ServeConfig {
        body_limit: 1000,
        ..snapshot_config()
    })
    .await;
    let big = json!({"account_id": 1001, "customer_id": 2002, "order": {"displayName": "x".repeat(2000)}});
    let (status, _, got) = post_json(&format!("{base}/v1/check"), &big.to_string(), None).await;
    assert_eq!(status, 413, "{got}");
    assert_eq!(got["error"], "payload_too_large");
    // Without a Content-Length: counted as it streams.
    let stream = futures::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 100]))),
    );
    let resp = http()
        .post(format!("{base}/v1/check"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_unknown_paths_and_methods() {
    let (base, _s) = service(snapshot_config()).await;
    let get = |p: &str| http().get(format!("{base}{p}")).send();
    let r = get("/healthz").await.expect("answered");
    assert_eq!(r.status().as_u16(), 200);
    let r: Value = get("/readyz")
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert_eq!(r["status"], "ready");
    assert_eq!(
        r["rules"],
        ion_preflight::rules::RuleSet::builtin().rules().len()
    );
    assert_eq!(r["new_customer_rules"], 10);
    let r = get("/v2/check").await.expect("answered");
    assert_eq!(r.status().as_u16(), 404);
    let r = get("/v1/check").await.expect("answered");
    assert_eq!(r.status().as_u16(), 405);
    let r = get("/v1/check-new-customer").await.expect("answered");
    assert_eq!(r.status().as_u16(), 405);
}

async fn fake_ion(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(customer_path(ACCOUNT, CUSTOMER)))
        .respond_with(ok_json(customer_body(ACCOUNT, CUSTOMER)).set_delay(delay))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(profiles_path(ACCOUNT, CUSTOMER)))
        .respond_with(ok_json(profiles_body(CUSTOMER)).set_delay(delay))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_token_is_used_for_its_check_and_counted_in_metrics() {
    let ion = fake_ion(Duration::ZERO).await;
    let (base, _s) = service(live_config(&ion.uri())).await;
    let body = r#"{"account_id": 1001, "customer_id": 2002}"#;
    let (status, _, got) = post_json(&format!("{base}/v1/check"), body, Some("caller-at-1")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["verdict"], "ready", "{got}");
    let seen = ion.received_requests().await.expect("recorded");
    assert_eq!(seen.len(), 2, "customer and cloud profiles");
    for r in &seen {
        assert_eq!(
            r.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some("Bearer caller-at-1")
        );
    }
    let metrics = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text");
    for line in [
        "ion_preflight_checks_total{check=\"order\",verdict=\"ready\"} 1",
        "ion_preflight_checks_total{check=\"new-customer\",verdict=\"ready\"} 0",
        "ion_preflight_ion_requests_total{endpoint=\"GET /api/v3/accounts/{id}/customers/{id}\",status=\"200\"} 1",
        "ion_preflight_rule_outcomes_total{rule=\"customer-active\",outcome=\"pass\"} 1",
        "ion_preflight_check_duration_seconds_count 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing from\n{metrics}"
        );
    }
    assert!(!metrics.contains("caller-at-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_credentials_a_check_is_401_and_nothing_is_fetched() {
    let ion = fake_ion(Duration::ZERO).await;
    let (base, _s) = service(live_config(&ion.uri())).await;
    let body = r#"{"account_id": 1001, "customer_id": 2002}"#;
    let (status, headers, got) = post_json(&format!("{base}/v1/check"), body, None).await;
    assert_eq!(status, 401, "{got}");
    assert_eq!(
        headers.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let resp = http()
        .post(format!("{base}/v1/check"))
        .header("authorization", "Basic dXNlcjpwdw==")
        .body(body)
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 401);
    assert!(ion.received_requests().await.expect("recorded").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_ion_rejects_makes_the_check_indeterminate_not_ready() {
    let ion = MockServer::start().await;
    mount_get(
        &ion,
        header("authorization", "Bearer stale"),
        ion_error(403, "PERMISSION_DENIED", "token expired"),
        None,
    )
    .await;
    let (base, _s) = service(live_config(&ion.uri())).await;
    let body = r#"{"account_id": 1001, "customer_id": 2002}"#;
    let (status, _, got) = post_json(&format!("{base}/v1/check"), body, Some("stale")).await;
    assert_eq!(status, 200);
    assert_eq!(got["verdict"], "indeterminate", "{got}");
}

const RULE_V1: &str = "rules:\n  - id: rule-one\n    title: One\n    severity: error\n    assert: { path: customer.customerStatus, one_of: [ACTIVE] }\n    message: not active\n";
const RULE_V2: &str = "rules:\n  - id: rule-two\n    title: Two\n    severity: error\n    assert: { path: customer.customerStatus, one_of: [ACTIVE] }\n    message: not active\n";

fn rule_ids(report: &Value) -> Vec<String> {
    report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["rule"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_only_a_clean_set_and_a_check_in_flight_keeps_its_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = rule_file(&dir, "mine.yaml", RULE_V1);
    let ion = fake_ion(Duration::from_millis(400)).await;
    let (base, service) = service(ServeConfig {
        rules: RuleSpec {
            builtin: false,
            files: vec![file.clone()],
            ..RuleSpec::default()
        },
        ..live_config(&ion.uri())
    })
    .await;
    let first_revision = service.rules().current().id.clone();

    // A broken file is not swapped in.
    std::fs::write(&file, "rules:\n  - id: rule-two\n    severity: eror\n").expect("write");
    assert!(!service.reload());
    assert_eq!(service.rules().current().id, first_revision);

    // A check starts on v1; v2 is swapped in while it waits for ION.
    std::fs::write(&file, RULE_V1).expect("write");
    let url = format!("{base}/v1/check");
    let body = r#"{"account_id": 1001, "customer_id": 2002}"#;
    let in_flight = tokio::spawn({
        let url = url.clone();
        async move { post_json(&url, body, Some("at")).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    std::fs::write(&file, RULE_V2).expect("write");
    assert!(service.reload());
    assert_ne!(service.rules().current().id, first_revision);
    let (_, headers, old) = in_flight.await.expect("joined");
    assert_eq!(rule_ids(&old), ["rule-one"]);
    assert_eq!(
        headers
            .get("x-ion-preflight-rules-revision")
            .map(|v| v.to_str().unwrap_or_default()),
        Some(first_revision.as_str())
    );
    let (_, _, new) = post_json(&url, body, Some("at")).await;
    assert_eq!(rule_ids(&new), ["rule-two"]);

    let metrics = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("ok")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("ion_preflight_rule_reloads_total{result=\"success\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ion_preflight_rule_reloads_total{result=\"failure\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_log_masks_personal_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A rule whose message quotes the customer's e-mail, the order's
    // agreement names and a phone number.
    let rules = rule_file(
        &dir,
        "loud.yaml",
        "rules:\n  - id: loud-rule\n    title: Loud\n    severity: error\n    assert: { path: customer.customerStatus, equals: NEVER }\n    message: \"{customer.customerEmail} signed by {order.orderItems[0].attributes[4].value} {order.orderItems[0].attributes[5].value}, call +1 (425) 555-0100\"\n",
    );
    let log = dir.path().join("decisions.ndjson");
    let (base, _s) = service(ServeConfig {
        rules: RuleSpec {
            builtin: true,
            files: vec![rules],
            ..RuleSpec::default()
        },
        decision_log: Some(log.clone()),
        options: EvalOptions::default(),
        ..snapshot_config()
    })
    .await;
    let body = json!({"account_id": 1001, "customer_id": 2002, "order": nce_order()}).to_string();
    let (status, _, got) = post_json(&format!("{base}/v1/check"), &body, None).await;
    assert_eq!(status, 200);
    assert_eq!(got["verdict"], "blocked", "{got}");
    let message = got["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["rule"] == "loud-rule")
        .and_then(|r| r["message"].as_str())
        .expect("loud-rule failed");
    // The caller gets its own data back unmasked; the log does not keep it.
    assert!(
        message.contains("megan.bowen@contoso.com signed by Megan Bowen"),
        "{message}"
    );

    let text = std::fs::read_to_string(&log).expect("log written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1);
    let entry: Value = serde_json::from_str(lines[0]).expect("ndjson");
    assert_eq!(entry["decision_id"], got["decision_id"]);
    assert_eq!(entry["verdict"], "blocked");
    assert_eq!(
        (entry["account_id"].as_u64(), entry["customer_id"].as_u64()),
        (Some(1001), Some(2002))
    );
    assert!(
        entry["rules_revision"]
            .as_str()
            .is_some_and(|r| r.len() == 16)
    );
    assert!(entry["time"].as_str().is_some());
    let logged = entry["failing_rules"]
        .as_array()
        .expect("failing rules")
        .iter()
        .find(|r| r["rule"] == "loud-rule")
        .expect("loud-rule logged");
    assert_eq!(
        logged["message"],
        // The customer e-mail is also the order's agreementUserId.
        "[agreement] signed by [agreement] [agreement], call [phone]"
    );
    for secret in ["megan", "Megan", "Bowen", "555-0100"] {
        assert!(
            !text.contains(secret),
            "{secret} in the decision log: {text}"
        );
    }
}

/// Reads the binary's stderr until it says where it listens.
fn listening_addr(stderr: &mut impl std::io::BufRead) -> String {
    let mut line = String::new();
    for _ in 0..50 {
        line.clear();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(url) = line
            .trim()
            .strip_prefix("ion-preflight serve listening on ")
        {
            return url.to_owned();
        }
    }
    panic!("the service never said where it listens; last line: {line}");
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reloads_on_sighup_and_drains_on_sigterm() {
    let ion = fake_ion(Duration::from_millis(500)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = rule_file(&dir, "mine.yaml", RULE_V1);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ion-preflight"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-default-rules",
            "--rules",
        ])
        .arg(&file)
        .args(["--base-url", &ion.uri()])
        .env_remove("ION_ACCESS_TOKEN")
        .env_remove("ION_REFRESH_TOKEN")
        .env_remove("ION_TOKEN_FILE")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let base = listening_addr(&mut stderr);
    let ready = |base: String| async move {
        http()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("ready answered")
            .json::<Value>()
            .await
            .expect("json")
    };
    let before = ready(base.clone()).await["rules_revision"].clone();

    std::fs::write(&file, RULE_V2).expect("write");
    signal(child.id(), "-HUP");
    let mut after = before.clone();
    for _ in 0..100 {
        after = ready(base.clone()).await["rules_revision"].clone();
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(after, before, "SIGHUP reloaded the rules");

    // A check in flight when SIGTERM arrives is answered; then exit 0.
    let url = format!("{base}/v1/check");
    let in_flight = tokio::spawn(async move {
        post_json(
            &url,
            r#"{"account_id": 1001, "customer_id": 2002}"#,
            Some("at"),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    signal(child.id(), "-TERM");
    let (status, _, report) = in_flight.await.expect("joined");
    assert_eq!(status, 200);
    assert_eq!(rule_ids(&report), ["rule-two"]);
    let code = tokio::task::spawn_blocking(move || child.wait().expect("exits"))
        .await
        .expect("joined");
    assert_eq!(code.code(), Some(0));
}

#[test]
fn serve_refuses_broken_rules_at_start_with_the_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = rule_file(&dir, "bad.yaml", "rules:\n  - id: x\n    severity: eror\n");
    let out = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            "fixtures/demo",
            "--rules",
        ])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:3:"), "{stderr}");
}

/// The service's own credentials after a failed refresh: the refresh token
/// is not presented again (checks needing the service's own token are
/// indeterminate with the refresh's failure, `/readyz` is 503), checks with
/// the caller's token are untouched, and a new refresh token written to the
/// token file (`auth login`) is used by the next check, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_of_the_services_own_token_recovers_through_the_token_file() {
    use crate::auth_support::{RotatingIon, seed};
    use wiremock::ResponseTemplate;

    let ion = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(500).set_body_string("token store down"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&ion)
        .await;
    let rotation = RotatingIon::new("rt-new", Duration::ZERO);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(rotation.clone())
        .with_priority(5)
        .mount(&ion)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/validateAccess"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_expires_in": 7000, "refresh_expires_in": 2_000_000})),
        )
        .mount(&ion)
        .await;
    Mock::given(method("GET"))
        .respond_with(crate::cli_live::DemoFiles)
        .mount(&ion)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    seed(&file, json!({"version": 1, "refresh_token": "rt-0"}));
    let mut config = live_config(&ion.uri());
    config.data = ion_preflight::service::serve::DataSource::Live {
        builder: ion_preflight::ion::IonClient::builder()
            .base_url(&ion.uri())
            .max_attempts(1)
            .request_timeout(Duration::from_secs(5))
            .token_store(std::sync::Arc::new(ion_preflight::ion::TokenFile::new(
                &file,
            ))),
        own_credentials: true,
        token_file: Some(file.clone()),
    };
    let (base, _s) = service(config).await;
    let url = format!("{base}/v1/check");
    let body = r#"{"account_id": 1001, "customer_id": 2002}"#;
    let presented = || async {
        ion.received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|q| q.url.path() == "/oauth/token")
            .map(|q| {
                url::form_urlencoded::parse(&q.body)
                    .find(|(k, _)| k == "refresh_token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
    };

    for n in 0..2 {
        let (status, _, got) = post_json(&url, body, None).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["verdict"], "indeterminate", "check {n}: {got}");
        assert!(got.to_string().contains("HTTP 500"), "check {n}: {got}");
    }
    assert_eq!(
        presented().await,
        ["rt-0"],
        "the failed token presented once"
    );
    let ready = http()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz answered");
    assert_eq!(ready.status().as_u16(), 503);
    assert_eq!(presented().await, ["rt-0"], "readyz presented it again");

    // The caller's own token is not the service's credentials.
    let (status, _, got) = post_json(&url, body, Some("at-caller")).await;
    assert_eq!(status, 200, "{got}");
    assert_ne!(got["verdict"], "indeterminate", "{got}");

    // `auth login` puts a new refresh token into the file: used at once.
    seed(&file, json!({"version": 1, "refresh_token": "rt-new"}));
    let (status, _, got) = post_json(&url, body, None).await;
    assert_eq!(status, 200, "{got}");
    assert_ne!(got["verdict"], "indeterminate", "{got}");
    assert_eq!(presented().await, ["rt-0", "rt-new"]);
}

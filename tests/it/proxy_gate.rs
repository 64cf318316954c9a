//! `proxy`: the validating gate over real loopback HTTP, in front of a fake
//! ION (wiremock) that records every request that reached it.

use std::time::Duration;

use ion_preflight::service::{Mode, ProxyConfig};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ion_support::{
    ACCOUNT, CUSTOMER, customer_body, customer_path, ion_error, mount_catalog, ok_json,
    profiles_body, profiles_path,
};
use crate::service_support::{http, nce_order, post_json, proxy_config, start_proxy};

const ORDERS: &str = "/api/v3/accounts/1001/customers/2002/orders";

/// A fake ION: customer 2002 (ACTIVE, or `status`), its Microsoft profile,
/// and `POST …/orders` answering 200 with an order after `post_delay`.
async fn fake_ion(status: &str, post_delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    let mut customer = customer_body(ACCOUNT, CUSTOMER);
    customer["customerStatus"] = json!(status);
    Mock::given(method("GET"))
        .and(path(customer_path(ACCOUNT, CUSTOMER)))
        .respond_with(ok_json(customer))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(profiles_path(ACCOUNT, CUSTOMER)))
        .respond_with(ok_json(profiles_body(CUSTOMER)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ORDERS))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ion-request", "r-1")
                .set_body_json(
                    json!({"name": "accounts/1001/customers/2002/orders/77", "status": "NEW"}),
                )
                .set_delay(post_delay),
        )
        .mount(&server)
        .await;
    mount_catalog(&server, ACCOUNT).await;
    server
}

/// The POSTs that reached the fake ION.
async fn posts(ion: &MockServer) -> Vec<wiremock::Request> {
    ion.received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect()
}

/// The NCE order without the domain name ION requires (COMM-VL-004).
fn order_without_domain() -> Value {
    let mut order = nce_order();
    let attrs = order["orderItems"][0]["attributes"]
        .as_array_mut()
        .expect("attributes");
    attrs.retain(|a| a["name"] != "domainName");
    order
}

async fn gate(ion: &MockServer, mode: Mode) -> String {
    start_proxy(proxy_config(&ion.uri(), mode)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_order_is_forwarded_once_byte_for_byte() {
    let ion = fake_ion("ACTIVE", Duration::ZERO).await;
    let base = gate(&ion, Mode::Enforce).await;
    // Odd spacing: the bytes that arrive must be the caller's, not a
    // re-serialization.
    let body = format!(
        "{}  \n",
        serde_json::to_string_pretty(&nce_order()).expect("json")
    );
    let resp = http()
        .post(format!("{base}{ORDERS}?validateOnly=false"))
        .bearer_auth("caller-at")
        .header("content-type", "application/json")
        .header("x-correlation-id", "c-42")
        .body(body.clone())
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("x-ion-request").map(|v| v.as_bytes()),
        Some(&b"r-1"[..])
    );
    assert_eq!(
        resp.headers()
            .get("x-ion-preflight-verdict")
            .map(|v| v.as_bytes()),
        Some(&b"ready"[..])
    );
    assert!(
        resp.headers().get("x-ion-preflight").is_none(),
        "ION answered, not the proxy"
    );
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(answer["status"], "NEW");

    let posts = posts(&ion).await;
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(p.body, body.as_bytes());
    assert_eq!(p.url.query(), Some("validateOnly=false"));
    assert_eq!(
        p.headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some("Bearer caller-at")
    );
    assert_eq!(
        p.headers
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok()),
        Some("c-42")
    );
    // The check's own GETs used the caller's token too.
    let all = ion.received_requests().await.expect("recorded");
    assert!(all.iter().all(
        |r| r.headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some("Bearer caller-at")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_order_is_answered_in_ions_envelope_and_never_forwarded() {
    let ion = fake_ion("ACTIVE", Duration::ZERO).await;
    let base = gate(&ion, Mode::Enforce).await;
    let body = order_without_domain().to_string();
    for spelling in [
        ORDERS.to_owned(),
        "//API/v3/Accounts/1001/customers/2002/Orders/".to_owned(),
        "/api/v3/accounts/1001/customers/7/../2002/%6frders".to_owned(),
        "/api/v3/accounts/001001/customers/2002/./orders".to_owned(),
    ] {
        let (status, headers, got) =
            post_json(&format!("{base}{spelling}"), &body, Some("at")).await;
        assert_eq!(status, 400, "{spelling}: {got}");
        assert_eq!(
            headers.get("x-ion-preflight").map(|v| v.as_bytes()),
            Some(&b"blocked"[..])
        );
        assert_eq!(got["code"], 3);
        assert_eq!(got["error"], "BAD_REQUEST: Invalid provisioning data");
        let detail = &got["details"][0];
        assert_eq!(detail["@type"], "type.googleapis.com/v3orberrors.ErrorBody");
        let codes: Vec<&str> = detail["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["code"].as_str())
            .collect();
        assert!(codes.contains(&"COMM-VL-004"), "{codes:?}");
        assert_eq!(got["details"][1]["report"]["verdict"], "blocked");
        assert_eq!(
            detail["requestId"].as_str(),
            headers
                .get("x-ion-preflight-decision")
                .and_then(|v| v.to_str().ok())
        );
    }
    assert!(
        posts(&ion).await.is_empty(),
        "a blocked order never reaches ION"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indeterminate_order_is_503_with_retry_after_and_not_forwarded() {
    let ion = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ion_error(503, "UNAVAILABLE", "maintenance"))
        .mount(&ion)
        .await;
    let base = start_proxy(ProxyConfig {
        check_timeout: Duration::from_secs(2),
        ..proxy_config(&ion.uri(), Mode::Enforce)
    })
    .await;
    let (status, headers, got) = post_json(
        &format!("{base}{ORDERS}"),
        &nce_order().to_string(),
        Some("at"),
    )
    .await;
    assert_eq!(status, 503, "{got}");
    assert_eq!(
        headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"7"[..])
    );
    assert_eq!(
        headers.get("x-ion-preflight").map(|v| v.as_bytes()),
        Some(&b"indeterminate"[..])
    );
    assert_eq!(got["error"], "UNAVAILABLE");
    assert_eq!(got["code"], 503);
    assert!(
        got["message"]
            .as_str()
            .is_some_and(|m| m.contains("retrying is safe")),
        "{got}"
    );
    assert!(posts(&ion).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_else_passes_through_unchanged() {
    let ion = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/accounts/1001/customers"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("x-page", "2")
                .set_body_string("not even json"),
        )
        .mount(&ion)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "NOT_FOUND"})))
        .mount(&ion)
        .await;
    let base = gate(&ion, Mode::Enforce).await;
    let resp = http()
        .get(format!(
            "{base}/api/v3/accounts/1001/customers?pageSize=5&filter.customerName=A%20B"
        ))
        .bearer_auth("at")
        .header("x-custom", "kept")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 206);
    assert_eq!(
        resp.headers().get("x-page").map(|v| v.as_bytes()),
        Some(&b"2"[..])
    );
    assert_eq!(resp.text().await.expect("body"), "not even json");
    let resp = http()
        .delete(format!(
            "{base}/api/v3/accounts/1001/customers/2002/orders/9"
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 404);
    let seen = ion.received_requests().await.expect("recorded");
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].url.query(),
        Some("pageSize=5&filter.customerName=A%20B")
    );
    assert_eq!(
        seen[0]
            .headers
            .get("x-custom")
            .and_then(|v| v.to_str().ok()),
        Some("kept")
    );
    assert_eq!(
        seen[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer at")
    );
    assert!(
        seen[1].headers.get("authorization").is_none(),
        "no token is made up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_cannot_be_normalized_is_refused_and_nothing_is_forwarded() {
    let ion = fake_ion("ACTIVE", Duration::ZERO).await;
    let base = gate(&ion, Mode::Enforce).await;
    for spelling in [
        "/api/v3/accounts/1001/customers/2002%2Forders",
        "/api/v3/accounts/1001/customers/2002/%252e/orders",
        "/api/v3/accounts/1001/customers/2002/orders;jsessionid=1",
        "/api/v3/accounts/1001/customers/+2002/orders",
    ] {
        let (status, headers, got) = post_json(
            &format!("{base}{spelling}"),
            &nce_order().to_string(),
            Some("at"),
        )
        .await;
        assert_eq!(status, 400, "{spelling}: {got}");
        assert_eq!(
            headers.get("x-ion-preflight").map(|v| v.as_bytes()),
            Some(&b"refused"[..]),
            "{spelling}"
        );
        assert_eq!(got["error"], "INVALID_ARGUMENT");
    }
    assert!(ion.received_requests().await.expect("recorded").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_without_a_bearer_token_or_over_the_limit_is_refused() {
    let ion = fake_ion("ACTIVE", Duration::ZERO).await;
    let base = start_proxy(ProxyConfig {
        body_limit: 4096,
        ..proxy_config(&ion.uri(), Mode::Enforce)
    })
    .await;
    let (status, headers, _) =
        post_json(&format!("{base}{ORDERS}"), &nce_order().to_string(), None).await;
    assert_eq!(status, 401);
    assert_eq!(
        headers.get("x-ion-preflight").map(|v| v.as_bytes()),
        Some(&b"unauthenticated"[..])
    );
    let mut big = nce_order();
    big["displayName"] = json!("x".repeat(5000));
    let (status, headers, _) =
        post_json(&format!("{base}{ORDERS}"), &big.to_string(), Some("at")).await;
    assert_eq!(status, 413);
    assert_eq!(
        headers.get("x-ion-preflight").map(|v| v.as_bytes()),
        Some(&b"too-large"[..])
    );
    let (status, _, got) = post_json(&format!("{base}{ORDERS}"), "{not json", Some("at")).await;
    assert_eq!(status, 400, "{got}");
    assert!(ion.received_requests().await.expect("recorded").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_timeout_is_504_and_the_post_is_not_retried() {
    let ion = fake_ion("ACTIVE", Duration::from_millis(1500)).await;
    let base = start_proxy(ProxyConfig {
        upstream_timeout: Duration::from_millis(300),
        ..proxy_config(&ion.uri(), Mode::Enforce)
    })
    .await;
    let (status, headers, got) = post_json(
        &format!("{base}{ORDERS}"),
        &nce_order().to_string(),
        Some("at"),
    )
    .await;
    assert_eq!(status, 504, "{got}");
    assert_eq!(
        headers.get("x-ion-preflight").map(|v| v.as_bytes()),
        Some(&b"upstream-timeout"[..])
    );
    assert_eq!(got["error"], "DEADLINE_EXCEEDED");
    assert!(
        got["message"]
            .as_str()
            .is_some_and(|m| m.contains("may have reached")),
        "{got}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(posts(&ion).await.len(), 1, "sent once, never retried");
}

/// ION's order list as the orders POSTed so far make it (newest first),
/// and the POST that adds to it: so a retried order is in the list when
/// the retry is checked.
#[derive(Clone, Default)]
struct PlacedOrders(std::sync::Arc<std::sync::Mutex<Vec<Value>>>);

impl wiremock::Respond for PlacedOrders {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let mut placed = self.0.lock().expect("lock");
        if req.method.as_str() == "POST" {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let id = 77 + placed.len();
            placed.insert(
                0,
                json!({"orderId": id.to_string(), "customerId": "2002",
                       "referenceId": body["referenceId"], "status": "NEW"}),
            );
            return ResponseTemplate::new(200)
                .insert_header("x-ion-request", "r-1")
                .set_body_json(json!({"name": format!("accounts/1001/customers/2002/orders/{id}"), "status": "NEW"}))
                .set_delay(Duration::from_millis(300));
        }
        ok_json(json!({ "orders": placed.clone() }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_one_order_are_checked_one_after_the_other() {
    let ion = fake_ion("ACTIVE", Duration::from_millis(300)).await;
    let placed = PlacedOrders::default();
    for (m, p) in [("POST", ORDERS), ("GET", "/api/v3/accounts/1001/orders")] {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(placed.clone())
            .with_priority(1)
            .mount(&ion)
            .await;
    }
    let base = gate(&ion, Mode::Enforce).await;
    let body = nce_order().to_string();
    let url = format!("{base}{ORDERS}");
    let a = tokio::spawn({
        let (url, body) = (url.clone(), body.clone());
        async move { post_json(&url, &body, Some("at")).await }
    });
    let b = tokio::spawn(async move { post_json(&url, &body, Some("at")).await });
    let (a, b) = (a.await.expect("a"), b.await.expect("b"));
    // One of the two is checked first and placed; the other is checked
    // only after ION answered it, so it sees that order and is refused as
    // a duplicate (ION has no idempotency key: it would bill twice).
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{} / {}", a.2, b.2);
    let refused = if a.0 == 400 { &a.2 } else { &b.2 };
    assert!(
        refused.to_string().contains("order-not-placed-already"),
        "{refused}"
    );
    // In arrival order: the second check's reads come only after the first
    // order was answered, and only one order reached ION.
    let kinds: Vec<&str> = ion
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| {
            if r.method.as_str() == "POST" {
                "post"
            } else {
                "get"
            }
        })
        .collect();
    let first_post = kinds.iter().position(|k| *k == "post").expect("a post");
    assert!(first_post >= 2, "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "post").count(),
        1,
        "{kinds:?}"
    );
    assert!(
        kinds.len() > first_post + 1,
        "the retry was checked: {kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_mode_forwards_a_blocked_order_and_logs_it_beside_ions_answer() {
    let ion = fake_ion("ACTIVE", Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.ndjson");
    let base = start_proxy(ProxyConfig {
        decision_log: Some(log.clone()),
        ..proxy_config(&ion.uri(), Mode::Audit)
    })
    .await;
    let (status, headers, _) = post_json(
        &format!("{base}{ORDERS}"),
        &order_without_domain().to_string(),
        Some("at"),
    )
    .await;
    assert_eq!(status, 200, "ION's answer comes back");
    assert_eq!(
        headers.get("x-ion-preflight-verdict").map(|v| v.as_bytes()),
        Some(&b"blocked"[..])
    );
    assert_eq!(posts(&ion).await.len(), 1);
    let text = std::fs::read_to_string(&log).expect("log");
    let entry: Value = serde_json::from_str(text.lines().next().expect("a line")).expect("json");
    assert_eq!(entry["mode"], "audit");
    assert_eq!(entry["verdict"], "blocked");
    assert_eq!(entry["ion_status"], 200);
    assert_eq!(entry["assessment"], "false-block");
    assert!(!text.contains("megan.bowen@contoso.com"), "{text}");
}

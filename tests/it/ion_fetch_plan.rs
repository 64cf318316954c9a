//! The fetch plan: only what the rules need, independent resources at once,
//! failures turned into facts or unavailability.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ion_preflight::CheckRequest;
use ion_preflight::context::{Fetched, Needs};
use ion_preflight::ion::IonClient;
use ion_preflight::source::Source;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Barrier;
use wiremock::matchers::{path, path_regex};
use wiremock::{MockServer, ResponseTemplate};

use crate::ion_support::*;

async fn mount_ok(server: &MockServer, customer: u64, products: &[&str]) {
    mount_customer(server, customer).await;
    for p in products {
        mount_get(
            server,
            path(product_path(ACCOUNT, p)),
            ok_json(product_body(ACCOUNT, p)),
            None,
        )
        .await;
    }
}

fn paths_requested(requests: &[wiremock::Request]) -> Vec<String> {
    let mut p: Vec<String> = requests.iter().map(|r| r.url.path().to_owned()).collect();
    p.sort();
    p
}

#[tokio::test]
async fn rules_without_products_cause_no_product_requests() {
    let server = MockServer::start().await;
    mount_ok(&server, CUSTOMER, &["P1", "P2"]).await;
    let source = Source::from(client_with_access(&server, "at-1"));
    let req = CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order(&["P1", "P2"]));
    let needs = Needs {
        products: false,
        ..all_needs()
    };
    let ctx = source.fetch(&req, needs).await;
    assert!(ctx.products.is_empty());
    assert!(ctx.order.is_some());
    let requested = paths_requested(&server.received_requests().await.expect("recording"));
    assert_eq!(
        requested,
        vec![
            customer_path(ACCOUNT, CUSTOMER),
            profiles_path(ACCOUNT, CUSTOMER)
        ]
    );
}

#[tokio::test]
async fn only_products_are_fetched_when_only_products_are_needed_and_each_once() {
    let server = MockServer::start().await;
    mount_ok(&server, CUSTOMER, &["P1", "P2"]).await;
    let source = Source::from(client_with_access(&server, "at-1"));
    let req = CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order(&["P2", "P1", "P2"]));
    let needs = Needs {
        products: true,
        order: true,
        ..Needs::default()
    };
    let ctx = source.fetch(&req, needs).await;
    let requested = paths_requested(&server.received_requests().await.expect("recording"));
    assert_eq!(
        requested,
        vec![product_path(ACCOUNT, "P1"), product_path(ACCOUNT, "P2")]
    );
    assert_eq!(ctx.products.keys().collect::<Vec<_>>(), ["P1", "P2"]);
    assert_eq!(
        ctx.products["P1"].value().and_then(|v| v.get("id")),
        Some(&json!("P1"))
    );
    // Not needed, not fetched: a rule reading it would fail closed.
    assert!(matches!(ctx.customer, Fetched::Unavailable { .. }));
}

#[tokio::test]
async fn nothing_is_requested_when_nothing_is_needed() {
    let server = MockServer::start().await;
    mount_ok(&server, CUSTOMER, &["P1"]).await;
    let source = Source::from(client_with_access(&server, "at-1"));
    let req = CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order(&["P1"]));
    let _ = source.fetch(&req, Needs::default()).await;
    assert!(
        server
            .received_requests()
            .await
            .expect("recording")
            .is_empty()
    );
}

/// A loopback HTTP server that holds every request until `expected`
/// requests have arrived, then answers them all. A client fetching one
/// resource after another never gets its first answer (it times out), so a
/// complete context proves the requests were in flight together.
async fn barrier_server(expected: usize, routes: HashMap<String, Value>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let barrier = Arc::new(Barrier::new(expected));
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let barrier = barrier.clone();
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                barrier.wait().await;
                let (status, body) = match routes.get(&target) {
                    Some(v) => ("200 OK", v.to_string()),
                    None => (
                        "404 Not Found",
                        envelope(404, "NOT_FOUND", "no route").to_string(),
                    ),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_profiles_and_products_are_fetched_concurrently() {
    let mut routes = HashMap::new();
    routes.insert(
        customer_path(ACCOUNT, CUSTOMER),
        customer_body(ACCOUNT, CUSTOMER),
    );
    routes.insert(profiles_path(ACCOUNT, CUSTOMER), profiles_body(CUSTOMER));
    routes.insert(product_path(ACCOUNT, "P1"), product_body(ACCOUNT, "P1"));
    routes.insert(product_path(ACCOUNT, "P2"), product_body(ACCOUNT, "P2"));
    let base = barrier_server(4, routes).await;
    let client = IonClient::builder()
        .base_url(&base)
        .access_token(SecretString::from("at-1"))
        .request_timeout(Duration::from_secs(3))
        .max_attempts(1)
        .build()
        .expect("client");
    let req = CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order(&["P1", "P2"]));
    let ctx = tokio::time::timeout(
        Duration::from_secs(30),
        Source::from(client).fetch(&req, all_needs()),
    )
    .await
    .expect("the fetch ends");
    assert!(
        matches!(ctx.customer, Fetched::Present { .. }),
        "{:?}",
        ctx.customer
    );
    assert!(
        matches!(ctx.cloud_profiles, Fetched::Present { .. }),
        "{:?}",
        ctx.cloud_profiles
    );
    for p in ["P1", "P2"] {
        assert!(
            matches!(ctx.products[p], Fetched::Present { .. }),
            "{p}: {:?}",
            ctx.products[p]
        );
    }
}

#[tokio::test]
async fn answers_become_facts_or_unavailability() {
    let server = MockServer::start().await;
    for (matcher, answer) in [
        (
            path(customer_path(ACCOUNT, 404)),
            ion_error(
                404,
                "NOT_FOUND",
                "resource 'accounts/1001/customers/404' not found",
            ),
        ),
        (
            path(profiles_path(ACCOUNT, 404)),
            ion_error(500, "INTERNAL_ERROR", "Internal Server Error"),
        ),
    ] {
        mount_get(&server, matcher, answer, None).await;
    }
    for (product, answer) in [
        ("GOOD", ok_json(product_body(ACCOUNT, "GOOD"))),
        (
            "BAD",
            ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
        ),
        (
            "GONE",
            ion_error(404, "NOT_FOUND", "listing GONE not found"),
        ),
    ] {
        mount_get(
            &server,
            path_regex(format!("/products/{product}$")),
            answer,
            None,
        )
        .await;
    }
    let source = Source::from(client_with_access(&server, "at-1"));
    let req = CheckRequest::new(ACCOUNT, 404).with_order(order(&["GOOD", "BAD", "GONE"]));
    let ctx = source.fetch(&req, all_needs()).await;
    assert_eq!(ctx.customer, Fetched::Absent);
    let Fetched::Unavailable { reason } = &ctx.cloud_profiles else {
        panic!("{:?}", ctx.cloud_profiles)
    };
    assert_eq!(
        reason,
        "ION failed on GET /api/v3/accounts/1001/customers/404/cloudProfiles with HTTP 500 after 4 attempt(s): Internal Server Error"
    );
    assert!(matches!(ctx.products["GOOD"], Fetched::Present { .. }));
    assert!(matches!(ctx.products["BAD"], Fetched::Unavailable { .. }));
    assert_eq!(ctx.products["GONE"], Fetched::Absent);
}

#[tokio::test]
async fn the_context_holds_the_profiles_array_and_the_whole_customer() {
    let server = MockServer::start().await;
    mount_ok(&server, CUSTOMER, &[]).await;
    mount_get(
        &server,
        path(profiles_path(ACCOUNT, 7)),
        ok_json(json!({"customerId": "7"})),
        None,
    )
    .await;
    let source = Source::from(client_with_access(&server, "at-1"));
    let ctx = source
        .fetch(&CheckRequest::new(ACCOUNT, CUSTOMER), all_needs())
        .await;
    assert_eq!(
        ctx.customer.value(),
        Some(&customer_body(ACCOUNT, CUSTOMER)),
        "unknown fields reach the rules"
    );
    assert_eq!(
        ctx.cloud_profiles.value(),
        Some(&profiles_body(CUSTOMER)["customerCloudProfiles"])
    );
    // ION omits empty arrays: no field means no profiles.
    let ctx = source
        .fetch(
            &CheckRequest::new(ACCOUNT, 7),
            Needs {
                cloud_profiles: true,
                ..Needs::default()
            },
        )
        .await;
    assert_eq!(ctx.cloud_profiles.value(), Some(&json!([])));
}

#[tokio::test]
async fn a_check_timeout_keeps_what_arrived_and_marks_the_rest_unavailable() {
    let server = MockServer::start().await;
    mount_customer_record(&server, CUSTOMER).await;
    mount_get(
        &server,
        path(profiles_path(ACCOUNT, CUSTOMER)),
        ok_json(profiles_body(CUSTOMER)).set_delay(Duration::from_secs(10)),
        None,
    )
    .await;
    let source = Source::from(client_with_access(&server, "at-1"));
    let ctx = source
        .fetch_within(
            &CheckRequest::new(ACCOUNT, CUSTOMER),
            Needs {
                customer: true,
                cloud_profiles: true,
                ..Needs::default()
            },
            Some(Duration::from_millis(300)),
        )
        .await;
    assert!(
        matches!(ctx.customer, Fetched::Present { .. }),
        "{:?}",
        ctx.customer
    );
    assert_eq!(
        ctx.cloud_profiles,
        Fetched::unavailable(
            "the cloud profiles could not be obtained within the check timeout of 0.3s"
        )
    );
}

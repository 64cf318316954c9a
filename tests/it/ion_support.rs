//! Helpers shared by the ION tests: client builders with tiny backoff,
//! ION-shaped bodies.

use std::time::Duration;

use ion_preflight::context::Needs;
use ion_preflight::ion::{IonClient, IonClientBuilder, IonError};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_string, header, method, path, query_param, query_param_is_missing};
use wiremock::{Match, Mock, MockServer, ResponseTemplate};

pub const ACCOUNT: u64 = 1001;
pub const CUSTOMER: u64 = 2002;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A loopback base URL nobody listens on.
pub fn closed_port_url() -> String {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    format!("http://127.0.0.1:{port}")
}

/// A builder pointed at `server` with tiny backoff so retry tests stay fast.
pub fn builder(server: &MockServer) -> IonClientBuilder {
    IonClient::builder()
        .base_url(&server.uri())
        .backoff(ms(1), ms(5))
        .request_timeout(Duration::from_secs(5))
        .max_attempts(4)
}

/// A client with a ready access token.
pub fn client_with_access(server: &MockServer, token: &str) -> IonClient {
    builder(server)
        .access_token(SecretString::from(token.to_owned()))
        .build()
        .expect("client builds")
}

pub fn customer_path(a: u64, c: u64) -> String {
    format!("/api/v3/accounts/{a}/customers/{c}")
}

pub fn profiles_path(a: u64, c: u64) -> String {
    format!("/api/v3/accounts/{a}/customers/{c}/cloudProfiles")
}

pub fn product_path(a: u64, p: &str) -> String {
    format!("/api/v3/accounts/{a}/products/{p}")
}

pub fn customer_body(a: u64, c: u64) -> Value {
    json!({
        "name": format!("accounts/{a}/customers/{c}"),
        "customerOrganization": "Contoso Ltd",
        "customerAddress": {"street": "1 Microsoft Way", "city": "Redmond", "state": "WA", "zip": "98052", "country": "US"},
        "customerName": "Megan Bowen",
        "customerEmail": "megan.bowen@contoso.com",
        "customerStatus": "ACTIVE",
        "createTime": "2023-03-02T14:05:11Z",
        "aFieldIonAddedLater": {"kept": true}
    })
}

pub fn profiles_body(c: u64) -> Value {
    json!({
        "customerId": c.to_string(),
        "customerOrganization": "Contoso Ltd",
        "customerCloudProfiles": [{
            "providerId": "3",
            "displayName": "Microsoft",
            "shortName": "MICROSOFT",
            "enabled": true,
            "customerTenantId": "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f",
            "gdapStatus": "ACTIVE"
        }]
    })
}

pub fn product_body(a: u64, p: &str) -> Value {
    json!({
        "name": format!("accounts/{a}/products/{p}"),
        "id": p,
        "type": "SUBSCRIPTION_PRODUCTS",
        "marketing": {"displayName": format!("Product {p}")},
        "definition": {"skus": [{"id": format!("{p}:0001"), "productCloudProviderName": "Microsoft"}]}
    })
}

/// ION's error envelope.
pub fn envelope(code: u16, error: &str, message: &str) -> Value {
    json!({
        "code": code,
        "error": error,
        "message": message,
        "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "176efaa5115cd4d84048"}]
    })
}

/// ION's error envelope answered with the same HTTP status.
pub fn ion_error(code: u16, error: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(envelope(code, error, message))
}

/// ION's 403 for an account these credentials may not see.
pub fn account_denied() -> ResponseTemplate {
    ion_error(
        403,
        "PERMISSION_DENIED",
        "permission denied to access accounts/1001",
    )
}

/// A 200 answer with `body` as JSON.
pub fn ok_json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// Mounts `answer` for the GETs `matcher` picks (`wiremock::matchers::any()`
/// for every GET); with `times`, exactly that many must arrive.
pub async fn mount_get(
    server: &MockServer,
    matcher: impl Match + 'static,
    answer: ResponseTemplate,
    times: impl Into<Option<u64>>,
) {
    let mock = Mock::given(method("GET")).and(matcher).respond_with(answer);
    let mock = match times.into() {
        Some(n) => mock.expect(n),
        None => mock,
    };
    mock.mount(server).await;
}

/// Mounts `POST /oauth/token` answering `token_answer(access, refresh,
/// 7200)`; with `times`, exactly that many must arrive.
pub async fn mount_token(
    server: &MockServer,
    access: &str,
    refresh: &str,
    times: impl Into<Option<u64>>,
) {
    let mock = Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ok_json(token_answer(access, refresh, 7200)));
    let mock = match times.into() {
        Some(n) => mock.expect(n),
        None => mock,
    };
    mock.mount(server).await;
}

/// Mounts the one refresh of `rt-1` (a form POST) that must arrive, answered
/// `at-new` / `rt-2` after 200 ms: slow enough that concurrent checks all
/// wait for it.
pub async fn mount_slow_refresh(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("grant_type=refresh_token&refresh_token=rt-1"))
        .respond_with(ok_json(token_answer("at-new", "rt-2", 7200)).set_delay(ms(200)))
        .expect(1)
        .mount(server)
        .await;
}

/// Mounts `customer`'s record and cloud profiles (ION-shaped, any number of
/// times).
pub async fn mount_customer(server: &MockServer, customer: u64) {
    mount_customer_record(server, customer).await;
    mount_profiles(server, customer).await;
}

/// Mounts `customer`'s record (any number of times).
pub async fn mount_customer_record(server: &MockServer, customer: u64) {
    mount_get(
        server,
        path(customer_path(ACCOUNT, customer)),
        ok_json(customer_body(ACCOUNT, customer)),
        None,
    )
    .await;
}

/// Mounts `ACCOUNT`'s customer listing in pages of `page_size`, each page
/// asked exactly once with `Bearer {bearer}`: `pages` pairs the page token a
/// request carries (`None`: the first request, without one) with the body
/// answered.
pub async fn mount_listing(
    server: &MockServer,
    bearer: &str,
    page_size: u32,
    pages: &[(Option<&str>, Value)],
) {
    let list = format!("/api/v3/accounts/{ACCOUNT}/customers");
    for (token, body) in pages {
        let mock = Mock::given(method("GET"))
            .and(path(list.as_str()))
            .and(query_param("pageSize", page_size.to_string().as_str()))
            .and(header("authorization", format!("Bearer {bearer}").as_str()));
        let mock = match token {
            Some(t) => mock.and(query_param("pageToken", *t)),
            None => mock.and(query_param_is_missing("pageToken")),
        };
        mock.respond_with(ok_json(body.clone()))
            .expect(1)
            .mount(server)
            .await;
    }
}

/// Every fact a check can need.
pub fn all_needs() -> Needs {
    Needs {
        customer: true,
        cloud_profiles: true,
        products: true,
        order: true,
        ..Needs::default()
    }
}

/// Mounts `customer`'s cloud profiles (any number of times).
pub async fn mount_profiles(server: &MockServer, customer: u64) {
    mount_get(
        server,
        path(profiles_path(ACCOUNT, customer)),
        ok_json(profiles_body(customer)),
        None,
    )
    .await;
}

/// Mounts `failure` for the first `failures` GETs (each expected), then the
/// customer for exactly one more.
pub async fn fails_then_customer(server: &MockServer, failure: ResponseTemplate, failures: u64) {
    Mock::given(method("GET"))
        .respond_with(failure)
        .up_to_n_times(failures)
        .with_priority(1)
        .expect(failures)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ok_json(customer_body(ACCOUNT, CUSTOMER)))
        .with_priority(2)
        .expect(1)
        .mount(server)
        .await;
}

/// The error `client_with_access(server, "at-1")` gets for the customer.
pub async fn customer_error(server: &MockServer) -> IonError {
    client_with_access(server, "at-1")
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect_err("fetching the customer fails")
}

/// `POST /oauth/token`'s answer.
pub fn token_answer(access: &str, refresh: &str, expires_in: u64) -> Value {
    json!({"access_token": access, "expires_in": expires_in, "refresh_token": refresh, "token_type": "Bearer"})
}

/// An NCE-ish order over `products`.
pub fn order(products: &[&str]) -> Value {
    let items: Vec<Value> = products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "referenceId": format!("item-{i}"),
                "action": "CREATE",
                "productId": p,
                "skuId": format!("{p}:0001"),
                "planId": format!("{p}:0001:P1Y:M"),
                "quantity": 5,
                "providerName": "AZURE",
                "attributes": [{"name": "domainName", "value": "contoso.onmicrosoft.com"}]
            })
        })
        .collect();
    json!({"referenceId": "o-1", "orderItems": items})
}

/// Answers a product GET from the demo snapshot's catalog
/// (`fixtures/demo/accounts/1001/products/<id>.json`), ION's 404 envelope
/// for a product it does not have.
struct DemoCatalog;

impl wiremock::Respond for DemoCatalog {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let id = req.url.path().rsplit('/').next().unwrap_or_default();
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/demo/accounts/1001/products")
            .join(format!("{id}.json"));
        match std::fs::read(&file) {
            Ok(body) => ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_bytes(body),
            Err(_) => ion_error(404, "NOT_FOUND", "product not found"),
        }
    }
}

/// Mounts, below any mock a test mounts itself, what the built-in set's
/// catalog, subscription and placed-order rules read for account `a`: the
/// demo catalog's products, no subscriptions and no orders placed yet.
pub async fn mount_catalog(server: &MockServer, a: u64) {
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(format!(
            r"^/api/v3/accounts/{a}/products/[^/]+$"
        )))
        .respond_with(DemoCatalog)
        .with_priority(8)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/accounts/{a}/subscriptions")))
        .respond_with(ok_json(json!({"items": [], "totalCount": "0"})))
        .with_priority(8)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/accounts/{a}/orders")))
        .respond_with(ok_json(json!({"orders": []})))
        .with_priority(8)
        .mount(server)
        .await;
}

/// Asserts that `server` saw no request at all (the run stopped before
/// talking to ION).
pub async fn assert_no_request(server: &MockServer) {
    let seen = server.received_requests().await.expect("recorded");
    assert!(
        seen.is_empty(),
        "a request was made: {:?}",
        seen.first().map(|r| r.url.to_string())
    );
}

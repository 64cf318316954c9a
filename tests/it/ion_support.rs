//! Helpers shared by the ION tests: client builders with tiny backoff,
//! ION-shaped bodies.

use std::time::Duration;

use ion_preflight::ion::{IonClient, IonClientBuilder};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

pub const ACCOUNT: u64 = 1001;
pub const CUSTOMER: u64 = 2002;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
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

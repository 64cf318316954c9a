//! Issue 16's fetches over real HTTP: products, the subscriptions an UPDATE
//! names, the customer's subscription scan and its placed orders. Each
//! resource once per check, all of them at once, hostile ids never steering
//! a request to another resource, faults failing closed, and one product
//! fetch per run when one `Preflight` checks many customers.

use std::collections::BTreeMap;
use std::time::Duration;

use ion_preflight::context::{Fetched, Needs};
use ion_preflight::source::Source;
use ion_preflight::{CheckRequest, Outcome, Preflight, RuleSet, Verdict};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer};

use crate::ion_support::*;

fn every_list() -> Needs {
    Needs {
        subscriptions: true,
        customer_subscriptions: true,
        placed_orders: true,
        ..all_needs()
    }
}

/// An order of CREATEs of `products` plus UPDATEs of `updates` (resource ids).
fn order_with_updates(products: &[&str], updates: &[&str]) -> Value {
    let mut o = order(products);
    let items = o["orderItems"].as_array_mut().expect("items");
    for (i, r) in updates.iter().enumerate() {
        items.push(
            json!({"referenceId": format!("up-{i}"), "action": "UPDATE", "resourceId": r,
            "productId": "P1", "skuId": "P1:0001", "planId": "P1:0001:P1Y:M", "quantity": 7,
            "attributes": []}),
        );
    }
    o
}

/// Every request the server saw, as `METHOD path?query` in arrival order.
async fn seen(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recording")
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{} {}?{q}", r.method, r.url.path()),
            None => format!("{} {}", r.method, r.url.path()),
        })
        .collect()
}

fn count(seen: &[String], prefix: &str) -> usize {
    seen.iter().filter(|s| s.starts_with(prefix)).count()
}

/// The customer, its profiles and the catalog of `products`, every
/// subscription lookup finding one active subscription of the customer,
/// and empty scans.
async fn account(products: &[&str]) -> MockServer {
    let server = MockServer::start().await;
    mount_customer(&server, CUSTOMER).await;
    mount_products(&server, products).await;
    server
}

/// `products` in the catalog (answered any number of times), the demo
/// catalog behind them, and empty scans.
async fn mount_products(server: &MockServer, products: &[&str]) {
    for p in products {
        mount_get(
            server,
            path(product_path(ACCOUNT, p)),
            ok_json(product_body(ACCOUNT, p)),
            None,
        )
        .await;
    }
    mount_catalog(server, ACCOUNT).await;
}

#[tokio::test]
async fn each_product_and_subscription_is_requested_once_per_check() {
    let server = account(&["P1", "P2"]).await;
    let source = Source::from(client_with_access(&server, "at-1"));
    let order = order_with_updates(&["P1", "P2", "P1", "P2", "P1"], &["S1", "S2", "S1"]);
    let req = CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order);
    let ctx = source.fetch(&req, every_list()).await;
    let seen = seen(&server).await;
    let base = format!("GET /api/v3/accounts/{ACCOUNT}");
    assert_eq!(count(&seen, &format!("{base}/products/P1")), 1, "{seen:#?}");
    assert_eq!(count(&seen, &format!("{base}/products/P2")), 1, "{seen:#?}");
    // The lookups by id name no customer: another customer's subscription
    // must be found to be reported.
    for s in ["S1", "S2"] {
        let lookups: Vec<&String> = seen
            .iter()
            .filter(|r| {
                r.contains(&format!("subscriptionId={s}&"))
                    || r.ends_with(&format!("subscriptionId={s}"))
            })
            .collect();
        assert_eq!(lookups.len(), 1, "{s}: {seen:#?}");
        assert!(!lookups[0].contains("customerId"), "{}", lookups[0]);
    }
    // One scan each, of this customer, newest orders first.
    let scans: Vec<&String> = seen
        .iter()
        .filter(|r| r.contains("customerId=2002"))
        .collect();
    assert_eq!(scans.len(), 1, "{seen:#?}");
    let orders: Vec<&String> = seen
        .iter()
        .filter(|r| r.starts_with(&format!("{base}/orders?")))
        .collect();
    assert_eq!(orders.len(), 1, "{seen:#?}");
    assert!(
        orders[0].contains("filter.customerIdList=2002"),
        "{}",
        orders[0]
    );
    assert!(orders[0].contains("sortOrder=DESC"), "{}", orders[0]);
    // Customer, profiles, 2 products, 2 lookups, 2 scans: nothing else.
    assert_eq!(seen.len(), 8, "{seen:#?}");
    assert!(
        matches!(ctx.placed_orders, Fetched::Present { .. }),
        "{:?}",
        ctx.placed_orders
    );
    assert!(
        matches!(ctx.customer_subscriptions, Fetched::Present { .. }),
        "{:?}",
        ctx.customer_subscriptions
    );
}

#[tokio::test]
async fn hostile_ids_never_reach_another_resource() {
    let server = account(&[]).await;
    // Anything that is not one of the mounts below is a 500, so a request
    // steered elsewhere would also show in the context.
    Mock::given(method("GET"))
        .respond_with(ion_error(500, "INTERNAL", "steered"))
        .with_priority(15)
        .mount(&server)
        .await;
    let source = Source::from(client_with_access(&server, "at-1"));
    let products = [
        ".",
        "..",
        "a/b",
        "P?x=1",
        "P#f",
        "%2e%2e",
        "../customers/3003",
    ];
    let updates = [
        "S&customerId=3003",
        "S#x",
        "../customers",
        "S=1&subscriptionId=T",
    ];
    let req =
        CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order_with_updates(&products, &updates));
    let ctx = source.fetch(&req, every_list()).await;
    let requests = server.received_requests().await.expect("recording");
    let account_path = format!("/api/v3/accounts/{ACCOUNT}");
    for r in &requests {
        let p = r.url.path();
        let allowed = p == customer_path(ACCOUNT, CUSTOMER)
            || p == profiles_path(ACCOUNT, CUSTOMER)
            || p == format!("{account_path}/subscriptions")
            || p == format!("{account_path}/orders")
            || (p.starts_with(&format!("{account_path}/products/")) && p.matches('/').count() == 6);
        assert!(allowed, "a request went to {p}");
        if p.ends_with("/subscriptions") {
            // Exactly one selector: the id, as given, or the customer scan.
            let pairs: Vec<(String, String)> = r
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let ids: Vec<&String> = pairs
                .iter()
                .filter(|(k, _)| k == "subscriptionId")
                .map(|(_, v)| v)
                .collect();
            let customers: Vec<&String> = pairs
                .iter()
                .filter(|(k, _)| k == "customerId")
                .map(|(_, v)| v)
                .collect();
            assert_eq!(ids.len() + customers.len(), 1, "{:?}", r.url);
            if let Some(id) = ids.first() {
                assert!(updates.contains(&id.as_str()), "{id}");
            } else {
                assert_eq!(customers, ["2002"]);
            }
        }
    }
    // `.` and `..` are never requested (a URL cannot carry them as data):
    // their products are unavailable, never absent.
    for p in [".", ".."] {
        assert!(
            matches!(ctx.products[p], Fetched::Unavailable { .. }),
            "{p}: {:?}",
            ctx.products[p]
        );
    }
    assert!(
        !requests
            .iter()
            .any(|r| r.url.path() == format!("{account_path}/products"))
    );
    // The rest were asked for, each as one path segment: not found.
    for p in ["a/b", "P?x=1", "P#f", "%2e%2e", "../customers/3003"] {
        assert!(
            matches!(ctx.products[p], Fetched::Absent),
            "{p}: {:?}",
            ctx.products[p]
        );
    }
}

#[tokio::test]
async fn a_check_with_every_new_rule_is_one_round_trip() {
    // Every answer takes 300 ms: fetched one after another, the seven
    // resources take 2.1 s; at once, about 0.3 s. The check timeout sits
    // between (1.2 s), so a sequential plan would leave most unavailable.
    let server = MockServer::start().await;
    let delay = Duration::from_millis(300);
    let slow = |body: Value| ok_json(body).set_delay(delay);
    for (p, body) in [
        (
            customer_path(ACCOUNT, CUSTOMER),
            customer_body(ACCOUNT, CUSTOMER),
        ),
        (profiles_path(ACCOUNT, CUSTOMER), profiles_body(CUSTOMER)),
        (product_path(ACCOUNT, "P1"), product_body(ACCOUNT, "P1")),
        (product_path(ACCOUNT, "P2"), product_body(ACCOUNT, "P2")),
        (
            format!("/api/v3/accounts/{ACCOUNT}/orders"),
            json!({"orders": []}),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(slow(body))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/accounts/{ACCOUNT}/subscriptions")))
        .respond_with(slow(json!({"items": [], "totalCount": "0"})))
        .mount(&server)
        .await;
    let preflight = Preflight::new(client_with_access(&server, "at-1"), RuleSet::builtin())
        .with_check_timeout(Duration::from_millis(1200));
    let req =
        CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order_with_updates(&["P1", "P2"], &["S1"]));
    let report = preflight.check(req).await;
    let errors: Vec<(&str, Option<&str>)> = report
        .results()
        .iter()
        .filter(|r| r.outcome == Outcome::Error)
        .map(|r| (r.rule.as_str(), r.message.as_deref()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(seen(&server).await.len(), 7);
}

#[tokio::test]
async fn faults_on_the_new_fetches_are_indeterminate_never_blocked() {
    // The product answers 503 (retried, then given up), the order scan 500,
    // the subscription scan a body that is not ION's shape.
    let server = MockServer::start().await;
    mount_customer(&server, CUSTOMER).await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v3/accounts/1001/products/"))
        .respond_with(ion_error(503, "UNAVAILABLE", "maintenance"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/accounts/1001/orders"))
        .respond_with(ion_error(500, "INTERNAL", "boom"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/accounts/1001/subscriptions"))
        .and(query_param("customerId", "2002"))
        .respond_with(ok_json(json!({"items": "not a list"})))
        .mount(&server)
        .await;
    let preflight = Preflight::new(client_with_access(&server, "at-1"), RuleSet::builtin());
    // An order nothing else objects to (the fault test's NCE order).
    let order = crate::faults::order();
    let product = order["orderItems"][0]["productId"]
        .as_str()
        .expect("id")
        .to_owned();
    let req = CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order);
    let report = preflight.check(req.clone()).await;
    let failing: Vec<&str> = report
        .results()
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| r.rule.as_str())
        .collect();
    assert!(failing.is_empty(), "{failing:?}");
    assert_eq!(report.verdict(), Verdict::Indeterminate, "{report:#?}");
    let by_rule: BTreeMap<&str, Outcome> = report
        .results()
        .iter()
        .map(|r| (r.rule.as_str(), r.outcome))
        .collect();
    for rule in [
        "catalog-product-exists",
        "order-not-placed-already",
        "create-duplicates-subscription",
    ] {
        assert_eq!(by_rule[rule], Outcome::Error, "{rule}");
    }
    let seen = seen(&server).await;
    let product_gets = count(
        &seen,
        &format!("GET /api/v3/accounts/1001/products/{product}"),
    );
    assert!(product_gets >= 2, "a transient fault is retried: {seen:#?}");
    // A fault is never cached: the next check asks again.
    let _ = preflight.check(req).await;
    let again = self::seen(&server).await;
    assert!(
        count(
            &again,
            &format!("GET /api/v3/accounts/1001/products/{product}")
        ) > product_gets
    );
}

#[tokio::test]
async fn one_preflight_fetches_each_product_once_for_many_customers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v3/accounts/1001/customers/\d+$"))
        .respond_with(ok_json(customer_body(ACCOUNT, CUSTOMER)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/api/v3/accounts/1001/customers/\d+/cloudProfiles$",
        ))
        .respond_with(ok_json(profiles_body(CUSTOMER)))
        .mount(&server)
        .await;
    // A 404 is an answer, and is kept like a body.
    Mock::given(method("GET"))
        .and(path(product_path(ACCOUNT, "GONE")))
        .respond_with(ion_error(404, "NOT_FOUND", "no such product"))
        .mount(&server)
        .await;
    mount_products(&server, &["P1", "P2"]).await;
    let preflight = std::sync::Arc::new(Preflight::new(
        client_with_access(&server, "at-1"),
        RuleSet::builtin(),
    ));
    let order = order(&["P1", "P2", "GONE"]);
    let checks: Vec<_> = (0..40u64)
        .map(|i| {
            let p = std::sync::Arc::clone(&preflight);
            let req = CheckRequest::new(ACCOUNT, 3000 + i).with_order(order.clone());
            tokio::spawn(async move { p.check(req).await })
        })
        .collect();
    for c in checks {
        let report = c.await.expect("check");
        assert_eq!(
            report.result("catalog-product-exists").map(|r| r.outcome),
            Some(Outcome::Fail),
            "GONE is not in the catalog"
        );
    }
    let seen = seen(&server).await;
    for p in ["P1", "P2", "GONE"] {
        assert_eq!(
            count(&seen, &format!("GET {}", product_path(ACCOUNT, p))),
            1,
            "{p}: {seen:#?}"
        );
    }
    assert_eq!(count(&seen, "GET /api/v3/accounts/1001/orders?"), 40);
}

#[tokio::test]
async fn ids_that_are_no_path_segment_are_never_sent() {
    let server = MockServer::start().await;
    let client = client_with_access(&server, "at-1");
    for id in ["", ".", ".."] {
        let e = client
            .product(ACCOUNT, id)
            .await
            .expect_err("refused before any request");
        assert!(
            matches!(e, ion_preflight::ion::IonError::InvalidId { .. }),
            "{id:?}: {e}"
        );
    }
    assert_no_request(&server).await;
}

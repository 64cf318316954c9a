//! `Preflight::check` end to end: rules decide what is fetched, live data
//! and snapshots feed the same evaluation, failures fail closed.

use std::sync::Arc;
use std::time::Duration;

use ion_preflight::ion::MemoryTokenStore;
use ion_preflight::report::{Outcome, Verdict};
use ion_preflight::rules::{RuleSet, RuleSetLoader};
use ion_preflight::source::SnapshotSource;
use ion_preflight::{CheckRequest, Preflight};
use secrecy::SecretString;
use wiremock::matchers::{any, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ion_support::*;

/// Reads the customer and the cloud profiles, never product details.
const RULES: &str = r#"
rules:
  - id: customer-exists
    title: The customer exists in the account
    severity: error
    assert: { path: customer, exists: true }
    message: "customer {request.customerId} does not exist in account {request.accountId}"
  - id: customer-active
    title: Only active customers can order
    severity: error
    requires: [customer-exists]
    assert: { path: customer.customerStatus, one_of: [ACTIVE, CUSTOMER_STATUS_UNSPECIFIED] }
    message: "{customer.customerOrganization} is {customer.customerStatus}"
  - id: microsoft-tenant
    title: An enabled Microsoft profile with a tenant id
    severity: error
    requires: [customer-exists]
    assert:
      path: cloudProfiles
      as: profile
      some:
        all:
          - { path: profile.displayName, equals: Microsoft }
          - { path: profile.enabled, equals: true }
          - { path: profile.customerTenantId, non_empty: true }
    message: "{customer.customerOrganization} has no enabled Microsoft tenant"
"#;

fn rules() -> RuleSet {
    let rules = RuleSetLoader::new()
        .without_builtin()
        .source("test.yaml", RULES)
        .load()
        .expect("test rules load");
    let needs = rules.needs();
    assert!(needs.customer && needs.cloud_profiles && !needs.products);
    rules
}

fn outcome(report: &ion_preflight::report::Report, id: &str) -> Outcome {
    report
        .result(id)
        .unwrap_or_else(|| panic!("no result for {id}"))
        .outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_checks_share_one_refresh_and_fetch_no_products() {
    let server = MockServer::start().await;
    mount_slow_refresh(&server).await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v3/accounts/1001/customers/\d+$"))
        .and(header("authorization", "Bearer at-new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_body(ACCOUNT, CUSTOMER)))
        .expect(100)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/api/v3/accounts/1001/customers/\d+/cloudProfiles$",
        ))
        .and(header("authorization", "Bearer at-new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(profiles_body(CUSTOMER)))
        .expect(100)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("/products/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(product_body(ACCOUNT, "P1")))
        .expect(0)
        .mount(&server)
        .await;
    let client = builder(&server)
        .refresh_token(SecretString::from("rt-1"))
        .token_store(Arc::new(MemoryTokenStore::new()))
        .build()
        .expect("client");
    let preflight = Preflight::new(client, rules());
    let tasks: Vec<_> = (0..100u64)
        .map(|i| {
            let preflight = preflight.clone();
            tokio::spawn(async move {
                preflight
                    .check(CheckRequest::new(ACCOUNT, 5000 + i).with_order(order(&["P1"])))
                    .await
            })
        })
        .collect();
    for t in tasks {
        let report = t.await.expect("task");
        assert_eq!(report.verdict(), Verdict::Ready, "{report:#?}");
    }
}

#[tokio::test]
async fn a_failed_fetch_makes_the_verdict_indeterminate() {
    let server = MockServer::start().await;
    mount_customer_record(&server, CUSTOMER).await;
    mount_get(
        &server,
        path(profiles_path(ACCOUNT, CUSTOMER)),
        ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        None,
    )
    .await;
    let preflight = Preflight::new(client_with_access(&server, "at-1"), rules());
    let report = preflight.check(CheckRequest::new(ACCOUNT, CUSTOMER)).await;
    assert_eq!(outcome(&report, "customer-exists"), Outcome::Pass);
    assert_eq!(outcome(&report, "customer-active"), Outcome::Pass);
    assert_eq!(outcome(&report, "microsoft-tenant"), Outcome::Error);
    assert_eq!(report.verdict(), Verdict::Indeterminate);
}

#[tokio::test]
async fn an_unknown_customer_is_a_fact_that_blocks() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        path_regex("^/api/v3/accounts/1001/customers/9"),
        ion_error(
            404,
            "NOT_FOUND",
            "resource 'accounts/1001/customers/9' not found",
        ),
        None,
    )
    .await;
    let preflight = Preflight::new(client_with_access(&server, "at-1"), rules());
    let report = preflight.check(CheckRequest::new(ACCOUNT, 9)).await;
    assert_eq!(outcome(&report, "customer-exists"), Outcome::Fail);
    assert_eq!(report.verdict(), Verdict::Blocked);
}

#[tokio::test]
async fn a_check_timeout_fails_closed() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ok_json(customer_body(ACCOUNT, CUSTOMER)).set_delay(Duration::from_secs(10)),
        None,
    )
    .await;
    let preflight =
        Preflight::new(client_with_access(&server, "at-1"), rules()).with_check_timeout(ms(200));
    let report = preflight.check(CheckRequest::new(ACCOUNT, CUSTOMER)).await;
    assert_eq!(outcome(&report, "customer-exists"), Outcome::Error);
    assert_eq!(report.verdict(), Verdict::Indeterminate);
}

#[tokio::test]
async fn the_demo_snapshot_gives_the_expected_verdicts() {
    let demo = SnapshotSource::open(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo"))
        .expect("demo snapshot");
    let preflight = Preflight::new(demo, rules());
    let verdict = |c| {
        let preflight = preflight.clone();
        async move { preflight.check(CheckRequest::new(1001, c)).await }
    };
    let ready = verdict(2002).await;
    assert_eq!(ready.verdict(), Verdict::Ready, "{ready:#?}");
    let inactive = verdict(2003).await;
    assert_eq!(outcome(&inactive, "customer-active"), Outcome::Fail);
    let no_tenant = verdict(2004).await;
    assert_eq!(outcome(&no_tenant, "microsoft-tenant"), Outcome::Fail);
    assert_eq!(outcome(&no_tenant, "customer-active"), Outcome::Pass);
    // 9999: the snapshot recorded ION's 404.
    let unknown = verdict(9999).await;
    assert_eq!(outcome(&unknown, "customer-exists"), Outcome::Fail);
    assert_eq!(outcome(&unknown, "customer-active"), Outcome::Skip);
    // 2005: nothing recorded, so nothing is known.
    let unrecorded = verdict(2005).await;
    assert_eq!(outcome(&unrecorded, "customer-exists"), Outcome::Error);
    assert_eq!(unrecorded.verdict(), Verdict::Indeterminate);
}

/// Issue 13, class 7 over real HTTP: ION's 404 for the cloud profiles, a
/// 200 without `customerCloudProfiles` and a 200 with an empty list are one
/// fact ("the customer has no cloud profiles"), so every quantifier answers
/// the same on all three: `none` and `every` true, `some` false.
#[tokio::test]
async fn no_cloud_profiles_is_one_fact_however_ion_says_it() {
    const QUANTIFIERS: &str = r#"
rules:
  - id: no-disabled-profile
    title: No disabled profile
    severity: error
    assert: { path: cloudProfiles, as: p, none: { path: p.enabled, equals: false } }
    message: "a profile is disabled"
  - id: every-profile-enabled
    title: Every profile enabled
    severity: error
    assert: { path: cloudProfiles, as: p, every: { path: p.enabled, equals: true } }
    message: "a profile is disabled"
  - id: some-profile
    title: Some profile
    severity: warning
    assert: { path: cloudProfiles, as: p, some: { path: p.enabled, exists: true } }
    message: "no profile"
"#;
    let rules = RuleSetLoader::new()
        .without_builtin()
        .source("quantifiers.yaml", QUANTIFIERS)
        .load()
        .expect("rules load");
    let answers = [
        (
            "404",
            ion_error(404, "NOT_FOUND", "no cloud profiles for this customer"),
        ),
        (
            "200 without the list",
            ok_json(serde_json::json!({ "customerId": CUSTOMER.to_string() })),
        ),
        (
            "200 with an empty list",
            ok_json(
                serde_json::json!({ "customerId": CUSTOMER.to_string(), "customerCloudProfiles": [] }),
            ),
        ),
    ];
    for (what, answer) in answers {
        let server = MockServer::start().await;
        mount_customer_record(&server, CUSTOMER).await;
        mount_get(&server, path(profiles_path(ACCOUNT, CUSTOMER)), answer, 1).await;
        let preflight = Preflight::new(client_with_access(&server, "at-1"), rules.clone());
        let report = preflight.check(CheckRequest::new(ACCOUNT, CUSTOMER)).await;
        assert_eq!(
            [
                outcome(&report, "no-disabled-profile"),
                outcome(&report, "every-profile-enabled"),
                outcome(&report, "some-profile"),
            ],
            [Outcome::Pass, Outcome::Pass, Outcome::Fail],
            "{what}: {report:#?}"
        );
        assert_eq!(report.verdict(), Verdict::Ready, "{what}");
    }
}

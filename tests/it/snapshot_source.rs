//! The snapshot source over `fixtures/demo`, broken snapshots, and recording
//! a snapshot from a live-shaped server.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use ion_preflight::context::Fetched;
use ion_preflight::rules::RuleSet;
use ion_preflight::source::record_snapshot as record;
use ion_preflight::source::{SnapshotError, SnapshotSource, Source, SourceError};
use ion_preflight::{CheckRequest, Preflight};
use serde_json::{Value, json};
use wiremock::MockServer;
use wiremock::matchers::{any, path};

use crate::ion_support::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn demo() -> Source {
    SnapshotSource::open(fixtures().join("demo"))
        .expect("demo snapshot")
        .into()
}

fn nce_order() -> Value {
    let text = std::fs::read_to_string(fixtures().join("orders/nce-order.json")).expect("order");
    serde_json::from_str(&text).expect("order JSON")
}

#[test]
fn opening_a_missing_directory_fails_with_its_path() {
    let e = SnapshotSource::open("/no/such/snapshot").expect_err("missing");
    assert_eq!(
        e.to_string(),
        "snapshot directory /no/such/snapshot does not exist or is not a directory"
    );
}

#[tokio::test]
async fn the_demo_snapshot_serves_a_ready_nce_customer() {
    let req = CheckRequest::new(1001, 2002).with_order(nce_order());
    let ctx = demo().fetch(&req, all_needs()).await;
    let customer = ctx.customer.value().expect("customer present");
    assert_eq!(customer["customerOrganization"], "Contoso Ltd");
    assert_eq!(customer["customerStatus"], "ACTIVE");
    let profiles = ctx.cloud_profiles.value().expect("profiles present");
    let microsoft = profiles
        .as_array()
        .expect("an array")
        .iter()
        .find(|p| p["displayName"] == "Microsoft")
        .expect("a Microsoft profile");
    assert_eq!(microsoft["enabled"], true);
    assert_eq!(
        microsoft["customerTenantId"],
        "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f"
    );
    assert_eq!(
        ctx.products.keys().collect::<Vec<_>>(),
        ["CFQ7TTC0LFLZ", "CFQ7TTC0LH18"]
    );
    assert!(
        ctx.products
            .values()
            .all(|p| matches!(p, Fetched::Present { .. }))
    );
}

/// The order body is shared, not copied: the contexts of every check of a
/// batch point at the one order the batch read (`CheckRequest::order` is an
/// `Arc`), and the context's products come from it all the same.
#[tokio::test]
async fn checks_share_one_order_body() {
    let order = std::sync::Arc::new(nce_order());
    let source = demo();
    for customer in [2002, 2003] {
        let req = CheckRequest::new(1001, customer).with_shared_order(order.clone());
        let ctx = source.fetch(&req, all_needs()).await;
        let held = ctx.order.as_ref().expect("the order");
        assert!(std::sync::Arc::ptr_eq(held, &order), "the order was copied");
        assert!(!ctx.order_product_ids().is_empty());
    }
    // The requests and contexts are gone; nothing else kept a handle.
    assert_eq!(std::sync::Arc::strong_count(&order), 1);
}

#[tokio::test]
async fn the_demo_snapshot_has_an_inactive_customer_one_without_tenant_and_an_unknown_one() {
    let source = demo();
    let ctx = source
        .fetch(&CheckRequest::new(1001, 2003), all_needs())
        .await;
    assert_eq!(
        ctx.customer.value().expect("present")["customerStatus"],
        "INACTIVE"
    );

    let ctx = source
        .fetch(&CheckRequest::new(1001, 2004), all_needs())
        .await;
    let profiles = ctx.cloud_profiles.value().expect("present");
    assert!(
        profiles
            .as_array()
            .expect("array")
            .iter()
            .all(|p| p["displayName"] != "Microsoft"),
        "{profiles}"
    );

    // 9999: ION's 404s were recorded (customers/9999.404.json and
    // customers/9999/cloudProfiles.404.json).
    let req =
        CheckRequest::new(1001, 9999).with_order(json!({"orderItems": [{"productId": "NOPE"}]}));
    let ctx = source.fetch(&req, all_needs()).await;
    assert_eq!(ctx.customer, Fetched::Absent);
    assert_eq!(ctx.cloud_profiles, Fetched::Absent);
    // Nothing was recorded for product NOPE: unavailable, never absent.
    let Fetched::Unavailable { reason } = &ctx.products["NOPE"] else {
        panic!("{:?}", ctx.products["NOPE"]);
    };
    assert!(
        reason.starts_with("the snapshot holds no product NOPE of account 1001 (no "),
        "{reason}"
    );

    // 2005 and account 1002: nothing recorded.
    for (account, customer) in [(1001, 2005), (1002, 2002)] {
        let ctx = source
            .fetch(&CheckRequest::new(account, customer), all_needs())
            .await;
        let Fetched::Unavailable { reason } = &ctx.customer else {
            panic!("{:?}", ctx.customer);
        };
        let expected = format!("the snapshot holds no customer {customer} of account {account} (");
        assert!(reason.starts_with(&expected), "{reason}");
    }
}

#[test]
fn a_directory_that_is_no_snapshot_is_refused_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("notes.txt"), "hi").expect("write");
    let e = SnapshotSource::open(dir.path()).expect_err("not a snapshot");
    assert!(matches!(e, SnapshotError::NotASnapshot { .. }), "{e:?}");
    assert!(e.to_string().contains("is not a snapshot directory"), "{e}");
    // A snapshot recorded before the marker existed (accounts/ only) opens.
    std::fs::create_dir(dir.path().join("accounts")).expect("mkdir");
    assert!(SnapshotSource::open(dir.path()).is_ok());
}

#[tokio::test]
async fn the_demo_snapshot_lists_its_customers() {
    let ids: Vec<u64> = demo()
        .list_customers(1001, 100)
        .map(|c| c.expect("listed").id().expect("id"))
        .collect()
        .await;
    assert_eq!(ids, vec![2002, 2003, 2004]);
    let missing: Vec<_> = demo().list_customers(9, 100).collect().await;
    assert!(
        matches!(
            missing.as_slice(),
            [Err(SourceError::Snapshot(SnapshotError::NoListing { .. }))]
        ),
        "{missing:?}"
    );
}

#[tokio::test]
async fn broken_files_are_unavailable_with_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let customers = dir.path().join("accounts/1/customers");
    std::fs::create_dir_all(customers.join("2")).expect("mkdir");
    std::fs::write(
        customers.join("2.json"),
        "{\n  \"name\": \"accounts/1/customers/2\",\n  \"customerStatus\": \n",
    )
    .expect("write");
    std::fs::write(
        customers.join("2/cloudProfiles.json"),
        "{\n  \"customerCloudProfiles\": [\n    {\"enabled\": \"yes\"}\n  ]\n}\n",
    )
    .expect("write");
    let source = Source::from(SnapshotSource::open(dir.path()).expect("open"));
    let ctx = source.fetch(&CheckRequest::new(1, 2), all_needs()).await;
    let file = customers.join("2.json");
    let Fetched::Unavailable { reason } = &ctx.customer else {
        panic!("{:?}", ctx.customer)
    };
    assert_eq!(
        reason,
        &format!(
            "snapshot file {}:4:0: EOF while parsing a value",
            file.display()
        )
    );
    let Fetched::Unavailable { reason } = &ctx.cloud_profiles else {
        panic!("{:?}", ctx.cloud_profiles)
    };
    assert!(reason.contains("cloudProfiles.json:3:21"), "{reason}");
    assert!(reason.contains("expected a boolean"), "{reason}");
}

#[tokio::test]
async fn a_check_runs_end_to_end_over_the_snapshot() {
    let preflight = Preflight::new(
        SnapshotSource::open(fixtures().join("demo")).expect("demo"),
        RuleSet::builtin(),
    );
    let now = jiff::Timestamp::from_second(1_750_000_000).expect("valid");
    let report = preflight
        .check(
            CheckRequest::new(1001, 2002)
                .with_order(nce_order())
                .at(now),
        )
        .await;
    assert_eq!((report.account_id, report.customer_id), (1001, 2002));
    assert_eq!(report.checked_at, now.to_string());
}

#[tokio::test]
async fn a_recorded_snapshot_replays_what_live_ion_served() {
    let server = MockServer::start().await;
    mount_customer(&server, CUSTOMER).await;
    for (product, answer) in [
        ("P1", ok_json(product_body(ACCOUNT, "P1"))),
        ("a%2Fb", ok_json(product_body(ACCOUNT, "a/b"))),
        (
            "GONE",
            ion_error(404, "NOT_FOUND", "listing GONE not found"),
        ),
    ] {
        mount_get(&server, path(product_path(ACCOUNT, product)), answer, None).await;
    }
    let client = client_with_access(&server, "at-1");
    let dir = tempfile::tempdir().expect("tempdir");
    // A stale file for a product that no longer exists is removed.
    let stale = dir.path().join("accounts/1001/products/GONE.json");
    std::fs::create_dir_all(stale.parent().expect("parent")).expect("mkdir");
    std::fs::write(&stale, "{}").expect("write");

    let req = CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order(&["P1", "a/b", "GONE"]));
    let written = record(&client, &req, all_needs(), dir.path())
        .await
        .expect("recorded");
    let mut rel: Vec<String> = written
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .expect("inside")
                .display()
                .to_string()
        })
        .collect();
    rel.sort();
    assert_eq!(
        rel,
        [
            "accounts/1001/customers/2002.json",
            "accounts/1001/customers/2002/cloudProfiles.json",
            "accounts/1001/products/GONE.404.json",
            "accounts/1001/products/P1.json",
            "accounts/1001/products/a%2Fb.json",
        ]
    );
    // The stale body of a product that no longer exists gave way to ION's
    // 404, recorded with its time; the directory is marked a snapshot.
    assert!(!stale.exists());
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("accounts/1001/products/GONE.404.json"))
            .expect("404 record"),
    )
    .expect("JSON");
    assert_eq!(record["status"], 404);
    assert!(record["recorded_at"].is_string(), "{record}");
    assert!(dir.path().join("snapshot.json").is_file());

    let live = Source::from(client).fetch(&req, all_needs()).await;
    let replayed = Source::from(SnapshotSource::open(dir.path()).expect("open"))
        .fetch(&req, all_needs())
        .await;
    assert_eq!(replayed.customer, live.customer);
    assert_eq!(replayed.cloud_profiles, live.cloud_profiles);
    assert_eq!(replayed.products, live.products);
    assert_eq!(replayed.products["GONE"], Fetched::Absent);
}

#[tokio::test]
async fn recording_fails_rather_than_leaving_a_file_out() {
    let server = MockServer::start().await;
    mount_get(&server, any(), account_denied(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let e = record(
        &client_with_access(&server, "at-1"),
        &CheckRequest::new(ACCOUNT, CUSTOMER),
        all_needs(),
        dir.path(),
    )
    .await
    .expect_err("denied");
    assert!(
        e.to_string()
            .starts_with("cannot record the snapshot: ION denied access"),
        "{e}"
    );
    assert!(!dir.path().join("accounts").exists());
}

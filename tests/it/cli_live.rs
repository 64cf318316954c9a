//! The real binary against a live-shaped ION: a wiremock server on loopback
//! serving the demo snapshot's recorded bodies over HTTP, with tokens given
//! only in the child's environment.

use std::path::PathBuf;

use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::cli_support::{
    CHECK_2002, Run, SNAPSHOT_2002, assert_one_line, bin, redactions, root, run, write,
};
use crate::ion_support::{closed_port_url, mount_listing};

pub const ACCESS: &str = "test-access-token-5f2c";

/// Serves `fixtures/demo/<path below /api/v3/>.json`; a missing file is
/// ION's 404 envelope. The list endpoints a check reads are answered from
/// where a snapshot keeps them: `subscriptions?customerId=C` from
/// `customers/C/subscriptions.json` (its first page; later pages are
/// empty), `subscriptions?subscriptionId=S` from `subscriptions/S.json` (no
/// file: no subscription has that id), `orders?filter.customerIdList=C`
/// from `customers/C/orders.json`.
pub struct DemoFiles;

impl Respond for DemoFiles {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let rest = req.url.path().trim_start_matches("/api/v3/");
        let query = |k: &str| {
            req.url
                .query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        let account = rest.split('/').nth(1).unwrap_or_default();
        let rel = if rest.ends_with("/subscriptions") {
            if let Some(c) = query("customerId") {
                if query("pagination.offset").is_some_and(|o| o != "0") {
                    return ok_body(br#"{"items": []}"#.to_vec());
                }
                format!("accounts/{account}/customers/{c}/subscriptions")
            } else if let Some(id) = query("subscriptionId") {
                let file = root()
                    .join("fixtures/demo")
                    .join(format!("accounts/{account}/subscriptions/{id}.json"));
                if !file.is_file() {
                    return ok_body(br#"{"items": [], "totalCount": "0"}"#.to_vec());
                }
                format!("accounts/{account}/subscriptions/{id}")
            } else {
                return not_found();
            }
        } else if rest.ends_with("/orders") {
            match query("filter.customerIdList") {
                Some(c) => format!("accounts/{account}/customers/{c}/orders"),
                None => return not_found(),
            }
        } else {
            rest.to_owned()
        };
        let file: PathBuf = root().join("fixtures/demo").join(format!("{rel}.json"));
        match std::fs::read(&file) {
            Ok(body) => ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_bytes(body),
            Err(_) => not_found(),
        }
    }
}

fn ok_body(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .set_body_bytes(body)
}

pub fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "error": "NOT_FOUND", "message": "customer not found", "code": 404, "details": []
    }))
}

/// A server answering the account's customer, cloud-profile and product
/// GETs for requests bearing `token`; anything else is a 403.
pub async fn ion_with_token(token: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/api/v3/accounts/1001/(customers/\d+(/cloudProfiles)?|products/[^/]+|subscriptions|orders)$",
        ))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(DemoFiles)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error": "PERMISSION_DENIED", "message": "access token invalid or expired", "code": 403
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

pub async fn ion() -> MockServer {
    ion_with_token(ACCESS).await
}

pub fn live(server: &MockServer) -> assert_cmd::Command {
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_ACCESS_TOKEN", ACCESS);
    cmd
}

/// `check --account 1001 --customer <customer>` against `server`; callers
/// add the flags under test.
pub fn live_check(server: &MockServer, customer: &str) -> assert_cmd::Command {
    let mut cmd = live(server);
    cmd.args(["check", "--account", "1001", "--customer", customer]);
    cmd
}

/// Flags for checking the NCE order with a JSON report.
pub const NCE_JSON: [&str; 4] = [
    "--order",
    "fixtures/orders/nce-order.json",
    "--format",
    "json",
];

/// Runs a command off the async runtime (the binary blocks).
pub async fn run_async(mut cmd: assert_cmd::Command) -> Run {
    tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("the command thread finished")
}

fn assert_no_token(r: &Run, token: &str) {
    assert!(!r.stdout.contains(token), "token on stdout");
    assert!(!r.stderr.contains(token), "token on stderr");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_ready_against_live_ion() {
    let server = ion().await;
    let mut cmd = live_check(&server, "2002");
    cmd.args(NCE_JSON);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).expect("JSON report");
    assert_eq!(report["verdict"], "ready");
    assert_eq!(report["customer_id"], 2002);
    assert_no_token(&r, ACCESS);
    // The customer and its cloud profiles were each fetched exactly once.
    let requests = server.received_requests().await.expect("recording on");
    let count = |p: &str| requests.iter().filter(|q| q.url.path() == p).count();
    assert_eq!(count("/api/v3/accounts/1001/customers/2002"), 1);
    assert_eq!(
        count("/api/v3/accounts/1001/customers/2002/cloudProfiles"),
        1
    );
    assert!(requests.iter().all(|q| q.method.as_str() == "GET"));
}

#[tokio::test(flavor = "multi_thread")]
async fn account_from_environment_and_flag_wins() {
    let server = ion().await;
    let mut cmd = live(&server);
    cmd.env("ION_ACCOUNT_ID", "1001")
        .args(["check", "--customer", "2002", "--format", "json"]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // --account beats ION_ACCOUNT_ID: account 7 is unknown to the server.
    let mut cmd = live(&server);
    cmd.env("ION_ACCOUNT_ID", "1001").args([
        "check",
        "--account",
        "7",
        "--customer",
        "2002",
        "--format",
        "json",
    ]);
    let r = run_async(cmd).await;
    let report: Value = serde_json::from_str(&r.stdout).expect("JSON report");
    assert_eq!(report["account_id"], 7);
    assert_ne!(r.code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn base_url_flag_beats_environment() {
    let server = ion().await;
    let mut cmd = live_check(&server, "2002");
    cmd.env("ION_BASE_URL", "https://ion.invalid")
        .arg("--base-url")
        .arg(server.uri());
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_customer_is_blocked() {
    let server = ion().await;
    let cmd = live_check(&server, "9999");
    let r = run_async(cmd).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("BLOCKED"), "{}", r.stdout);
    assert!(r.stdout.contains("customer-exists"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_token_is_indeterminate_with_one_line_on_stderr() {
    let server = ion_with_token("some-other-token").await;
    let mut cmd = live_check(&server, "2002");
    cmd.args(["--format", "json"]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).expect("JSON report");
    assert_eq!(report["verdict"], "indeterminate");
    assert_one_line(&r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(
        r.stderr.contains("ION rejected the credentials"),
        "{}",
        r.stderr
    );
    assert_no_token(&r, ACCESS);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_base_url_is_indeterminate() {
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", closed_port_url())
        .env("ION_ACCESS_TOKEN", ACCESS)
        .args(CHECK_2002);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("INDETERMINATE"), "{}", r.stdout);
    assert_one_line(&r.stderr);
    let mut settings = redactions();
    settings.add_filter(r"after \d+(\.\d+)?m?s", "after [duration]");
    settings.bind(|| insta::assert_snapshot!("check_unreachable_stderr", r.stderr));
}

#[test]
fn no_credentials_is_a_configuration_error() {
    let r = run(bin()
        .env("ION_BASE_URL", "http://127.0.0.1:9")
        .args(CHECK_2002));
    assert_eq!(r.code, 2);
    assert_one_line(&r.stderr);
    assert!(r.stderr.contains("ION_ACCESS_TOKEN"), "{}", r.stderr);
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let r = run(bin()
        .env("ION_ACCESS_TOKEN", ACCESS)
        .args(CHECK_2002)
        .args(["--base-url", "http://ion.example.com"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_one_line(&r.stderr);
    assert!(r.stderr.contains("http://ion.example.com"), "{}", r.stderr);
    assert!(!r.stderr.contains(ACCESS));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_file_is_rotated_after_a_refresh() {
    let server = ion_with_token("access-from-refresh").await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-one"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "access-from-refresh",
            "expires_in": 7200,
            "refresh_token": "refresh-two",
            "token_type": "Bearer"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = write(dir.path(), "refresh-token", "refresh-one\n");
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_TOKEN_FILE", &token_file)
        .args(CHECK_2002)
        .args(["--order", "fixtures/orders/nce-order.json"]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The bare token file is upgraded to the JSON format (docs/credentials.md).
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&token_file).expect("token file"))
            .expect("JSON token file");
    assert_eq!(stored["refresh_token"], "refresh-two");
    assert_eq!(stored["access_token"], "access-from-refresh");
    for token in ["refresh-one", "refresh-two", "access-from-refresh"] {
        assert_no_token(&r, token);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "token file readable by others: {mode:o}");
    }
    server.verify().await;
}

/// Serves the account's customer listing in pages of two.
async fn mount_paged_listing(server: &MockServer) {
    let customer = |id: u64| json!({ "name": format!("accounts/1001/customers/{id}"), "customerStatus": "ACTIVE" });
    mount_listing(
        server,
        ACCESS,
        2,
        &[
            (
                None,
                json!({"customers": [customer(2002), customer(2003)], "nextPageToken": "page-2"}),
            ),
            (
                Some("page-2"),
                json!({"customers": [customer(2004), customer(9999)], "nextPageToken": "page-3"}),
            ),
            (Some("page-3"), json!({"customers": [customer(2002)]})),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_all_walks_every_page() {
    let server = ion().await;
    mount_paged_listing(&server).await;
    let mut cmd = live(&server);
    cmd.args([
        "batch",
        "--account",
        "1001",
        "--all",
        "--page-size",
        "2",
        "--concurrency",
        "3",
        "--order",
        "fixtures/orders/nce-order.json",
    ]);
    let r = run_async(cmd).await;
    let reports: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a report"))
        .collect();
    let mut ids: Vec<u64> = reports
        .iter()
        .map(|r| r["customer_id"].as_u64().expect("id"))
        .collect();
    ids.sort();
    assert_eq!(ids, [2002, 2002, 2003, 2004, 9999]);
    // 2003 inactive and 9999 unknown are blocked; 2004 only fails a warning
    // (its order creates a new onmicrosoft.com tenant); nothing indeterminate.
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "5 checked: 3 ready, 2 blocked, 0 indeterminate\nmost frequent failing rules:\n  \
         1  customer-active\n  1  customer-address-complete\n  1  customer-exists\n"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_all_listing_failure_exits_3_after_writing_what_finished() {
    let server = ion().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/accounts/1001/customers"))
        .and(wiremock::matchers::query_param_is_missing("pageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "customers": [{ "name": "accounts/1001/customers/2002" }], "nextPageToken": "p2"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/accounts/1001/customers"))
        .and(query_param("pageToken", "p2"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "INVALID_ARGUMENT", "message": "page token expired", "code": 400
        })))
        .mount(&server)
        .await;
    let mut cmd = live(&server);
    cmd.args(["batch", "--account", "1001", "--all", "--quiet"]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1);
    assert_one_line(&r.stderr);
    assert!(
        r.stderr
            .starts_with("error: cannot list the customers of account 1001: "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("page token expired"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_records_what_check_replays() {
    let server = ion().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("case");
    let mut cmd = live(&server);
    cmd.args(SNAPSHOT_2002)
        .args(["--order", "fixtures/orders/nce-order.json", "--out"])
        .arg(&out);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("accounts/1001/customers/2002.json").is_file());
    assert!(
        out.join("accounts/1001/customers/2002/cloudProfiles.json")
            .is_file()
    );
    assert!(r.stderr.starts_with("recorded "), "{}", r.stderr);

    // Offline replay gives the live verdict, and the same results.
    let mut live_cmd = live_check(&server, "2002");
    live_cmd.args(NCE_JSON);
    let live_report: Value = serde_json::from_str(&run_async(live_cmd).await.stdout).expect("JSON");
    let replay = run(bin()
        .args(CHECK_2002)
        .args(NCE_JSON)
        .arg("--data")
        .arg(&out));
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let replay_report: Value = serde_json::from_str(&replay.stdout).expect("JSON");
    assert_eq!(replay_report["results"], live_report["results"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_against_an_unreachable_host_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", closed_port_url())
        .env("ION_ACCESS_TOKEN", ACCESS)
        .args(SNAPSHOT_2002)
        .arg("--out")
        .arg(dir.path().join("x"));
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_one_line(&r.stderr);
}

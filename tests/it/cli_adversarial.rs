//! Issue 14, second round: what an adversarial tester found through the
//! binary, each turned into a test against a loopback ION fake.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::auth_support::{RotatingIon, hits, seed};
use crate::cli_live::run_async;
use crate::cli_support::{Run, bin, write};
use crate::ion_support::assert_no_request;

/// The `error:` lines of a run's stderr.
fn errors(r: &Run) -> Vec<&str> {
    r.stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect()
}

fn two_hundred_ids(dir: &Path) -> std::path::PathBuf {
    let ids: String = (3000..3200).map(|i| format!("{i}\n")).collect();
    write(dir, "ids.txt", &ids)
}

/// GETs answered 401 (after `ok_first` answered ION's 404 envelope).
async fn mount_rejecting_gets(server: &MockServer, ok_first: u64) {
    if ok_first > 0 {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_body_json(
                json!({"error": "NOT_FOUND", "message": "customer not found", "code": 404}),
            ))
            .up_to_n_times(ok_first)
            .with_priority(1)
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "UNAUTHENTICATED", "message": "access token invalid", "code": 401}),
        ))
        .with_priority(5)
        .mount(server)
        .await;
}

fn batch_cmd(server: &MockServer, ids: &Path) -> assert_cmd::Command {
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri()).args([
        "batch",
        "--account",
        "1001",
        "--concurrency",
        "4",
        "--format",
        "json",
        "--quiet",
    ]);
    cmd.arg("--customers").arg(ids);
    cmd
}

/// A listing ION refuses is a rejection of the credentials, never "the
/// listing holds no customers" (which would send the user after the
/// account id).
#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_listing_is_the_rejection_not_an_empty_account() {
    let server = MockServer::start().await;
    let rotation = RotatingIon::new("rt-0", Duration::ZERO);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(rotation.clone())
        .mount(&server)
        .await;
    mount_rejecting_gets(&server, 0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    seed(&file, json!({"version": 1, "refresh_token": "rt-0"}));
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_TOKEN_FILE", &file)
        .args([
            "batch",
            "--account",
            "1001",
            "--all",
            "--format",
            "json",
            "--quiet",
        ]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    let errors = errors(&r);
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("ION rejected the credentials"),
        "{}",
        errors[0]
    );
    assert!(!errors[0].contains("nothing to check"), "{}", errors[0]);
}

// ---- 1. A 401 on the refreshed token stops the batch ------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_refreshed_token_stops_the_batch() {
    for (credentials, ok_first) in [
        ("token file", 0u64),
        ("ION_REFRESH_TOKEN", 0),
        ("token file", 10),
    ] {
        let server = MockServer::start().await;
        let rotation = RotatingIon::new("rt-0", Duration::ZERO);
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(rotation.clone())
            .mount(&server)
            .await;
        mount_rejecting_gets(&server, ok_first).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = batch_cmd(&server, &two_hundred_ids(dir.path()));
        if credentials == "token file" {
            let file = dir.path().join("token.json");
            seed(&file, json!({"version": 1, "refresh_token": "rt-0"}));
            cmd.env("ION_TOKEN_FILE", &file);
        } else {
            cmd.env("ION_REFRESH_TOKEN", "rt-0");
        }
        let r = run_async(cmd).await;
        let what = format!("{credentials}, {ok_first} answered first");
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        let errors = errors(&r);
        assert_eq!(errors.len(), 1, "{what}: {}", r.stderr);
        assert!(
            errors[0].contains("ION rejected the credentials")
                && errors[0].contains("the batch stopped"),
            "{what}: {}",
            errors[0]
        );
        let reports: Value = serde_json::from_str(&r.stdout).expect("a whole JSON array");
        let written = reports.as_array().expect("array").len();
        assert!(written < 200, "{what}: all {written} customers checked");
        let posts = hits(&server, "/oauth/token").await;
        assert!(posts <= 4, "{what}: {posts} refreshes");
        let gets = server
            .received_requests()
            .await
            .expect("recorded")
            .iter()
            .filter(|q| q.method.as_str() == "GET")
            .count();
        assert!(
            gets <= (ok_first as usize) + 24,
            "{what}: {gets} GETs for 200 customers"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_new_customer_payloads_stop_when_ion_rejects_the_access_token() {
    let server = MockServer::start().await;
    mount_rejecting_gets(&server, 0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let one = std::fs::read_to_string(crate::cli_support::fixture("new-customers/acme.json"))
        .expect("fixture")
        .replace('\n', "");
    let lines: String = (0..50)
        .map(|i| one.replace("@acme.com", &format!("{i}@acme.com")) + "\n")
        .collect();
    let list = write(dir.path(), "list.ndjson", &lines);
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_ACCESS_TOKEN", "at-revoked")
        .args([
            "check-new-customer",
            "--account",
            "1001",
            "--concurrency",
            "2",
            "--quiet",
            "--payloads",
        ])
        .arg(&list);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    let errors = errors(&r);
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("ION rejected the credentials")
            && errors[0].contains("no further payload was checked"),
        "{}",
        errors[0]
    );
    let written = r.stdout.lines().count();
    assert!(written < 50, "all {written} payloads checked");
    let requests = server.received_requests().await.expect("recorded").len();
    assert!(requests <= 12, "{requests} requests");
}

// ---- 2. A failed refresh is shared and never repeated -----------------------

/// A token file holding only refresh token `rt-0`.
fn refresh_only_file(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("token.json");
    seed(&file, json!({"version": 1, "refresh_token": "rt-0"}));
    file
}

/// The refresh tokens presented to `POST /oauth/token`, in order.
async fn presented(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
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
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_refresh_presents_the_refresh_token_once_per_run() {
    for (status, delay, order) in [
        (500u16, Duration::ZERO, false),
        (401, Duration::ZERO, false),
        (500, Duration::ZERO, true),
        (200, Duration::from_secs(3), true),
    ] {
        let what = format!("token endpoint {status} after {delay:?}, order: {order}");
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(json!({"error": "invalid_grant", "access_token": "at-late", "refresh_token": "rt-1"}))
                    .set_delay(delay),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(crate::cli_live::DemoFiles)
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_TOKEN_FILE", refresh_only_file(dir.path()))
            .env("ION_REQUEST_TIMEOUT", "1s")
            .args(crate::cli_support::CHECK_2002);
        if order {
            cmd.arg("--order")
                .arg(crate::cli_support::fixture("orders/nce-order.json"));
        }
        let r = run_async(cmd).await;
        assert_eq!(r.code, 3, "{what}: {}{}", r.stdout, r.stderr);
        assert_eq!(presented(&server).await, ["rt-0"], "{what}");
        assert_eq!(
            hits(&server, "/api/v3/accounts/1001/customers/2002").await,
            0,
            "{what}"
        );
        assert!(r.stdout.contains("INDETERMINATE"), "{what}: {}", r.stdout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_refresh_stops_the_batch_after_one_post() {
    for status in [404u16, 500] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(ResponseTemplate::new(status).set_body_string("nope"))
            .mount(&server)
            .await;
        mount_rejecting_gets(&server, 0).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = batch_cmd(&server, &two_hundred_ids(dir.path()));
        cmd.env("ION_TOKEN_FILE", refresh_only_file(dir.path()));
        let r = run_async(cmd).await;
        assert_eq!(r.code, 3, "{status}: {}", r.stderr);
        assert_eq!(presented(&server).await, ["rt-0"], "{status}");
        let errors = errors(&r);
        assert_eq!(errors.len(), 1, "{status}: {}", r.stderr);
        assert!(
            errors[0].contains("POST /oauth/token")
                && errors[0].contains(&format!("HTTP {status}"))
                && errors[0].contains("not present it again")
                && errors[0].contains("the batch stopped"),
            "{}",
            errors[0]
        );
        assert!(
            !errors[0].contains("rejected the credentials"),
            "{}",
            errors[0]
        );
    }
}

// ---- 3. A BOM or JSON that is no object is never sent as a token ----------

#[tokio::test(flavor = "multi_thread")]
async fn a_bom_is_stripped_and_json_that_is_no_object_is_refused() {
    let server = MockServer::start().await;
    let rotation = RotatingIon::new("rt-0", Duration::ZERO);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(rotation.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(crate::cli_live::DemoFiles)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");

    // A bare token and the JSON format, each behind a BOM: both work.
    for (name, text) in [
        ("bare", "\u{feff}rt-0\n".to_owned()),
        (
            "json",
            format!("\u{feff}{}", json!({"version": 1, "refresh_token": "rt-0"})),
        ),
    ] {
        *rotation.state.lock().expect("state") = crate::auth_support::Rotation {
            current: "rt-0".to_owned(),
            ..Default::default()
        };
        let file = write(dir.path(), &format!("{name}.json"), &text);
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_TOKEN_FILE", &file)
            .args(crate::cli_support::CHECK_2002);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert_eq!(
            rotation.presented().last().map(String::as_str),
            Some("rt-0")
        );
    }
    let before = hits(&server, "/oauth/token").await;

    for (text, kind) in [
        ("[]", "an array"),
        ("null", "null"),
        ("\u{feff}[\"rt-0\"]", "an array"),
        ("\"rt-0\"", "a string"),
        ("[not json", "not valid JSON"),
        ("42", "a number"),
    ] {
        let file = write(dir.path(), "token.json", text);
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_TOKEN_FILE", &file)
            .args(crate::cli_support::CHECK_2002);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 2, "{text:?}: {}", r.stderr);
        let errors = errors(&r);
        assert_eq!(errors.len(), 1, "{text:?}: {}", r.stderr);
        assert!(
            errors[0].contains(&file.display().to_string())
                && errors[0].contains(kind)
                && errors[0].contains("not the JSON token format"),
            "{text:?}: {}",
            errors[0]
        );
        assert!(!errors[0].contains("rt-0"), "{}", errors[0]);
    }
    assert_eq!(
        hits(&server, "/oauth/token").await,
        before,
        "a token was sent"
    );
}

#[test]
fn auth_login_strips_a_bom_from_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    let r = crate::cli_support::run(
        bin()
            .args(["auth", "login", "--token-file"])
            .arg(&file)
            .write_stdin("\u{feff}rt-portal\r\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("JSON");
    assert_eq!(stored["refresh_token"], "rt-portal");
    for json in ["{\"refresh_token\": \"rt\"}", "[\"rt\"]", "\"rt\""] {
        let r = crate::cli_support::run(
            bin()
                .args(["auth", "login", "--token-file"])
                .arg(dir.path().join("other.json"))
                .write_stdin(json),
        );
        assert_eq!(r.code, 2, "{json}: {}", r.stderr);
        assert!(
            r.stderr.contains("that is JSON, not a refresh token"),
            "{}",
            r.stderr
        );
    }
}

// ---- 4. A wrong value type names the field, never the value ----------------

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_value_in_the_token_file_names_the_field() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, expected) in [
        (
            r#"{"version":"1","refresh_token":"rt-SECRET"}"#,
            r#""version" must be the number 1, not a string"#,
        ),
        (
            r#"{"version":0,"refresh_token":"rt-SECRET"}"#,
            r#""version" must be 1"#,
        ),
        (
            r#"{"version":1,"refresh_token":42}"#,
            r#""refresh_token" must be a string, not a number"#,
        ),
        (
            r#"{"version":1,"refresh_token":"rt-SECRET","access_token":"at-SECRET","access_expires_at":"yesterday"}"#,
            r#""access_expires_at" is not an RFC 3339 time"#,
        ),
        (
            r#"{"version":1,"refresh_token":"rt-SECRET","refresh_expires_at":7}"#,
            r#""refresh_expires_at" must be a string, not a number"#,
        ),
        (
            r#"{"version":1,"refresh_token":"rt-SECRET","refresh_token":"rt-SECRET2"}"#,
            "the key `refresh_token` appears twice",
        ),
        (
            r#"{"version":1,"access_token":"at-SECRET"}"#,
            "has no `refresh_token`",
        ),
    ] {
        let file = write(dir.path(), "token.json", text);
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_TOKEN_FILE", &file)
            .args(crate::cli_support::CHECK_2002);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 2, "{text}: {}", r.stderr);
        let errors = errors(&r);
        assert_eq!(errors.len(), 1, "{text}: {}", r.stderr);
        assert!(
            errors[0].contains(expected) && errors[0].contains(&file.display().to_string()),
            "{text}: {}",
            errors[0]
        );
        assert!(!r.stderr.contains("SECRET"), "{}", r.stderr);
        assert!(!errors[0].contains("Data error"), "{}", errors[0]);
    }
    assert_no_request(&server).await;
}

// ---- 5. An unusable lock file is a configuration error --------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_lock_file_exits_2_before_any_request() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = refresh_only_file(dir.path());
    let lock = dir.path().join("token.json.lock");
    std::fs::create_dir(&lock).expect("mkdir lock");
    let ids = two_hundred_ids(dir.path());
    let payload = crate::cli_support::fixture("new-customers/acme.json");
    let commands: Vec<Vec<std::ffi::OsString>> = vec![
        crate::cli_support::CHECK_2002
            .iter()
            .map(Into::into)
            .collect(),
        vec![
            "batch".into(),
            "--account".into(),
            "1001".into(),
            "--customers".into(),
            ids.into(),
        ],
        vec![
            "check-new-customer".into(),
            "--account".into(),
            "1001".into(),
            "--payload".into(),
            payload.into(),
        ],
        vec![
            "snapshot".into(),
            "--account".into(),
            "1001".into(),
            "--customer".into(),
            "2002".into(),
            "--out".into(),
            dir.path().join("snap").into(),
        ],
        vec!["auth".into(), "refresh".into()],
    ];
    for args in &commands {
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_TOKEN_FILE", &file)
            .args(args);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        let errors = errors(&r);
        assert_eq!(errors.len(), 1, "{args:?}: {}", r.stderr);
        assert!(
            errors[0].contains(&lock.display().to_string()) && errors[0].contains("directory"),
            "{args:?}: {}",
            errors[0]
        );
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    assert_no_request(&server).await;
}

// ---- 6. Only a definite rejection is called one -----------------------------

#[tokio::test(flavor = "multi_thread")]
async fn auth_status_with_a_refresh_token_never_calls_a_refused_access_token_a_rejection() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/validateAccess"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"error": "invalid_token", "message": "access token revoked"}),
            ),
        )
        .mount(&server)
        .await;
    let rotation = RotatingIon::new("rt-0", Duration::ZERO);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(rotation.clone())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    crate::auth_support::seed_tokens(&file, "at-cached", 6000, None);
    let auth = |sub: &str| {
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .args(["auth", sub, "--token-file"])
            .arg(&file);
        cmd
    };
    let r = run_async(auth("status")).await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    let ion = r
        .stdout
        .lines()
        .find(|l| l.starts_with("ION:"))
        .expect("an ION line");
    assert!(
        ion.contains("rejected the cached access token")
            && ion.contains("access token revoked")
            && ion.contains("refresh token was not tried"),
        "{ion}"
    );
    for wrong in ["portal", "rejected the credentials"] {
        assert!(!r.stdout.contains(wrong), "{}", r.stdout);
        assert!(!r.stderr.contains(wrong), "{}", r.stderr);
    }
    assert_eq!(hits(&server, "/oauth/token").await, 0, "status refreshed");
    // And indeed the refresh token works.
    let r = run_async(auth("refresh")).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(rotation.presented(), ["rt-0"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_honours_the_request_timeout_and_logs_a_failed_oauth_request() {
    let server = MockServer::start().await;
    for endpoint in ["/oauth/validateAccess", "/oauth/token"] {
        Mock::given(method("POST"))
            .and(path(endpoint))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_expires_in": 7000}))
                    .set_delay(Duration::from_secs(4)),
            )
            .mount(&server)
            .await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    for (sub, endpoint) in [
        ("status", "POST /oauth/validateAccess"),
        ("refresh", "POST /oauth/token"),
    ] {
        crate::auth_support::seed_tokens(&file, "at-cached", 6000, None);
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_REQUEST_TIMEOUT", "1s")
            .env("RUST_LOG", "ion_preflight=debug")
            .args(["auth", sub, "--token-file"])
            .arg(&file);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 3, "{sub}: {}{}", r.stdout, r.stderr);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            all.contains(&format!("did not answer {endpoint} within 1s")),
            "{sub}: {all}"
        );
        assert!(!all.contains("within 30s"), "{sub}: {all}");
        let logged = r.stderr.lines().any(|l| {
            l.contains("request failed") && l.contains(endpoint.trim_start_matches("POST "))
        });
        assert!(
            logged,
            "{sub}: no debug line for the failed request: {}",
            r.stderr
        );
    }
}

#[cfg(feature = "serve")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_only_when_the_services_credentials_definitely_fail() {
    use crate::service_support::{http, live_config, post_json, start_service};
    use ion_preflight::service::serve::DataSource;
    for (status, refreshable, ready) in [
        (404u16, true, true),
        (500, true, true),
        (401, true, true),
        (401, false, false),
    ] {
        let what = format!("validateAccess {status}, refresh token: {refreshable}");
        let ion = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/validateAccess"))
            .respond_with(ResponseTemplate::new(status).set_body_string("no"))
            .mount(&ion)
            .await;
        Mock::given(method("GET"))
            .respond_with(crate::cli_live::DemoFiles)
            .mount(&ion)
            .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token.json");
        crate::auth_support::seed_tokens(&file, "at-cached", 6000, None);
        let mut builder = ion_preflight::ion::IonClient::builder()
            .base_url(&ion.uri())
            .max_attempts(1)
            .request_timeout(Duration::from_secs(5));
        builder = if refreshable {
            builder.token_store(std::sync::Arc::new(ion_preflight::ion::TokenFile::new(
                &file,
            )))
        } else {
            builder.access_token(secrecy::SecretString::from("at-cached"))
        };
        let mut config = live_config(&ion.uri());
        config.data = DataSource::Live {
            builder,
            own_credentials: true,
            token_file: refreshable.then(|| file.clone()),
        };
        let service = ion_preflight::service::Service::new(config).expect("service starts");
        let base = start_service(&service).await;
        let answer = http()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("readyz answered");
        let code = answer.status().as_u16();
        let body: Value = answer.json().await.expect("json");
        if ready {
            assert_eq!(code, 200, "{what}: {body}");
            assert_eq!(body["status"], "ready", "{what}: {body}");
            let note = body["credentials_note"].as_str().unwrap_or_default();
            assert!(note.contains("could not confirm"), "{what}: {body}");
            let (code, _, got) = post_json(
                &format!("{base}/v1/check"),
                r#"{"account_id": 1001, "customer_id": 2002}"#,
                None,
            )
            .await;
            assert_eq!(code, 200, "{what}: {got}");
            assert_ne!(got["verdict"], "indeterminate", "{what}: {got}");
        } else {
            assert_eq!(code, 503, "{what}: {body}");
            assert_eq!(body["status"], "not_ready", "{what}: {body}");
        }
    }
}

// ---- 7. Contradictory or wrong snapshot records are never trusted ----------

/// A copy of the demo snapshot to break.
fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::render_formats::copy_dir(&crate::cli_support::fixture("demo"), dir.path());
    dir
}

fn check_data(dir: &Path, customer: &str) -> crate::cli_support::Run {
    crate::cli_support::run(
        bin()
            .args([
                "check",
                "--account",
                "1001",
                "--customer",
                customer,
                "--data",
            ])
            .arg(dir),
    )
}

#[test]
fn contradictory_or_wrong_snapshot_records_make_the_resource_unavailable() {
    let snap = demo_copy();
    let customers = snap.path().join("accounts/1001/customers");
    std::fs::write(
        customers.join("2002.404.json"),
        r#"{"status": 404, "recorded_at": "2026-11-27T10:00:00Z"}"#,
    )
    .expect("write");
    let r = check_data(snap.path(), "2002");
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("INDETERMINATE"), "{}", r.stdout);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("contradicts itself")
            && all.contains(&customers.join("2002.json").display().to_string())
            && all.contains(&customers.join("2002.404.json").display().to_string()),
        "{all}"
    );

    std::fs::write(customers.join("9999.404.json"), r#"{"status": 500}"#).expect("write");
    let r = check_data(snap.path(), "9999");
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("INDETERMINATE"), "{}", r.stdout);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(!all.contains("ION answered 404"), "{all}");
    assert!(all.contains("must say \"status\": 404, not 500"), "{all}");
}

#[test]
fn an_unreadable_or_unknown_snapshot_marker_exits_2() {
    for (text, expected) in [
        ("garbage", "not JSON"),
        ("[]", "not a JSON object"),
        (r#"{"ion_preflight_snapshot": 99}"#, "version 99"),
        (r#"{"ion_preflight_snapshot": "1"}"#, "must be the number 1"),
        (
            r#"{"last_recorded_at": "2026-11-27T10:00:00Z"}"#,
            "no \"ion_preflight_snapshot\"",
        ),
    ] {
        let snap = demo_copy();
        let marker = snap.path().join("snapshot.json");
        std::fs::write(&marker, text).expect("write");
        let r = check_data(snap.path(), "2002");
        assert_eq!(r.code, 2, "{text}: {}{}", r.stdout, r.stderr);
        let errors = errors(&r);
        assert_eq!(errors.len(), 1, "{text}: {}", r.stderr);
        assert!(
            errors[0].contains(&marker.display().to_string()) && errors[0].contains(expected),
            "{text}: {}",
            errors[0]
        );
        assert!(r.stdout.is_empty(), "{text}: {}", r.stdout);
    }
}

// ---- 8. A listing with nothing to check is no clean run --------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_with_nothing_to_check_is_an_error_and_id_0_is_never_fetched() {
    let names = |ids: &[&str]| {
        json!({"customers": ids
            .iter()
            .map(|id| json!({"name": format!("accounts/1001/customers/{id}")}))
            .collect::<Vec<_>>()})
    };
    for (listing, skipped) in [
        (json!({"customers": []}), 0usize),
        (json!({}), 0),
        (names(&["abc", "0", "+5", ""]), 4),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v3/accounts/1001/customers"))
            .respond_with(ResponseTemplate::new(200).set_body_json(listing.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(crate::cli_live::DemoFiles)
            .with_priority(10)
            .mount(&server)
            .await;
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_ACCESS_TOKEN", "at")
            .args(["batch", "--account", "1001", "--all"]);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 2, "{listing}: {}", r.stderr);
        let errors = errors(&r);
        assert_eq!(errors.len(), 1, "{listing}: {}", r.stderr);
        assert!(errors[0].contains("nothing to check"), "{}", errors[0]);
        if skipped > 0 {
            assert!(
                errors[0].contains(&format!("the {skipped} listed customer(s)")),
                "{}",
                errors[0]
            );
        }
        let gets: Vec<String> = server
            .received_requests()
            .await
            .expect("recorded")
            .iter()
            .map(|q| q.url.path().to_owned())
            .filter(|p| p != "/api/v3/accounts/1001/customers")
            .collect();
        assert!(gets.is_empty(), "{listing}: fetched {gets:?}");
    }

    // Id 0 beside a real id: only the real one is checked.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/accounts/1001/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(names(&["0", "2002"])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(crate::cli_live::DemoFiles)
        .with_priority(10)
        .mount(&server)
        .await;
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_ACCESS_TOKEN", "at")
        .args(["batch", "--account", "1001", "--all", "--format", "ndjson"]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert_eq!(hits(&server, "/api/v3/accounts/1001/customers/0").await, 0);
}

#[test]
fn batch_all_over_a_snapshot_with_an_empty_listing_is_an_error() {
    let snap = demo_copy();
    std::fs::write(
        snap.path().join("accounts/1001/customers.json"),
        r#"{"customers": []}"#,
    )
    .expect("write");
    let r = crate::cli_support::run(
        bin()
            .args(["batch", "--account", "1001", "--all", "--data"])
            .arg(snap.path()),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let errors = errors(&r);
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].contains("nothing to check"), "{}", errors[0]);
}

// ---- 9. `.` and `..` are never sent as product ids --------------------------

/// The demo order with its product id replaced by `id`.
fn order_with_product(id: &str) -> Value {
    let text = std::fs::read_to_string(crate::cli_support::fixture("orders/nce-order.json"))
        .expect("fixture");
    let mut order: Value = serde_json::from_str(&text).expect("order");
    for item in order["orderItems"].as_array_mut().expect("items") {
        item["productId"] = Value::String(id.to_owned());
    }
    order
}

/// A rule that reads every ordered product's details.
const PRODUCT_RULE: &str = r#"
rules:
  - id: product-known
    title: Every ordered product is in the catalog
    severity: error
    for_each: order.orderItems as item
    assert: { path: "products[item.productId].id", non_empty: true }
    message: "item {$number}: product {item.productId} is not in the catalog"
"#;

/// The paths below the account's products that reached `server`.
async fn product_paths(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|q| q.url.path().to_owned())
        .filter(|p| p.contains("/products"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn dot_segments_are_never_sent_as_product_ids() {
    for id in [".", ".."] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(crate::cli_live::DemoFiles)
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let order = write(
            dir.path(),
            "order.json",
            &order_with_product(id).to_string(),
        );
        let rules = write(dir.path(), "products.yaml", PRODUCT_RULE);
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_ACCESS_TOKEN", "at")
            .args(crate::cli_support::CHECK_2002)
            .arg("--order")
            .arg(&order)
            .arg("--rules")
            .arg(&rules);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 3, "{id}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("INDETERMINATE"), "{id}: {}", r.stdout);
        assert!(
            format!("{}{}", r.stdout, r.stderr).contains("cannot be looked up in ION"),
            "{id}: {}{}",
            r.stdout,
            r.stderr
        );
        assert_eq!(product_paths(&server).await, Vec::<String>::new(), "{id}");

        // Offline, the same answer.
        let r = crate::cli_support::run(
            bin()
                .args(crate::cli_support::CHECK_2002)
                .arg("--data")
                .arg(crate::cli_support::fixture("demo"))
                .arg("--order")
                .arg(&order)
                .arg("--rules")
                .arg(&rules),
        );
        assert_eq!(r.code, 3, "{id}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("cannot be looked up in ION"),
            "{id}: {}",
            r.stdout
        );
    }
}

#[cfg(feature = "serve")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_never_sends_dot_segments_as_product_ids() {
    use crate::service_support::{live_config, post_json, start_service};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(crate::cli_live::DemoFiles)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = live_config(&server.uri());
    config.rules.files = vec![crate::service_support::rule_file(
        &dir,
        "products.yaml",
        PRODUCT_RULE,
    )];
    let service = ion_preflight::service::Service::new(config).expect("service starts");
    let base = start_service(&service).await;
    for id in [".", ".."] {
        let body =
            json!({"account_id": 1001, "customer_id": 2002, "order": order_with_product(id)});
        let (status, _, got) =
            post_json(&format!("{base}/v1/check"), &body.to_string(), Some("at")).await;
        assert_eq!(status, 200, "{id}: {got}");
        assert_eq!(got["verdict"], "indeterminate", "{id}: {got}");
        assert!(
            got.to_string().contains("cannot be looked up in ION"),
            "{id}: {got}"
        );
    }
    assert_eq!(product_paths(&server).await, Vec::<String>::new());
}

// ---- 10. Every printed replay hint stays true -------------------------------

/// Runs a replay hint with `sh` in `cwd`, with no ION variable.
fn run_hint_in(cwd: &Path, hint: &str) -> crate::cli_support::Run {
    let bin_path = env!("CARGO_BIN_EXE_ion-preflight");
    let script = format!("'{bin_path}'{}", &hint["ion-preflight".len()..]);
    let mut sh = assert_cmd::Command::new("sh");
    sh.current_dir(cwd).args(["-c", &script]);
    crate::cli_support::run(crate::cli_support::clean_env(&mut sh))
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_from_stdin_keep_one_file_per_recording_and_every_hint_replays_its_own() {
    use crate::cli_live::{ion, live};
    use crate::cli_truthful::replay_hint;
    let server = ion().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = order_with_product("CFQ7TTC0LH18");
    let mut bad = good.clone();
    bad["orderItems"][0]["quantity"] = json!(-1);
    let mut hints = Vec::new();
    for order in [&good, &bad] {
        let mut cmd = live(&server);
        cmd.current_dir(dir.path())
            .args(["snapshot", "--account", "1001", "--customer", "2002"])
            .args(["--order", "-", "--out=-case"])
            .write_stdin(order.to_string());
        let r = run_async(cmd).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let hint = replay_hint(&r.stderr);
        assert!(hint.contains("--data ./-case "), "{hint}");
        hints.push(hint);
    }
    assert_ne!(hints[0], hints[1], "both hints name one order file");
    // Each replay gives the report a live check of its own order gives.
    let results =
        |text: &str| serde_json::from_str::<Value>(text).expect("a JSON report")["results"].clone();
    for (hint, order) in hints.iter().zip([&good, &bad]) {
        let replay = run_hint_in(dir.path(), &format!("{hint} --format json"));
        let mut cmd = live(&server);
        cmd.args(crate::cli_support::CHECK_2002)
            .args(["--order", "-", "--format", "json"])
            .write_stdin(order.to_string());
        let live_run = run_async(cmd).await;
        assert_eq!(replay.code, live_run.code, "{hint}: {}", replay.stderr);
        assert_eq!(results(&replay.stdout), results(&live_run.stdout), "{hint}");
    }
    assert_ne!(
        results(&run_hint_in(dir.path(), &format!("{} --format json", hints[0])).stdout),
        results(&run_hint_in(dir.path(), &format!("{} --format json", hints[1])).stdout),
        "the two orders were replayed as one"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_replay_hint_with_a_path_that_is_not_utf8_is_not_printed_wrong() {
    use std::os::unix::ffi::OsStrExt;
    let server = crate::cli_live::ion().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join(std::ffi::OsStr::from_bytes(b"case-\xff"));
    let mut cmd = crate::cli_live::live(&server);
    cmd.args([
        "snapshot",
        "--account",
        "1001",
        "--customer",
        "2002",
        "--out",
    ])
    .arg(&out);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("replay with:"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the replay command cannot be printed: a path in it is not valid UTF-8"),
        "{}",
        r.stderr
    );
    assert!(out.join("snapshot.json").is_file());
}

// ---- 11. A pattern YAML turned into control characters is refused ----------

#[test]
fn a_pattern_holding_a_control_character_gets_the_single_quote_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = |pattern: &str| {
        format!(
            "rules:\n  - id: contoso\n    title: t\n    severity: error\n    assert: {{ path: customer.customerOrganization, matches: {pattern} }}\n    message: m\n"
        )
    };
    for (pattern, named) in [
        (r#""\bContoso\b""#, "backspace"),
        (r#""Contoso\a""#, "bell"),
        (r#""\eContoso""#, "escape"),
    ] {
        let file = write(dir.path(), "r.yaml", &rule(pattern));
        let r = crate::cli_support::run(bin().args(["rules", "lint"]).arg(&file));
        assert_eq!(r.code, 2, "{pattern}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("{}:5:", file.display()))
                && r.stderr.contains(named)
                && r.stderr.contains("write a pattern in single quotes"),
            "{pattern}: {}",
            r.stderr
        );
    }
    // Single quotes (and doubled backslashes) mean the word boundary.
    for pattern in [r"'\bContoso\b'", r#""\\bContoso\\b""#] {
        let file = write(dir.path(), "r.yaml", &rule(pattern));
        let r = crate::cli_support::run(bin().args(["rules", "lint"]).arg(&file));
        assert_eq!(r.code, 0, "{pattern}: {}", r.stderr);
    }
}

// ---- 12. --no-default-new-customer-rules needs --new-customer-rules --------

#[cfg(feature = "serve")]
#[test]
fn no_default_new_customer_rules_without_a_file_is_a_usage_error() {
    for front in [
        vec!["serve", "--data", "fixtures/demo"],
        vec!["proxy", "--upstream", "http://127.0.0.1:9"],
    ] {
        let r = crate::cli_support::run(
            bin()
                .current_dir(crate::cli_support::root())
                .args(&front)
                .args(["--listen", "127.0.0.1:0", "--no-default-new-customer-rules"]),
        );
        assert_eq!(r.code, 2, "{front:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("error:"), "{front:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("--new-customer-rules <FILE>"),
            "{front:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("listening"), "{front:?}: {}", r.stderr);
        assert!(
            !r.stderr.contains("--no-default-rules"),
            "{front:?}: {}",
            r.stderr
        );
    }
}

// ---- 13. docs/cli.md's `rules explain` example is what the binary prints ---

#[test]
fn the_rules_explain_example_in_docs_cli_md_is_what_the_binary_prints() {
    let doc = std::fs::read_to_string(crate::cli_support::root().join("docs/cli.md"))
        .expect("docs/cli.md");
    let start = doc
        .find("(`rules explain customer-active`, in part)")
        .expect("the example names its rule");
    let block = &doc[start..];
    let open = block.find("```text\n").expect("a text block") + "```text\n".len();
    let close = block[open..].find("```").expect("closed") + open;
    let expected: String = block[open..close]
        .lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    assert!(expected.contains("What it reads"), "{expected}");
    let r = crate::cli_support::run(bin().args(["rules", "explain", "customer-active"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&expected),
        "docs/cli.md shows:\n{expected}\nthe binary prints:\n{}",
        r.stdout
    );
}

// ---- 14. Every --help shows its rows of the one exit-code table ------------

#[test]
fn every_commands_help_prints_its_rows_of_the_exit_code_table() {
    use ion_preflight::cli::{HelpFor, exit_codes_help_for};
    let mut commands: Vec<(Vec<&str>, HelpFor)> = vec![
        (vec!["check"], HelpFor::Check),
        (vec!["batch"], HelpFor::Batch),
        (vec!["check-new-customer"], HelpFor::NewCustomer),
        (vec!["snapshot"], HelpFor::Snapshot),
        (vec!["auth"], HelpFor::Auth),
        (vec!["auth", "status"], HelpFor::Auth),
    ];
    if cfg!(feature = "serve") {
        commands.push((vec!["serve"], HelpFor::Serve));
        commands.push((vec!["proxy"], HelpFor::Serve));
    }
    for (args, command) in commands {
        let r = crate::cli_support::run(bin().args(&args).arg("--help"));
        assert_eq!(r.code, 0, "{args:?}");
        assert!(
            r.stdout.contains(&exit_codes_help_for(command)),
            "{args:?} --help:\n{}",
            r.stdout
        );
    }
    let batch = exit_codes_help_for(HelpFor::Batch);
    assert!(batch.contains("rejected the credentials"), "{batch}");
    let auth = exit_codes_help_for(HelpFor::Auth);
    assert!(auth.contains("a 404 too"), "{auth}");
    let top = crate::cli_support::run(bin().arg("--help"));
    assert!(
        top.stdout.contains(&ion_preflight::cli::exit_codes_help()),
        "{}",
        top.stdout
    );
}

// ---- 15. A long snapshot reason is given in full once -----------------------

#[test]
fn a_snapshot_reason_shared_by_several_rules_is_given_in_full_once() {
    let snap = demo_copy();
    std::fs::remove_file(
        snap.path()
            .join("accounts/1001/customers/2002/cloudProfiles.json"),
    )
    .expect("rm");
    let r = crate::cli_support::run(
        bin()
            .args(crate::cli_support::CHECK_2002)
            .arg("--data")
            .arg(snap.path())
            .args([
                "--order",
                "fixtures/orders/nce-order.json",
                "--fail-on",
                "warning",
            ])
            .current_dir(crate::cli_support::root()),
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    let full = "and no 404 recorded for it";
    assert_eq!(all.matches(full).count(), 1, "{all}");
    // Every rule that could not read the profiles still says why.
    let briefly = all
        .matches(
            "cloud profiles unavailable: the snapshot holds no cloud profiles of customer 2002",
        )
        .count();
    assert!(briefly >= 4, "{all}");
    assert!(
        r.stderr.contains("(the report has the full reason)"),
        "{}",
        r.stderr
    );
    // The JSON report keeps every reason whole.
    let json = crate::cli_support::run(
        bin()
            .args(crate::cli_support::CHECK_2002)
            .arg("--data")
            .arg(snap.path())
            .args([
                "--order",
                "fixtures/orders/nce-order.json",
                "--format",
                "json",
            ])
            .current_dir(crate::cli_support::root()),
    );
    assert!(json.stdout.matches(full).count() >= 3, "{}", json.stdout);
}

// ---- 16. Encodings: a Latin-1 byte names its line, a BOM is accepted -------

#[test]
fn a_latin1_byte_names_its_line_and_a_bom_is_accepted_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = crate::cli_support::fixture("demo");
    // In a comment: ignored with the comment.
    let ids = dir.path().join("ids.txt");
    std::fs::write(&ids, b"2002 # Caf\xe9 M\xfcller\n2003\n").expect("write");
    let r = crate::cli_support::run(
        bin()
            .args([
                "batch",
                "--account",
                "1001",
                "--format",
                "ndjson",
                "--customers",
            ])
            .arg(&ids)
            .arg("--data")
            .arg(&demo),
    );
    assert_eq!(r.stdout.lines().count(), 2, "{}{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("UTF-8"), "{}", r.stderr);
    // In an id: that line is named.
    std::fs::write(&ids, b"2002\n\n20\xe903\n").expect("write");
    let r = crate::cli_support::run(
        bin()
            .args(["batch", "--account", "1001", "--customers"])
            .arg(&ids)
            .arg("--data")
            .arg(&demo),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let errors = errors(&r);
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("line 3") && errors[0].contains("not valid UTF-8"),
        "{}",
        errors[0]
    );
    assert!(
        !errors[0].contains("stream did not contain"),
        "{}",
        errors[0]
    );

    // An order and a payload behind a BOM are read; a Latin-1 byte in an
    // order names its line.
    let order = std::fs::read(crate::cli_support::fixture("orders/nce-order.json")).expect("order");
    let bom_order = dir.path().join("order.json");
    std::fs::write(&bom_order, [b"\xef\xbb\xbf".as_slice(), &order].concat()).expect("write");
    let r = crate::cli_support::run(
        bin()
            .args(crate::cli_support::CHECK_2002)
            .arg("--data")
            .arg(&demo)
            .arg("--order")
            .arg(&bom_order),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let latin1 = dir.path().join("latin1.json");
    std::fs::write(&latin1, b"{\n  \"displayName\": \"Caf\xe9\"\n}\n").expect("write");
    let r = crate::cli_support::run(
        bin()
            .args(crate::cli_support::CHECK_2002)
            .arg("--data")
            .arg(&demo)
            .arg("--order")
            .arg(&latin1),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("line 2, column 22") && r.stderr.contains("not valid UTF-8"),
        "{}",
        r.stderr
    );
    let payload =
        std::fs::read(crate::cli_support::fixture("new-customers/acme.json")).expect("payload");
    let one_line: Vec<u8> = payload.iter().copied().filter(|&b| b != b'\n').collect();
    for (flag, body) in [("--payload", payload.clone()), ("--payloads", one_line)] {
        let file = dir.path().join("payload.json");
        std::fs::write(&file, [b"\xef\xbb\xbf".as_slice(), &body].concat()).expect("write");
        let r = crate::cli_support::run(
            bin()
                .args(["check-new-customer", "--account", "1001", "--data"])
                .arg(&demo)
                .arg(flag)
                .arg(&file),
        );
        assert_ne!(r.code, 2, "{flag}: {}", r.stderr);
        assert!(!r.stderr.contains("invalid JSON"), "{flag}: {}", r.stderr);
    }
}

// ---- 17. Id messages say what is wrong -------------------------------------

#[test]
fn minus_zero_is_zero_not_negative() {
    for id in ["-0", "-000"] {
        let r = crate::cli_support::run(
            bin()
                .args(["check", "--account", "1001", "--customer", id, "--data"])
                .arg(crate::cli_support::fixture("demo")),
        );
        assert_eq!(r.code, 2, "{id}: {}", r.stderr);
        assert!(r.stderr.contains("ids start at 1"), "{id}: {}", r.stderr);
        assert!(!r.stderr.contains("negative"), "{id}: {}", r.stderr);
    }
}

#[cfg(feature = "serve")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_says_what_is_wrong_with_an_id() {
    use crate::service_support::{post_json, snapshot_config, start_service};
    let service = ion_preflight::service::Service::new(snapshot_config()).expect("service");
    let base = start_service(&service).await;
    let url = format!("{base}/v1/check");
    for (customer, expected) in [
        (
            "99999999999999999999",
            "`customer_id` is too large for an id (the largest is 18446744073709551615)",
        ),
        ("-5", "`customer_id` is negative"),
        ("2002.5", "`customer_id` must be a whole number"),
        ("\"2002\"", "`customer_id` must be a number, not a string"),
        ("0", "ids start at 1"),
    ] {
        let body = format!(r#"{{"account_id": 1001, "customer_id": {customer}}}"#);
        let (status, _, got) = post_json(&url, &body, None).await;
        assert_eq!(status, 400, "{customer}: {got}");
        let text = got.to_string();
        assert!(text.contains(expected), "{customer}: {text}");
        assert!(!text.contains("floating point"), "{customer}: {text}");
    }
    let (status, _, got) = post_json(
        &format!("{base}/v1/check-new-customer"),
        r#"{"account_id": 1e30, "payload": {}}"#,
        None,
    )
    .await;
    assert_eq!(status, 400, "{got}");
    assert!(
        got.to_string().contains("`account_id` is too large"),
        "{got}"
    );
}

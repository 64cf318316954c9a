//! Secrets and transport: no access or refresh token in stdout, stderr,
//! TRACE logs, error messages or reports, on success and on every failure
//! path of the fault tests; the token file stays private and is replaced
//! atomically; plain http only on loopback; no redirect carries a token
//! away; TLS through rustls only.

use std::path::Path;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::cli_live::run_async;
use crate::cli_support::{
    Run, SNAPSHOT_2002, assert_one_line, bin, json_check_of, live_json_check,
};
use crate::fault_server::{FaultPlan, FaultServer};
use crate::faults::{order, refresh_token_in, write_token_file};

/// Asserts that no token, nor any 12-character piece of one, is in `r`'s
/// output: a token cut in half by an excerpt is still a leak.
fn assert_no_secret(r: &Run, tokens: &[String], what: &str) {
    for t in tokens {
        let t = t.as_str();
        let pieces: Vec<&str> = if t.len() <= 12 {
            vec![t]
        } else {
            (0..=t.len() - 12).map(|i| &t[i..i + 12]).collect()
        };
        let lines_with = |text: &str, p: &str| {
            text.lines()
                .filter(|l| l.contains(p))
                .take(3)
                .map(|l| l.chars().take(600).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n")
        };
        for p in pieces {
            assert!(
                !r.stdout.contains(p),
                "{what}: a piece of {t} on stdout:\n{}",
                lines_with(&r.stdout, p)
            );
            assert!(
                !r.stderr.contains(p),
                "{what}: a piece of {t} on stderr:\n{}",
                lines_with(&r.stderr, p)
            );
        }
    }
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_any_output_at_trace_through_every_fault() {
    let ids: Vec<u64> = (1..=150).map(|i| 800_000 + i).collect();
    let server = FaultServer::start(FaultPlan {
        seed: 7,
        fault_per_mille: 500,
        doomed_per_mille: 50,
        max_attempts: 3,
        slow: std::time::Duration::from_millis(700),
        access_token_uses: 60,
        customers: ids,
        token_tag: "SECRET7c1d",
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = write_token_file(dir.path(), &server.initial_refresh_token());
    let order_file = dir.path().join("order.json");
    std::fs::write(&order_file, order().to_string()).expect("order");
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_TOKEN_FILE", &token_file)
        .env("ION_REQUEST_TIMEOUT", "500ms")
        .env("ION_MAX_ATTEMPTS", "3")
        .env("ION_RETRY_BACKOFF", "1ms")
        .env("RUST_LOG", "trace")
        .args(["batch", "--account", "1001", "--all", "--page-size", "40"])
        .args(["--concurrency", "16", "--format", "ndjson"])
        .arg("--order")
        .arg(&order_file);
    let r = run_async(cmd).await;
    let rec = server.record();
    assert_eq!(r.code, 3, "{}", r.stderr.lines().last().unwrap_or(""));
    assert_eq!(r.stdout.lines().count(), 150);
    // TRACE really was on, and every failure path was logged.
    assert!(r.stderr.contains("TRACE"));
    assert!(r.stderr.contains("ion.refresh"));
    assert!(r.stderr.contains("retrying"));
    assert!(
        rec.refresh_presented.len() >= 3,
        "{:?}",
        rec.refresh_presented
    );
    assert!(rec.violations.is_empty(), "{:?}", rec.violations);
    let tokens: Vec<String> = rec
        .refresh_issued
        .iter()
        .chain(&rec.access_issued)
        .cloned()
        .collect();
    assert_no_secret(&r, &tokens, "fault batch at TRACE");
}

/// A server that echoes the token it was sent in every answer, in every
/// place a message or excerpt could come from.
async fn echoing_server(access: &str, refresh: &str) -> MockServer {
    let server = MockServer::start().await;
    let padding = "x".repeat(150);
    let answers = [
        (
            "/api/v3/accounts/1001/customers/1",
            ResponseTemplate::new(403).set_body_json(json!({
                "error": "PERMISSION_DENIED", "code": 403,
                "message": format!("access token {access} expired")
            })),
        ),
        (
            "/api/v3/accounts/1001/customers/2",
            ResponseTemplate::new(500).set_body_json(json!({
                "error": "INTERNAL", "code": 500, "message": format!("bad bearer {access}")
            })),
        ),
        (
            "/api/v3/accounts/1001/customers/3",
            ResponseTemplate::new(200)
                .set_body_string(format!("<html>{}{access}{padding}</html>", &padding[..140])),
        ),
        (
            "/api/v3/accounts/1001/customers/4",
            // Cut by the 160-character excerpt in the middle of the token.
            ResponseTemplate::new(502).set_body_string(format!("{}{access}", &padding[..144])),
        ),
        (
            "/api/v3/accounts/1001/customers/5",
            // Valid JSON of the wrong shape: the serde error quotes it.
            ResponseTemplate::new(200)
                .set_body_json(json!({ "name": 7, "customerStatus": access })),
        ),
        (
            "/api/v3/accounts/1001/customers/6",
            ResponseTemplate::new(200).set_body_json(
                json!({ "name": format!("{padding}{access}"), "customerStatus": [] }),
            ),
        ),
        (
            "/api/v3/accounts/1001/customers/7",
            ResponseTemplate::new(400).set_body_json(json!({
                "error": "INVALID_ARGUMENT", "code": 400, "message": format!("{padding}{access}")
            })),
        ),
        (
            "/api/v3/accounts/1001/customers/8",
            ResponseTemplate::new(404).set_body_string(format!("Not Found: {access}")),
        ),
    ];
    for (p, answer) in answers {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(answer.clone())
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{p}/cloudProfiles")))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "code": 400,
            "message": format!("refresh token {refresh} was already used")
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_in_messages_or_reports_when_the_server_echoes_it() {
    let access = "at-ECHO-4b1e9f0c2d7a";
    let refresh = "rt-ECHO-93a0d5e61f2b";
    let server = echoing_server(access, refresh).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = crate::cli_support::write(dir.path(), "ids.txt", "1\n2\n3\n4\n5\n6\n7\n8\n");
    // With an access token only: every kind of error answer.
    for format in ["ndjson", "json", "junit"] {
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_ACCESS_TOKEN", access)
            .env("ION_MAX_ATTEMPTS", "2")
            .env("ION_RETRY_BACKOFF", "1ms")
            .env("RUST_LOG", "trace")
            .args(["batch", "--account", "1001", "--format", format])
            .arg("--customers")
            .arg(&ids);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert!(r.stdout.contains("unavailable") || r.stdout.contains("could not"));
        assert_no_secret(&r, &[access.to_owned()], format);
    }
    // With a refresh token that ION rejects (and echoes).
    let token_file = write_token_file(dir.path(), refresh);
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_TOKEN_FILE", &token_file)
        .env("RUST_LOG", "trace")
        .args([
            "check",
            "--account",
            "1001",
            "--customer",
            "1",
            "--format",
            "json",
        ]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.contains("token"), "{}", r.stdout);
    assert_no_secret(&r, &[refresh.to_owned()], "rejected refresh");
}

#[test]
fn no_token_when_ion_is_unreachable_or_the_url_is_refused() {
    let access = "at-UNREACH-0c4f7e21";
    for (url, code) in [
        ("http://127.0.0.1:9", 3),
        ("http://ion.example.com", 2),
        ("http://10.1.2.3:8080", 2),
        ("ftp://127.0.0.1", 2),
        ("http://user:pw-3e8a91c2@127.0.0.1:9", 2),
    ] {
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", url)
            .env("ION_ACCESS_TOKEN", access)
            .env("RUST_LOG", "trace")
            .env("ION_MAX_ATTEMPTS", "1")
            .args(["check", "--account", "1001", "--customer", "2002"]);
        let r = crate::cli_support::run(&mut cmd);
        assert_eq!(r.code, code, "{url}: {}", r.stderr);
        assert_no_secret(&r, &[access.to_owned(), "pw-3e8a91c2".to_owned()], url);
        if code == 2 {
            assert_one_line(&r.stderr);
            assert!(r.stderr.contains("base URL"), "{url}: {}", r.stderr);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_is_refused_off_loopback_and_redirects_are_not_followed() {
    // A redirect to another host must not carry the token along.
    let elsewhere = MockServer::start().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/api/v3/accounts/1001/customers/2002", elsewhere.uri()).as_str(),
        ))
        .mount(&server)
        .await;
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_ACCESS_TOKEN", "at-REDIRECT-77")
        .args(["check", "--account", "1001", "--customer", "2002"]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    let followed = elsewhere.received_requests().await.expect("recording");
    assert!(followed.is_empty(), "the redirect was followed");
    // localhost by name is loopback too.
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", "http://localhost:9")
        .env("ION_ACCESS_TOKEN", "at-x")
        .env("ION_MAX_ATTEMPTS", "1")
        .args(["check", "--account", "1001", "--customer", "2002"]);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(!r.stderr.contains("base URL"), "{}", r.stderr);
}

#[cfg(unix)]
mod token_file {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;
    use crate::cli_live::ion_with_token;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    async fn refreshing_server(new_access: &str, new_refresh: &str) -> MockServer {
        let server = ion_with_token(new_access).await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": new_access, "refresh_token": new_refresh,
                "expires_in": 7200, "token_type": "Bearer"
            })))
            .mount(&server)
            .await;
        server
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_readable_token_file_is_warned_about_and_replaced_privately() {
        let server = refreshing_server("at-FILE-2-5d0e", "rt-FILE-2-a81c").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_token_file(dir.path(), "rt-FILE-1-3f9b");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let inode = std::fs::metadata(&file).expect("meta").ino();
        let mut cmd = live_json_check(&server.uri());
        cmd.env("ION_TOKEN_FILE", &file);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        // The warning names the file and the fix, never the token.
        assert!(r.stderr.contains("readable by other users"), "{}", r.stderr);
        assert!(r.stderr.contains("chmod 600"), "{}", r.stderr);
        assert_no_secret(
            &r,
            &[
                "rt-FILE-1-3f9b".into(),
                "rt-FILE-2-a81c".into(),
                "at-FILE-2-5d0e".into(),
            ],
            "token file",
        );
        // Rotated: the new token, mode 0600, a new inode (written beside
        // and renamed over, not rewritten in place), no temporary file left.
        assert_eq!(refresh_token_in(&file), "rt-FILE-2-a81c");
        assert_eq!(mode(&file), 0o600);
        assert_ne!(std::fs::metadata(&file).expect("meta").ino(), inode);
        // Nothing beside the token file but its (empty) lock file.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["refresh-token", "refresh-token.lock"]);
        let lock = std::fs::read(dir.path().join("refresh-token.lock")).expect("lock");
        assert!(lock.is_empty() || !String::from_utf8_lossy(&lock).contains("rt-FILE"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_new_token_file_is_created_0600() {
        let server = refreshing_server("at-NEW-2-0b7c", "rt-NEW-2-e4d2").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("fresh-token");
        let mut cmd = live_json_check(&server.uri());
        cmd.env("ION_REFRESH_TOKEN", "rt-NEW-1-77f0")
            .env("ION_TOKEN_FILE", &file);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            !r.stderr.contains("readable by other users"),
            "{}",
            r.stderr
        );
        assert_eq!(refresh_token_in(&file), "rt-NEW-2-e4d2");
        assert_eq!(mode(&file), 0o600);
    }
}

#[test]
fn tls_is_rustls_only() {
    // Every package in the lock file: rustls is there, no OpenSSL or
    // native-tls is (deny.toml bans them too).
    let lock =
        std::fs::read_to_string(crate::cli_support::root().join("Cargo.lock")).expect("Cargo.lock");
    let names: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|l| l.trim_end_matches('"'))
        .collect();
    assert!(names.contains(&"rustls"), "rustls missing");
    for banned in [
        "openssl",
        "openssl-sys",
        "native-tls",
        "hyper-tls",
        "tokio-native-tls",
    ] {
        assert!(!names.contains(&banned), "{banned} is in Cargo.lock");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_snapshot_holds_no_echoed_token() {
    // ION (or a proxy) echoing the bearer token inside a well-formed body:
    // neither the recording on disk nor the replayed report carries it.
    let access = "at-SNAP-6e02b9d4a1c3";
    let server = MockServer::start().await;
    let mut customer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::cli_support::fixture(
            "demo/accounts/1001/customers/2002.json",
        ))
        .expect("fixture"),
    )
    .expect("json");
    customer["customerOrganization"] = json!(format!("Contoso (seen with {access})"));
    Mock::given(method("GET"))
        .and(path("/api/v3/accounts/1001/customers/2002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&customer))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/accounts/1001/customers/2002/cloudProfiles"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "customerId": "2002", "customerCloudProfiles": [], "note": access
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("snap");
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_ACCESS_TOKEN", access)
        .env("RUST_LOG", "trace")
        .args(SNAPSHOT_2002)
        .arg("--out")
        .arg(&out);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_secret(&r, &[access.to_owned()], "snapshot");
    let mut files = 0;
    for entry in walk(&out) {
        let text = std::fs::read_to_string(&entry).expect("read");
        assert!(
            !text.contains(access),
            "{} holds the token",
            entry.display()
        );
        files += 1;
    }
    // The customer, its cloud profiles, and the marker (snapshot.json).
    assert_eq!(files, 3);
    let r = run_async(json_check_of(&out)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_secret(&r, &[access.to_owned()], "replay");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readdir") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

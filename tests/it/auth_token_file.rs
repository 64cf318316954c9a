//! The token file shared across runs and processes, through the library:
//! cached access tokens reused, one refresh under the lock, bare files
//! upgraded, refresh-token expiry recorded and warned about.

use ion_preflight::ion::{IonClient, TokenFile, TokenStore};
use secrecy::ExposeSecret;
use std::sync::{Arc, Barrier};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer};

use crate::auth_support::*;
use crate::ion_support::*;

fn client(server: &MockServer, file: &std::path::Path) -> IonClient {
    builder(server)
        .token_store(Arc::new(TokenFile::new(file)))
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_valid_cached_access_token_means_one_round_trip_and_no_refresh() {
    let (rotation, server, dir) = rotating_ion(Some(30 * 86_400)).await;
    let file = dir.path().join("token.json");
    seed_tokens(&file, "at-cached", 3600, Some(20 * 86_400));
    let before = std::fs::read_to_string(&file).expect("read");

    let customer = client(&server, &file)
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("fetch");
    assert!(customer.is_some());
    let all = server.received_requests().await.expect("recorded");
    assert_eq!(all.len(), 1, "one check, one round trip: {all:?}");
    assert_eq!(bearers(&server).await, ["Bearer at-cached"]);
    assert_eq!(rotation.issued(), 0);
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        before,
        "nothing to write"
    );
}

#[tokio::test]
async fn an_access_token_inside_the_safety_margin_is_refreshed() {
    let (rotation, server, dir) = rotating_ion(Some(30 * 86_400)).await;
    let file = dir.path().join("token.json");
    seed_tokens(&file, "at-old", 30, None);
    client(&server, &file)
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("fetch");
    assert_eq!(rotation.presented(), ["rt-0"]);
    assert_eq!(bearers(&server).await, ["Bearer at-1"]);
    let stored = read_json(&file);
    assert_eq!(stored["refresh_token"], "rt-1");
    assert_eq!(stored["access_token"], "at-1");
}

#[cfg(unix)]
#[tokio::test]
async fn a_bare_token_file_is_upgraded_in_place_and_the_next_run_reuses_its_access_token() {
    use std::os::unix::fs::PermissionsExt;
    let (rotation, server, dir) = rotating_ion(Some(30 * 86_400)).await;
    let file = dir.path().join("token");
    // As pasted from the portal.
    std::fs::write(&file, "rt-0\n").expect("seed");

    client(&server, &file)
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("first run");
    let stored = read_json(&file);
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["refresh_token"], "rt-1");
    assert_eq!(stored["access_token"], "at-1");
    let expires: jiff::Timestamp = stored["access_expires_at"]
        .as_str()
        .expect("string")
        .parse()
        .expect("timestamp");
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((7100..=7200).contains(&left), "{left}");
    assert!(stored["refresh_obtained_at"].is_string());
    // ION's word on the refresh token, asked once after the refresh.
    assert!(stored["refresh_expires_at"].is_string(), "{stored}");
    assert_eq!(hits(&server, "/oauth/validateAccess").await, 1);
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // A second run (a new client, as a new process would build) within the
    // access token's lifetime: no refresh, no validateAccess.
    client(&server, &file)
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("second run");
    assert_eq!(rotation.presented(), ["rt-0"]);
    assert_eq!(hits(&server, "/oauth/validateAccess").await, 1);
    assert_eq!(bearers(&server).await, ["Bearer at-1", "Bearer at-1"]);
}

/// Ten clients in ten threads, each with its own runtime and its own
/// `TokenFile` on the same path (nothing shared in memory), started at once
/// against an expired access token: the file lock makes it one refresh.
#[test]
fn ten_clients_with_separate_runtimes_sharing_the_file_refresh_once() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rotation = RotatingIon::new("rt-0", ms(300));
    let server = rt.block_on(ion_server(&rotation, Some(30 * 86_400)));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    seed_tokens(&file, "at-0", -10, None);
    let uri = server.uri();
    let barrier = Arc::new(Barrier::new(10));
    let threads: Vec<_> = (0..10)
        .map(|_| {
            let (uri, file, barrier) = (uri.clone(), file.clone(), barrier.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let client = IonClient::builder()
                    .base_url(&uri)
                    .token_store(Arc::new(TokenFile::new(&file)))
                    .build()
                    .expect("client");
                barrier.wait();
                rt.block_on(client.customer(ACCOUNT, CUSTOMER))
                    .map(|c| c.is_some())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().expect("thread"), Ok(true));
    }
    assert_eq!(rotation.presented(), ["rt-0"], "exactly one refresh");
    let b = rt.block_on(bearers(&server));
    assert_eq!(b.len(), 10);
    assert!(b.iter().all(|h| h == "Bearer at-1"), "{b:?}");
    assert_eq!(read_json(&file)["refresh_token"], "rt-1");
}

#[tokio::test]
async fn an_access_token_ion_rejects_is_not_taken_from_the_file_again() {
    let rotation = RotatingIon::new("rt-0", ms(0));
    let server = MockServer::start().await;
    mount_get(
        &server,
        header("authorization", "Bearer at-revoked"),
        ion_error(403, "PERMISSION_DENIED", "access token invalid or expired"),
        None,
    )
    .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/oauth/token"))
        .respond_with(rotation.clone())
        .mount(&server)
        .await;
    mount_get(
        &server,
        header("authorization", "Bearer at-1"),
        ok_json(customer_body(ACCOUNT, CUSTOMER)),
        None,
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    seed_tokens(&file, "at-revoked", 3600, None);
    let customer = client(&server, &file)
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("fetch after one refresh");
    assert!(customer.is_some());
    assert_eq!(rotation.presented(), ["rt-0"]);
    assert_eq!(read_json(&file)["access_token"], "at-1");
}

#[tokio::test]
async fn refresh_now_forces_one_refresh_and_learns_the_expiry_only_once() {
    let (rotation, server, dir) = rotating_ion(Some(25 * 86_400)).await;
    let file = dir.path().join("token.json");
    seed_tokens(&file, "at-0", 3600, None);
    let c = client(&server, &file);
    c.refresh_now().await.expect("forced refresh");
    assert_eq!(rotation.presented(), ["rt-0"]);
    assert_eq!(hits(&server, "/oauth/validateAccess").await, 1);
    let first = read_json(&file);
    assert_eq!(first["access_token"], "at-1");
    assert!(first["refresh_expires_at"].is_string());
    // The expiry is known and far: the next refresh does not ask again.
    c.refresh_now().await.expect("second forced refresh");
    assert_eq!(rotation.presented(), ["rt-0", "rt-1"]);
    assert_eq!(hits(&server, "/oauth/validateAccess").await, 1);
    let second = read_json(&file);
    assert_eq!(second["refresh_token"], "rt-2");
    assert_eq!(second["refresh_expires_at"], first["refresh_expires_at"]);
}

#[tokio::test]
async fn validate_access_records_the_refresh_tokens_expiry() {
    let (rotation, server, dir) = rotating_ion(Some(12 * 86_400)).await;
    let file = dir.path().join("token.json");
    seed_tokens(&file, "at-0", 3600, None);
    let v = client(&server, &file)
        .validate_access()
        .await
        .expect("validate");
    assert_eq!(v.refresh_expires_in, Some(12 * 86_400));
    assert_eq!(
        rotation.issued(),
        0,
        "the cached access token was validated"
    );
    let stored = TokenFile::new(&file)
        .load_tokens()
        .expect("load")
        .expect("some");
    let left = stored
        .refresh_expires_at
        .expect("recorded")
        .duration_since(jiff::Timestamp::now())
        .as_secs();
    assert!((12 * 86_400 - 60..=12 * 86_400).contains(&left), "{left}");
    assert_eq!(stored.access_token.expect("kept").expose_secret(), "at-0");
}

/// The logs of one customer fetch through the token file `file` against a
/// fresh rotating ION (`ion_server(.., refresh_expires_in)`), and how many
/// requests reached ION.
fn fetch_capturing_logs(
    file: &std::path::Path,
    refresh_expires_in: Option<i64>,
) -> (String, usize) {
    capture_logs(async {
        let rotation = RotatingIon::new("rt-0", ms(0));
        let server = ion_server(&rotation, refresh_expires_in).await;
        client(&server, file)
            .customer(ACCOUNT, CUSTOMER)
            .await
            .expect("fetch");
        server.received_requests().await.expect("recorded").len()
    })
}

/// Captures the `tracing` output of `f` (run on a current-thread runtime
/// so the thread-local subscriber sees every event), with what `f` returned.
fn capture_logs<F: std::future::Future>(f: F) -> (String, F::Output) {
    use std::io::Write;
    use std::sync::Mutex;
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, d: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(d);
            }
            Ok(d.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf(Arc::new(Mutex::new(Vec::new())));
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let output = tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    });
    let bytes = buf.0.lock().expect("buf").clone();
    (String::from_utf8(bytes).expect("utf-8"), output)
}

#[test]
fn a_refresh_token_with_less_than_seven_days_left_is_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Learned after a refresh (ION says 3 days left).
    let file = dir.path().join("a.json");
    std::fs::write(&file, "rt-0\n").expect("seed");
    let (logs, _) = fetch_capturing_logs(&file, Some(3 * 86_400 + 600));
    assert!(
        logs.contains("the ION refresh token expires in 3 d 0 h"),
        "{logs}"
    );
    // The library's advice is the portal's; command names are the CLI's.
    assert!(logs.contains("ION portal"), "{logs}");
    assert!(!logs.contains("auth login"), "{logs}");
    assert!(!logs.contains("rt-0") && !logs.contains("at-1"), "{logs}");

    // Recorded in the file earlier: warned about on a run that makes no
    // refresh and no extra request.
    let file = dir.path().join("b.json");
    seed_tokens(&file, "at-0", 3600, Some(2 * 86_400));
    let (logs, requests) = fetch_capturing_logs(&file, None);
    assert_eq!(requests, 1);
    assert!(logs.contains("expires in 1 d 23 h"), "{logs}");

    // Far from expiry: silent.
    let file = dir.path().join("c.json");
    seed_tokens(&file, "at-0", 3600, Some(20 * 86_400));
    let (logs, _) = fetch_capturing_logs(&file, None);
    assert!(!logs.contains("refresh token"), "{logs}");
}

#[cfg(unix)]
#[test]
fn a_token_file_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    seed_tokens(&file, "at-0", 3600, None);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (logs, _) = fetch_capturing_logs(&file, None);
    assert!(logs.contains("readable by other users"), "{logs}");
    assert!(logs.contains("mode=644"), "{logs}");
}

#[tokio::test]
async fn a_malformed_token_file_is_one_clear_error_without_its_content() {
    let (rotation, server, dir) = rotating_ion(None).await;
    let file = dir.path().join("token.json");
    std::fs::write(&file, r#"{"version": 1, "refresh_token": "rt-secret-0" "#).expect("seed");
    let e = client(&server, &file)
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect_err("malformed");
    let msg = e.to_string();
    assert!(msg.contains("token.json cannot be used"), "{msg}");
    assert!(!msg.contains("rt-secret-0"), "{msg}");
    assert_eq!(rotation.issued(), 0);
}

/// What a [`Stamped`] endpoint saw on arrival: when, and the refresh token
/// the token file held at that moment.
#[derive(Clone, Debug)]
struct Arrival {
    path: String,
    at: std::time::Instant,
    file_refresh_token: serde_json::Value,
}

/// Answers `answer` (after its delay) and records each request's arrival
/// (`Respond::respond` runs when the request arrives, before the delay).
#[derive(Clone)]
struct Stamped {
    arrivals: Arc<std::sync::Mutex<Vec<Arrival>>>,
    file: std::path::PathBuf,
    answer: wiremock::ResponseTemplate,
}

impl wiremock::Respond for Stamped {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let arrival = Arrival {
            path: request.url.path().to_owned(),
            at: std::time::Instant::now(),
            file_refresh_token: read_json(&self.file)["refresh_token"].clone(),
        };
        self.arrivals.lock().expect("arrivals").push(arrival);
        self.answer.clone()
    }
}

/// A refresh, then the customer GET and `validateAccess` both answered
/// only `DELAY` after they arrive; returns the arrivals of those two and
/// what the fetch returned. `validate_status` is what validateAccess
/// answers.
async fn refresh_with_slow_validation(
    validate_status: u16,
) -> (Vec<Arrival>, bool, std::path::PathBuf, tempfile::TempDir) {
    let rotation = RotatingIon::new("rt-0", ms(0));
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/oauth/token"))
        .respond_with(rotation.clone())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    std::fs::write(&file, "rt-0\n").expect("seed");
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stamped = |answer: wiremock::ResponseTemplate| Stamped {
        arrivals: arrivals.clone(),
        file: file.clone(),
        answer: answer.set_delay(DELAY),
    };
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/oauth/validateAccess"))
        .and(wiremock::matchers::body_string("access_token=at-1"))
        .respond_with(stamped(
            wiremock::ResponseTemplate::new(validate_status).set_body_json(
                serde_json::json!({"access_expires_in": 7000, "refresh_expires_in": 3 * 86_400 + 600}),
            ),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer at-1"))
        .respond_with(stamped(ok_json(customer_body(ACCOUNT, CUSTOMER))))
        .mount(&server)
        .await;
    let found = client(&server, &file)
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("the check does not depend on validateAccess")
        .is_some();
    assert_eq!(rotation.presented(), ["rt-0"]);
    let arrivals = arrivals.lock().expect("arrivals").clone();
    (arrivals, found, file, dir)
}

/// How long the slow endpoints of `refresh_with_slow_validation` wait.
const DELAY: std::time::Duration = std::time::Duration::from_millis(800);

/// validateAccess (issue 8) does not gate the fetches: after the refresh,
/// the GET is sent while validateAccess is still unanswered (and the other
/// way round), so a refreshing check costs two round trips, not three. Both
/// use the new access token only once the rotated refresh token is in the
/// file. Structural, not a timing measurement: had either waited for the
/// other, it would have arrived at least `DELAY` after the other arrived.
#[tokio::test]
async fn validate_access_after_a_refresh_runs_alongside_the_fetch() {
    let (arrivals, found, file, _dir) = refresh_with_slow_validation(200).await;
    assert!(found);
    let of = |p: &str| {
        arrivals
            .iter()
            .find(|a| a.path.ends_with(p))
            .unwrap_or_else(|| panic!("no {p} in {arrivals:?}"))
            .clone()
    };
    assert_eq!(arrivals.len(), 2, "{arrivals:?}");
    let (validate, fetch) = (
        of("/oauth/validateAccess"),
        of(&customer_path(ACCOUNT, CUSTOMER)),
    );
    assert!(
        fetch.at < validate.at + DELAY,
        "the fetch waited for validateAccess's answer"
    );
    assert!(
        validate.at < fetch.at + DELAY,
        "validateAccess waited for the fetch's answer"
    );
    for a in &arrivals {
        assert_eq!(a.file_refresh_token, "rt-1", "{} before the save", a.path);
    }
    // ION's answer is recorded before the call returns.
    let stored = read_json(&file);
    assert_eq!(stored["access_token"], "at-1");
    let expires: jiff::Timestamp = stored["refresh_expires_at"]
        .as_str()
        .expect("recorded")
        .parse()
        .expect("timestamp");
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((3 * 86_400..=3 * 86_400 + 600).contains(&left), "{left}");
}

/// A validateAccess that fails (here a 500, after the fetch was sent) does
/// not fail the fetch; the expiry stays unknown, to be asked again after the
/// next refresh.
#[tokio::test]
async fn a_failing_validate_access_after_a_refresh_does_not_fail_the_fetch() {
    let (arrivals, found, file, _dir) = refresh_with_slow_validation(500).await;
    assert!(found);
    assert_eq!(arrivals.len(), 2, "{arrivals:?}");
    let stored = read_json(&file);
    assert_eq!(stored["refresh_token"], "rt-1");
    assert_eq!(stored["access_token"], "at-1");
    assert!(stored.get("refresh_expires_at").is_none(), "{stored}");
}

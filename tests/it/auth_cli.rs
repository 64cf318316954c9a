//! The token file through the real binary: concurrent processes refresh
//! once, a second run reuses the access token, a killed refresh leaves a
//! usable file, `auth login | status | refresh`, the near-expiry warning.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::auth_support::*;
use crate::cli_support::{bin, redactions, run};
use crate::ion_support::*;

const BIN: &str = env!("CARGO_BIN_EXE_ion-preflight");

/// `check` for the test customer through the token file, as a plain child
/// process (so several can run at once, and one can be killed).
fn check_process(server_uri: &str, file: &Path) -> StdCommand {
    let mut cmd = StdCommand::new(BIN);
    for var in [
        "ION_ACCESS_TOKEN",
        "ION_REFRESH_TOKEN",
        "ION_ACCOUNT_ID",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("ION_BASE_URL", server_uri)
        .env("ION_TOKEN_FILE", file)
        .env("NO_COLOR", "1")
        .args([
            "check",
            "--account",
            &ACCOUNT.to_string(),
            "--customer",
            &CUSTOMER.to_string(),
            "--format",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn expired_file(dir: &Path) -> PathBuf {
    let file = dir.join("token.json");
    seed(
        &file,
        json!({"version": 1, "refresh_token": "rt-0", "access_token": "at-0",
               "access_expires_at": at(-60), "refresh_expires_at": at(20 * 86_400)}),
    );
    file
}

/// `n` processes started together against an expired access token.
async fn concurrent_processes_refresh_once(n: usize) {
    let rotation = RotatingIon::new("rt-0", ms(300));
    let server = ion_server(&rotation, Some(20 * 86_400)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = expired_file(dir.path());
    let uri = server.uri();
    let children: Vec<_> = (0..n)
        .map(|_| check_process(&uri, &file).spawn().expect("spawn"))
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("join");
    for out in &outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        for t in ["rt-0", "rt-1", "at-1"] {
            assert!(!stderr.contains(t), "{stderr}");
            assert!(!String::from_utf8_lossy(&out.stdout).contains(t));
        }
    }
    assert_eq!(
        rotation.presented(),
        ["rt-0"],
        "{n} processes, exactly one refresh"
    );
    assert_eq!(hits(&server, "/oauth/token").await, 1);
    let b = bearers(&server).await;
    assert!(!b.is_empty());
    assert!(b.iter().all(|h| h == "Bearer at-1"), "{b:?}");
    let stored = read_json(&file);
    assert_eq!(stored["refresh_token"], "rt-1");
    assert_eq!(stored["access_token"], "at-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_started_at_once_refresh_once() {
    concurrent_processes_refresh_once(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_processes_started_at_once_refresh_once() {
    concurrent_processes_refresh_once(10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_within_the_access_tokens_lifetime_makes_no_refresh_call() {
    let rotation = RotatingIon::new("rt-0", ms(0));
    let server = ion_server(&rotation, Some(20 * 86_400)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    std::fs::write(&file, "rt-0\n").expect("bare token, as pasted");
    let uri = server.uri();

    let first = {
        let (uri, file) = (uri.clone(), file.clone());
        tokio::task::spawn_blocking(move || check_process(&uri, &file).output().expect("run"))
            .await
            .expect("join")
    };
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(rotation.presented(), ["rt-0"]);
    let after_first = server.received_requests().await.expect("recorded").len();

    let second = {
        let (uri, file) = (uri.clone(), file.clone());
        tokio::task::spawn_blocking(move || check_process(&uri, &file).output().expect("run"))
            .await
            .expect("join")
    };
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(rotation.presented(), ["rt-0"], "no second refresh");
    let requests = server.received_requests().await.expect("recorded");
    let second_run: Vec<_> = requests[after_first..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert!(
        second_run.iter().all(|r| r.starts_with("GET /api/v3/")),
        "only the check's own fetches: {second_run:?}"
    );
    assert!(bearers(&server).await.iter().all(|h| h == "Bearer at-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_refresh_leaves_a_usable_file() {
    let mut rotation = RotatingIon::new("rt-0", ms(0));
    rotation.hang_first = true;
    let server = ion_server(&rotation, Some(20 * 86_400)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = expired_file(dir.path());
    let before = std::fs::read(&file).expect("read");

    let mut child = check_process(&server.uri(), &file).spawn().expect("spawn");
    // Wait until the child is inside the refresh (holding the lock, its
    // request at ION), then kill it.
    let started = Instant::now();
    while hits(&server, "/oauth/token").await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no refresh came"
        );
        tokio::time::sleep(ms(20)).await;
    }
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success());

    // The old complete file, untouched; no temporary file left.
    assert_eq!(std::fs::read(&file).expect("read"), before);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");

    // The kernel released the dead process's lock: a new run refreshes
    // with the token in the file and works.
    let uri = server.uri();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = check_process(&uri, &file);
        let out = cmd.output().expect("run");
        (out, file)
    })
    .await
    .expect("join");
    let (out, file) = out;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rotation.presented(), ["rt-0"]);
    assert_eq!(read_json(&file)["refresh_token"], "rt-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_warn_on_stderr_when_the_refresh_token_expires_within_seven_days() {
    let rotation = RotatingIon::new("rt-0", ms(0));
    let server = ion_server(&rotation, None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    seed(
        &file,
        json!({"version": 1, "refresh_token": "rt-0", "access_token": "at-0",
               "access_expires_at": at(3600), "refresh_expires_at": at(5 * 86_400 + 600)}),
    );
    let uri = server.uri();
    let out =
        tokio::task::spawn_blocking(move || check_process(&uri, &file).output().expect("run"))
            .await
            .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(
        stderr.contains("the ION refresh token expires in 5 d 0 h"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("rt-0") && !stderr.contains("at-0"),
        "{stderr}"
    );
    assert_eq!(rotation.issued(), 0);
}

// ---- auth login / status / refresh ----

fn auth(file: &Path) -> assert_cmd::Command {
    let mut cmd = bin();
    cmd.env("ION_TOKEN_FILE", file);
    cmd
}

#[cfg(unix)]
#[test]
fn auth_login_stores_a_token_from_stdin_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("new-dir/token.json");
    let r = run(auth(&file)
        .args(["auth", "login"])
        .write_stdin("rt-from-portal-123\n"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Stored the refresh token in"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("rt-from-portal-123"));
    let stored = read_json(&file);
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["refresh_token"], "rt-from-portal-123");
    assert!(stored["refresh_obtained_at"].is_string());
    assert!(stored.get("access_token").is_none());
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // --token-file works too, and replaces what was there.
    let r = run(bin()
        .args(["auth", "login", "--token-file"])
        .arg(&file)
        .write_stdin("rt-second"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("replacing the previous tokens"),
        "{}",
        r.stdout
    );
    assert_eq!(read_json(&file)["refresh_token"], "rt-second");
}

#[test]
fn auth_login_refuses_tokens_as_arguments_and_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    // Never from an argument: clap has no place for it.
    let r = run(auth(&file).args(["auth", "login", "rt-on-the-command-line"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!file.exists());
    for input in ["", "  \n", "two tokens\n", "line-one\nline-two\n"] {
        let r = run(auth(&file).args(["auth", "login"]).write_stdin(input));
        assert_eq!(r.code, 2, "{input:?}: {}", r.stderr);
        assert!(!r.stderr.contains("line-one"), "{}", r.stderr);
        assert!(!file.exists(), "{input:?}");
    }
    // No file named at all.
    let r = run(bin().args(["auth", "login"]).write_stdin("rt-x"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("ION_TOKEN_FILE"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_refresh_forces_one_refresh_and_prints_no_token() {
    let rotation = RotatingIon::new("rt-0", ms(0));
    let server = ion_server(&rotation, Some(20 * 86_400)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    seed(
        &file,
        json!({"version": 1, "refresh_token": "rt-0", "access_token": "at-0", "access_expires_at": at(3600)}),
    );
    let mut cmd = auth(&file);
    cmd.env("ION_BASE_URL", server.uri())
        .args(["auth", "refresh"]);
    let r = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("join");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(rotation.presented(), ["rt-0"]);
    assert_eq!(read_json(&file)["access_token"], "at-1");
    assert!(r.stdout.contains("Refreshed"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Access token:  cached, valid for"),
        "{}",
        r.stdout
    );
    for t in ["rt-0", "rt-1", "at-0", "at-1"] {
        assert!(!r.stdout.contains(t) && !r.stderr.contains(t), "{t}");
    }

    // A spent refresh token: ION refuses, exit 3, the file untouched.
    seed(&file, json!({"version": 1, "refresh_token": "rt-0"}));
    let before = std::fs::read(&file).expect("read");
    let mut cmd = auth(&file);
    cmd.env("ION_BASE_URL", server.uri())
        .args(["auth", "refresh"]);
    let r = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("join");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("ION rejected the credentials"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("rt-0"), "{}", r.stderr);
    assert_eq!(std::fs::read(&file).expect("read"), before);
}

/// Redacts what changes between runs: times, durations, the temporary
/// directory, the port.
fn status_settings() -> insta::Settings {
    let mut s = redactions();
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]");
    // Durations computed from the clock; ION's (fixed by the test server,
    // followed by "left") stay.
    s.add_filter(
        r"\d+ (d|h|min|s)( \d+ (h|min|s))?( \(until| ago)",
        "[duration]$4",
    );
    s.add_filter(r"/tmp/[^ )\n]+/(token[^ )\n]*)", "[tmpdir]/$1");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_status_shows_validity_and_never_a_token() {
    let rotation = RotatingIon::new("rt-0", ms(0));
    let server = ion_server(&rotation, Some(2_764_273)).await;
    let dir = tempfile::tempdir().expect("tempdir");

    // A cached access token ION accepts.
    let cached = dir.path().join("token.json");
    seed(
        &cached,
        json!({"version": 1, "refresh_token": "rt-SECRET-0", "access_token": "at-SECRET-0",
               "access_expires_at": at(6000), "refresh_obtained_at": at(-86_400)}),
    );
    let mut cmd = auth(&cached);
    cmd.env("ION_BASE_URL", server.uri())
        .args(["auth", "status"]);
    let r = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("join");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("SECRET") && !r.stderr.contains("SECRET"));
    assert_eq!(rotation.issued(), 0, "status does not refresh");
    status_settings().bind(|| insta::assert_snapshot!("auth_status_cached", r.stdout));
    // What ION said is now recorded.
    assert!(read_json(&cached)["refresh_expires_at"].is_string());

    // A bare token: nothing to check without spending it.
    let bare = dir.path().join("token-bare");
    std::fs::write(&bare, "rt-SECRET-bare\n").expect("seed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Readable by others on purpose: status says so.
        std::fs::set_permissions(&bare, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let mut cmd = auth(&bare);
    cmd.env("ION_BASE_URL", server.uri())
        .args(["auth", "status"]);
    let r = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("join");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("SECRET"));
    status_settings().bind(|| insta::assert_snapshot!("auth_status_bare", r.stdout));
    assert_eq!(
        std::fs::read_to_string(&bare).expect("read"),
        "rt-SECRET-bare\n",
        "status writes nothing it did not learn"
    );

    // ION unreachable: exit 3, the file's view still shown.
    let mut cmd = auth(&cached);
    cmd.env("ION_BASE_URL", "http://127.0.0.1:9")
        .args(["auth", "status"]);
    let r = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("join");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout.contains("ION:           could not check"),
        "{}",
        r.stdout
    );

    // No file: exit 2.
    let r = run(auth(&dir.path().join("missing")).args(["auth", "status"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("auth login"), "{}", r.stderr);
}

/// On a terminal, `auth login` prompts and reads the token with echo off.
/// Runs the binary on a pseudo-terminal through util-linux `script`
/// (skipped where it is not installed).
#[cfg(target_os = "linux")]
#[test]
fn auth_login_on_a_terminal_prompts_without_echo() {
    use std::io::{Read, Write};
    if StdCommand::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.json");
    let mut child = StdCommand::new("script")
        .args(["-qec", &format!("{BIN} auth login"), "/dev/null"])
        .env("ION_TOKEN_FILE", &file)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let (prompted, prompt_seen) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        // Everything the terminal shows, until the session ends.
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("(input hidden): ") {
                let _ = prompted.send(());
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    // Type the token once the prompt is up (and echo is off: rpassword
    // turns it off right after printing the prompt).
    let started = Instant::now();
    prompt_seen
        .recv_timeout(Duration::from_secs(20))
        .expect("the prompt appears");
    std::thread::sleep(Duration::from_millis(100));
    stdin.write_all(b"rt-typed-on-a-tty\r").expect("type");
    stdin.flush().expect("flush");
    while child.try_wait().expect("poll").is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "login hangs");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let shown = reader.join().expect("reader");
    assert!(
        shown.contains("ION refresh token (input hidden):"),
        "{shown}"
    );
    assert!(shown.contains("Stored the refresh token"), "{shown}");
    assert!(!shown.contains("rt-typed-on-a-tty"), "echoed: {shown}");
    assert_eq!(read_json(&file)["refresh_token"], "rt-typed-on-a-tty");
}

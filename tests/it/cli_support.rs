//! Helpers for running the real `ion-preflight` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The crate root (fixtures are relative to it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// The binary, run from the crate root with a clean ION environment: no
/// ION_* variable or RUST_LOG leaks in from the developer's shell.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ion-preflight"));
    cmd.current_dir(root());
    clean_env(&mut cmd);
    cmd.timeout(std::time::Duration::from_secs(60));
    cmd
}

/// Removes from `cmd` every variable of the developer's shell that would
/// change what the binary does (ION_* credentials and endpoints, logging,
/// colour, backtraces); also for a shell that runs the binary.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for var in [
        "ION_BASE_URL",
        "ION_ACCOUNT_ID",
        "ION_ACCESS_TOKEN",
        "ION_REFRESH_TOKEN",
        "ION_TOKEN_FILE",
        "RUST_LOG",
        "NO_COLOR",
        "RUST_BACKTRACE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `check` of customer 2002 in account 1001: the command line most tests
/// start from.
pub const CHECK_2002: [&str; 5] = ["check", "--account", "1001", "--customer", "2002"];

/// `snapshot` of customer 2002 in account 1001; callers add `--out`.
pub const SNAPSHOT_2002: [&str; 5] = ["snapshot", "--account", "1001", "--customer", "2002"];

/// `check` of customer 2002 in account 1001 against a live (loopback) ION at
/// `base_url`, with a JSON report; credentials are the caller's to add.
pub fn live_json_check(base_url: &str) -> Command {
    let mut cmd = bin();
    cmd.env("ION_BASE_URL", base_url)
        .args(CHECK_2002)
        .args(["--format", "json"]);
    cmd
}

/// `check` of customer 2002 in account 1001 over the recorded data in
/// `data` (a snapshot directory), with a JSON report.
pub fn json_check_of(data: &Path) -> Command {
    let mut cmd = bin();
    cmd.args(CHECK_2002)
        .args(["--format", "json", "--data"])
        .arg(data);
    cmd
}

/// `check` over the demo snapshot (`fixtures/demo`) for `customer` of
/// account 1001; callers add the flags under test.
pub fn demo_check(customer: &str) -> Command {
    let mut cmd = bin();
    cmd.args([
        "check",
        "--data",
        "fixtures/demo",
        "--account",
        "1001",
        "--customer",
        customer,
    ]);
    cmd
}

/// `batch` over the demo snapshot for account 1001; callers add the flags
/// under test.
pub fn demo_batch() -> Command {
    let mut cmd = bin();
    cmd.args(["batch", "--data", "fixtures/demo", "--account", "1001"]);
    cmd
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// stdout as text.
    pub stdout: String,
    /// stderr as text.
    pub stderr: String,
}

/// Runs `cmd` and captures everything.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("the binary runs");
    Run {
        code: out.status.code().expect("exited normally, not by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// insta settings that redact volatile values: times, loopback ports,
/// temporary directories.
pub fn redactions() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r#"("checked_at": ?)"[^"]*""#, r#"$1"[checked_at]""#);
    s.add_filter(r#"timestamp="[^"]*""#, r#"timestamp="[checked_at]""#);
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]");
    s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[tmpdir]");
    s.add_filter(r"ion-preflight \d+\.\d+\.\d+", "ion-preflight [version]");
    s
}

/// Asserts that `stderr` is a single line.
pub fn assert_one_line(stderr: &str) {
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "expected one line on stderr, got:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

/// Writes `text` to a file in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write temp file");
    p
}

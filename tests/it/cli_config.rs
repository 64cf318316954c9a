//! Issue 19, point 7 through the binary: `ion-preflight.toml`, found in the
//! working directory or a parent (or `--config FILE`); flags win over the
//! environment, the environment over the file; unknown keys are errors
//! with a place; `config` says where each setting came from.

use std::path::Path;

use serde_json::Value;

use crate::cli_support::{bin, root, run, write};

fn demo() -> String {
    root().join("fixtures/demo").display().to_string()
}

fn check_in(dir: &Path) -> assert_cmd::Command {
    let mut cmd = bin();
    cmd.current_dir(dir)
        .args(["check", "--data", &demo(), "--customer", "2002"]);
    cmd
}

#[test]
fn the_file_supplies_account_format_and_fail_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "ion-preflight.toml",
        "account = 1001\nformat = \"json\"\nfail_on = \"warning\"\n",
    );
    // From a subdirectory: the file is found in the parent.
    let sub = dir.path().join("a/b");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let r = run(&mut check_in(&sub));
    assert_eq!(r.code, 0, "{r:?}");
    let report: Value = serde_json::from_str(&r.stdout).expect("the file's format: json");
    assert_eq!(report["account_id"], 1001);
    assert_eq!(report["fail_on"], "warning");
}

#[test]
fn flags_win_over_the_environment_and_the_environment_over_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "ion-preflight.toml",
        "account = 1001\nformat = \"junit\"\n",
    );
    let env = run(check_in(dir.path())
        .env("ION_ACCOUNT_ID", "4242")
        .args(["--format", "json"]));
    let report: Value = serde_json::from_str(&env.stdout).expect("the flag's format: json");
    assert_eq!(report["account_id"], 4242, "the environment beats the file");
    let flag = run(check_in(dir.path()).env("ION_ACCOUNT_ID", "4242").args([
        "--account",
        "1001",
        "--format",
        "json",
    ]));
    let report: Value = serde_json::from_str(&flag.stdout).expect("json");
    assert_eq!(report["account_id"], 1001, "the flag beats the environment");
    let file_only = run(&mut check_in(dir.path()));
    assert!(
        file_only.stdout.starts_with("<?xml"),
        "{}",
        file_only.stdout
    );
}

#[test]
fn rules_in_the_file_are_relative_to_it_and_explicit_config_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ci = dir.path().join("ci");
    std::fs::create_dir_all(&ci).expect("mkdir");
    write(
        &ci,
        "acme.yaml",
        "rules:\n  - id: acme-always\n    title: Always\n    severity: error\n    assert: { path: request.customerId, exists: true }\n    message: never\n",
    );
    let config = write(
        &ci,
        "ion-preflight.toml",
        "account = 1001\nrules = [\"acme.yaml\"]\nformat = \"json\"\n",
    );
    let mut cmd = check_in(dir.path());
    cmd.arg("--config").arg(&config);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{r:?}");
    let report: Value = serde_json::from_str(&r.stdout).expect("json");
    assert!(
        report["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|r| r["rule"] == "acme-always")
    );
    let missing = run(check_in(dir.path()).args(["--config", "nope.toml"]));
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("--config nope.toml: no such file"),
        "{}",
        missing.stderr
    );
}

#[test]
fn unknown_keys_and_bad_values_are_errors_with_a_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "ion-preflight.toml",
        "account = 1001\nfial_on = \"warning\"\n",
    );
    let r = run(&mut check_in(dir.path()));
    assert_eq!(r.code, 2, "{r:?}");
    let expected = format!("error: {}:2:1: unknown field `fial_on`", path.display());
    assert!(r.stderr.starts_with(&expected), "{}", r.stderr);
    crate::cli_support::assert_one_line(&r.stderr);
    write(
        dir.path(),
        "ion-preflight.toml",
        "fail_on = \"sometimes\"\n",
    );
    let r = run(&mut check_in(dir.path()));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(":1:11: fail_on: expected"),
        "{}",
        r.stderr
    );
    // A format a command does not have, for that command, names the line.
    write(
        dir.path(),
        "ion-preflight.toml",
        "account = 1001\nformat = \"sarif\"\n",
    );
    let mut batch = bin();
    batch
        .current_dir(dir.path())
        .args(["batch", "--data", &demo(), "--all"]);
    let r = run(&mut batch);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains(":2:10: format \"sarif\" is not a format of `ion-preflight batch`"),
        "{}",
        r.stderr
    );
    // …while check, which has it, uses it.
    let ok = run(&mut check_in(dir.path()));
    assert_eq!(ok.code, 0);
    assert!(
        ok.stdout.contains("\"version\": \"2.1.0\""),
        "{}",
        ok.stdout
    );
}

#[test]
fn config_prints_each_setting_and_where_it_came_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "ion-preflight.toml",
        "account = 1001\n\nfail_on = \"warning\"\n",
    );
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .arg("config")
        .env("ION_BASE_URL", "http://127.0.0.1:9");
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{r:?}");
    let row = |key: &str| {
        r.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} row:\n{}", r.stdout))
            .to_owned()
    };
    assert!(
        row("account").ends_with(&format!("{}:1:11", path.display())),
        "{}",
        row("account")
    );
    assert!(row("fail_on").contains("warning"), "{}", row("fail_on"));
    assert!(row("fail_on").ends_with(&format!("{}:3:11", path.display())));
    assert!(row("base_url").contains("http://127.0.0.1:9"));
    assert!(row("base_url").ends_with("environment (ION_BASE_URL)"));
    assert!(row("concurrency").ends_with("default"));
    assert!(
        r.stdout
            .starts_with(&format!("configuration file: {}", path.display()))
    );
}

/// A file found by walking up may have come with somebody else's checkout:
/// it cannot send the credentials to another host. ION's host and loopback
/// are allowed; `ION_BASE_URL` and `--base-url` still reach any host.
#[test]
fn a_config_file_cannot_point_the_credentials_at_another_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (url, refused) in [
        ("https://ion.tdsynnex.com.evil.example", true),
        ("https://evil.example", true),
        ("https://10.0.0.7:8443", true),
        ("https://ion.tdsynnex.com", false),
        ("http://127.0.0.1:9", false),
        ("http://localhost:9", false),
    ] {
        write(
            dir.path(),
            "ion-preflight.toml",
            &format!("account = 1001\nbase_url = \"{url}\"\n"),
        );
        let r = run(bin().current_dir(dir.path()).arg("config"));
        if refused {
            assert_eq!(r.code, 2, "{url}: {r:?}");
            assert!(
                r.stderr.contains("ion-preflight.toml:2:12: base_url:"),
                "{url}: {}",
                r.stderr
            );
            assert!(r.stderr.contains("ION_BASE_URL"), "{}", r.stderr);
        } else {
            assert_eq!(r.code, 0, "{url}: {r:?}");
            assert!(r.stdout.contains(url), "{url}: {}", r.stdout);
        }
    }
}

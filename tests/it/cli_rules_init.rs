//! Issue 19, point 9 through the binary: `rules test --run`, `--fail-fast`
//! and `--format`; `rules init` writes files that pass as written.

use serde_json::Value;

use crate::cli_support::{bin, run, write};

#[test]
fn init_writes_a_rule_file_and_tests_that_pass_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run(bin()
        .args(["rules", "init", "--name", "acme", "--dir"])
        .arg(dir.path()));
    assert_eq!(r.code, 0, "{r:?}");
    let rules = dir.path().join("acme.yaml");
    let tests = dir.path().join("acme.test.yaml");
    let rules_text = std::fs::read_to_string(&rules).expect("rule file");
    assert!(
        rules_text
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            >= 5,
        "commented"
    );
    let lint = run(bin().args(["rules", "lint"]).arg(&rules));
    assert_eq!(lint.code, 0, "{lint:?}");
    assert!(
        lint.stdout
            .contains("added 2 rules (acme-item-quantity-limit, acme-customer-has-email)"),
        "{}",
        lint.stdout
    );
    let test = run(bin().args(["rules", "test"]).arg(&tests));
    assert_eq!(test.code, 0, "{test:?}");
    assert!(
        test.stdout.ends_with("4 case(s): 4 passed, 0 failed\n"),
        "{}",
        test.stdout
    );
    // From another directory too: the test file names the rule file relative to itself.
    let test = run(bin().current_dir("/").args(["rules", "test"]).arg(&tests));
    assert_eq!(test.code, 0, "{test:?}");
    // The order rule runs offline in check-order, as its comment says.
    let big = write(
        dir.path(),
        "big.json",
        r#"{"orderItems": [{"action": "CREATE", "productId": "p", "skuId": "s", "planId": "m", "quantity": 900, "attributes": []}]}"#,
    );
    let co = run(bin().args(["check-order", "--rules"]).arg(&rules).arg(&big));
    assert_eq!(co.code, 1, "{co:?}");
    assert!(
        co.stdout.contains("acme-item-quantity-limit"),
        "{}",
        co.stdout
    );
    // Never over an existing file.
    std::fs::write(&tests, "mine").expect("write");
    let again = run(bin()
        .args(["rules", "init", "--name", "acme", "--dir"])
        .arg(dir.path()));
    assert_eq!(again.code, 2);
    assert_eq!(std::fs::read_to_string(&tests).expect("read"), "mine");
    assert_eq!(std::fs::read_to_string(&rules).expect("read"), rules_text);
}

#[test]
fn init_refuses_a_name_that_cannot_prefix_rule_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run(bin()
        .args(["rules", "init", "--name", "Acme Rules", "--dir"])
        .arg(dir.path()));
    assert_eq!(r.code, 2);
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
}

/// A test file with two failing cases and one passing one.
fn failing_tests(dir: &std::path::Path) -> std::path::PathBuf {
    let init = run(bin()
        .args(["rules", "init", "--name", "t", "--dir"])
        .arg(dir));
    assert_eq!(init.code, 0, "{init:?}");
    let path = dir.join("t.test.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    // Turn the two customer cases' expectations around.
    let text = text
        .replace(
            "t-customer-has-email: fail",
            "t-customer-has-email: pass #flipped",
        )
        .replacen(
            "t-customer-has-email: pass\n",
            "t-customer-has-email: fail\n",
            1,
        );
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn run_selects_cases_by_name_and_fail_fast_stops_at_the_first_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = failing_tests(dir.path());
    let all = run(bin().args(["rules", "test"]).arg(&path));
    assert_eq!(all.code, 1, "{all:?}");
    assert!(
        all.stdout.ends_with("4 case(s): 2 passed, 2 failed\n"),
        "{}",
        all.stdout
    );

    let only = run(bin().args(["rules", "test", "--run", "seats"]).arg(&path));
    assert_eq!(only.code, 0, "{only:?}");
    assert!(
        only.stdout
            .ends_with("2 case(s): 2 passed, 0 failed, 2 not run (by --run)\n"),
        "{}",
        only.stdout
    );

    let fast = run(bin()
        .args(["rules", "test", "--fail-fast", "--format", "json"])
        .arg(&path));
    assert_eq!(fast.code, 1);
    let doc: Value = serde_json::from_str(&fast.stdout).expect("json");
    assert_eq!(
        (
            doc["passed"].as_u64(),
            doc["failed"].as_u64(),
            doc["not_run"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let outcomes: Vec<&str> = doc["files"][0]["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["pass", "pass", "fail", "not-run"]);

    let none = run(bin()
        .args(["rules", "test", "--run", "^nothing$"])
        .arg(&path));
    assert_eq!(none.code, 2, "{none:?}");
    assert!(
        none.stderr.contains("no case's name matches"),
        "{}",
        none.stderr
    );
    let bad = run(bin().args(["rules", "test", "--run", "("]).arg(&path));
    assert_eq!(bad.code, 2);
}

#[test]
fn rules_test_junit_and_github_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = failing_tests(dir.path());
    let junit = run(bin()
        .args(["rules", "test", "--format", "junit"])
        .arg(&path));
    assert_eq!(junit.code, 1);
    assert_eq!(
        junit.stdout.matches("<testcase ").count(),
        4,
        "{}",
        junit.stdout
    );
    assert_eq!(
        junit.stdout.matches("<failure ").count(),
        2,
        "{}",
        junit.stdout
    );
    let gh = run(bin()
        .args(["rules", "test", "--format", "github"])
        .arg(&path));
    assert_eq!(gh.code, 1);
    let errors: Vec<&str> = gh
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error file="))
        .collect();
    assert_eq!(errors.len(), 2, "{}", gh.stdout);
    assert!(
        errors[0].contains(",line=29,col=1,title=a customer without an email gets a warning::"),
        "{}",
        errors[0]
    );
    assert!(
        gh.stdout
            .lines()
            .last()
            .unwrap_or("")
            .starts_with("::error title=ion-preflight rules test::")
    );
    // The summary goes to stderr too.
    assert!(gh.stderr.contains("2 failed"), "{}", gh.stderr);
}

//! Issue 19, point 8 through the binary: `check-order FILE…` evaluates only
//! the rules that read nothing but the order — offline, without
//! credentials — and never says a plain `ready`.

use serde_json::Value;

use crate::cli_support::{bin, run, write};

const GOOD: &str = "fixtures/orders/nce-order.json";
const UPDATE: &str = "fixtures/scenarios/update-without-resource-id/order.json";

#[test]
fn a_passing_order_says_the_customer_checks_were_not_run() {
    // bin() clears every ION_* variable: no credentials; and a base URL
    // nothing listens on is never contacted.
    let r = run(bin()
        .args(["check-order", GOOD])
        .env("ION_BASE_URL", "http://127.0.0.1:9"));
    assert_eq!(r.code, 0, "{r:?}");
    let headline = r.stdout.lines().next().unwrap_or_default();
    assert!(headline.starts_with("ORDER RULES PASSED"), "{headline}");
    assert!(
        headline.contains("the checks of the customer and of ION's data were not run"),
        "{headline}"
    );
    // No line reads like a full ready.
    assert!(
        !r.stdout
            .lines()
            .any(|l| l.starts_with("READY") || l.starts_with("ready")),
        "{}",
        r.stdout
    );
}

#[test]
fn only_order_rules_run_and_the_customer_rules_are_named() {
    let r = run(bin().args(["check-order", GOOD, "--format", "json"]));
    assert_eq!(r.code, 0, "{r:?}");
    let reports: Value = serde_json::from_str(&r.stdout).expect("json");
    let report = &reports[0];
    assert_eq!(report["order_only"]["file"], GOOD);
    assert!(
        report.get("customer_id").is_none() && report.get("account_id").is_none(),
        "{report}"
    );
    let evaluated: Vec<&str> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["rule"].as_str().unwrap_or(""))
        .collect();
    assert!(evaluated.contains(&"order-has-items"), "{evaluated:?}");
    assert!(
        !evaluated
            .iter()
            .any(|r| r.starts_with("customer-") || r.starts_with("microsoft-profile")),
        "{evaluated:?}"
    );
    let left_out = report["deselected"].as_array().expect("deselected");
    let exists = left_out
        .iter()
        .find(|d| d["rule"] == "customer-exists")
        .expect("customer-exists named");
    assert_eq!(
        exists["reason"],
        "needs a customer or ION data: reads customer"
    );
    // The order rule that needs the customer's tenant is left out too.
    assert!(
        left_out
            .iter()
            .any(|d| d["rule"] == "nce-item-has-microsoft-tenant"),
        "{left_out:?}"
    );
}

#[test]
fn several_files_and_a_directory_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
    std::fs::copy(UPDATE, dir.path().join("sub/b-update.json")).expect("copy");
    std::fs::copy(GOOD, dir.path().join("a-good.json")).expect("copy");
    write(dir.path(), "notes.txt", "not an order");
    let r = run(bin()
        .arg("check-order")
        .arg(dir.path())
        .args(["--format", "ndjson"]));
    assert_eq!(r.code, 1, "{r:?}");
    let files: Vec<(String, String)> = r
        .stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            (
                v["order_only"]["file"].as_str().unwrap_or("").to_owned(),
                v["verdict"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].0.ends_with("a-good.json") && files[0].1 == "ready");
    assert!(files[1].0.ends_with("b-update.json") && files[1].1 == "blocked");
    // GitHub annotations at the failing item's line in its own file.
    let gh = run(bin().args(["check-order", GOOD, UPDATE, "--format", "github"]));
    assert_eq!(gh.code, 1);
    assert!(
        gh.stdout.contains(&format!(
            "::error file={UPDATE},line=5,col=5,title=update-item-has-resource-id"
        )),
        "{}",
        gh.stdout
    );
    assert!(gh.stdout.contains("::notice title=ion-preflight::order rules passed for order file fixtures/orders/nce-order.json"), "{}", gh.stdout);
}

#[test]
fn a_bad_file_is_reported_and_the_others_still_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.json", "{\"orderItems\": [}\n");
    let r = run(bin().args(["check-order", GOOD]).arg(&bad));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.starts_with("ORDER RULES PASSED"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("bad.json, line 1, column 17: invalid JSON"),
        "{}",
        r.stderr
    );
    let empty = tempfile::tempdir().expect("tempdir");
    let r = run(bin().arg("check-order").arg(empty.path()));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("holds no .json file"), "{}", r.stderr);
}

#[test]
fn an_order_from_stdin_has_no_file_location() {
    let order = std::fs::read_to_string(UPDATE).expect("read");
    let r = run(bin()
        .args(["check-order", "-", "--format", "github"])
        .write_stdin(order));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("no file location"), "{}", r.stdout);
    assert!(!r.stdout.contains("file="), "{}", r.stdout);
}

/// A directory holding a link back to itself is walked once: the link is
/// not entered (it would recurse until the stack overflowed).
#[test]
fn a_link_to_a_parent_directory_is_not_entered() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(GOOD, dir.path().join("a-good.json")).expect("copy");
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).expect("symlink");
    let r = run(bin()
        .arg("check-order")
        .arg(dir.path())
        .args(["--format", "ndjson"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
}

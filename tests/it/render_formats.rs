//! Every output format of `check` and `batch`, on the demo snapshot,
//! snapshotted (checked_at redacted).

use serde_json::Value;

use crate::cli_support::{CHECK_2002, bin, demo_batch, demo_check, redactions, run, write};

const ORDER: &str = "fixtures/orders/nce-order.json";

fn check(customer: &str, format: &str) -> crate::cli_support::Run {
    run(demo_check(customer).args(["--order", ORDER, "--format", format]))
}

#[test]
fn check_text_ready() {
    let r = check("2002", "text");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("READY: "), "{}", r.stdout);
    assert!(!r.stdout.contains('\x1b'), "no colour when piped");
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    redactions().bind(|| insta::assert_snapshot!("check_text_ready", r.stdout));
}

#[test]
fn check_text_inactive_customer_is_blocked() {
    let r = check("2003", "text");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.starts_with("BLOCKED: "), "{}", r.stdout);
    assert!(r.stdout.contains("customer-active"), "{}", r.stdout);
    redactions().bind(|| insta::assert_snapshot!("check_text_inactive", r.stdout));
}

#[test]
fn check_text_ready_with_a_warning() {
    // Northwind has no Microsoft tenant, but the order creates one
    // (contoso.onmicrosoft.com); its address lacks a state: a warning.
    let r = check("2004", "text");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\nWarnings\n"), "{}", r.stdout);
    redactions().bind(|| insta::assert_snapshot!("check_text_warning", r.stdout));
}

#[test]
fn check_text_many_faults() {
    let r = run(demo_check("2002").args(["--order", "fixtures/scenarios/mixed-faults/order.json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    redactions().bind(|| insta::assert_snapshot!("check_text_mixed_faults", r.stdout));
}

#[test]
fn check_text_unknown_customer_is_blocked() {
    let r = check("9999", "text");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("customer-exists"), "{}", r.stdout);
}

#[test]
fn check_json_is_the_documented_shape() {
    let r = check("2003", "json");
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    for key in [
        "account_id",
        "customer_id",
        "verdict",
        "fail_on",
        "checked_at",
        "summary",
        "results",
    ] {
        assert!(v.get(key).is_some(), "report lacks {key}");
    }
    assert_eq!(v["verdict"], "blocked");
    redactions().bind(|| insta::assert_snapshot!("check_json_inactive", r.stdout));
}

#[test]
fn check_junit() {
    let r = check("2003", "junit");
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("<?xml"));
    assert_eq!(r.stdout.matches("<failure ").count(), 1, "{}", r.stdout);
    redactions().bind(|| insta::assert_snapshot!("check_junit_inactive", r.stdout));
}

#[test]
fn check_without_order_skips_order_rules() {
    let r = run(demo_check("2002").args(["--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    let skipped = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["outcome"] == "skip")
        .count();
    assert!(skipped > 0, "order rules skip without an order");
}

#[test]
fn order_from_stdin() {
    let order = std::fs::read_to_string(crate::cli_support::root().join(ORDER)).expect("order");
    let r = run(demo_check("2002")
        .args(["--order", "-", "--format", "json"])
        .write_stdin(order));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

const WARNING_RULE: &str = r#"rules:
  - id: acme-org-name-short
    title: Organization names stay under 5 characters
    severity: warning
    assert: { path: customer.customerOrganization, matches: "^.{0,4}$" }
    message: "{customer.customerOrganization} is too long for Acme's ERP"
"#;

#[test]
fn fail_on_warning_turns_a_failing_warning_into_blocked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write(dir.path(), "acme.yaml", WARNING_RULE);
    let base = |fail_on: &str| {
        run(demo_check("2002")
            .args(["--order", ORDER, "--fail-on", fail_on, "--rules"])
            .arg(&rules))
    };
    let r = base("error");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Warnings"), "{}", r.stdout);
    assert!(r.stdout.contains("Contoso Ltd is too long"), "{}", r.stdout);
    let r = base("warning");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("BLOCKED: 1 blocking failure"),
        "{}",
        r.stdout
    );
}

#[test]
fn no_default_rules_uses_only_the_given_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write(dir.path(), "acme.yaml", WARNING_RULE);
    let r = run(demo_check("2003")
        .args(["--format", "json", "--no-default-rules", "--rules"])
        .arg(&rules));
    // The inactive customer is not blocked: the built-in rules are left out.
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["results"].as_array().expect("results").len(), 1);
}

fn batch(format: &str, ids: &str) -> crate::cli_support::Run {
    run(demo_batch()
        .args([
            "--customers",
            "-",
            "--order",
            ORDER,
            "--concurrency",
            "1",
            "--format",
            format,
        ])
        .write_stdin(ids.to_owned()))
}

#[test]
fn batch_ndjson_one_report_per_line_and_summary_on_stderr() {
    let r = batch("ndjson", "# demo customers\n2002\n2003\n\n2004\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    for l in &lines {
        let v: Value = serde_json::from_str(l).expect("a whole report per line");
        assert!(v["results"].is_array());
    }
    assert!(
        r.stderr
            .starts_with("3 checked: 2 ready, 1 blocked, 0 indeterminate\n"),
        "{}",
        r.stderr
    );
    // The full reports are snapshotted per format above; here, what the
    // batch adds: one line per customer, in input order at concurrency 1.
    let outline: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON");
            let failing: Vec<&str> = v["results"]
                .as_array()
                .expect("results")
                .iter()
                .filter(|r| r["outcome"] == "fail")
                .filter_map(|r| r["rule"].as_str())
                .collect();
            format!(
                "{} {} {}",
                v["customer_id"],
                v["verdict"],
                failing.join(",")
            )
        })
        .collect();
    assert_eq!(
        outline,
        [
            "2002 \"ready\" ",
            "2003 \"blocked\" customer-active",
            "2004 \"ready\" customer-address-complete"
        ]
    );
    insta::assert_snapshot!("batch_summary", r.stderr);
}

#[test]
fn batch_ndjson_lines_match_check_json() {
    let b = batch("ndjson", "2003\n");
    let c = check("2003", "json");
    let mut from_batch: Value = serde_json::from_str(b.stdout.trim()).expect("JSON");
    let mut from_check: Value = serde_json::from_str(&c.stdout).expect("JSON");
    from_batch["checked_at"] = Value::Null;
    from_check["checked_at"] = Value::Null;
    assert_eq!(from_batch, from_check);
}

#[test]
fn batch_json_is_an_array() {
    let r = batch("json", "2002\n2003\n");
    assert_eq!(r.code, 1);
    let v: Vec<Value> = serde_json::from_str(&r.stdout).expect("a JSON array");
    assert_eq!(v.len(), 2);
}

#[test]
fn batch_junit_has_a_suite_per_customer() {
    let r = batch("junit", "2002\n2003\n");
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout.matches("<testsuite ").count(), 2);
    let rules = ion_preflight::rules::RuleSet::builtin().rules().len();
    assert_eq!(r.stdout.matches("<testcase ").count(), 2 * rules);
    assert_eq!(r.stdout.matches("<failure ").count(), 1);
    assert!(r.stdout.starts_with("<?xml") && r.stdout.ends_with("</testsuites>\n"));
}

#[test]
fn batch_all_ready_exits_0_and_quiet_prints_nothing_on_stderr() {
    let r = run(demo_batch()
        .args(["--customers", "-", "--quiet"])
        .write_stdin("2002\n2002\n"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2);
}

#[test]
fn batch_all_over_a_snapshot_listing() {
    let r = run(demo_batch().args(["--all", "--order", ORDER]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 3);
}

#[test]
fn batch_bad_customers_line_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = write(dir.path(), "ids.txt", "2002\n20O3\n");
    let r = run(demo_batch().arg("--customers").arg(&ids));
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.is_empty(),
        "nothing checked before the file is valid"
    );
    assert_eq!(
        r.stderr,
        format!(
            "error: customers file {}, line 2: \"20O3\" is not a customer id (expected a positive integer id, e.g. 2002)\n",
            ids.display()
        )
    );
}

#[test]
fn data_dir_that_does_not_exist() {
    let r = run(bin().args([
        "check",
        "--data",
        "no/such/dir",
        "--account",
        "1001",
        "--customer",
        "2002",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no/such/dir"), "{}", r.stderr);
}

/// A copy of the demo snapshot in which customer 2002's resource is not JSON
/// (as if recorded from a proxy's HTML error page).
fn broken_snapshot() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = crate::cli_support::root().join("fixtures/demo");
    copy_dir(&src, dir.path());
    std::fs::write(
        dir.path().join("accounts/1001/customers/2002.json"),
        "<html>502 Bad Gateway</html>",
    )
    .expect("write");
    dir
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn check_with_unreadable_data_is_indeterminate() {
    let data = broken_snapshot();
    let r = run(bin()
        .args(CHECK_2002)
        .args(["--order", ORDER, "--data"])
        .arg(data.path()));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("INDETERMINATE: "), "{}", r.stdout);
    assert!(r.stdout.contains("Could not be evaluated"), "{}", r.stdout);
    crate::cli_support::assert_one_line(&r.stderr);
    assert!(r.stderr.contains("2002.json"), "{}", r.stderr);
}

#[test]
fn batch_exit_code_3_when_any_check_is_indeterminate() {
    let data = broken_snapshot();
    let r = run(bin()
        .args([
            "batch",
            "--account",
            "1001",
            "--customers",
            "-",
            "--order",
            ORDER,
            "--concurrency",
            "1",
            "--data",
        ])
        .arg(data.path())
        .write_stdin("2003\n2002\n2004\n"));
    // Blocked (2003) and indeterminate (2002): indeterminate wins.
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("3 checked: 1 ready, 1 blocked, 1 indeterminate\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn logs_go_to_stderr_and_never_into_the_report() {
    let r = run(demo_check("2002")
        .env("RUST_LOG", "ion_preflight=trace")
        .args(["--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let _: Value = serde_json::from_str(&r.stdout).expect("stdout is only the report");
    assert!(!r.stderr.is_empty(), "trace logs on stderr");
    // Default level is warn: a normal run logs nothing.
    let quiet = check("2002", "json");
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    // A broken RUST_LOG does not break the command.
    let r = run(demo_check("2002").env("RUST_LOG", "=[not a filter"));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Runs the binary with stdout and stderr on a pseudo-terminal (util-linux
/// `script`); `None` when `script` is not installed.
#[cfg(unix)]
fn on_a_terminal(args: &str, no_color: bool) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_ion-preflight");
    let mut cmd = std::process::Command::new("script");
    cmd.current_dir(crate::cli_support::root())
        .args(["-qec", &format!("{bin} {args}"), "/dev/null"])
        .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd.output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(unix)]
#[test]
fn text_is_coloured_on_a_terminal_unless_no_color() {
    let args = "check --data fixtures/demo --account 1001 --customer 2003";
    let Some(coloured) = on_a_terminal(args, false) else {
        eprintln!("`script` is not installed: terminal colour not tested");
        return;
    };
    assert!(
        coloured.contains("\x1b[1m\x1b[31mBLOCKED\x1b[0m"),
        "{coloured:?}"
    );
    let plain = on_a_terminal(args, true).expect("script ran before");
    assert!(plain.starts_with("BLOCKED: "), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
}

/// The README's "Try it" output is what the command prints today.
#[test]
fn readme_demo_output_is_current() {
    let readme =
        std::fs::read_to_string(crate::cli_support::root().join("README.md")).expect("README");
    let block = |after: &str| -> String {
        let start = readme.find(after).expect("README section") + after.len();
        let body = &readme[start..];
        let open = body.find("```text\n").expect("text block") + "```text\n".len();
        let close = body[open..].find("```").expect("block end");
        body[open..open + close].to_owned()
    };
    let ready = check("2002", "text");
    assert_eq!(block("It prints (exit code 0):"), ready.stdout);
    let blocked = check("2003", "text");
    assert_eq!(
        block("With `--customer 2003` (exit code 1):"),
        blocked.stdout
    );
    assert!(readme.contains(
        "cargo run --release -- check --data fixtures/demo --account 1001 --customer 2002 --order fixtures/orders/nce-order.json"
    ));
}

#[cfg(unix)]
#[test]
fn progress_bar_only_on_a_terminal_and_not_with_quiet() {
    let args = "batch --data fixtures/demo --account 1001 --all";
    let Some(tty) = on_a_terminal(args, true) else {
        eprintln!("`script` is not installed: progress bar not tested");
        return;
    };
    assert!(
        tty.contains(" checked of 3 listed so far ("),
        "progress bar drawn: {tty:?}"
    );
    // Every report line still arrives whole.
    assert_eq!(tty.matches("{\"account_id\":1001").count(), 3, "{tty:?}");
    let quiet = on_a_terminal(&format!("{args} --quiet"), true).expect("script ran before");
    assert!(!quiet.contains(" checked"), "{quiet:?}");
    // Piped (not a terminal): no bar, only the summary.
    let piped = run(bin().args(args.split(' ')));
    assert!(piped.stderr.starts_with("3 checked: "), "{}", piped.stderr);
    assert!(!piped.stderr.contains(" checked ("), "{}", piped.stderr);
}

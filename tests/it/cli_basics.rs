//! Help, version, completions, bad flags and bad input files: everything
//! that fails (or succeeds) before any data is read.

use crate::cli_support::{
    assert_one_line, bin, demo_batch, demo_check, fixture, redactions, run, write,
};

#[test]
fn help_lists_commands_examples_environment_and_exit_codes() {
    let r = run(bin().arg("--help"));
    assert_eq!(r.code, 0);
    for needle in [
        "check",
        "batch",
        "check-new-customer",
        "rules",
        "snapshot",
        "completions",
        "Examples:",
        "ION_TOKEN_FILE",
        "Exit codes:",
        "130",
    ] {
        assert!(r.stdout.contains(needle), "--help lacks {needle:?}");
    }
    redactions().bind(|| insta::assert_snapshot!("help", r.stdout));
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in [
        &["check"][..],
        &["batch"],
        &["check-new-customer"],
        &["snapshot"],
        &["completions"],
        &["rules", "lint"],
        &["rules", "list"],
        &["rules", "explain"],
        &["rules", "test"],
    ] {
        let r = run(bin().args(cmd).arg("--help"));
        assert_eq!(r.code, 0, "{cmd:?}");
        assert!(
            r.stdout.contains("Examples:"),
            "{cmd:?} --help has no examples"
        );
    }
    let check = run(bin().args(["check", "--help"]));
    assert!(
        check
            .stdout
            .contains("Exit codes:\n  0    ready\n  1    blocked")
    );
    assert!(check.stdout.contains("[env: ION_ACCOUNT_ID"));
}

#[test]
fn no_token_flags_exist() {
    for cmd in ["check", "batch", "snapshot"] {
        let r = run(bin().args([cmd, "--help"]));
        assert!(!r.stdout.to_lowercase().contains("--token"), "{cmd}");
        assert!(!r.stdout.contains("--access-token"), "{cmd}");
    }
    let r = run(bin().args(["check", "--access-token", "s3cret", "--customer", "1"]));
    assert_eq!(r.code, 2);
    assert!(!r.stderr.contains("s3cret") || r.stderr.contains("unexpected argument"));
}

#[test]
fn version() {
    let r = run(bin().arg("--version"));
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout.trim(),
        format!("ion-preflight {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(bin().args(["completions", shell]));
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains("ion-preflight"), "{shell}");
        assert!(r.stdout.contains("batch"), "{shell}");
    }
    let bash = run(bin().args(["completions", "bash"]));
    assert!(bash.stdout.contains("--fail-on"));
    let bad = run(bin().args(["completions", "cmd.exe"]));
    assert_eq!(bad.code, 2);
}

#[test]
fn no_arguments_prints_help_and_exits_2() {
    let r = run(&mut bin());
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("Usage: ion-preflight [OPTIONS] <COMMAND>"),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let r = run(bin().args(["check", "--acount", "1001", "--customer", "2002"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unexpected argument '--acount'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--account"), "suggests the right flag");
}

#[test]
fn malformed_ids_name_the_flag() {
    let r = run(bin().args(["check", "--account", "1001", "--customer", "20O2"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("invalid value '20O2' for '--customer <ID>': expected a positive integer id"),
        "{}",
        r.stderr
    );
    let r = run(bin()
        .env("ION_ACCOUNT_ID", "acme")
        .args(["check", "--customer", "2002"]));
    assert_eq!(r.code, 2);
    // The value came from the variable, and the message says so.
    assert!(
        r.stderr
            .contains("'ION_ACCOUNT_ID (the environment variable)'"),
        "{}",
        r.stderr
    );
    let r = run(bin().args(["batch", "--account", "0", "--all"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("'--account <ID>': ids start at 1"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_account_is_a_usage_error() {
    let r = run(bin().args(["check", "--customer", "2002"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--account <ID>"), "{}", r.stderr);
}

#[test]
fn bad_format_and_fail_on_values() {
    let r = run(bin().args([
        "check",
        "--account",
        "1",
        "--customer",
        "2",
        "--format",
        "yaml",
    ]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("[possible values: text, json, junit, github, sarif]"),
        "{}",
        r.stderr
    );
    let r = run(bin().args([
        "check",
        "--account",
        "1",
        "--customer",
        "2",
        "--fail-on",
        "critical",
    ]));
    assert_eq!(r.code, 2);
    let r = run(bin().args(["batch", "--account", "1", "--all", "--concurrency", "0"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--concurrency"), "{}", r.stderr);
}

#[test]
fn batch_needs_customers_or_all_but_not_both() {
    let r = run(bin().args(["batch", "--account", "1"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--customers <FILE>|--all"),
        "{}",
        r.stderr
    );
    let r = run(bin().args(["batch", "--account", "1", "--all", "--customers", "x"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
}

#[test]
fn missing_order_file() {
    let r = run(demo_check("2002").args(["--order", "no/such/order.json"]));
    assert_eq!(r.code, 2);
    assert_one_line(&r.stderr);
    assert!(
        r.stderr
            .starts_with("error: cannot read order file no/such/order.json: "),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn malformed_order_json_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let order = write(
        dir.path(),
        "order.json",
        "{\n  \"referenceId\": \"PO-1\",\n  \"orderItems\": [\n    { \"action\": \"CREATE\" \"quantity\": 1 }\n  ]\n}\n",
    );
    let r = run(demo_check("2002").arg("--order").arg(&order));
    assert_eq!(r.code, 2);
    assert_one_line(&r.stderr);
    let expected = format!(
        "error: order file {}, line 4, column 26: invalid JSON: expected `,` or `}}`\n",
        order.display()
    );
    assert_eq!(r.stderr, expected);
}

#[test]
fn order_from_stdin_that_is_not_an_object() {
    let r = run(demo_check("2002").args(["--order", "-"]).write_stdin("[]"));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: order file <stdin>: expected a JSON object (the body you would POST to ION's orders endpoint), found an array\n"
    );
}

#[test]
fn missing_rule_file() {
    let r = run(demo_check("2002").args(["--rules", "no/such/rules.yaml"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no/such/rules.yaml"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
    let _ = fixture("demo");
}

#[test]
fn batch_cannot_read_order_and_customers_both_from_stdin() {
    let r = run(demo_batch()
        .args(["--customers", "-", "--order", "-"])
        .write_stdin("2002\n"));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: --order - and --customers - cannot both read stdin: give one of them a file\n"
    );
}

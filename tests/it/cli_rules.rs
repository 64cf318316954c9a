//! `rules lint | list | explain | schema | test` through the real binary.

use crate::cli_support::{bin, redactions, run, write};

const GOOD: &str = r#"name: acme
rules:
  - id: acme-customer-email
    title: The customer has a primary email
    description: Orders need a contact address.
    severity: warning
    tags: [contact]
    docs: https://example.test/acme#email
    assert: { path: customer.customerEmail, non_empty: true }
    message: "customer {customer.customerOrganization} has no email"
"#;

const BAD: &str = r#"rules:
  - id: acme-active
    title: Active
    severity: eror
    assert: { path: customer.customerStatus, one_of: [ACTIVE] }
    mesage: "x"
"#;

#[test]
fn lint_accepts_a_valid_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(dir.path(), "good.yaml", GOOD);
    let r = run(bin().args(["rules", "lint"]).arg(&good));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("ok: "), "{}", r.stdout);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn lint_prints_every_diagnostic_with_location_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.yaml", BAD);
    let r = run(bin()
        .args(["rules", "lint", "--no-default-rules"])
        .arg(&bad));
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    // All three problems, each with file:line:col and a snippet.
    for needle in [
        "3 problems in rule files",
        "bad.yaml:2:5]",
        "bad.yaml:4:15]",
        "bad.yaml:6:5]",
        "did you mean `error`?",
        "did you mean `message`?",
        "4 │     severity: eror",
    ] {
        assert!(
            r.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stderr
        );
    }
    assert!(
        !r.stderr.contains('\x1b'),
        "no colour when stderr is not a terminal"
    );
    let mut settings = redactions();
    settings.add_filter(r"/[^ \]]*/bad\.yaml", "[dir]/bad.yaml");
    settings.bind(|| insta::assert_snapshot!("rules_lint_bad", r.stderr));
}

#[test]
fn lint_lists_paths_that_escape_type_checking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "escape.yaml",
        r#"rules:
  - id: acme-new-field
    title: A field ION added after these types were written
    severity: warning
    assert: { path: customer.~loyaltyTier, non_empty: true }
    message: "no tier"
"#,
    );
    let r = run(bin()
        .args(["rules", "lint", "--no-default-rules"])
        .arg(&file));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(
        lines[0].starts_with("unchecked: ")
            && lines[0].ends_with("escape.yaml:5:21: `customer.~loyaltyTier` is read without checking it against ION's types"),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with("(1 unchecked path)"), "{}", lines[1]);
    assert!(
        lines[2].ends_with("escape.yaml: added 1 rule (acme-new-field)"),
        "{}",
        lines[2]
    );
}

#[test]
fn lint_missing_file() {
    let r = run(bin().args(["rules", "lint", "no/such.yaml"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read rule file no/such.yaml"),
        "{}",
        r.stderr
    );
}

#[test]
fn list_shows_the_effective_rule_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(dir.path(), "good.yaml", GOOD);
    let r = run(bin()
        .args(["rules", "list", "--no-default-rules", "--rules"])
        .arg(&good));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut settings = redactions();
    settings.add_filter(r"/[^ ]*/good\.yaml", "[dir]/good.yaml");
    settings.bind(|| insta::assert_snapshot!("rules_list_custom", r.stdout));

    let json = run(bin()
        .args([
            "rules",
            "list",
            "--no-default-rules",
            "--format",
            "json",
            "--rules",
        ])
        .arg(&good));
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(v[0]["id"], "acme-customer-email");
    assert_eq!(v[0]["severity"], "warning");
    assert_eq!(v[0]["line"], 3);
}

#[test]
fn list_builtin_includes_the_custom_file_after_the_builtin_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(dir.path(), "good.yaml", GOOD);
    let builtin = run(bin().args(["rules", "list", "--format", "json"]));
    assert_eq!(builtin.code, 0);
    let builtin: Vec<serde_json::Value> = serde_json::from_str(&builtin.stdout).expect("JSON");
    let both = run(bin()
        .args(["rules", "list", "--format", "json", "--rules"])
        .arg(&good));
    let both: Vec<serde_json::Value> = serde_json::from_str(&both.stdout).expect("JSON");
    assert_eq!(both.len(), builtin.len() + 1);
    assert_eq!(both.last().expect("one rule")["id"], "acme-customer-email");
}

#[test]
fn explain_a_rule_and_suggest_for_a_typo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(dir.path(), "good.yaml", GOOD);
    let r = run(bin()
        .args(["rules", "explain", "acme-customer-email", "--rules"])
        .arg(&good));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "acme-customer-email — The customer has a primary email",
        "severity:  warning",
        "docs:      https://example.test/acme#email",
        "Orders need a contact address.",
        "non_empty: true",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
    let typo = run(bin()
        .args(["rules", "explain", "acme-custmer-email", "--rules"])
        .arg(&good));
    assert_eq!(typo.code, 2);
    assert_eq!(
        typo.stderr,
        "error: the rule set has no rule `acme-custmer-email`; did you mean `acme-customer-email`? (see `rules list`)\n"
    );
}

#[test]
fn test_runs_the_builtin_rule_tests() {
    let files: Vec<_> = std::fs::read_dir(crate::cli_support::root().join("rules/tests"))
        .expect("rules/tests")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    assert!(!files.is_empty());
    let r = run(bin().args(["rules", "test"]).args(&files));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(" ... ok\n"), "{}", r.stdout);
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
    let last = r.stdout.lines().last().expect("summary line");
    assert!(last.ends_with("passed, 0 failed"), "{last}");
}

const FAILING_TEST: &str = r#"name: wrong expectations
now: 2026-03-01T12:00:00Z
account_id: 1001
customer_id: 2002
given:
  customer: { file: CUSTOMER }
cases:
  - name: an active customer is (wrongly) expected to fail
    expect:
      rules:
        customer-active: fail
  - name: an active customer passes
    expect:
      rules:
        customer-active: pass
"#;

#[test]
fn test_reports_expected_vs_actual_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let customer = crate::cli_support::root().join("fixtures/scenarios/ready-nce/customer.json");
    let text = FAILING_TEST.replace("CUSTOMER", &customer.display().to_string());
    let file = write(dir.path(), "wrong.yaml", &text);
    let r = run(bin().args(["rules", "test"]).arg(&file));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("an active customer is (wrongly) expected to fail ... FAILED"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("customer-active: expected fail, got pass"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("an active customer passes ... ok"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with("2 case(s): 1 passed, 1 failed\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn test_with_an_invalid_file_exits_2_and_still_runs_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.yaml", "cases: 3\n");
    let good = crate::cli_support::root().join("rules/tests/customer.yaml");
    let r = run(bin().args(["rules", "test"]).arg(&bad).arg(&good));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("bad.yaml"), "{}", r.stderr);
    assert!(
        r.stdout.contains("customer.yaml"),
        "ran the valid file: {}",
        r.stdout
    );
    assert!(r.stdout.contains("1 invalid test file(s)"), "{}", r.stdout);
}

#[test]
fn list_and_explain_the_builtin_set() {
    let list = run(bin().args(["rules", "list"]));
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("customer-active"), "{}", list.stdout);
    // Line numbers move whenever rules/default.yaml is edited.
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"builtin:default:\d+", "builtin:default:[line]");
    settings.bind(|| insta::assert_snapshot!("rules_list_builtin", list.stdout));
    let explain = run(bin().args(["rules", "explain", "azure-create-has-domain-name"]));
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert!(
        explain.stdout.contains("pre-empts: COMM-VL-004"),
        "{}",
        explain.stdout
    );
    for needle in [
        "azure-create-has-domain-name — AZURE CREATE items carry a domainName attribute",
        "severity:  error",
        "defined:   builtin:default:",
        "Definition:",
        "for_each: order.orderItems as item",
    ] {
        assert!(
            explain.stdout.contains(needle),
            "missing {needle:?}:\n{}",
            explain.stdout
        );
    }
}

#[test]
fn schema_prints_the_rule_file_json_schema() {
    let r = run(bin().args(["rules", "schema"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let schema: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema, ion_preflight::rules::schema::rule_file_schema());
    assert!(schema["properties"]["rules"].is_object());
}

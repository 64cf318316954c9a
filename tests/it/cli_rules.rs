//! `rules lint | list | explain | test` through the real binary.

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

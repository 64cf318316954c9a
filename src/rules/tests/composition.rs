//! Rule sets built from several files: extends, overrides, disable,
//! redefined named conditions, duplicate ids, and load-time problems.

use std::fs;

use serde_json::json;

use super::{ctx_with, problems};
use crate::report::{Outcome, Severity};
use crate::rules::RuleSetLoader;

const BASE: &str = r#"
name: base
conditions:
  microsoft-nce-item:
    any:
      - { path: item.providerName, equals: AZURE }
rules:
  - id: nce-items-named
    title: NCE items have a reference
    severity: error
    for_each: order.orderItems as item
    when: { condition: microsoft-nce-item }
    assert: { path: item.referenceId, non_empty: true }
    message: "item {$number} has no referenceId"
  - id: customer-email
    title: The customer has an email
    severity: warning
    assert: { path: customer.customerEmail, non_empty: true }
    message: no email
"#;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn extends_overrides_and_disable_compose_in_order() {
    let dir = dir_with(&[
        ("base.yaml", BASE),
        (
            "site.yaml",
            r#"
extends: [base.yaml]
overrides:
  customer-email: { severity: error }
rules:
  - id: extra-rule
    title: Extra
    severity: info
    assert: { path: request.accountId, gt: 0 }
    message: never
"#,
        ),
        (
            "off.yaml",
            "extends: [site.yaml, base.yaml]\ndisable: [nce-items-named]\n",
        ),
    ]);
    let set = RuleSetLoader::new()
        .without_builtin()
        .file(dir.path().join("off.yaml"))
        .load()
        .unwrap();
    let ids: Vec<&str> = set.rules().iter().map(|r| r.id()).collect();
    assert_eq!(ids, ["customer-email", "extra-rule"]);
    assert_eq!(
        set.rule("customer-email").unwrap().severity(),
        Severity::Error
    );
    assert!(
        set.rule("customer-email")
            .unwrap()
            .origin()
            .file
            .ends_with("base.yaml")
    );
}

#[test]
fn a_later_file_redefines_a_named_condition_for_every_rule_that_uses_it() {
    let dir = dir_with(&[
        ("base.yaml", BASE),
        (
            "acme.yaml",
            r#"
conditions:
  microsoft-nce-item:
    any:
      - { path: item.skuId, matches: "^CFQ7TTC0" }
"#,
        ),
    ]);
    let order = json!({"orderItems": [
        {"providerName": "AZURE", "skuId": "X"},
        {"providerName": "OTHER", "skuId": "CFQ7TTC0LH18"}
    ]});
    let ctx = ctx_with(json!({})).with_order(Some(order));
    let base_only = RuleSetLoader::new()
        .without_builtin()
        .file(dir.path().join("base.yaml"))
        .load()
        .unwrap();
    let r = base_only.evaluate(&ctx);
    let items = &r.result("nce-items-named").unwrap().items;
    assert_eq!(items[0].path, "order.orderItems[0]");
    let both = RuleSetLoader::new()
        .without_builtin()
        .file(dir.path().join("base.yaml"))
        .file(dir.path().join("acme.yaml"))
        .load()
        .unwrap();
    let r = both.evaluate(&ctx);
    let res = r.result("nce-items-named").unwrap();
    assert_eq!(res.outcome, Outcome::Fail);
    assert_eq!(res.items.len(), 1);
    assert_eq!(res.items[0].path, "order.orderItems[1]");
}

#[test]
fn duplicate_ids_across_files_are_an_error_naming_both_places() {
    let dir = dir_with(&[("a.yaml", BASE), ("b.yaml", BASE)]);
    let err = RuleSetLoader::new()
        .without_builtin()
        .file(dir.path().join("a.yaml"))
        .file(dir.path().join("b.yaml"))
        .load()
        .unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.code(), "duplicate-id");
    assert!(d.file().ends_with("b.yaml"));
    assert!(d.message().contains("a.yaml:8:9"), "{}", d.message());
}

#[test]
fn extends_cycles_and_missing_files_are_reported_at_the_entry() {
    let dir = dir_with(&[
        ("a.yaml", "extends: [b.yaml]\n"),
        ("b.yaml", "extends: [a.yaml, missing.yaml]\n"),
    ]);
    let err = RuleSetLoader::new()
        .without_builtin()
        .file(dir.path().join("a.yaml"))
        .load()
        .unwrap_err();
    let codes: Vec<&str> = err.diagnostics().iter().map(|d| d.code()).collect();
    assert_eq!(codes, ["extends-cycle", "unreadable-file"]);
    assert_eq!(err.diagnostics()[0].line(), 1);
    assert_eq!(err.diagnostics()[0].column(), 11);
}

#[test]
fn overriding_or_disabling_an_unknown_rule_is_an_error_with_a_suggestion() {
    let text = format!(
        "{BASE}\noverrides:\n  customer-emial: {{ severity: info }}\ndisable: [nce-item-named]\n"
    );
    let err = crate::rules::RuleSet::from_yaml("t.yaml", &text).unwrap_err();
    let hints: Vec<_> = err
        .diagnostics()
        .iter()
        .map(|d| (d.code().to_owned(), d.hint().map(str::to_owned)))
        .collect();
    assert_eq!(
        hints,
        [
            (
                "unknown-rule".to_owned(),
                Some("did you mean `customer-email`?".to_owned())
            ),
            (
                "unknown-rule".to_owned(),
                Some("did you mean `nce-items-named`?".to_owned())
            ),
        ]
    );
}

#[test]
fn requires_must_not_point_down_in_severity_or_in_a_circle() {
    let inversion = r#"
rules:
  - id: a
    title: t
    severity: error
    requires: [b]
    assert: { path: customer, exists: true }
    message: m
  - id: b
    title: t
    severity: warning
    assert: { path: customer, exists: true }
    message: m
"#;
    assert_eq!(problems(inversion), ["requires-lower-severity:6:16"]);
    let cycle = r#"
rules:
  - id: a
    title: t
    severity: error
    requires: [b]
    assert: { path: customer, exists: true }
    message: m
  - id: b
    title: t
    severity: error
    requires: [a]
    assert: { path: customer, exists: true }
    message: m
"#;
    assert_eq!(problems(cycle), ["requires-cycle:3:9"]);
}

#[test]
fn named_conditions_check_their_variables_at_every_use() {
    let yaml = r#"
conditions:
  nce:
    { path: item.providerName, equals: AZURE }
  loop-a: { condition: loop-b }
  loop-b: { condition: loop-a }
rules:
  - id: unbound
    title: t
    severity: error
    assert: { condition: nce }
    message: m
  - id: bound
    title: t
    severity: error
    assert: { path: order.orderItems, as: item, some: { condition: nce } }
    message: m
"#;
    assert_eq!(
        problems(yaml),
        [
            "condition-cycle:5:24",
            "condition-cycle:6:24",
            "unbound-variable:11:26"
        ]
    );
}

#[test]
fn every_problem_in_a_file_is_reported_with_its_position() {
    let yaml = r#"rules:
  - id: Bad_Id
    title: t
    severity: fatal
    assert: { path: customer.x, matches: "(unclosed" }
    message: "{nope.x}"
  - id: second
    titel: t
    severity: error
    assert: { path: customer.x, one_off: [A] }
    message: m
"#;
    assert_eq!(
        problems(yaml),
        [
            "bad-id:2:9",
            "bad-severity:4:15",
            "unknown-field:5:21",
            "bad-regex:5:42",
            "unknown-root:6:15",
            "missing-key:7:5",
            "unknown-key:8:5",
            "unknown-field:10:21",
            "unknown-operator:10:33",
        ]
    );
}

#[test]
fn huge_patterns_are_refused_before_compiling_and_long_lines_are_not_quoted() {
    let pattern = "a".repeat(20_000);
    let yaml = format!(
        "rules:\n  - id: r\n    title: t\n    severity: error\n    assert: {{ path: customer.customerEmail, matches: \"{pattern}\" }}\n    message: m\n"
    );
    let err = crate::rules::RuleSet::from_yaml("big.yaml", &yaml).unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!((d.code(), d.line(), d.column()), ("bad-regex", 5, 54));
    assert!(d.message().contains("20000 bytes long"), "{}", d.message());
    // The 20 kB line is not copied into the rendered diagnostic.
    assert!(miette::Diagnostic::source_code(d).is_none());
    // An ordinary line is quoted.
    let err = crate::rules::RuleSet::from_yaml("small.yaml", "rules:\n  - id: r\n    title: t\n    severity: eror\n    assert: { path: customer, exists: true }\n    message: m\n").unwrap_err();
    assert_eq!(err.diagnostics()[0].code(), "bad-severity");
    assert!(miette::Diagnostic::source_code(&err.diagnostics()[0]).is_some());
}

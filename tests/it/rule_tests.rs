//! Runs every rule-test file in `rules/tests/` against the built-in rule set.

use std::path::{Path, PathBuf};

use ion_preflight::rules::testing::{RuleTestFile, VERDICT};

fn test_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("rules/tests exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_rule_test_file_passes() {
    let files = test_files();
    assert!(
        files.len() >= 5,
        "expected the rule-test files, found {files:?}"
    );
    let mut failed = Vec::new();
    for path in &files {
        let file = match RuleTestFile::load(path) {
            Ok(f) => f,
            Err(e) => {
                failed.push(format!("{}: does not load: {e:?}", path.display()));
                continue;
            }
        };
        let report = file.run();
        if !report.passed() {
            failed.push(report.to_string());
        }
    }
    assert!(failed.is_empty(), "\n{}", failed.join("\n\n"));
}

/// Every rule of the built-in sets (orders and new customers) has at least one case where it passes and
/// one where it fails, across the files in `rules/tests/`.
#[test]
fn every_default_rule_has_a_passing_and_a_failing_case() {
    use ion_preflight::report::Outcome;
    use ion_preflight::rules::RuleSet;
    use std::collections::BTreeMap;

    let (orders, new_customers) = (RuleSet::builtin(), RuleSet::builtin_new_customer());
    let mut seen: BTreeMap<String, (bool, bool)> = orders
        .rules()
        .iter()
        .chain(new_customers.rules())
        .map(|r| (r.id().to_owned(), (false, false)))
        .collect();
    assert!(seen.contains_key("new-customer-email-not-in-use"));
    for path in test_files() {
        let file = RuleTestFile::load(&path).expect("loads");
        let expected = file.expected_outcomes();
        for (rule, outcome) in expected {
            if let Some(entry) = seen.get_mut(rule) {
                match outcome {
                    Outcome::Pass => entry.0 = true,
                    Outcome::Fail => entry.1 = true,
                    _ => {}
                }
            }
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .filter(|(_, (p, f))| !(*p && *f))
        .map(|(id, (p, f))| format!("{id} (pass case: {p}, fail case: {f})"))
        .collect();
    assert!(missing.is_empty(), "rules without both cases: {missing:#?}");
}

#[test]
fn a_wrong_expectation_is_reported_as_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/ready-nce");
    let text = format!(
        r#"
now: 2026-03-01T12:00:00Z
given:
  customer: {{ file: {c} }}
  cloud_profiles: {{ file: {p} }}
  order: {{ file: {o} }}
  products:
    microsoft-365-business-premium-nce: {{ file: {catalog}/microsoft-365-business-premium-nce.json }}
    microsoft-teams-rooms-pro-nce: {{ file: {catalog}/microsoft-teams-rooms-pro-nce.json }}
    microsoft-365-e3-nce: {{ file: {catalog}/microsoft-365-e3-nce.json }}
  subscriptions:
    "6a1f0c1e-77b2-4d8a-9c3e-5b1d2e3f4a5b": {{ file: {catalog}/subscriptions-6a1f0c1e.json }}
  customer_subscriptions: {{ file: {catalog}/customer-subscriptions.json }}
  placed_orders: {{ file: {catalog}/placed-orders.json }}
cases:
  - name: right
    expect:
      verdict: ready
      rules: {{ customer-active: pass }}
  - name: deliberately wrong
    expect:
      verdict: blocked
      rules:
        customer-active: fail
        update-item-has-resource-id: {{ outcome: pass, message_contains: "nothing" }}
"#,
        c = fixtures.join("customer.json").display(),
        p = fixtures.join("cloudProfiles.json").display(),
        o = fixtures.join("order.json").display(),
        catalog = fixtures.join("../catalog").display(),
    );
    let path = dir.path().join("wrong.yaml");
    std::fs::write(&path, text).unwrap();
    let report = RuleTestFile::load(&path).unwrap().run();
    assert!(!report.passed());
    assert!(report.cases[0].passed, "{report}");
    let wrong = &report.cases[1];
    assert!(!wrong.passed);
    let rendered: Vec<String> = wrong.mismatches.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        vec![
            format!("{VERDICT}: expected blocked, got ready"),
            "customer-active: expected fail, got pass".to_owned(),
            "update-item-has-resource-id: expected a message containing \"nothing\", got no message"
                .to_owned(),
        ]
    );
}

#[test]
fn an_unknown_rule_id_in_an_expectation_is_a_load_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.yaml");
    std::fs::write(
        &path,
        "now: 2026-03-01\ncases:\n  - name: a\n    expect:\n      rules:\n        customer-actve: pass\n",
    )
    .unwrap();
    let err = RuleTestFile::load(&path).unwrap_err().to_string();
    assert!(err.ends_with(":6:9: no rule `customer-actve` in the rule set under test (did you mean `customer-active`?)"), "{err}");
}

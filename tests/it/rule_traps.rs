//! Rule files written to make the engine lie (issue 13), each through real
//! files in `tests/traps/` (real line numbers) and, where it matters, the
//! real binary. Each trap either loads with its effect visible in the set,
//! or is refused with a diagnostic in the trap file itself.

use ion_preflight::report::Outcome;
use ion_preflight::rules::{Diagnostic, RuleSet, RuleSetLoader};
use ion_preflight::{Context, Fetched, RuleLoadError, Verdict};
use serde_json::json;

use crate::cli_support::{bin, fixture};

/// The path of a trap file under tests/traps/.
pub(crate) fn trap(name: &str) -> String {
    format!("tests/traps/{name}")
}

/// Loads the built-in set plus `files` and expects the load to fail.
fn refused(files: &[&str]) -> Vec<Diagnostic> {
    let mut loader = RuleSetLoader::new();
    for f in files {
        loader = loader.file(trap(f));
    }
    match loader.load() {
        Err(RuleLoadError::Invalid { diagnostics }) => diagnostics,
        Err(e) => panic!("{files:?}: not a diagnostic: {e}"),
        Ok(set) => panic!(
            "{files:?} loaded with {} rules; it must be refused",
            set.rules().len()
        ),
    }
}

/// Every diagnostic on one line each, for assertion messages.
pub(crate) fn one_line(ds: &[Diagnostic]) -> String {
    ds.iter()
        .map(Diagnostic::one_line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The 1-based line of the first line of `file` containing `needle`.
pub(crate) fn line_of(file: &str, needle: &str) -> u32 {
    let text = std::fs::read_to_string(file).expect("readable");
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {file}"))
}

fn customer_absent() -> Context {
    Context::new(1001, 9999, jiff::Timestamp::UNIX_EPOCH)
        .with_customer(Fetched::Absent)
        .with_cloud_profiles(Fetched::Absent)
        .with_order(Some(json!({"orderItems": [{
            "action": "CREATE", "productId": "MS-365-E3", "skuId": "CFQ7TTC0LFLZ",
            "planId": "P1M", "quantity": 1, "providerName": "AZURE", "attributes": []
        }]})))
}

/// Class 1: a quantifier inside a redefined condition rebinding `item` is
/// refused at the line of the `as`, in the user's file, and names the
/// built-in rule it would have broken; nothing is dropped silently.
#[test]
fn a_redefined_condition_rebinding_a_variable_is_refused_in_the_users_file() {
    let ds = refused(&["rebinds-item.yaml"]);
    let file = trap("rebinds-item.yaml");
    let d = ds
        .iter()
        .find(|d| d.code() == "bad-variable")
        .unwrap_or_else(|| panic!("no bad-variable in:\n{}", one_line(&ds)));
    assert_eq!(d.file(), file);
    assert_eq!(d.line(), line_of(&file, "as: item"));
    assert!(
        d.message().contains("`item` is already bound here"),
        "{}",
        d.message()
    );
    assert!(
        d.related().iter().any(|r| r.file() == "builtin:default"),
        "the built-in rule it breaks is named: {}",
        d.one_line()
    );
}

/// Class 1, the second way in: a redefined `microsoft-profile` reading an
/// unbound variable, reached by the built-in rules only through
/// `microsoft-tenant-profile`. Refused at the user's line that reads it.
#[test]
fn a_redefined_condition_reading_an_unbound_variable_is_refused_at_its_line() {
    let ds = refused(&["unbound-profile-variable.yaml"]);
    let file = trap("unbound-profile-variable.yaml");
    let d = ds
        .iter()
        .find(|d| d.code() == "unbound-variable")
        .unwrap_or_else(|| panic!("no unbound-variable in:\n{}", one_line(&ds)));
    assert_eq!(d.file(), file, "{}", one_line(&ds));
    assert_eq!(d.line(), line_of(&file, "cloudProfile.providerId"));
    assert!(d.message().contains("`cloudProfile`"), "{}", d.message());
    assert!(
        d.related().iter().any(|r| r.file() == "builtin:default"),
        "{}",
        d.one_line()
    );
    assert!(
        ds.iter().all(|d| d.file() == file),
        "every diagnostic names the user's file first:\n{}",
        one_line(&ds)
    );
}

/// Class 1 through the binary: `rules lint` does not say "valid" with
/// fewer rules, and `check` refuses the file (exit 2) instead of answering
/// ready for an NCE order of a customer without tenant or attestation.
#[test]
fn the_binary_refuses_both_class_one_traps_with_exit_2() {
    for t in ["rebinds-item.yaml", "unbound-profile-variable.yaml"] {
        let lint = bin().args(["rules", "lint"]).arg(trap(t)).output().unwrap();
        assert_eq!(lint.status.code(), Some(2), "{t}");
        let stderr = String::from_utf8_lossy(&lint.stderr);
        assert!(stderr.contains(&trap(t)), "{t}: {stderr}");
        let check = bin()
            .args(["check", "--account", "1001", "--customer", "2004", "--data"])
            .arg(fixture("demo"))
            .arg("--order")
            .arg(fixture("orders/nce-order.json"))
            .arg("--rules")
            .arg(trap(t))
            .output()
            .unwrap();
        assert_eq!(check.status.code(), Some(2), "{t}");
        assert!(String::from_utf8_lossy(&check.stdout).trim().is_empty());
    }
}

/// Class 3: disabling a rule that enabled rules require is refused at the
/// `disable` entry, naming every dependent; disabling them too is fine.
#[test]
fn disabling_a_required_rule_is_refused_with_its_dependents() {
    let ds = refused(&["disable-customer-exists.yaml"]);
    let file = trap("disable-customer-exists.yaml");
    assert_eq!(ds.len(), 1, "{}", one_line(&ds));
    let d = &ds[0];
    assert_eq!(
        (d.code(), d.file(), d.line()),
        (
            "disabled-required-rule",
            file.as_str(),
            line_of(&file, "disable:")
        )
    );
    for dependent in [
        "customer-active",
        "nce-item-has-microsoft-tenant",
        "customer-email-valid",
        "microsoft-profile-agreement-accepted",
    ] {
        assert!(
            d.message().contains(&format!("`{dependent}`")),
            "{}",
            d.message()
        );
    }
    assert!(d.related().iter().all(|r| r.file() == "builtin:default"));

    let all = RuleSetLoader::new()
        .source(
            "all.yaml",
            "disable: [customer-active, nce-item-has-microsoft-tenant, customer-email-valid, customer-address-complete, customer-address-country-code, microsoft-profile-delegated-access, microsoft-profile-gdap-active, microsoft-profile-agreement-accepted, update-subscription-active, update-subscription-same-product, update-subscription-of-customer, update-subscription-found, create-duplicates-subscription, order-not-placed-already, placed-orders-scan-complete, customer-exists]\n",
        )
        .load()
        .expect("disabling the dependents too is allowed");
    assert!(all.rule("customer-exists").is_none());
    assert!(all.rule("customer-active").is_none());
}

/// Class 2: a rule defined after a `disable` of the same id takes its place
/// for every rule that requires it: at warning it is a severity inversion,
/// reported at the replacement's `severity` line; at error the dependents
/// are guarded by it (a missing customer is one failure, never ready).
#[test]
fn a_redefined_id_keeps_its_dependents_and_the_severity_check() {
    let ds = refused(&[
        "disable-customer-exists.yaml",
        "warning-customer-exists.yaml",
    ]);
    let file = trap("warning-customer-exists.yaml");
    let inversions: Vec<&Diagnostic> = ds
        .iter()
        .filter(|d| d.code() == "requires-lower-severity")
        .collect();
    assert!(!inversions.is_empty(), "{}", one_line(&ds));
    for d in &inversions {
        assert_eq!(d.file(), file, "{}", d.one_line());
        assert_eq!(d.line(), line_of(&file, "severity: warning"));
        assert!(d.related().iter().any(|r| r.file() == "builtin:default"));
    }
    assert!(
        ds.iter().all(|d| d.code() != "disabled-required-rule"),
        "the replacement satisfies the requirement: {}",
        one_line(&ds)
    );

    let set = RuleSetLoader::new()
        .file(trap("disable-customer-exists.yaml"))
        .file(trap("error-customer-exists.yaml"))
        .load()
        .expect("an error-level replacement loads");
    assert_eq!(set.rules().len(), RuleSet::builtin().rules().len());
    assert_eq!(
        set.rule("customer-active").unwrap().requires(),
        ["customer-exists"]
    );
    let report = set.evaluate(&customer_absent());
    let exists = report.result("customer-exists").unwrap();
    assert_eq!(exists.outcome, Outcome::Fail);
    assert!(
        exists
            .message
            .as_deref()
            .unwrap()
            .contains("unknown to ION")
    );
    let active = report.result("customer-active").unwrap();
    assert_eq!(active.outcome, Outcome::Skip);
    assert_eq!(
        active.message.as_deref(),
        Some("requires customer-exists (fail)")
    );
    assert_eq!(report.verdict(), Verdict::Blocked);
}

/// Class 9: an `overrides` entry creating a severity inversion is reported
/// at the user's override line, with the built-in `requires` as related.
#[test]
fn a_severity_inversion_from_an_override_names_the_override_line() {
    let ds = refused(&["override-customer-exists-warning.yaml"]);
    let file = trap("override-customer-exists-warning.yaml");
    assert!(!ds.is_empty());
    for d in &ds {
        assert_eq!(
            (d.code(), d.file(), d.line()),
            (
                "requires-lower-severity",
                file.as_str(),
                line_of(&file, "severity: warning")
            ),
            "{}",
            d.one_line()
        );
        assert!(d.related().iter().any(|r| r.file() == "builtin:default"));
    }
    assert!(
        one_line(&ds).contains("[see builtin:default:"),
        "{}",
        one_line(&ds)
    );
}

/// Class 11: an empty effective rule set is a configuration error (exit
/// 2), located where the last rule was disabled; a check with the
/// built-in set left out and no file is refused as a usage error (exit 2).
#[test]
fn an_empty_effective_rule_set_is_a_configuration_error() {
    let err = RuleSetLoader::new()
        .without_builtin()
        .file(trap("disable-everything.yaml"))
        .load()
        .unwrap_err();
    let file = trap("disable-everything.yaml");
    let d = &err.diagnostics()[0];
    assert_eq!(
        (d.code(), d.file(), d.line()),
        (
            "empty-rule-set",
            file.as_str(),
            line_of(&file, "disable: [only-rule]")
        )
    );
    let lint = bin()
        .args(["rules", "lint", "--no-default-rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(lint.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&lint.stderr).contains("the effective rule set is empty"));
    let check = bin()
        .args([
            "check",
            "--account",
            "1001",
            "--customer",
            "2002",
            "--no-default-rules",
            "--data",
        ])
        .arg(fixture("demo"))
        .output()
        .unwrap();
    // The command line refuses it before loading anything: leaving the
    // built-in set out without a file of one's own is a usage error.
    assert_eq!(check.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("--rules <FILE>"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Class 11: the verdict is decided in one place. A report read back from
/// JSON whose `verdict` (or summary) was edited to disagree with its
/// results gets them derived again; re-judging keeps them consistent.
#[test]
fn a_report_cannot_be_made_to_disagree_with_its_results() {
    let set = ion_preflight::RuleSet::builtin();
    let report = set.evaluate(&customer_absent());
    assert_eq!(report.verdict(), Verdict::Blocked);
    let mut json = serde_json::to_value(&report).unwrap();
    json["verdict"] = json!("ready");
    json["summary"]["fail"] = json!(0);
    let back: ion_preflight::Report = serde_json::from_value(json).unwrap();
    assert_eq!(back.verdict(), Verdict::Blocked);
    assert_eq!(back.summary(), report.summary());
    assert_eq!(
        back.with_fail_on(ion_preflight::report::Severity::Warning)
            .verdict(),
        Verdict::Blocked
    );
}

/// Class 11: a `ready` report whose every blocking rule was skipped says
/// so, naming each rule and why it was not evaluated.
#[test]
fn a_ready_report_with_every_blocking_rule_skipped_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("only-orders.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - id: items-named\n    title: Items have a reference\n    severity: error\n    for_each: order.orderItems as item\n    assert: { path: item.referenceId, non_empty: true }\n    message: unnamed item\n",
    )
    .unwrap();
    let r = bin()
        .args([
            "check",
            "--account",
            "1001",
            "--customer",
            "2002",
            "--no-default-rules",
            "--data",
        ])
        .arg(fixture("demo"))
        .arg("--rules")
        .arg(&rules)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("but none was evaluated: every one was skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("Blocking rules not evaluated"), "{stdout}");
    assert!(stdout.contains("this check has no order"), "{stdout}");
}

/// Class 10: an element placeholder in a rule without `for_each` is a load
/// error at the placeholder, not `<no element>` in every message.
#[test]
fn an_element_placeholder_outside_for_each_is_refused_at_its_column() {
    let file = trap("element-placeholder-outside-for-each.yaml");
    let ds = refused(&["element-placeholder-outside-for-each.yaml"]);
    assert_eq!(ds.len(), 1, "{}", one_line(&ds));
    let text = std::fs::read_to_string(&file).unwrap();
    let line = line_of(&file, "message: \"item {$number}");
    let column = text
        .lines()
        .nth(line as usize - 1)
        .unwrap()
        .find("{$number}")
        .unwrap() as u32
        + 1;
    assert_eq!(
        (ds[0].code(), ds[0].file(), ds[0].line(), ds[0].column()),
        ("bad-placeholder", file.as_str(), line, column)
    );
}

/// Class 5: a date literal without an offset is refused at load, located,
/// with the fix (write the offset) rather than read as midnight UTC.
#[test]
fn an_offsetless_date_literal_is_refused_at_load() {
    let file = trap("offsetless-date-literal.yaml");
    let ds = refused(&["offsetless-date-literal.yaml"]);
    assert_eq!(ds.len(), 1, "{}", one_line(&ds));
    assert_eq!(
        (ds[0].code(), ds[0].file(), ds[0].line()),
        ("bad-date", file.as_str(), line_of(&file, "not_before"))
    );
    assert!(
        ds[0].message().contains("has no offset"),
        "{}",
        ds[0].message()
    );
    assert!(ds[0].hint().unwrap().contains("2025-03-14T23:00:00Z"));
}

/// Relative dates: a non-ASCII unit (which once panicked the loader), an
/// offset past the range of timestamps (which read as "now") and a doubled
/// sign are each refused where they are written.
#[test]
fn odd_relative_dates_are_refused_where_written() {
    let file = trap("odd-relative-dates.yaml");
    let ds = refused(&["odd-relative-dates.yaml"]);
    let lines: Vec<u32> = ds.iter().map(|d| d.line()).collect();
    assert_eq!(
        lines,
        [
            line_of(&file, "now+1é"),
            line_of(&file, "now+99999999999d"),
            line_of(&file, "now+-5d")
        ],
        "{}",
        one_line(&ds)
    );
    assert!(
        ds.iter()
            .all(|d| d.code() == "bad-date" && d.file() == file)
    );
}

/// `rules lint` says what each file added, disabled, overrode and
/// redefined, in load order.
#[test]
fn lint_says_what_each_file_did_to_the_set() {
    let dir = tempfile::tempdir().unwrap();
    let acme = dir.path().join("acme.yaml");
    std::fs::write(
        &acme,
        "conditions:\n  microsoft-nce-item: { path: item.providerName, equals: AZURE, ignore_case: true }\noverrides:\n  customer-email-valid: { severity: error }\ndisable: [customer-address-country-code]\n",
    )
    .unwrap();
    let lint = bin()
        .args(["rules", "lint"])
        .arg(trap("disable-customer-exists.yaml"))
        .arg(trap("error-customer-exists.yaml"))
        .arg(&acme)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&lint.stdout);
    assert_eq!(
        lint.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            format!(
                "  builtin:default: added {} rules; defined conditions microsoft-nce-item, microsoft-item, microsoft-create-item, creates-microsoft-tenant, microsoft-profile, microsoft-tenant-profile, enabled-microsoft-profile, gdap-active, microsoft-agreement-accepted, catalog-sku-of-item, subscription-active, placed-order-void",
                RuleSet::builtin().rules().len()
            ),
            format!(
                "  {}: disabled customer-exists",
                trap("disable-customer-exists.yaml")
            ),
            format!(
                "  {}: added 1 rule (customer-exists)",
                trap("error-customer-exists.yaml")
            ),
            format!(
                "  {}: disabled customer-address-country-code; overrode customer-email-valid (to error); redefined condition microsoft-nce-item",
                acme.display()
            ),
        ],
        "{out}"
    );
}

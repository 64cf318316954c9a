//! Issue 19, points 5 and 6 through the binary: `--explain`, and choosing
//! rules with `--only`, `--skip`, `--tag` (never silently), `--fail-on info`.

use serde_json::Value;

use crate::cli_support::{demo_check, run, write};

fn json(cmd: &mut assert_cmd::Command) -> (i32, Value) {
    let r = run(cmd.args(["--format", "json"]));
    let v = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    (r.code, v)
}

fn ids(report: &Value, key: &str, field: &str) -> Vec<String> {
    report[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r[field].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn only_keeps_the_rule_and_what_it_requires_and_names_the_rest() {
    let (code, report) = json(demo_check("2002").args(["--only", "customer-active"]));
    assert_eq!(code, 0);
    assert_eq!(
        ids(&report, "results", "rule"),
        ["customer-exists", "customer-active"]
    );
    let left_out = ids(&report, "deselected", "rule");
    assert!(
        left_out.contains(&"customer-email-valid".to_owned()),
        "{left_out:?}"
    );
    // Every rule of the set is accounted for: evaluated or named as left out.
    let all = crate::cli_support::run(
        crate::cli_support::bin().args(["rules", "list", "--format", "json"]),
    );
    let listed: Value = serde_json::from_str(&all.stdout).expect("json");
    assert_eq!(
        listed.as_array().expect("list").len(),
        left_out.len() + 2,
        "{left_out:?}"
    );
    assert!(
        report["deselected"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("--only customer-active")
    );
    // The text report says so on the verdict line.
    let text = run(demo_check("2002").args(["--only", "customer-active"]));
    let headline = text.stdout.lines().next().unwrap_or_default();
    assert!(
        headline.contains(&format!(
            "{} rules left out by the selection",
            left_out.len()
        )),
        "{headline}"
    );
}

#[test]
fn skip_leaves_a_rule_out_and_the_report_says_so() {
    let (code, report) = json(demo_check("2002").args(["--skip", "customer-email-valid"]));
    assert_eq!(code, 0);
    assert!(!ids(&report, "results", "rule").contains(&"customer-email-valid".to_owned()));
    assert_eq!(ids(&report, "deselected", "rule"), ["customer-email-valid"]);
    assert_eq!(report["deselected"][0]["reason"], "left out by --skip");
}

#[test]
fn skipping_a_required_rule_is_refused_like_disabling_it() {
    let r = run(demo_check("9999").args(["--skip", "customer-exists"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("--skip customer-exists: refused"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("customer-active"), "{}", r.stderr);
    // Skipping it with every rule that requires it is allowed.
    let all = [
        "customer-exists",
        "customer-active",
        "nce-item-has-microsoft-tenant",
        "customer-email-valid",
        "customer-address-complete",
        "customer-address-country-code",
        "microsoft-profile-delegated-access",
        "microsoft-profile-gdap-active",
        "microsoft-profile-agreement-accepted",
        "update-subscription-of-customer",
        "update-subscription-active",
        "update-subscription-same-product",
        "update-subscription-found",
        "create-duplicates-subscription",
        "order-not-placed-already",
        "placed-orders-scan-complete",
    ];
    let mut cmd = demo_check("9999");
    for id in all {
        cmd.args(["--skip", id]);
    }
    let (code, report) = json(&mut cmd);
    // No customer rule is left to judge, and the order rules skip without an
    // order: nothing blocking was evaluated, and the report names them all.
    assert_eq!(code, 0, "{report}");
    assert_eq!(ids(&report, "deselected", "rule").len(), all.len());
}

#[test]
fn only_with_skip_of_what_it_requires_is_refused() {
    let r =
        run(demo_check("2002").args(["--only", "customer-active", "--skip", "customer-exists"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("customer-active"), "{}", r.stderr);
}

#[test]
fn unknown_ids_and_tags_get_a_did_you_mean() {
    for (flag, value, near) in [
        ("--only", "customer-actve", "customer-active"),
        ("--skip", "customer-exist", "customer-exists"),
        ("--tag", "microsft", "microsoft"),
    ] {
        let r = run(demo_check("2002").args([flag, value]));
        assert_eq!(r.code, 2, "{r:?}");
        assert!(
            r.stderr.contains(&format!("did you mean `{near}`?")),
            "{flag} {value}: {}",
            r.stderr
        );
        crate::cli_support::assert_one_line(&r.stderr);
    }
}

#[test]
fn tag_keeps_the_tagged_rules_and_their_requirements() {
    let (_, report) = json(demo_check("2002").args(["--tag", "gdap"]));
    let kept = ids(&report, "results", "rule");
    assert!(
        kept.contains(&"microsoft-profile-gdap-active".to_owned()),
        "{kept:?}"
    );
    assert!(kept.contains(&"customer-exists".to_owned()), "{kept:?}");
    assert!(!kept.contains(&"order-has-items".to_owned()), "{kept:?}");
}

#[test]
fn fail_on_info_makes_a_failing_info_rule_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write(
        dir.path(),
        "info.yaml",
        "rules:\n  - id: acme-note\n    title: The customer has a note\n    severity: info\n    assert: { path: customer.~acmeNote, exists: true }\n    message: no note\n",
    );
    let base = || {
        let mut c = demo_check("2002");
        c.arg("--rules").arg(&rules);
        c
    };
    let (code, report) = json(&mut base());
    assert_eq!((code, report["verdict"].as_str()), (0, Some("ready")));
    let (code, report) = json(base().args(["--fail-on", "info"]));
    assert_eq!(
        (code, report["verdict"].as_str()),
        (1, Some("blocked")),
        "{report}"
    );
    assert_eq!(report["fail_on"], "info");
}

#[test]
fn explain_says_which_branch_decided_in_json_and_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let order = write(
        dir.path(),
        "o.json",
        r#"{"orderItems": [{"action": "UPDATE", "productId": "p", "skuId": "s", "planId": "m", "quantity": 1, "attributes": []}]}"#,
    );
    let (code, report) = json(
        demo_check("2002")
            .arg("--explain")
            .arg("--order")
            .arg(&order),
    );
    assert_eq!(code, 1);
    let results = report["results"].as_array().expect("results");
    assert!(
        results
            .iter()
            .all(|r| r["explain"]["decided_by"].is_string()),
        "{report}"
    );
    let update = results
        .iter()
        .find(|r| r["rule"] == "update-item-has-resource-id")
        .expect("rule");
    let e = &update["explain"];
    assert_eq!(e["element"], "order.orderItems[0]");
    assert_eq!(e["when"]["value"], "true");
    assert_eq!(e["assert"]["value"], "false");
    let active = results
        .iter()
        .find(|r| r["rule"] == "customer-active")
        .expect("rule");
    // A true `any`: the branch that held, alone.
    let any = &active["explain"]["assert"];
    assert_eq!(any["what"], "any of 4");
    assert_eq!(any["because"].as_array().map(Vec::len), Some(1));
    assert_eq!(any["because"][0]["found"], "ACTIVE");
    // Without --explain, no trace in the report.
    let (_, plain) = json(demo_check("2002").arg("--order").arg(&order));
    assert!(
        plain["results"]
            .as_array()
            .expect("results")
            .iter()
            .all(|r| r.get("explain").is_none())
    );
    // Text: a `decided by` line under each result, kept short.
    let text = run(demo_check("2002")
        .arg("--explain")
        .arg("--order")
        .arg(&order));
    assert!(
        text.stdout
            .contains("decided by: `assert` is false for order.orderItems[0]"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .lines()
            .filter(|l| l.contains(" → "))
            .all(|l| l.chars().count() < 240),
        "{}",
        text.stdout
    );
}

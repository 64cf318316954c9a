//! Renderer tests on hand-built reports (fixed timestamps, so nothing needs
//! redacting).

use serde_json::json;

use super::*;
use crate::report::{Evidence, ItemResult, Outcome, Report, RuleResult, Severity};

fn result(rule: &str, severity: Severity, outcome: Outcome) -> RuleResult {
    RuleResult {
        title: format!("title of {rule}"),
        ..RuleResult::bare(rule, severity, outcome)
    }
}

fn at() -> jiff::Timestamp {
    "2026-01-02T03:04:05Z".parse().expect("valid timestamp")
}

/// A report for `customer` of account 1001 (at [`at`], failing on errors):
/// `customer-exists` passed, then `rest`.
fn report_of(customer: u64, rest: impl IntoIterator<Item = RuleResult>) -> Report {
    let mut results = vec![result("customer-exists", Severity::Error, Outcome::Pass)];
    results.extend(rest);
    Report::from_results(1001, customer, at(), Severity::Error, results)
}

pub(crate) fn blocked_report() -> Report {
    let mut active = result("customer-active", Severity::Error, Outcome::Fail);
    active.title = "Only active customers can order".into();
    active.message = Some("Contoso <Ltd> & Co is INACTIVE".into());
    active.docs = Some("https://example.test/rules#customer-active".into());
    active.evidence = vec![Evidence {
        path: "customer.customerStatus".into(),
        found: Some(json!("INACTIVE")),
        missing: false,
        expected: "one of [ACTIVE, CUSTOMER_STATUS_UNSPECIFIED]".into(),
    }];
    let mut domain = result("azure-create-needs-domain", Severity::Error, Outcome::Fail);
    domain.preempts = Some("COMM-VL-004".into());
    domain.message = Some("item 2 (MS-365-E3) has no domainName attribute".into());
    domain.checked_items = Some(3);
    domain.items = vec![ItemResult {
        path: "order.orderItems[1]".into(),
        outcome: Outcome::Fail,
        message: "item 2 (MS-365-E3) has no domainName attribute".into(),
        evidence: vec![Evidence {
            path: "order.orderItems[1].attributes[name=domainName].value".into(),
            found: None,
            missing: true,
            expected: "non-empty".into(),
        }],
    }];
    let mut email = result("contact-email", Severity::Warning, Outcome::Fail);
    email.message = Some("primary email \"not-an-email\" is not well-formed".into());
    let mut skipped = result("ms-tenant", Severity::Error, Outcome::Skip);
    skipped.message = Some("requires customer-active".into());
    report_of(2003, [active, domain, email, skipped])
}

pub(crate) fn indeterminate_report() -> Report {
    let mut profiles = result("ms-tenant", Severity::Error, Outcome::Error);
    profiles.message =
        Some("cloudProfiles unavailable: ION timed out after 10s on GET cloudProfiles".into());
    let mut gdap = result("gdap-status", Severity::Warning, Outcome::Error);
    gdap.message = Some("cloudProfiles unavailable".into());
    report_of(2002, [profiles, gdap])
}

pub(crate) fn ready_report() -> Report {
    report_of(
        2002,
        [
            result("customer-active", Severity::Error, Outcome::Pass),
            result("order-items-complete", Severity::Error, Outcome::Skip),
        ],
    )
}

fn render(f: impl Fn(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut buf = Vec::new();
    f(&mut buf).expect("rendering into memory cannot fail");
    String::from_utf8(buf).expect("renderers write UTF-8")
}

#[test]
fn text_blocked() {
    let out = render(|w| text(&blocked_report(), w, TextOptions::default()));
    assert!(out.starts_with("BLOCKED: 2 blocking failures"), "{out}");
    assert!(!out.contains('\x1b'), "no colour unless asked");
    // Warnings come after blocking failures, the summary last.
    let blocking = out.find("Blocking failures").expect("blocking section");
    let warnings = out.find("Warnings").expect("warnings section");
    assert!(blocking < warnings);
    assert!(!out.contains("ms-tenant"), "skipped rules are not listed");
    insta::assert_snapshot!(out);
}

#[test]
fn text_ready_and_indeterminate() {
    let ready = render(|w| text(&ready_report(), w, TextOptions::default()));
    assert!(ready.starts_with("READY"));
    insta::assert_snapshot!("text_ready", ready);
    let ind = render(|w| text(&indeterminate_report(), w, TextOptions::default()));
    assert!(ind.starts_with("INDETERMINATE: 1 rule could not be evaluated"));
    insta::assert_snapshot!("text_indeterminate", ind);
}

#[test]
fn text_colour_only_when_asked() {
    let out = render(|w| {
        text(
            &blocked_report(),
            w,
            TextOptions::default().with_color(true),
        )
    });
    assert!(out.starts_with("\x1b[1m\x1b[31mBLOCKED\x1b[0m"), "{out:?}");
}

#[test]
fn text_fail_on_warning_moves_the_warning_into_blocking() {
    let report = blocked_report().with_fail_on(Severity::Warning);
    let out = render(|w| text(&report, w, TextOptions::default()));
    assert!(out.starts_with("BLOCKED: 3 blocking failures"), "{out}");
    assert!(!out.contains("Warnings"), "{out}");
}

#[test]
fn text_shortens_huge_values() {
    let mut report = blocked_report();
    report.results[1].evidence[0].found = Some(json!("x".repeat(1000)));
    let out = render(|w| text(&report, w, TextOptions::default()));
    assert!(out.contains('…'));
    assert!(out.lines().all(|l| l.chars().count() < 300), "{out}");
}

#[test]
fn json_is_the_report_pretty_and_round_trips() {
    let report = blocked_report();
    let out = render(|w| json(&report, w));
    assert!(out.starts_with("{\n  \"account_id\": 1001,"));
    let back: Report = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(back, report);
}

#[test]
fn ndjson_is_one_compact_line() {
    let report = blocked_report();
    let out = render(|w| ndjson(&report, w));
    assert_eq!(out.matches('\n').count(), 1);
    assert!(out.ends_with('\n'));
    let back: Report = serde_json::from_str(out.trim_end()).expect("valid JSON");
    assert_eq!(back, report);
}

#[test]
fn json_array_stream_is_valid_json_for_zero_one_and_many() {
    for n in [0, 1, 3] {
        let out = render(|w| {
            let mut s = JsonArrayStream::new(w);
            for _ in 0..n {
                s.report(&ready_report())?;
            }
            s.finish()
        });
        let v: Vec<Report> = serde_json::from_str(&out).expect("valid JSON array");
        assert_eq!(v.len(), n);
    }
}

#[test]
fn ndjson_stream_writes_one_line_per_report() {
    let out = render(|w| {
        let mut s = NdjsonStream::new(w);
        s.report(&ready_report())?;
        s.report(&blocked_report())?;
        s.finish()
    });
    let verdicts: Vec<String> = out
        .lines()
        .map(|l| {
            let r: Report = serde_json::from_str(l).expect("each line is a report");
            r.verdict.to_string()
        })
        .collect();
    assert_eq!(verdicts, ["ready", "blocked"]);
}

#[test]
fn junit_single_report() {
    let out = render(|w| junit(&blocked_report(), w));
    assert!(out.contains("tests=\"5\" failures=\"2\" errors=\"0\" skipped=\"1\""));
    assert!(out.contains("Contoso &lt;Ltd&gt; &amp; Co"));
    insta::assert_snapshot!(out);
}

#[test]
fn junit_errors_and_warnings() {
    let out = render(|w| junit(&indeterminate_report(), w));
    // The error-severity rule that could not be evaluated is a JUnit error;
    // the warning-severity one is a passing case with a note.
    assert!(out.contains("failures=\"0\" errors=\"1\""), "{out}");
    assert_eq!(out.matches("<error ").count(), 1);
    assert!(out.contains("<system-out>gdap-status (warning, error, below fail-on error)"));
    insta::assert_snapshot!(out);
}

#[test]
fn junit_stream_has_one_suite_per_report_and_closes() {
    let out = render(|w| {
        let mut s = JunitStream::new(w);
        s.report(&ready_report())?;
        s.report(&blocked_report())?;
        s.finish()
    });
    assert_eq!(out.matches("<testsuite ").count(), 2);
    assert!(out.starts_with("<?xml"));
    assert!(out.ends_with("</testsuites>\n"));
    let empty = render(|w| JunitStream::new(w).finish());
    assert!(empty.ends_with("<testsuites name=\"ion-preflight\">\n</testsuites>\n"));
}

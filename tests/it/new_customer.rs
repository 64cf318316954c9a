//! New-customer checks: the library against a loopback ION (wiremock), and
//! the real binary over the demo snapshot and over loopback ION.

use ion_preflight::report::{Outcome, Report, Verdict};
use ion_preflight::rules::RuleSet;
use ion_preflight::source::SnapshotSource;
use ion_preflight::{ListPosition, NewCustomerRequest, Preflight};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::cli_support::{bin, fixture, run, write};
use crate::ion_support::{ACCOUNT, client_with_access, ion_error, ok_json};

const LIST: &str = "/api/v3/accounts/1001/customers";

fn acme() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixture("new-customers/acme.json")).expect("fixture"),
    )
    .expect("fixture is JSON")
}

fn listed(id: u64, org: &str, email: &str, status: &str) -> Value {
    json!({
        "name": format!("accounts/1001/customers/{id}"),
        "customerOrganization": org,
        "customerEmail": email,
        "customerStatus": status,
    })
}

/// Answers one lookup (`filter.customerEmail` or `filter.customerName`
/// with `value`) for one status with `customers`, and expects exactly one
/// such request.
async fn mount_lookup(
    server: &MockServer,
    filter: &str,
    value: &str,
    status: &str,
    customers: Vec<Value>,
) {
    mount_lookup_times(server, filter, value, status, customers, 1).await;
}

/// [`mount_lookup`] expecting `times` requests.
async fn mount_lookup_times(
    server: &MockServer,
    filter: &str,
    value: &str,
    status: &str,
    customers: Vec<Value>,
    times: u64,
) {
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param(filter, value))
        .and(query_param("filter.customerStatus", status))
        .and(query_param("pageSize", "100"))
        .and(header("authorization", "Bearer tok-nc"))
        .respond_with(ok_json(json!({ "customers": customers })))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_nobody(server: &MockServer, email: &str, org: &str) {
    for status in ["ACTIVE", "INACTIVE"] {
        mount_lookup(server, "filter.customerEmail", email, status, vec![]).await;
        mount_lookup(server, "filter.customerName", org, status, vec![]).await;
    }
}

async fn check(server: &MockServer, req: NewCustomerRequest) -> Report {
    let client = client_with_access(server, "tok-nc");
    Preflight::new(client, RuleSet::builtin_new_customer())
        .check_new_customer(req)
        .await
}

fn outcome(report: &Report, rule: &str) -> Outcome {
    report.result(rule).expect("rule in report").outcome
}

#[tokio::test]
async fn a_fresh_payload_is_ready_after_asking_for_both_statuses_of_both_lookups() {
    let server = MockServer::start().await;
    mount_nobody(&server, "john.doe@acme.com", "Acme Corp").await;
    let report = check(&server, NewCustomerRequest::new(ACCOUNT, acme())).await;
    assert_eq!(report.verdict(), Verdict::Ready, "{report:#?}");
    assert_eq!(
        outcome(&report, "new-customer-email-not-in-use"),
        Outcome::Pass
    );
    assert_eq!(
        outcome(&report, "new-customer-organization-not-in-use"),
        Outcome::Pass
    );
    assert_eq!(report.customer_id, 0);
    let subject = report.new_customer.as_ref().expect("subject");
    assert_eq!(subject.email.as_deref(), Some("john.doe@acme.com"));
    let json = serde_json::to_value(&report).expect("serializes");
    assert!(json.get("customer_id").is_none(), "{json}");
    assert_eq!(json["new_customer"]["organization"], "Acme Corp");
    // The four `expect(1)` are checked when the server drops.
}

#[tokio::test]
async fn an_inactive_customer_with_the_email_in_another_case_is_cus_cr_001() {
    let server = MockServer::start().await;
    let mut payload = acme();
    payload["customerEmail"] = json!("John.Doe@ACME.com");
    mount_lookup(
        &server,
        "filter.customerEmail",
        "John.Doe@ACME.com",
        "ACTIVE",
        // A looser filter's hit with another address is not a duplicate.
        vec![listed(2010, "Acme Pty", "john.doe@acme.com.au", "ACTIVE")],
    )
    .await;
    mount_lookup(
        &server,
        "filter.customerEmail",
        "John.Doe@ACME.com",
        "INACTIVE",
        vec![listed(2003, "Acme Old", "john.doe@acme.com", "INACTIVE")],
    )
    .await;
    for status in ["ACTIVE", "INACTIVE"] {
        mount_lookup(&server, "filter.customerName", "Acme Corp", status, vec![]).await;
    }
    let report = check(&server, NewCustomerRequest::new(ACCOUNT, payload)).await;
    assert_eq!(report.verdict(), Verdict::Blocked);
    let r = report
        .result("new-customer-email-not-in-use")
        .expect("rule");
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(r.preempts.as_deref(), Some("CUS-CR-001"));
    let message = r.message.as_deref().expect("message");
    assert!(
        message.contains("customer accounts/1001/customers/2003 (Acme Old, INACTIVE)"),
        "{message}"
    );
    assert!(
        !message.contains("2010"),
        "never the other address: {message}"
    );
    assert!(r.title.contains("cannot see"), "{}", r.title);
}

#[tokio::test]
async fn only_the_looser_filters_hit_is_no_duplicate() {
    let server = MockServer::start().await;
    mount_lookup(
        &server,
        "filter.customerEmail",
        "john.doe@acme.com",
        "ACTIVE",
        vec![listed(2010, "Acme Pty", "john.doe@acme.com.au", "ACTIVE")],
    )
    .await;
    mount_lookup(
        &server,
        "filter.customerEmail",
        "john.doe@acme.com",
        "INACTIVE",
        vec![],
    )
    .await;
    for status in ["ACTIVE", "INACTIVE"] {
        mount_lookup(&server, "filter.customerName", "Acme Corp", status, vec![]).await;
    }
    let report = check(&server, NewCustomerRequest::new(ACCOUNT, acme())).await;
    assert_eq!(
        outcome(&report, "new-customer-email-not-in-use"),
        Outcome::Pass
    );
}

#[tokio::test]
async fn a_lookup_follows_every_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param("filter.customerEmail", "john.doe@acme.com"))
        .and(query_param("filter.customerStatus", "ACTIVE"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ok_json(json!({
            "customers": [listed(2011, "Other", "someone@acme.com", "ACTIVE")],
            "nextPageToken": "p2"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param("filter.customerEmail", "john.doe@acme.com"))
        .and(query_param("filter.customerStatus", "ACTIVE"))
        .and(query_param("pageToken", "p2"))
        .respond_with(ok_json(json!({
            "customers": [listed(2012, "Acme Corp", "JOHN.DOE@acme.com", "ACTIVE")],
            "nextPageToken": ""
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount_lookup(
        &server,
        "filter.customerEmail",
        "john.doe@acme.com",
        "INACTIVE",
        vec![],
    )
    .await;
    for status in ["ACTIVE", "INACTIVE"] {
        mount_lookup(&server, "filter.customerName", "Acme Corp", status, vec![]).await;
    }
    let report = check(&server, NewCustomerRequest::new(ACCOUNT, acme())).await;
    let r = report
        .result("new-customer-email-not-in-use")
        .expect("rule");
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(
        r.message
            .as_deref()
            .unwrap_or("")
            .contains("customers/2012"),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_failed_lookup_is_indeterminate_never_ready() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param("filter.customerStatus", "INACTIVE"))
        .and(query_param("filter.customerEmail", "john.doe@acme.com"))
        .respond_with(ion_error(
            403,
            "PERMISSION_DENIED",
            "permission denied to access accounts/1001",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .respond_with(ok_json(json!({})))
        .mount(&server)
        .await;
    let report = check(&server, NewCustomerRequest::new(ACCOUNT, acme())).await;
    assert_eq!(report.verdict(), Verdict::Indeterminate);
    let r = report
        .result("new-customer-email-not-in-use")
        .expect("rule");
    assert_eq!(r.outcome, Outcome::Error);
    let message = r.message.as_deref().unwrap_or("");
    assert!(
        message.contains("customers with this email could not be listed"),
        "{message}"
    );
    assert!(
        !message.contains("tok-nc"),
        "no token in messages: {message}"
    );
    assert_eq!(
        outcome(&report, "new-customer-organization-not-in-use"),
        Outcome::Pass
    );
}

#[tokio::test]
async fn nothing_is_looked_up_for_a_payload_without_email_or_organization() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let payload = json!({"customerName": "J", "languageCode": "EN"});
    let report = check(&server, NewCustomerRequest::new(ACCOUNT, payload)).await;
    assert_eq!(report.verdict(), Verdict::Blocked);
    assert_eq!(
        outcome(&report, "new-customer-required-fields"),
        Outcome::Fail
    );
    assert_eq!(
        outcome(&report, "new-customer-email-not-in-use"),
        Outcome::Skip
    );
}

#[tokio::test]
async fn order_checks_do_not_load_the_new_customer_rules() {
    let order = RuleSet::builtin();
    assert!(
        order
            .rules()
            .iter()
            .all(|r| !r.id().starts_with("new-customer"))
    );
    assert!(!order.needs().customers_with_email);
    let new = RuleSet::builtin_new_customer();
    assert!(new.rule("new-customer-email-not-in-use").is_some());
    assert!(new.rule("customer-exists").is_none());
    let needs = new.needs();
    assert!(needs.customers_with_email && needs.customers_with_organization);
    assert!(!needs.customer && !needs.cloud_profiles && !needs.products);
    assert!(
        new.unchecked_paths().is_empty(),
        "{:?}",
        new.unchecked_paths()
    );
}

#[tokio::test]
async fn a_snapshot_replays_the_recorded_lookups_and_a_missing_one_is_unavailable() {
    let snap = SnapshotSource::open(fixture("demo")).expect("demo snapshot");
    let pf = Preflight::new(snap, RuleSet::builtin_new_customer());
    let report = pf
        .check_new_customer(NewCustomerRequest::new(ACCOUNT, acme()))
        .await;
    assert_eq!(report.verdict(), Verdict::Ready, "{report:#?}");
    let mut unknown = acme();
    unknown["customerEmail"] = json!("nobody@nowhere.example");
    let report = pf
        .check_new_customer(NewCustomerRequest::new(ACCOUNT, unknown))
        .await;
    assert_eq!(report.verdict(), Verdict::Indeterminate);
    let r = report
        .result("new-customer-email-not-in-use")
        .expect("rule");
    assert!(
        r.message
            .as_deref()
            .unwrap_or("")
            .contains("no recorded answer to filter.customerEmail"),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_payload_of_a_list_knows_its_earlier_duplicates() {
    let snap = SnapshotSource::open(fixture("demo")).expect("demo snapshot");
    let pf = Preflight::new(snap, RuleSet::builtin_new_customer());
    let req = NewCustomerRequest::new(ACCOUNT, acme()).in_list(ListPosition {
        line: 4,
        same_email_lines: vec![1],
    });
    let report = pf.check_new_customer(req).await;
    let r = report
        .result("new-customer-email-unique-in-list")
        .expect("rule");
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(report.new_customer.as_ref().and_then(|n| n.line), Some(4));
}

// ---------------------------------------------------------------------------
// The binary.

fn demo(args: &[&str]) -> assert_cmd::Command {
    let mut cmd = bin();
    cmd.args([
        "check-new-customer",
        "--data",
        "fixtures/demo",
        "--account",
        "1001",
    ]);
    cmd.args(args);
    cmd
}

#[test]
fn cli_ready_payload_exits_0_with_a_text_report() {
    let r = run(&mut demo(&[
        "--payload",
        "fixtures/new-customers/acme.json",
    ]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with(
            "READY: no blocking rule failed for new customer \"Acme Corp\" <john.doe@acme.com> (account 1001)"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn cli_blocked_payload_exits_1_and_names_every_fault() {
    let r = run(&mut demo(&[
        "--payload",
        "fixtures/new-customers/contoso-again.json",
    ]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    for needle in [
        "new-customer-email-not-in-use",
        "CUS-CR-001",
        "accounts/1001/customers/2002",
        "new-customer-language-code-valid",
        "'english'",
        "'Washington' is not a subdivision code of United States of America (US)",
        "new-customer-phone-international",
        "new-customer-organization-not-in-use",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
}

#[test]
fn cli_json_and_junit_formats_and_stdin() {
    let payload =
        std::fs::read_to_string(fixture("new-customers/contoso-again.json")).expect("fixture");
    let r = run(demo(&["--payload", "-", "--format", "json"]).write_stdin(payload));
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON report");
    assert_eq!(v["verdict"], "blocked");
    assert_eq!(v["new_customer"]["email"], "Megan.Bowen@Contoso.com");
    let r = run(&mut demo(&[
        "--payload",
        "fixtures/new-customers/acme.json",
        "--format",
        "junit",
    ]));
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("classname=\"ion-preflight.account-1001.new-customer\""),
        "{}",
        r.stdout
    );
    let r = run(&mut demo(&[
        "--payload",
        "fixtures/new-customers/contoso-again.json",
        "--fail-on",
        "warning",
        "--format",
        "ndjson",
    ]));
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout.lines().count(), 1);
}

#[test]
fn cli_malformed_payload_names_file_line_and_column_and_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = write(
        dir.path(),
        "bad.json",
        "{\n  \"customerName\": \"J\",\n  \"customerEmail\" \"x\"\n}\n",
    );
    let r = run(demo(&["--payload"]).arg(&p));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "error: payload file {}, line 3, column 19: invalid JSON: expected `:`",
            p.display()
        )
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn cli_a_lookup_missing_from_the_snapshot_is_indeterminate_exit_3() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = write(
        dir.path(),
        "p.json",
        r#"{"customerOrganization": "Acme Corp", "customerName": "J", "customerEmail": "new@acme.com", "languageCode": "EN",
            "customerAddress": {"street": "1 A St", "city": "B", "state": "CA", "zip": "1", "country": "US"}}"#,
    );
    let r = run(demo(&["--payload"]).arg(&p));
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("could not be evaluated"), "{}", r.stderr);
}

#[test]
fn cli_payloads_stream_one_report_a_line_and_flag_duplicate_emails() {
    let r = run(&mut demo(&[
        "--payloads",
        "fixtures/new-customers/onboarding.ndjson",
        "--concurrency",
        "2",
        "--quiet",
    ]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let mut reports: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON report a line"))
        .collect();
    reports.sort_by_key(|v| v["new_customer"]["line"].as_u64());
    let verdicts: Vec<&str> = reports
        .iter()
        .map(|v| v["verdict"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        verdicts,
        ["ready", "blocked", "blocked", "blocked", "ready"]
    );
    let rule = |v: &Value, id: &str| {
        v["results"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["rule"] == id).cloned())
            .unwrap_or(Value::Null)
    };
    let dup = rule(&reports[3], "new-customer-email-unique-in-list");
    assert_eq!(dup["outcome"], "fail");
    assert!(
        dup["message"]
            .as_str()
            .unwrap_or("")
            .contains("on line 1 of this list"),
        "{dup}"
    );
    assert_eq!(
        rule(&reports[0], "new-customer-email-unique-in-list")["outcome"],
        "pass"
    );
    assert_eq!(
        rule(&reports[1], "new-customer-email-not-in-use")["outcome"],
        "fail"
    );
    assert_eq!(
        rule(&reports[2], "new-customer-required-fields")["outcome"],
        "fail"
    );
}

#[test]
fn cli_payloads_stop_at_a_malformed_line_with_its_line_number() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = std::fs::read_to_string(fixture("new-customers/acme.json"))
        .expect("fixture")
        .replace('\n', "");
    let p = write(
        dir.path(),
        "list.ndjson",
        &format!("{good}\n\n[1, 2]\n{good}\n"),
    );
    let r = run(demo(&["--payloads"]).arg(&p).arg("--quiet"));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "error: payload file {}, line 3: expected a JSON object",
            p.display()
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn cli_live_snapshot_then_replay_gives_the_same_verdict() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(MockServer::start());
    // Each lookup twice: once recorded, once by the live check.
    rt.block_on(async {
        mount_lookup_times(
            &server,
            "filter.customerEmail",
            "john.doe@acme.com",
            "ACTIVE",
            vec![listed(2002, "Contoso Ltd", "john.doe@acme.com", "ACTIVE")],
            2,
        )
        .await;
        let (email, name) = ("filter.customerEmail", "filter.customerName");
        mount_lookup_times(&server, email, "john.doe@acme.com", "INACTIVE", vec![], 2).await;
        for status in ["ACTIVE", "INACTIVE"] {
            mount_lookup_times(&server, name, "Acme Corp", status, vec![], 2).await;
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("snap");
    let r = run(bin()
        .env("ION_BASE_URL", server.uri())
        .env("ION_ACCESS_TOKEN", "tok-nc")
        .args([
            "snapshot",
            "--account",
            "1001",
            "--payload",
            "fixtures/new-customers/acme.json",
            "--out",
        ])
        .arg(&out));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().count(), 4, "{}", r.stdout);
    for dumped in [&r.stdout, &r.stderr] {
        assert!(!dumped.contains("tok-nc"));
    }
    let live = run(bin()
        .env("ION_BASE_URL", server.uri())
        .env("ION_ACCESS_TOKEN", "tok-nc")
        .args([
            "check-new-customer",
            "--account",
            "1001",
            "--payload",
            "fixtures/new-customers/acme.json",
            "--format",
            "json",
        ]));
    assert_eq!(live.code, 1, "{}{}", live.stdout, live.stderr);
    let replay = run(bin()
        .args([
            "check-new-customer",
            "--account",
            "1001",
            "--payload",
            "fixtures/new-customers/acme.json",
            "--format",
            "json",
            "--data",
        ])
        .arg(&out));
    assert_eq!(replay.code, 1, "{}{}", replay.stdout, replay.stderr);
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).expect("JSON");
        v["checked_at"] = Value::Null;
        v
    };
    assert_eq!(strip(&live.stdout), strip(&replay.stdout));
    for text in [&live.stdout, &live.stderr, &replay.stdout] {
        assert!(!text.contains("tok-nc"), "no token anywhere");
    }
    let files: Vec<_> = walk(&out);
    assert!(files.iter().all(|f| {
        !std::fs::read_to_string(f)
            .unwrap_or_default()
            .contains("tok-nc")
    }));
    drop(server);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn cli_needs_payload_or_payloads() {
    let r = run(bin().args(["check-new-customer", "--account", "1001"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--payload"), "{}", r.stderr);
}

#[test]
fn cli_rules_commands_take_the_new_customer_set_by_name() {
    let r = run(bin().args(["rules", "lint", "builtin:new-customer"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = run(bin().args([
        "rules",
        "explain",
        "new-customer-email-not-in-use",
        "--rules",
        "builtin:new-customer",
    ]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("pre-empts: CUS-CR-001"), "{}", r.stdout);
    assert!(
        r.stdout.contains("defined:   builtin:new-customer:"),
        "{}",
        r.stdout
    );
    let r = run(bin().args([
        "rules",
        "list",
        "--rules",
        "builtin:new-customer",
        "--no-default-rules",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let list: Value = serde_json::from_str(&r.stdout).expect("JSON list");
    assert_eq!(list.as_array().map(Vec::len), Some(10), "{list}");
}

#[test]
fn a_file_extending_the_new_customer_set_loads_it_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = write(
        dir.path(),
        "mine.yaml",
        "extends: [builtin:new-customer]\nconditions:\n  valid-language-code: { path: newCustomer.languageCode, one_of: [EN], ignore_case: true }\n",
    );
    let set = ion_preflight::rules::RuleSetLoader::starting_from(
        ion_preflight::rules::Builtin::NewCustomer,
    )
    .file(&rules)
    .load()
    .expect("loads without duplicate ids");
    assert_eq!(
        set.rules().len(),
        RuleSet::builtin_new_customer().rules().len()
    );
    let tests = write(
        dir.path(),
        "t.yaml",
        "rules: [builtin:new-customer, mine.yaml]\nnow: 2026-03-01\ngiven:\n  new_customer: { customerOrganization: A, customerName: B, customerEmail: c@d.com, languageCode: en-US }\ncases:\n  - name: en-US is no longer accepted\n    expect:\n      rules: { new-customer-language-code-valid: fail }\n",
    );
    let report = ion_preflight::rules::testing::RuleTestFile::load(&tests)
        .expect("loads")
        .run();
    assert!(report.passed(), "{report}");
}

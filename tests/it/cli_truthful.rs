//! Issue 14, "every message true", through the real binary: what the data
//! source, the credentials and the command line say is what they know.

use std::path::Path;

use serde_json::Value;

use crate::cli_live::{NCE_JSON, ion, live, live_check, run_async};
use crate::cli_support::{
    CHECK_2002, Run, assert_one_line, bin, clean_env, demo_batch, demo_check, run, write,
};
use crate::ion_support::assert_no_request;

/// The replay command `snapshot` printed, run as a shell runs it (with the
/// binary under test for `ion-preflight`).
pub(crate) fn replay_hint(stderr: &str) -> String {
    let at = stderr.find("replay with: ").expect("a replay hint") + "replay with: ".len();
    let hint = stderr[at..].lines().next().expect("one line").to_owned();
    assert!(hint.starts_with("ion-preflight "), "{hint}");
    hint
}

fn run_hint(hint: &str) -> Run {
    let bin_path = env!("CARGO_BIN_EXE_ion-preflight");
    let script = format!("'{bin_path}'{}", &hint["ion-preflight".len()..]);
    // No ION_* variable: the replay needs no network and no credentials.
    let mut sh = assert_cmd::Command::new("sh");
    sh.current_dir(crate::cli_support::root())
        .args(["-c", &script]);
    run(clean_env(&mut sh))
}

// ---- 1. Offline data: recorded 404s, unrecorded resources, non-snapshots --

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_of_an_unknown_customer_records_the_404_and_its_replay_says_so() {
    let server = ion().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("case");
    let mut cmd = live(&server);
    cmd.args([
        "snapshot",
        "--account",
        "1001",
        "--customer",
        "9999",
        "--out",
    ])
    .arg(&out);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("accounts/1001/customers/9999.404.json").is_file());
    assert!(out.join("snapshot.json").is_file());
    let replay = run_hint(&replay_hint(&r.stderr));
    assert_eq!(replay.code, 1, "{}\n{}", replay.stdout, replay.stderr);
    assert!(
        replay
            .stdout
            .contains("customer 9999 does not exist in account 1001 (ION answered 404)"),
        "{}",
        replay.stdout
    );
}

#[test]
fn an_account_the_snapshot_does_not_hold_is_indeterminate_not_absent() {
    let mut cmd = bin();
    cmd.args([
        "check",
        "--data",
        "fixtures/demo",
        "--account",
        "1002",
        "--customer",
        "2002",
    ]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("INDETERMINATE"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("the snapshot holds no customer 2002 of account 1002"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("ION answered 404"), "{}", r.stdout);
    assert!(!r.stdout.contains("does not exist"), "{}", r.stdout);
}

#[test]
fn the_demo_snapshot_recorded_a_404_for_customer_9999() {
    let r = run(&mut demo_check("9999"));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("(ION answered 404)"), "{}", r.stdout);
}

#[test]
fn a_directory_that_is_no_snapshot_exits_2_saying_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "README.txt", "not a snapshot");
    let r = run(bin().args(CHECK_2002).arg("--data").arg(dir.path()));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_one_line(&r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(
        r.stderr.contains("is not a snapshot directory"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

// ---- 2. The replay hint reproduces the recorded check -------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_replay_hint_carries_the_order_and_the_rules() {
    let server = ion().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = write(
        dir.path(),
        "extra rules.yaml",
        "rules:\n  - id: organization-is-contoso\n    title: The organization is Contoso\n    severity: error\n    assert: { path: customer.customerOrganization, equals: Fabrikam }\n    message: not Fabrikam\n",
    );
    let out = dir.path().join("case");
    let mut cmd = live(&server);
    cmd.args(["snapshot", "--account", "1001", "--customer", "2002"])
        .args(["--order", "fixtures/orders/nce-order.json", "--rules"])
        .arg(&rules)
        .arg("--out")
        .arg(&out);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hint = replay_hint(&r.stderr);
    assert!(
        hint.contains("--order fixtures/orders/nce-order.json"),
        "{hint}"
    );
    assert!(hint.contains("--rules '"), "{hint}");

    let mut live_cmd = live_check(&server, "2002");
    live_cmd.args(NCE_JSON).arg("--rules").arg(&rules);
    let live_run = run_async(live_cmd).await;
    assert_eq!(live_run.code, 1, "{}", live_run.stderr);
    let replay = run_hint(&format!("{hint} --format json"));
    assert_eq!(replay.code, 1, "{}", replay.stderr);
    let results =
        |text: &str| serde_json::from_str::<Value>(text).expect("JSON")["results"].clone();
    assert_eq!(results(&replay.stdout), results(&live_run.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_from_stdin_is_kept_in_the_snapshot_for_the_replay() {
    let server = ion().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("case");
    let order = std::fs::read_to_string(crate::cli_support::fixture("orders/nce-order.json"))
        .expect("order");
    let mut cmd = live(&server);
    cmd.args([
        "snapshot",
        "--account",
        "1001",
        "--customer",
        "2002",
        "--order",
        "-",
        "--out",
    ])
    .arg(&out)
    .write_stdin(order);
    let r = run_async(cmd).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hint = replay_hint(&r.stderr);
    assert!(hint.contains("/order-") && hint.contains(".json"), "{hint}");
    let replay = run_hint(&format!("{hint} --format json"));
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let report: Value = serde_json::from_str(&replay.stdout).expect("JSON");
    assert_eq!(report["inputs"]["order"], true);
}

// ---- 3. Two recordings into one directory ---------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn two_snapshot_runs_into_one_directory_both_succeed_whole() {
    let server = ion().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("case");
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let mut cmd = live(&server);
            cmd.args(["snapshot", "--account", "1001", "--customer", "2002"])
                .args(["--order", "fixtures/orders/nce-order.json", "--out"])
                .arg(&out);
            tokio::spawn(run_async(cmd))
        })
        .collect();
    for r in runs {
        let r = r.await.expect("joined");
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut files = Vec::new();
    walk(&out, &mut files);
    for f in &files {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left over: {}", f.display());
        let text = std::fs::read_to_string(f).expect("read");
        serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|e| panic!("{} is not whole JSON: {e}", f.display()));
    }
    // The marker, the customer, its cloud profiles, its orders and
    // subscriptions (the scans), and the order's two products.
    let mut names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&out).expect("inside").display().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "accounts/1001/customers/2002.json",
            "accounts/1001/customers/2002/cloudProfiles.json",
            "accounts/1001/customers/2002/orders.json",
            "accounts/1001/customers/2002/subscriptions.json",
            "accounts/1001/products/CFQ7TTC0LFLZ.json",
            "accounts/1001/products/CFQ7TTC0LH18.json",
            "snapshot.json",
        ],
        "{files:?}"
    );
    let r = run(bin()
        .args(CHECK_2002)
        .args(NCE_JSON)
        .arg("--data")
        .arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readdir") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

// ---- 7. --no-default-rules needs --rules -----------------------------------

#[test]
fn no_default_rules_without_rules_is_a_usage_error() {
    for args in [
        &[
            "check",
            "--data",
            "fixtures/demo",
            "--account",
            "1001",
            "--customer",
            "2002",
        ][..],
        &[
            "batch",
            "--data",
            "fixtures/demo",
            "--account",
            "1001",
            "--all",
        ][..],
        &["rules", "list"][..],
        &[
            "check-new-customer",
            "--data",
            "fixtures/demo",
            "--account",
            "1001",
            "--payload",
            "fixtures/new-customers/acme.json",
        ][..],
    ] {
        let r = run(bin().args(args).arg("--no-default-rules"));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(r.stderr.contains("--rules <FILE>"), "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

// ---- 8. A check without an order says so; an empty customers file --------

#[test]
fn a_check_without_an_order_says_it_checked_the_customer_only() {
    let r = run(&mut demo_check("2002"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = r.stdout.lines().next().expect("a verdict line");
    assert_eq!(
        first,
        "READY: no blocking rule failed for customer 2002 (account 1001); customer checks only: no order given"
    );
    let r = run(demo_check("2002").args(["--format", "json"]));
    let report: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(report["inputs"], serde_json::json!({"order": false}));

    let r = run(demo_check("2002").args(["--order", "fixtures/orders/nce-order.json"]));
    assert_eq!(r.code, 0);
    assert!(!r.stdout.contains("no order given"), "{}", r.stdout);
    let r = run(demo_check("2002").args([
        "--order",
        "fixtures/orders/nce-order.json",
        "--format",
        "json",
    ]));
    let report: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(report["inputs"]["order"], true);
}

#[test]
fn an_empty_customers_file_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = write(dir.path(), "ids.txt", "# nobody yet\n\n");
    let r = run(demo_batch().arg("--customers").arg(&ids));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_one_line(&r.stderr);
    assert!(r.stderr.contains("holds no customer id"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

// ---- 9. Customers files: BOM, trailing comments, every bad line ----------

#[test]
fn a_customers_file_with_a_bom_and_comments_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = write(
        dir.path(),
        "ids.txt",
        "\u{feff}2002\r\n2003 # Fabrikam, inactive\r\n",
    );
    let r = run(demo_batch().arg("--customers").arg(&ids).arg("--quiet"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let customers: Vec<u64> = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["customer_id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    assert_eq!(customers.len(), 2);
    assert!(customers.contains(&2002) && customers.contains(&2003));
}

#[test]
fn every_bad_line_of_a_customers_file_is_reported_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = write(
        dir.path(),
        "ids.txt",
        "2002\nabc\n-5\n2003\n99999999999999999999\n",
    );
    let r = run(demo_batch().arg("--customers").arg(&ids));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_one_line(&r.stderr);
    for needle in [
        "3 lines are not customer ids",
        "line 2: \"abc\"",
        "line 3: \"-5\"",
        "line 5:",
        "too large",
    ] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
}

// ---- 10. Ids ---------------------------------------------------------------

#[test]
fn id_messages_say_what_is_wrong() {
    let r = run(&mut demo_check("99999999999999999999"));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("is too large for an id (the largest is 18446744073709551615)"),
        "{}",
        r.stderr
    );
    let r = run(&mut demo_check("-5"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("-5 is negative"), "{}", r.stderr);
    assert!(!r.stderr.contains("unexpected argument"), "{}", r.stderr);

    let r = run(bin().args(["check", "--data", "fixtures/demo", "--customer", "2002"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--account <ID> (or set ION_ACCOUNT_ID)"),
        "{}",
        r.stderr
    );

    let r = run(bin().env("ION_ACCOUNT_ID", "abc").args([
        "check",
        "--data",
        "fixtures/demo",
        "--customer",
        "2002",
    ]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("error: invalid value 'abc' for 'ION_ACCOUNT_ID"),
        "{}",
        r.stderr
    );
    // A bad --account is the flag's, even with the variable set.
    let r = run(bin().env("ION_ACCOUNT_ID", "1001").args([
        "check",
        "--data",
        "fixtures/demo",
        "--account",
        "x1",
        "--customer",
        "2002",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("for '--account <ID>'"), "{}", r.stderr);
}

// ---- 4. A definite credential rejection stops a batch -----------------------

/// ION refusing every GET with 401, and the refresh token with 400
/// `invalid_grant`.
async fn rejecting_ion() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let server = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            serde_json::json!({"error": "invalid_grant", "error_description": "refresh token revoked"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error": "UNAUTHENTICATED", "message": "access token invalid", "code": 401}),
        ))
        .mount(&server)
        .await;
    server
}

fn two_hundred_ids(dir: &Path) -> std::path::PathBuf {
    let ids: String = (3000..3200).map(|i| format!("{i}\n")).collect();
    write(dir, "ids.txt", &ids)
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_stops_at_a_definite_credential_rejection() {
    for credentials in ["access token only", "refresh token refused"] {
        let server = rejecting_ion().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri());
        if credentials == "access token only" {
            cmd.env("ION_ACCESS_TOKEN", "at-revoked");
        } else {
            cmd.env("ION_REFRESH_TOKEN", "rt-revoked");
        }
        cmd.args([
            "batch",
            "--account",
            "1001",
            "--concurrency",
            "4",
            "--format",
            "json",
        ])
        .arg("--customers")
        .arg(two_hundred_ids(dir.path()));
        let r = run_async(cmd).await;
        assert_eq!(r.code, 3, "{credentials}: {}", r.stderr);
        let errors: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{credentials}: {}", r.stderr);
        assert!(
            errors[0].contains("ION rejected the credentials"),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains("the batch stopped"), "{}", errors[0]);
        // The reports written are a whole JSON document, and few.
        let reports: Value = serde_json::from_str(&r.stdout).expect("a whole JSON array");
        let written = reports.as_array().expect("array").len();
        assert!(written <= 8, "{credentials}: {written} reports");
        let requests = server.received_requests().await.expect("recorded").len();
        assert!(
            requests <= 16,
            "{credentials}: {requests} requests for 200 customers"
        );
    }
}

// ---- 5. The token file is checked before any request -----------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_malformed_token_file_exits_2_before_any_request() {
    let server = ion().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let misspelled = write(
        dir.path(),
        "token.json",
        "{\"version\": 1, \"refresh_tokn\": \"rt-SECRET\"}\n",
    );
    let missing = dir.path().join("absent.json");
    let ids = write(dir.path(), "ids.txt", "2002\n");
    let commands: [Vec<&str>; 3] = [
        CHECK_2002.to_vec(),
        vec![
            "batch",
            "--account",
            "1001",
            "--customers",
            ids.to_str().expect("utf-8"),
        ],
        vec![
            "snapshot",
            "--account",
            "1001",
            "--customer",
            "2002",
            "--out",
            "/nonexistent/never",
        ],
    ];
    for args in &commands {
        for file in [&misspelled, &missing] {
            let mut cmd = bin();
            cmd.env("ION_BASE_URL", server.uri())
                .env("ION_TOKEN_FILE", file)
                .args(args);
            let r = run_async(cmd).await;
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            let errors: Vec<&str> = r
                .stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .collect();
            assert_eq!(errors.len(), 1, "{}", r.stderr);
            assert!(
                errors[0].contains(&file.display().to_string()),
                "{}",
                errors[0]
            );
            if file == &misspelled {
                assert!(
                    errors[0].contains("unknown key `refresh_tokn`")
                        && errors[0].contains("did you mean `refresh_token`?"),
                    "{}",
                    errors[0]
                );
                assert!(!errors[0].contains("Data error"), "{}", errors[0]);
            } else {
                assert!(errors[0].contains("does not exist"), "{}", errors[0]);
            }
            assert!(!r.stderr.contains("SECRET"), "{}", r.stderr);
        }
    }
    assert_no_request(&server).await;
}

// ---- 6. auth status calls only a definite rejection one -------------------

#[tokio::test(flavor = "multi_thread")]
async fn auth_status_says_could_not_check_unless_ion_rejected_the_token() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    for (status, rejected) in [(404u16, false), (405, false), (401, true)] {
        let server = wiremock::MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/validateAccess"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(serde_json::json!({"error": "x", "message": "no such route"})),
            )
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token.json");
        crate::auth_support::seed_tokens(&file, "at-SECRET", 6000, None);
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", server.uri())
            .env("ION_TOKEN_FILE", &file)
            .env("RUST_LOG", "ion_preflight=debug")
            .args(["auth", "status"]);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 3, "{status}: {}", r.stderr);
        let ion_line = r
            .stdout
            .lines()
            .find(|l| l.starts_with("ION:"))
            .expect("an ION line");
        if rejected {
            // A refused access token is no verdict on the refresh token
            // the file also holds (tests/it/cli_adversarial.rs).
            assert!(
                ion_line.contains("rejected the cached access token")
                    && !ion_line.contains("portal"),
                "{ion_line}"
            );
        } else {
            assert!(
                ion_line.contains(&format!("could not check (HTTP {status})")),
                "{ion_line}"
            );
            assert!(!ion_line.contains("rejected"), "{ion_line}");
            assert!(!ion_line.contains("portal"), "{ion_line}");
        }
        // The request is in the debug log like every other.
        assert!(
            r.stderr
                .lines()
                .any(|l| l.contains("/oauth/validateAccess")
                    && l.contains(&format!("status={status}"))),
            "{}",
            r.stderr
        );
        assert!(!r.stdout.contains("SECRET") && !r.stderr.contains("SECRET"));
    }
}

// ---- 16. One token-file path everywhere -------------------------------------

#[test]
fn help_readme_and_docs_name_one_token_file_path() {
    let mut texts = Vec::new();
    for args in [
        &["--help"][..],
        &["auth", "--help"],
        &["auth", "login", "--help"],
        &["serve", "--help"],
    ] {
        let r = run(bin().args(args));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        texts.push((format!("{args:?}"), r.stdout));
    }
    let root = crate::cli_support::root();
    let mut docs = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs") {
        docs.push(entry.expect("entry").path());
    }
    for doc in docs {
        if doc.extension().is_some_and(|e| e == "md") {
            texts.push((
                doc.display().to_string(),
                std::fs::read_to_string(&doc).expect("read"),
            ));
        }
    }
    let mut seen = 0;
    for (name, text) in &texts {
        for (at, _) in text.match_indices("ION_TOKEN_FILE=") {
            let path: String = text[at + "ION_TOKEN_FILE=".len()..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '`' && *c != ']')
                .collect();
            // clap's `[env: ION_TOKEN_FILE=]`: no value, nothing named.
            if path.is_empty() {
                continue;
            }
            assert_eq!(path, "~/.config/ion-preflight/token.json", "in {name}");
            seen += 1;
        }
    }
    assert!(seen >= 4, "{seen} mentions");
}

// ---- 17. The batch summary names the rules that errored, and why ---------

#[test]
fn the_batch_summary_lists_errored_rules_and_the_most_frequent_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 5555 and 5556: nothing recorded in the demo snapshot.
    let ids = write(dir.path(), "ids.txt", "2002\n5555\n5556\n");
    let r = run(demo_batch().arg("--customers").arg(&ids));
    assert_eq!(r.code, 3, "{}", r.stderr);
    let summary = r.stderr;
    assert!(
        summary.contains("3 checked: 1 ready, 0 blocked, 2 indeterminate"),
        "{summary}"
    );
    assert!(
        summary.contains("rules that could not be evaluated:\n  2  customer-exists"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "most frequent reasons:\n  2  customer unavailable: the snapshot holds no customer {customer} of account 1001"
        ),
        "{summary}"
    );
}

// ---- 11. One error format ---------------------------------------------------

#[test]
fn a_missing_rule_file_is_one_error_line_with_the_os_error_once() {
    let r = run(demo_check("2002").args(["--rules", "nope.yaml"]));
    assert_eq!(r.code, 2);
    assert_one_line(&r.stderr);
    assert!(
        r.stderr
            .starts_with("error: cannot read rule file nope.yaml: "),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("os error 2").count(), 1, "{}", r.stderr);
}

#[test]
fn lint_errors_use_the_one_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "bad.yaml",
        "rules:\n  - id: x\n    titel: y\n    severity: error\n    assert: { path: customer, exists: true }\n    message: m\n",
    );
    let r = run(bin().args(["rules", "lint"]).arg(&f));
    assert_eq!(r.code, 2);
    assert!(!r.stderr.contains("ion_preflight::"), "{}", r.stderr);
    assert!(!r.stderr.contains("Error:"), "{}", r.stderr);
    let mut lines = r.stderr.lines();
    assert_eq!(lines.next(), Some("error: 2 problems in rule files"));
    let located: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(located.len(), 3, "{}", r.stderr);
    assert!(
        located[2].ends_with(
            "bad.yaml:3:5: unknown key `titel` in a rule (did you mean `title`?) [unknown-key]"
        ),
        "{}",
        located[2]
    );
    // Every other line belongs to a snippet of the file.
    for l in r.stderr.lines().filter(|l| !l.starts_with("error: ")) {
        assert!(
            l.trim_start().starts_with(['╭', '│', '·', '╰']) || l.contains(" │ "),
            "{l}"
        );
    }
}

// ---- 12. An unreachable ION: the reason once in full ------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_ion_gives_its_reason_once_in_full() {
    for format in ["text", "json"] {
        let mut cmd = bin();
        cmd.env("ION_BASE_URL", crate::ion_support::closed_port_url())
            .env("ION_ACCESS_TOKEN", "at-1")
            .env("ION_MAX_ATTEMPTS", "1")
            .args(CHECK_2002)
            .args(["--format", format]);
        let r = run_async(cmd).await;
        assert_eq!(r.code, 3, "{}", r.stderr);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert_eq!(
            all.matches("Connection refused").count(),
            1,
            "{format}: {all}"
        );
        assert_one_line(&r.stderr);
        assert!(
            r.stderr.contains("customer unavailable: could not reach ION for GET /api/v3/accounts/1001/customers/2002 (1 attempt(s)) (the report has the full reason)"),
            "{}",
            r.stderr
        );
    }
}

// ---- 13. Unknown operators list the operators; YAML hints -----------------

fn lint_one_rule(assert: &str) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "r.yaml",
        &format!(
            "rules:\n  - id: acme-x\n    title: X\n    severity: error\n    assert: {assert}\n    message: m\n"
        ),
    );
    run(bin().args(["rules", "lint"]).arg(&f))
}

#[test]
fn an_unknown_operator_without_a_close_match_lists_the_operators() {
    for (op, says) in [
        ("max", "this format writes it `lte`"),
        ("in", "this format writes it `one_of`"),
        ("'=='", "this format writes it `equals`"),
        ("'<='", "this format writes it `lte`"),
        ("frobnicate", "expected one of: "),
    ] {
        let r = lint_one_rule(&format!("{{ path: customer.customerStatus, {op}: 3 }}"));
        assert_eq!(r.code, 2, "{op}");
        let line = r.stderr.lines().nth(1).expect("the problem's line");
        assert!(line.contains("unknown operator"), "{op}: {line}");
        assert!(line.contains(says), "{op}: {line}");
        assert!(line.contains("one_of, not_one_of, matches"), "{op}: {line}");
    }
}

#[test]
fn yaml_errors_in_paths_and_patterns_get_the_documented_hints() {
    let r = lint_one_rule(
        "{ path: order.orderItems[0].attributes[name=domainName].value, exists: true }",
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("quote a path that contains them"),
        "{}",
        r.stderr
    );
    let r = lint_one_rule(r#"{ path: customer.customerEmail, matches: "\.onmicrosoft\.com$" }"#);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("write a pattern in single quotes"),
        "{}",
        r.stderr
    );
    // As the hint says, both load.
    let r = lint_one_rule(
        r#"{ path: "order.orderItems[0].attributes[name=domainName].value", exists: true }"#,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = lint_one_rule(r"{ path: customer.customerEmail, matches: '\.onmicrosoft\.com$' }");
    assert_eq!(r.code, 0, "{}", r.stderr);
}

// ---- 15. rules explain explains in words ----------------------------------

#[test]
fn rules_explain_says_what_a_rule_reads_when_it_applies_what_must_hold_and_when_it_skips() {
    let r = run(bin().args(["rules", "explain", "nce-item-has-microsoft-tenant"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "In words:\n",
        "  What it reads: `cloudProfiles`, `order`\n",
        "  When it applies: after `customer-exists` passed; when the check has an order; to every element of `order.orderItems` (as `item`) for which this holds:\n",
        "      - `item.providerName`: equal to \"AZURE\" (ignoring case)\n",
        "  What must hold (for each element):\n",
        "      - at least one element of `cloudProfiles` such that:\n",
        "  When it skips: when a rule it requires did not pass, or the check has no order, or `order.orderItems` is missing, not a list or empty, or no element meets the condition above\n",
    ] {
        assert!(r.stdout.contains(needle), "{needle:?} in:\n{}", r.stdout);
    }
    // The words come before the YAML, which stays for reference.
    assert!(r.stdout.find("In words:") < r.stdout.find("Definition:"));

    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "r.yaml",
        "rules:\n  - id: acme-us-zip\n    title: US customers have a zip\n    severity: warning\n    when: { path: customer.customerAddress.country, equals: US }\n    assert: { path: customer.customerAddress.zip, exists: false }\n    message: m\n",
    );
    let r = run(bin()
        .args(["rules", "explain", "acme-us-zip", "--rules"])
        .arg(&f));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "  When it applies: when this holds:\n    - `customer.customerAddress.country`: equal to \"US\"\n",
        "  What must hold:\n    - `customer.customerAddress.zip`: not present\n",
        "  When it skips: when the condition above does not hold\n",
    ] {
        assert!(r.stdout.contains(needle), "{needle:?} in:\n{}", r.stdout);
    }
}

#[test]
fn an_invalid_rule_test_file_says_its_place_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "t.yaml", "cases:\n  - name: x\n    expct: {}\n");
    let r = run(bin().args(["rules", "test"]).arg(&f));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let line = r.stderr.lines().next().expect("an error line");
    assert!(line.starts_with("error: "), "{line}");
    assert!(line.contains("t.yaml:3:5: unknown field `expct`"), "{line}");
    assert_eq!(line.matches("error").count(), 1, "{line}");
}

//! Fault injection: the real binary's `batch --all` over 2,000 customers
//! against a loopback ION that injects, reproducibly (seeded), 429 with and
//! without `Retry-After`, 500/502/503, connections closed mid-answer,
//! answers slower than the timeout, truncated and HTML bodies, and access
//! tokens expiring partway through the run with single-use refresh tokens.
//!
//! The server records what it actually served; the test cross-checks every
//! report against it and against the verdict the same rules give on
//! complete data. Set `FAULT_SEED` to explore other schedules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use ion_preflight::context::{Context, Fetched};
use ion_preflight::report::{Outcome, Report, Verdict};
use ion_preflight::rules::RuleSet;
use serde_json::{Value, json};

use crate::cli_live::run_async;
use crate::cli_support::{bin, fixture};
use crate::fault_server::{
    ACCOUNT, Fault, FaultPlan, FaultServer, TRANSIENT, customer_body, demo_product, profiles_body,
    resource_of,
};

const CUSTOMERS: u64 = 2000;
const MAX_ATTEMPTS: u32 = 4;

fn seed() -> u64 {
    std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x010E_F11E)
}

/// The demo NCE order, with a domain that does not create a new tenant, so
/// the tenant rule needs the cloud profiles.
pub fn order() -> Value {
    let text = std::fs::read_to_string(fixture("orders/nce-order.json")).expect("order fixture");
    let mut order: Value = serde_json::from_str(&text).expect("order JSON");
    for item in order["orderItems"].as_array_mut().expect("items") {
        for attr in item["attributes"].as_array_mut().expect("attributes") {
            if attr["name"] == "domainName" {
                attr["value"] = "contoso.com".into();
            }
        }
    }
    order
}

/// What the built-in rules say on complete data: the verdict and the ids of
/// the failing rules.
fn oracle(id: u64, order: &Value) -> (Verdict, BTreeSet<String>) {
    let profiles = profiles_body(id)["customerCloudProfiles"].clone();
    let mut ctx = Context::new(ACCOUNT, id, jiff::Timestamp::now())
        .with_customer(Fetched::present(customer_body(id)))
        .with_cloud_profiles(Fetched::present(profiles))
        .with_customer_subscriptions(Fetched::present(
            json!({"subscriptions": [], "scanned": 0, "limit": 500, "complete": true}),
        ))
        .with_placed_orders(Fetched::present(
            json!({"orders": [], "scanned": 0, "limit": 300, "complete": true}),
        ));
    for item in order["orderItems"].as_array().into_iter().flatten() {
        let p = item["productId"].as_str().expect("product id");
        let body = demo_product(p).expect("a demo product");
        ctx = ctx.with_product(
            p,
            Fetched::present(serde_json::from_slice(&body).expect("json")),
        );
    }
    let ctx = ctx.with_order(Some(order.clone()));
    let report = RuleSet::builtin().evaluate(&ctx);
    (report.verdict(), failing(&report))
}

fn failing(report: &Report) -> BTreeSet<String> {
    report
        .results()
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| r.rule.clone())
        .collect()
}

/// The refresh token held by a token file (the JSON format, or a bare
/// token as pasted from the portal).
pub fn refresh_token_in(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("token file");
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => v["refresh_token"]
            .as_str()
            .expect("refresh_token in the token file")
            .to_owned(),
        Err(_) => text.trim().to_owned(),
    }
}

pub fn write_token_file(dir: &Path, token: &str) -> std::path::PathBuf {
    let path = dir.join("refresh-token");
    std::fs::write(&path, format!("{token}\n")).expect("token file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_under_injected_faults_keeps_every_guarantee() {
    let seed = seed();
    let ids: Vec<u64> = (1..=CUSTOMERS).map(|i| 700_000 + i).collect();
    let server = FaultServer::start(FaultPlan {
        seed,
        fault_per_mille: 200,
        doomed_per_mille: 10,
        max_attempts: MAX_ATTEMPTS,
        slow: std::time::Duration::from_millis(1500),
        access_token_uses: 1500,
        customers: ids.clone(),
        token_tag: "FAULTS",
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = write_token_file(dir.path(), &server.initial_refresh_token());
    let order_file = dir.path().join("order.json");
    let order = order();
    std::fs::write(&order_file, order.to_string()).expect("order file");

    let mut cmd = bin();
    cmd.env("ION_BASE_URL", server.uri())
        .env("ION_TOKEN_FILE", &token_file)
        .env("ION_REQUEST_TIMEOUT", "1s")
        .env("ION_MAX_ATTEMPTS", MAX_ATTEMPTS.to_string())
        .env("ION_RETRY_BACKOFF", "5ms")
        .args(["batch", "--account", "1001", "--all", "--page-size", "100"])
        .args(["--concurrency", "48", "--format", "ndjson"])
        .arg("--order")
        .arg(&order_file);
    let r = run_async(cmd).await;
    let rec = server.record();
    let ctx = format!("seed {seed}; stderr:\n{}", r.stderr);

    // The run itself: some checks are indeterminate (exit 3), nothing
    // panicked, and the summary adds up.
    assert_eq!(r.code, 3, "{ctx}");
    assert!(!r.stderr.contains("panicked"), "{ctx}");

    // Every customer has exactly one whole report line.
    let mut reports: BTreeMap<u64, Report> = BTreeMap::new();
    for (n, line) in r.stdout.lines().enumerate() {
        let report: Report = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not a whole report ({e}): {line}", n + 1));
        assert!(
            reports.insert(report.customer_id, report).is_none(),
            "two reports for one customer ({ctx})"
        );
    }
    let seen: Vec<u64> = reports.keys().copied().collect();
    assert_eq!(seen, ids, "one report per customer, none lost ({ctx})");

    // What the server served, per customer: which resources went out in
    // full at least once, and whether any request for them was faulted.
    let mut served_ok: HashMap<u64, BTreeSet<&str>> = HashMap::new();
    let mut faulted: HashMap<u64, usize> = HashMap::new();
    let mut last_ok: HashMap<u64, usize> = HashMap::new();
    // Products are shared by every check of the run (one cache): a fault on
    // one may leave any customer's catalog rules unevaluated.
    let product_faulted = rec
        .requests
        .iter()
        .any(|(t, a)| t.contains("/products/") && a.iter().any(|f| *f != Fault::None));
    for (target, answers) in &rec.requests {
        let Some((id, kind)) = resource_of(target) else {
            continue;
        };
        if answers.contains(&Fault::None) {
            served_ok.entry(id).or_default().insert(kind);
        }
        if answers.iter().any(|f| *f != Fault::None) {
            *faulted.entry(id).or_default() += 1;
        }
        if answers.last() == Some(&Fault::None) {
            *last_ok.entry(id).or_default() += 1;
        }
    }

    let mut by_verdict: BTreeMap<&str, usize> = BTreeMap::new();
    let mut expected_verdicts = BTreeSet::new();
    for (id, report) in &reports {
        let (expected, expected_failing) = oracle(*id, &order);
        expected_verdicts.insert(expected.as_str());
        *by_verdict.entry(report.verdict().as_str()).or_default() += 1;
        // What the blocking (error-severity) rules read; the subscription
        // scan feeds a warning only, which may be in error in a ready report.
        let all_served = served_ok.get(id).is_some_and(|s| {
            ["customer", "cloudProfiles", "orders"]
                .iter()
                .all(|k| s.contains(k))
        });
        match report.verdict() {
            // Fail closed: `ready` only with every resource served in full,
            // nothing left unevaluated, and the verdict complete data gives.
            Verdict::Ready => {
                assert!(
                    all_served,
                    "customer {id} ready without its data: served {:?} ({ctx})",
                    served_ok.get(id)
                );
                assert!(
                    report
                        .results()
                        .iter()
                        .all(|r| r.outcome != Outcome::Error || r.severity < report.fail_on()),
                    "customer {id}: ready with a blocking rule in error ({ctx})"
                );
                assert_eq!(expected, Verdict::Ready, "customer {id} ({ctx})");
            }
            // A fault never turns into a false `blocked`: every failing rule
            // fails on complete data too.
            Verdict::Blocked => {
                assert_eq!(expected, Verdict::Blocked, "customer {id} ({ctx})");
                assert!(
                    failing(report).is_subset(&expected_failing),
                    "customer {id}: failing {:?}, complete data fails {:?} ({ctx})",
                    failing(report),
                    expected_failing
                );
            }
            // Indeterminate only where the server really failed something.
            Verdict::Indeterminate => {
                let catalog_only = report
                    .results()
                    .iter()
                    .filter(|r| r.outcome == Outcome::Error)
                    .all(|r| r.rule.starts_with("catalog-"));
                assert!(
                    faulted.get(id).copied().unwrap_or(0) > 0 || (product_faulted && catalog_only),
                    "customer {id} indeterminate although nothing failed ({ctx})"
                );
            }
        }
        // No lost results: when the last answer for each of its resources
        // was the real one (and no product was faulted), the report is
        // exactly what complete data gives.
        if last_ok.get(id).copied() == Some(4) && !product_faulted {
            assert_eq!(report.verdict(), expected, "customer {id} ({ctx})");
            assert_eq!(failing(report), expected_failing, "customer {id} ({ctx})");
        }
    }
    // The run exercised all three verdicts, and the oracle both outcomes.
    assert!(by_verdict.len() == 3, "{by_verdict:?} ({ctx})");
    assert!(
        expected_verdicts.contains("ready") && expected_verdicts.contains("blocked"),
        "{expected_verdicts:?}"
    );

    // Retries stay within the bound: at most MAX_ATTEMPTS per resource, or
    // twice that when the token expired in between (one refresh, one more
    // round); and the bound is reached for the resources that never work.
    let mut at_bound = 0;
    let mut kinds_seen = BTreeSet::new();
    for (target, answers) in &rec.requests {
        kinds_seen.extend(answers.iter().copied());
        let expired = answers
            .iter()
            .filter(|f| **f == Fault::TokenExpired)
            .count();
        assert!(expired <= 2, "{target}: {answers:?} ({ctx})");
        let bound = MAX_ATTEMPTS as usize * if expired > 0 { 2 } else { 1 };
        assert!(
            answers.len() <= bound,
            "{target} requested {} times: {answers:?} ({ctx})",
            answers.len()
        );
        if expired == 0 && answers.len() == bound && !answers.contains(&Fault::None) {
            at_bound += 1;
        }
    }
    assert!(at_bound > 0, "no resource failed on every attempt ({ctx})");
    // `Retry-After: 1` is honoured: the next try of that resource comes a
    // second later at the earliest (a lower bound, so load cannot break it).
    let mut honoured = 0;
    for (target, answers) in &rec.requests {
        let at = &rec.arrivals[target];
        for (i, f) in answers.iter().enumerate() {
            if *f == Fault::TooManyRequestsRetryAfter && i + 1 < answers.len() {
                let gap = at[i + 1] - at[i];
                assert!(
                    gap >= std::time::Duration::from_millis(990),
                    "{target}: retried {gap:?} after Retry-After: 1 ({ctx})"
                );
                honoured += 1;
            }
        }
    }
    assert!(
        honoured > 0,
        "no Retry-After was followed by a retry ({ctx})"
    );
    let mut per_kind: BTreeMap<Fault, usize> = BTreeMap::new();
    for f in rec.requests.values().flatten() {
        *per_kind.entry(*f).or_default() += 1;
    }
    eprintln!(
        "seed {seed}: {} requests, {per_kind:?}; verdicts {by_verdict:?}; {} refreshes; {at_bound} resources failed on every attempt",
        rec.requests.values().map(Vec::len).sum::<usize>(),
        rec.refresh_presented.len()
    );
    for kind in
        TRANSIENT
            .into_iter()
            .chain([Fault::TruncatedJson, Fault::HtmlOk, Fault::TokenExpired])
    {
        assert!(
            kinds_seen.contains(&kind),
            "{kind:?} never injected ({ctx})"
        );
    }

    // Token rotation: the access token expired partway (several refreshes),
    // no refresh token was presented twice or out of turn, every request
    // was authenticated, and the token file holds the last one issued.
    assert!(rec.violations.is_empty(), "{:?} ({ctx})", rec.violations);
    assert_eq!(rec.unauthenticated, 0);
    assert!(
        rec.refresh_presented.len() >= 3,
        "{:?}",
        rec.refresh_presented
    );
    let distinct: BTreeSet<_> = rec.refresh_presented.iter().collect();
    assert_eq!(distinct.len(), rec.refresh_presented.len());
    let last = rec.refresh_issued.last().expect("issued");
    assert_eq!(
        &refresh_token_in(&token_file),
        last,
        "the token file holds the last rotation"
    );
    // And it is still private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // No token reached stdout or stderr.
    for t in rec.refresh_issued.iter().chain(&rec.access_issued) {
        assert!(!r.stdout.contains(t.as_str()), "{t} on stdout");
        assert!(!r.stderr.contains(t.as_str()), "{t} on stderr");
    }
    // The summary on stderr agrees with the reports.
    let summary = format!(
        "{CUSTOMERS} checked: {} ready, {} blocked, {} indeterminate",
        by_verdict.get("ready").copied().unwrap_or(0),
        by_verdict.get("blocked").copied().unwrap_or(0),
        by_verdict.get("indeterminate").copied().unwrap_or(0)
    );
    assert!(r.stderr.contains(&summary), "{summary} ({ctx})");
}

#[test]
fn bad_tuning_variables_are_configuration_errors() {
    for (var, value, says) in [
        (
            "ION_MAX_ATTEMPTS",
            "0",
            "ION_MAX_ATTEMPTS must be a whole number from 1 to 20",
        ),
        (
            "ION_MAX_ATTEMPTS",
            "lots",
            "ION_MAX_ATTEMPTS must be a whole number from 1 to 20",
        ),
        (
            "ION_REQUEST_TIMEOUT",
            "soon",
            "ION_REQUEST_TIMEOUT must be a positive duration",
        ),
        (
            "ION_REQUEST_TIMEOUT",
            "0s",
            "ION_REQUEST_TIMEOUT must be a positive duration",
        ),
        (
            "ION_RETRY_BACKOFF",
            "-5ms",
            "ION_RETRY_BACKOFF must be a positive duration",
        ),
    ] {
        let mut cmd = bin();
        cmd.env("ION_ACCESS_TOKEN", "at-unused")
            .env("ION_BASE_URL", "http://127.0.0.1:9")
            .env(var, value)
            .args(["check", "--account", "1", "--customer", "2"]);
        let r = crate::cli_support::run(&mut cmd);
        assert_eq!(r.code, 2, "{var}={value}: {}", r.stderr);
        crate::cli_support::assert_one_line(&r.stderr);
        assert!(r.stderr.contains(says), "{var}={value}: {}", r.stderr);
    }
}

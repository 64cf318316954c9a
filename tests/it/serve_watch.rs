//! `serve` reloads its rules when their files change on disk (Linux:
//! inotify), debounced, with the same load-the-whole-set-then-swap semantics
//! as `SIGHUP`. Each test waits for the service's answer to change (or, for
//! what must not happen, for several debounce periods).

use std::path::PathBuf;
use std::time::Duration;

use ion_preflight::service::{RuleSpec, ServeConfig, Service};

use crate::service_support::{http, post_json, rule_file, snapshot_config, start_service};

const DEBOUNCE: Duration = Duration::from_millis(150);

fn rule(id: &str) -> String {
    format!(
        "rules:\n  - id: {id}\n    title: T\n    severity: error\n    assert: {{ path: customer.customerStatus, equals: ACTIVE }}\n    message: not active\n"
    )
}

async fn watched(files: Vec<PathBuf>) -> (String, Service) {
    let service = Service::new(ServeConfig {
        rules: RuleSpec {
            builtin: false,
            files,
            ..RuleSpec::default()
        },
        watch: Some(DEBOUNCE),
        ..snapshot_config()
    })
    .expect("starts");
    let base = start_service(&service).await;
    (base, service)
}

async fn rule_ids(base: &str) -> Vec<String> {
    let (_, _, got) = post_json(
        &format!("{base}/v1/check"),
        r#"{"account_id": 1001, "customer_id": 2002}"#,
        None,
    )
    .await;
    got["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["rule"].as_str().map(str::to_owned))
        .collect()
}

/// Waits (up to 10 s) until the service's rule ids are `want`.
async fn until_rules(base: &str, want: &[&str]) {
    for _ in 0..100 {
        if rule_ids(base).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the rules never became {want:?}: {:?}",
        rule_ids(base).await
    );
}

async fn reload_counts(base: &str) -> (u64, u64) {
    let text = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text");
    let count = |result: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "ion_preflight_rule_reloads_total{{result=\"{result}\"}} "
                ))
            })
            .and_then(|n| n.parse().ok())
            .expect("counted")
    };
    (count("success"), count("failure"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_rule_file_is_reloaded_and_a_broken_one_is_not_swapped_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = rule_file(&dir, "mine.yaml", &rule("rule-one"));
    let (base, service) = watched(vec![file.clone()]).await;
    assert_eq!(rule_ids(&base).await, ["rule-one"]);

    std::fs::write(&file, rule("rule-two")).expect("write");
    until_rules(&base, &["rule-two"]).await;
    assert_eq!(reload_counts(&base).await, (1, 0));
    let good = service.rules().current().id.clone();

    // Broken: counted once, however many events the write makes, and the
    // good set stays.
    std::fs::write(&file, "rules:\n  - id: rule-three\n    severity: eror\n").expect("write");
    for _ in 0..100 {
        if reload_counts(&base).await.1 == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reload_counts(&base).await, (1, 1));
    // The same broken bytes touched again are not loaded (nor counted) again.
    std::fs::write(&file, "rules:\n  - id: rule-three\n    severity: eror\n").expect("write");
    tokio::time::sleep(DEBOUNCE * 6).await;
    assert_eq!(reload_counts(&base).await, (1, 1));
    assert_eq!(service.rules().current().id, good);
    assert_eq!(rule_ids(&base).await, ["rule-two"]);

    // Fixed again: swapped in.
    std::fs::write(&file, rule("rule-four")).expect("write");
    until_rules(&base, &["rule-four"]).await;
    assert_eq!(reload_counts(&base).await, (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_by_rename_is_reloaded_and_unrelated_files_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = rule_file(&dir, "mine.yaml", &rule("rule-one"));
    let (base, service) = watched(vec![file.clone()]).await;
    let first = service.rules().current().id.clone();

    // Another file in the same directory: read, found unchanged, not reloaded.
    rule_file(&dir, "notes.txt", "unrelated");
    tokio::time::sleep(DEBOUNCE * 6).await;
    assert_eq!(reload_counts(&base).await, (0, 0));
    assert_eq!(service.rules().current().id, first);

    // An editor's save: a new file renamed over the old one.
    let tmp = rule_file(&dir, ".mine.yaml.swp", &rule("rule-renamed"));
    std::fs::rename(&tmp, &file).expect("rename");
    until_rules(&base, &["rule-renamed"]).await;
    assert_eq!(reload_counts(&base).await, (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_writes_is_one_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = rule_file(&dir, "mine.yaml", &rule("rule-one"));
    let (base, _service) = watched(vec![file.clone()]).await;
    // Ten writes, each within the debounce period of the one before.
    for i in 0..10 {
        std::fs::write(&file, rule(&format!("rule-burst-{i}"))).expect("write");
        tokio::time::sleep(DEBOUNCE / 5).await;
    }
    until_rules(&base, &["rule-burst-9"]).await;
    assert_eq!(reload_counts(&base).await, (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_watching_a_changed_file_waits_for_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = rule_file(&dir, "mine.yaml", &rule("rule-one"));
    let service = Service::new(ServeConfig {
        rules: RuleSpec {
            builtin: false,
            files: vec![file.clone()],
            ..RuleSpec::default()
        },
        ..snapshot_config()
    })
    .expect("starts");
    let base = start_service(&service).await;
    std::fs::write(&file, rule("rule-two")).expect("write");
    tokio::time::sleep(DEBOUNCE * 6).await;
    assert_eq!(rule_ids(&base).await, ["rule-one"]);
    assert!(service.reload());
    assert_eq!(rule_ids(&base).await, ["rule-two"]);
}

//! Bench 2: the full default rule set on a realistic context: a customer,
//! three cloud profiles and an order of 20 items (see `common`).
//!
//! - `passing`: everything is in order; the verdict is `ready`. This is the
//!   common case and the one the < 2 µs target is about.
//! - `failing`: the same order with faults on several items and an inactive
//!   customer, so evidence is collected and messages rendered.
//!
//! Run: `cargo bench --bench ruleset`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ion_preflight::report::{Outcome, Verdict};
use ion_preflight::rules::RuleSet;
use serde_json::json;

/// The built-in rule set (`rules/default.yaml`), as a check uses it.
fn default_rules() -> RuleSet {
    RuleSet::try_builtin().expect("the built-in rule set loads")
}

fn ruleset(c: &mut Criterion) {
    let rules = default_rules();
    assert!(
        rules.rules().len() >= 20,
        "the default rule set has {} rules",
        rules.rules().len()
    );

    let passing = common::realistic();
    let report = rules.evaluate(&passing);
    let not_passing: Vec<_> = report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::Skip))
        .map(|r| (&r.rule, r.outcome, &r.message))
        .collect();
    assert!(
        report.verdict == Verdict::Ready && not_passing.is_empty(),
        "the realistic context should pass: {not_passing:#?}"
    );
    let passed = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .count();
    eprintln!(
        "bench2: {} rules, {passed} pass on the realistic context",
        report.results.len()
    );

    // Faults on four items and the customer, so evidence is collected.
    let mut order = common::order(20);
    let items = order["orderItems"].as_array_mut().expect("items");
    items[0]["quantity"] = json!(0);
    items[1].as_object_mut().expect("item").remove("resourceId");
    items[3]["attributes"] = json!([]);
    items[8]["action"] = json!("DELETE");
    let failing = common::context(
        common::customer("INACTIVE"),
        common::cloud_profiles("", true),
        order,
    );
    let report = rules.evaluate(&failing);
    assert_eq!(report.verdict, Verdict::Blocked);

    let mut g = c.benchmark_group("bench2-default-rules");
    g.bench_function("passing-20-items", |b| {
        b.iter(|| black_box(rules.evaluate(black_box(&passing))))
    });
    g.bench_function("failing-20-items", |b| {
        b.iter(|| black_box(rules.evaluate(black_box(&failing))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = ruleset
}
criterion_main!(benches);

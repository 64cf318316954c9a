//! Bench 2: the full default rule set on a realistic context: a customer,
//! three cloud profiles, an order of 20 items, and what a check fetches for
//! it (catalog products, the subscriptions its UPDATEs name, the customer's
//! subscriptions and placed orders; see `common`).
//!
//! - `passing`: everything is in order; the verdict is `ready`. This is the
//!   common case (issue 20's target: within 2x of `native`).
//! - `failing`: the same order with faults on several items (an unknown SKU,
//!   an UPDATE of another customer's subscription among them), an inactive
//!   customer and the order placed already, so evidence is collected and
//!   messages rendered.
//!
//! - `native-*`: the same rules written by hand in Rust on the same JSON
//!   (`common/native.rs`), asserted to give the engine's outcomes and
//!   failing elements: the floor for evaluating this data.
//!
//! Run: `cargo bench --bench ruleset`.

mod common;
#[path = "common/native.rs"]
mod native;

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
        .results()
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::Skip))
        .map(|r| (&r.rule, r.outcome, &r.message))
        .collect();
    assert!(
        report.verdict() == Verdict::Ready && not_passing.is_empty(),
        "the realistic context should pass: {not_passing:#?}"
    );
    let passed = report
        .results()
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .count();
    eprintln!(
        "bench2: {} rules, {passed} pass on the realistic context",
        report.results().len()
    );

    // Faults on six items, the customer and the order, so evidence is
    // collected: an unknown SKU (item 3), an UPDATE of another customer's
    // subscription (item 7), and the order placed already.
    let mut order = common::order(20);
    let items = order["orderItems"].as_array_mut().expect("items");
    items[0]["quantity"] = json!(0);
    items[1].as_object_mut().expect("item").remove("resourceId");
    items[2]["skuId"] = json!("65304479CA09A12");
    items[3]["attributes"] = json!([]);
    items[8]["action"] = json!("DELETE");
    let failing = common::with_ion_data(
        common::context(
            common::customer("INACTIVE"),
            common::cloud_profiles("", true),
            order,
        ),
        common::placed_orders(true),
        &["sub-gws-6"],
    );
    let report = rules.evaluate(&failing);
    assert_eq!(report.verdict(), Verdict::Blocked);
    for id in [
        "catalog-sku-of-product",
        "update-subscription-of-customer",
        "order-not-placed-already",
    ] {
        let r = report.result(id).expect("a built-in rule");
        assert_eq!(r.outcome, Outcome::Fail, "{id} on the failing context");
    }

    // The hand-written rules agree with the engine on both contexts, rule by
    // rule and element by element, before either is timed.
    let hand = native::Native::new();
    for (name, ctx) in [("passing", &passing), ("failing", &failing)] {
        let by_hand: Vec<_> = hand
            .check(ctx)
            .into_iter()
            .map(|r| (r.rule.to_owned(), r.outcome, r.failing))
            .collect();
        assert_eq!(
            by_hand,
            engine_outcomes(&rules, ctx),
            "hand-written rules disagree with the engine on the {name} context"
        );
    }
    let failing_rules = hand
        .check(&failing)
        .iter()
        .filter(|r| r.outcome == native::Outcome::Fail)
        .count();
    assert!(failing_rules >= 8, "{failing_rules} rules fail");
    eprintln!("bench2: {failing_rules} rules fail on the failing context");

    let mut g = c.benchmark_group("bench2-default-rules");
    g.bench_function("passing-20-items", |b| {
        b.iter(|| black_box(rules.evaluate(black_box(&passing))))
    });
    g.bench_function("failing-20-items", |b| {
        b.iter(|| black_box(rules.evaluate(black_box(&failing))))
    });
    g.bench_function("native-passing-20-items", |b| {
        b.iter(|| black_box(hand.check(black_box(&passing))))
    });
    g.bench_function("native-failing-20-items", |b| {
        b.iter(|| black_box(hand.check(black_box(&failing))))
    });
    g.finish();
}

/// The engine's report in the hand-written rules' terms: each rule's id,
/// outcome and the indexes of its failing elements.
fn engine_outcomes(
    rules: &RuleSet,
    ctx: &ion_preflight::context::Context,
) -> Vec<(String, native::Outcome, Vec<usize>)> {
    rules
        .evaluate(ctx)
        .results()
        .iter()
        .map(|r| {
            let outcome = match r.outcome {
                Outcome::Pass => native::Outcome::Pass,
                Outcome::Fail => native::Outcome::Fail,
                Outcome::Skip => native::Outcome::Skip,
                other => panic!("rule {} is {other:?} on a bench context", r.rule),
            };
            let failing = r
                .items
                .iter()
                .map(|i| {
                    let open = i.path.rfind('[').expect("an element path");
                    i.path[open + 1..i.path.len() - 1]
                        .parse()
                        .expect("an element index")
                })
                .collect();
            (r.rule.clone(), outcome, failing)
        })
        .collect()
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = ruleset
}
criterion_main!(benches);

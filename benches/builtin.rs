//! The built-in rule set made ready, as every process does once before its
//! first check: read back from its prepared form (`rules/prepared/`, what
//! `RuleSet::builtin` and `RuleSetLoader::new().load()` do), against
//! compiling the same YAML (`rules/default.yaml`, loaded as a rule file), in
//! the same run.
//!
//! Run: `cargo bench --bench builtin`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ion_preflight::RuleSetLoader;
use ion_preflight::rules::{BUILTIN_DEFAULT, RuleSet};

fn from_yaml() -> RuleSet {
    RuleSetLoader::new()
        .without_builtin()
        .source("default.yaml", BUILTIN_DEFAULT)
        .load()
        .expect("the built-in YAML loads as a rule file")
}

fn builtin(c: &mut Criterion) {
    let prepared = RuleSet::try_builtin().expect("the built-in set loads");
    let compiled = from_yaml();
    // The same rules either way, in the same order.
    let ids = |s: &RuleSet| s.rules().iter().map(|r| r.id().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids(&prepared), ids(&compiled));
    assert!(prepared.rules().len() >= 39);

    let mut g = c.benchmark_group("builtin-ready");
    g.bench_function("prepared", |b| {
        b.iter(|| black_box(RuleSet::try_builtin()))
    });
    g.bench_function("compiled-from-yaml", |b| b.iter(|| black_box(from_yaml())));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = builtin
}
criterion_main!(benches);

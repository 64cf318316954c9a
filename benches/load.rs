//! Bench 3: loading (parsing, validating and compiling) a generated rule file
//! of 1,000 rules.
//!
//! The file mixes the shapes of the default rule set: customer assertions,
//! `for_each` over order items with `when`, attribute lookups and regular
//! expressions, quantifiers over add-ons and cloud profiles, named conditions,
//! `requires`, date and numeric tests, and message templates. Every regular
//! expression is distinct (the rule number is part of it), so none is
//! compiled only once by luck.
//!
//! Also the built-in set (`builtin-default`), which every process loads.
//!
//! Run: `cargo bench --bench load`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ion_preflight::rules::RuleSet;

/// Rules in the generated file.
const RULES: usize = 1000;
/// Named conditions in the generated file.
const CONDITIONS: usize = 20;

/// A rule file with `n` rules.
fn generate(n: usize) -> String {
    let mut y = String::from(
        "# Generated for bench 3.\nname: generated\ndescription: A generated rule set\n\nconditions:\n",
    );
    for c in 0..CONDITIONS {
        let _ = write!(
            y,
            "  item-class-{c}:\n    any:\n      - {{ path: item.providerName, one_of: [P{c}, Q{c}], ignore_case: true }}\n      - {{ path: item.skuId, matches: '(?i)^SKU{c}[0-9A-Z]{{4}}' }}\n  profile-class-{c}:\n    all:\n      - {{ path: profile.shortName, equals: S{c} }}\n      - {{ path: profile.enabled, equals: true }}\n"
        );
    }
    y.push_str("\nrules:\n");
    for i in 0..n {
        let c = i % CONDITIONS;
        let _ = write!(
            y,
            "  - id: rule-{i}\n    title: Generated rule number {i}\n    severity: {sev}\n    tags: [generated, kind-{k}]\n    description: >-\n      Rule {i} of the generated set, checking one more thing about the order\n      or the customer so the file has the size of a large real one.\n",
            sev = if i % 7 == 0 && i % 10 != 6 {
                "warning"
            } else {
                "error"
            },
            k = i % 5,
        );
        if i % 10 == 9 {
            let _ = writeln!(y, "    requires: [rule-{}]", i - 3);
        }
        match i % 5 {
            0 => {
                let _ = write!(
                    y,
                    "    assert: {{ path: customer.customerStatus, one_of: [ACTIVE, S{i}], ignore_case: true }}\n    message: \"customer {{request.customerId}} ({{customer.customerOrganization|-}}) is {{customer.customerStatus}}\"\n"
                );
            }
            1 => {
                let _ = write!(
                    y,
                    "    preempts: COMM-VL-{i:03}\n    for_each: order.orderItems as item\n    when:\n      all:\n        - {{ condition: item-class-{c} }}\n        - {{ path: item.action, equals: CREATE }}\n    assert: {{ attribute: attr{i}, of: item, matches: '^[a-z0-9]([a-z0-9-]{{0,25}}[a-z0-9])?\\.r{i}\\.example$' }}\n    message: \"item {{$number}} ({{item.productId|-}}) has attr{i} {{item.attributes[name=attr{i}].value|MISSING}}\"\n"
                );
            }
            2 => {
                let _ = write!(
                    y,
                    "    for_each: order.orderItems as item\n    when: {{ path: item.addOns, non_empty: true }}\n    assert:\n      path: item.addOns\n      as: addOn\n      every:\n        all:\n          - {{ path: addOn.id, non_empty: true }}\n          - {{ path: addOn.quantity, type: integer }}\n          - {{ path: addOn.quantity, gte: 1, lte: {i} }}\n    message: \"item {{$number}} ({{item.productId|-}}): add-on check {i} failed\"\n"
                );
            }
            3 => {
                let _ = write!(
                    y,
                    "    for_each: cloudProfiles as profile\n    when: {{ condition: profile-class-{c} }}\n    assert:\n      any:\n        - {{ path: profile.gdapStatus, one_of: [ACTIVE, G{i}], ignore_case: true }}\n        - {{ not: {{ path: profile.customerTenantId, matches: '^T{i}-' }} }}\n    message: \"profile {{profile.displayName|-}} check {i}: {{profile.gdapStatus|MISSING}}\"\n"
                );
            }
            _ => {
                let _ = write!(
                    y,
                    "    when: {{ path: customer.createTime, exists: true }}\n    assert:\n      all:\n        - {{ path: customer.createTime, type: date }}\n        - {{ path: customer.createTime, not_after: now+{i}d }}\n        - {{ path: customer.customerAddress.zip, length: {{ gte: 1, lte: {len} }} }}\n    message: \"customer {{request.customerId}} created {{customer.createTime}} (check {i})\"\n",
                    len = 10 + i % 20,
                );
            }
        }
        y.push('\n');
    }
    y
}

/// Loads `text` once and checks it is the generated set: run inside the
/// bench (once), so `benches/instructions.sh load builtin …` never counts a
/// load of the generated file.
fn check_generated(text: &str) {
    let set = RuleSet::from_yaml("generated.yaml", text).unwrap_or_else(|e| {
        let first: Vec<String> = e
            .diagnostics()
            .iter()
            .take(5)
            .map(|d| d.to_string())
            .collect();
        panic!("the generated file does not load: {e}: {first:#?}")
    });
    assert_eq!(set.rules().len(), RULES);
    eprintln!(
        "bench3: generated file of {RULES} rules, {} bytes, {} lines",
        text.len(),
        text.lines().count()
    );
}

fn load(c: &mut Criterion) {
    let text = generate(RULES);
    let checked = std::sync::Once::new();
    let mut g = c.benchmark_group("bench3-load");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("generated-1000-rules", |b| {
        checked.call_once(|| check_generated(&text));
        b.iter(|| black_box(RuleSet::from_yaml("generated.yaml", black_box(&text))))
    });
    g.finish();
}

/// The built-in set (`rules/default.yaml`), loaded as `rules lint
/// builtin:default` loads it: what every process pays once at start.
fn load_builtin(c: &mut Criterion) {
    let checked = std::sync::Once::new();
    let mut g = c.benchmark_group("bench3-load");
    g.sample_size(50);
    g.bench_function("builtin-default", |b| {
        checked.call_once(|| {
            let set = RuleSet::try_builtin().expect("the built-in set loads");
            assert!(!set.rules().is_empty());
        });
        b.iter(|| black_box(RuleSet::try_builtin()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = load, load_builtin
}
criterion_main!(benches);

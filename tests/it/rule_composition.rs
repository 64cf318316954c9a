//! The composition invariant (issue 13), on generated compositions of real
//! rule files (extends, disable, overrides, redefined named conditions):
//! every rule a loaded file defines is in the effective set, or named by a
//! `disable`, or the load fails with diagnostics located in those files.

use std::collections::BTreeSet;

use ion_preflight::RuleLoadError;
use ion_preflight::rules::RuleSetLoader;
use proptest::prelude::*;

const IDS: [&str; 5] = ["r-a", "r-b", "r-c", "r-d", "r-e"];
const CONDS: [&str; 3] = ["c-one", "c-two", "c-three"];

/// Bodies a named condition can have: sound ones, and ones that break
/// where an order-item rule uses them (a rebound `item`, an unbound
/// variable, an unknown field, an operator on the wrong type).
const BODIES: [&str; 7] = [
    "{ path: item.skuId, non_empty: true }",
    "{ path: customer.customerStatus, equals: ACTIVE }",
    "{ any: [ { condition: c-one }, { path: item.quantity, gte: 1 } ] }",
    "{ path: item.attributes, as: item, some: { path: item.name, equals: x } }",
    "{ path: profile.enabled, equals: true }",
    "{ path: item.skuIdd, exists: true }",
    "{ path: item.quantity, matches: '^1' }",
];

#[derive(Clone, Debug)]
struct Rule {
    id: usize,
    cond: Option<usize>,
    requires: Option<usize>,
    warning: bool,
}

#[derive(Clone, Debug)]
struct File {
    extends: Vec<usize>,
    conditions: Vec<(usize, usize)>,
    rules: Vec<Rule>,
    overrides: Vec<(usize, bool)>,
    disable: Vec<usize>,
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        0..IDS.len(),
        prop::option::of(0..CONDS.len()),
        prop::option::weighted(0.3, 0..IDS.len()),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(id, cond, requires, warning)| Rule {
            id,
            cond,
            requires,
            warning,
        })
}

fn file() -> impl Strategy<Value = File> {
    (
        prop::collection::vec(0..4usize, 0..2),
        prop::collection::vec((0..CONDS.len(), 0..BODIES.len()), 0..3),
        prop::collection::vec(rule(), 0..3),
        prop::collection::vec((0..IDS.len(), any::<bool>()), 0..2),
        prop::collection::vec(0..IDS.len(), 0..2),
    )
        .prop_map(|(extends, conditions, rules, overrides, disable)| File {
            extends,
            conditions,
            rules,
            overrides,
            disable,
        })
}

/// The files' YAML, and the effective ids the language promises if the
/// load succeeds. Files are simulated in load order (extends first, each
/// once) so that `disable`, `overrides` and `requires` mostly name rules
/// that exist at that point and ids are mostly not defined twice: most
/// generated compositions load, and the others fail for a reason the
/// loader must locate (a broken redefined condition, a severity
/// inversion, a `requires` cycle or a disabled required rule).
fn plan(files: &[File]) -> (Vec<String>, BTreeSet<&'static str>) {
    struct Sim<'f> {
        files: &'f [File],
        done: Vec<bool>,
        live: BTreeSet<&'static str>,
        yaml: Vec<String>,
    }
    fn load(i: usize, sim: &mut Sim<'_>) {
        if sim.done[i] {
            return;
        }
        sim.done[i] = true;
        let f = &sim.files[i];
        let mut y = String::new();
        let ext: Vec<usize> = f.extends.iter().copied().filter(|&e| e < i).collect();
        for &e in &ext {
            load(e, sim);
        }
        if !ext.is_empty() {
            let names: Vec<String> = ext.iter().map(|e| format!("f{e}.yaml")).collect();
            y.push_str(&format!("extends: [{}]\n", names.join(", ")));
        }
        let mut conds = BTreeSet::new();
        let mut lines = String::new();
        for &(c, b) in &f.conditions {
            // c-one referring to c-one would be a cycle: not generated.
            let b = if c == 0 && b == 2 { 0 } else { b };
            if conds.insert(c) {
                lines.push_str(&format!("  {}: {}\n", CONDS[c], BODIES[b]));
            }
        }
        if i == 0 {
            for (c, name) in CONDS.iter().enumerate() {
                if !conds.contains(&c) {
                    lines.push_str(&format!("  {name}: {}\n", BODIES[0]));
                }
            }
        }
        if !lines.is_empty() {
            y.push_str("conditions:\n");
            y.push_str(&lines);
        }
        let mut rules = String::new();
        for r in &f.rules {
            if !sim.live.insert(IDS[r.id]) {
                continue;
            }
            rules.push_str(&format!(
                "  - id: {}\n    title: t\n    severity: {}\n    for_each: order.orderItems as item\n",
                IDS[r.id],
                if r.warning { "warning" } else { "error" }
            ));
            if let Some(q) = r
                .requires
                .filter(|q| sim.live.contains(IDS[*q]) && *q != r.id)
            {
                rules.push_str(&format!("    requires: [{}]\n", IDS[q]));
            }
            match r.cond {
                Some(c) => rules.push_str(&format!("    assert: {{ condition: {} }}\n", CONDS[c])),
                None => rules.push_str("    assert: { path: item.planId, non_empty: true }\n"),
            }
            rules.push_str("    message: \"item {$number} fails\"\n");
        }
        if !rules.is_empty() {
            y.push_str("rules:\n");
            y.push_str(&rules);
        }
        let overrides: Vec<String> = f
            .overrides
            .iter()
            .filter(|(id, _)| sim.live.contains(IDS[*id]))
            .map(|&(id, w)| {
                format!(
                    "  {}: {{ severity: {} }}\n",
                    IDS[id],
                    if w { "warning" } else { "error" }
                )
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !overrides.is_empty() {
            y.push_str("overrides:\n");
            y.push_str(&overrides.concat());
        }
        let disable: BTreeSet<&str> = f
            .disable
            .iter()
            .map(|&d| IDS[d])
            .filter(|d| sim.live.contains(d))
            .collect();
        if !disable.is_empty() {
            y.push_str(&format!(
                "disable: [{}]\n",
                disable.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
        for d in &disable {
            sim.live.remove(d);
        }
        sim.yaml[i] = y;
    }
    let mut sim = Sim {
        files,
        done: vec![false; files.len()],
        live: BTreeSet::new(),
        yaml: vec![String::new(); files.len()],
    };
    for i in 0..files.len() {
        load(i, &mut sim);
    }
    (sim.yaml, sim.live)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn no_rule_is_lost_in_any_composition(files in prop::collection::vec(file(), 1..5)) {
        let dir = tempfile::tempdir().unwrap();
        let mut loader = RuleSetLoader::new().without_builtin();
        let mut names = BTreeSet::new();
        let (texts, want) = plan(&files);
        for (i, text) in texts.iter().enumerate() {
            let path = dir.path().join(format!("f{i}.yaml"));
            std::fs::write(&path, text).unwrap();
            names.insert(path.display().to_string());
            loader = loader.file(path);
        }
        match loader.load() {
            Ok(set) => {
                let got: BTreeSet<&str> = set.rules().iter().map(|r| r.id()).collect();
                prop_assert_eq!(got, want);
                // The composition log names every file and what it did.
                let logged: BTreeSet<String> =
                    set.composition().iter().map(|c| c.file.clone()).collect();
                prop_assert_eq!(&logged, &names);
                for c in set.composition() {
                    for id in &c.added {
                        let disabled = set.composition().iter().any(|d| d.disabled.contains(id));
                        prop_assert!(set.rule(id).is_some() || disabled, "{id} lost");
                    }
                }
            }
            Err(RuleLoadError::Invalid { diagnostics }) => {
                prop_assert!(!diagnostics.is_empty());
                for d in &diagnostics {
                    prop_assert!(names.contains(d.file()), "{}", d.one_line());
                    prop_assert!(d.line() > 0, "{}", d.one_line());
                }
            }
            Err(e) => prop_assert!(false, "unexpected: {e}"),
        }
    }
}

//! Bench 1: the two rules of issue 6 ("customer status is ACTIVE"; "if any
//! order item is Microsoft NCE, an enabled Microsoft cloud profile with a
//! non-empty tenant id exists") in ion-preflight's language, in Rego
//! evaluated by `regorus`, and in CEL evaluated by `cel`, side by side on the
//! same passing and failing contexts.
//!
//! Every engine compiles its program once, outside the timed loop. Two costs
//! are timed separately for each engine:
//! - `prepare`: turning the fetched JSON (customer, cloud profiles, order) into
//!   the engine's input (ion-preflight: a `Context`; regorus: a
//!   `regorus::Value`; cel: a `cel::Context` with three variables);
//! - `evaluate`: evaluating both rules on a prepared input (ion-preflight:
//!   `RuleSet::evaluate`, a whole `Report`; regorus: the `outcomes` rule of a
//!   compiled policy, and also through `Engine::eval_rule`; cel: both
//!   programs).
//!
//! Before timing, the bench asserts that all three give the same outcomes.
//!
//! Run: `cargo bench --bench engines`.

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ion_preflight::context::Context;
use ion_preflight::rules::RuleSet;
use serde_json::{Value, json};

const OURS: &str = include_str!("data/two-rules.yaml");
const REGO: &str = include_str!("data/two-rules.rego");
const CEL: &str = include_str!("data/two-rules.cel");

/// Items in the bench orders: the first Microsoft NCE item is the 4th, so
/// the "any NCE item" quantifier looks at a few items before it decides.
const ORDER_ITEMS: usize = 5;

/// The JSON a check fetched, before any engine sees it.
#[derive(Clone)]
struct Raw {
    customer: Value,
    profiles: Value,
    order: Value,
}

fn passing() -> Raw {
    Raw {
        customer: common::customer("ACTIVE"),
        profiles: common::cloud_profiles(common::TENANT, true),
        order: common::order(ORDER_ITEMS),
    }
}

/// Inactive customer; NCE items but the Microsoft profile has an empty tenant id.
fn failing() -> Raw {
    Raw {
        customer: common::customer("INACTIVE"),
        profiles: common::cloud_profiles("", true),
        order: common::order(ORDER_ITEMS),
    }
}

type Outcomes = BTreeMap<String, String>;

// ---- ion-preflight ---------------------------------------------------------

fn ours_prepare(raw: Raw) -> Context {
    common::context(raw.customer, raw.profiles, raw.order)
}

fn ours_outcomes(rules: &RuleSet, ctx: &Context) -> Outcomes {
    rules
        .evaluate(ctx)
        .results()
        .iter()
        .map(|r| (r.rule.clone(), r.outcome.as_str().to_owned()))
        .collect()
}

// ---- regorus ---------------------------------------------------------------

struct Rego {
    engine: regorus::Engine,
    compiled: regorus::CompiledPolicy,
}

fn rego_compile() -> Rego {
    let mut engine = regorus::Engine::new();
    engine
        .add_policy("two-rules.rego".to_owned(), REGO.to_owned())
        .expect("the Rego policy compiles");
    let compiled = engine
        .compile_with_entrypoint(&regorus::Rc::from("data.preflight.outcomes"))
        .expect("the Rego policy compiles with an entry point");
    Rego { engine, compiled }
}

fn rego_prepare(raw: Raw) -> regorus::Value {
    regorus::Value::from(json!({
        "customer": raw.customer,
        "cloudProfiles": raw.profiles,
        "order": raw.order,
    }))
}

fn rego_outcomes(v: &regorus::Value) -> Outcomes {
    let json: Value = serde_json::from_str(&v.to_json_str().expect("JSON")).expect("JSON");
    serde_json::from_value(json).expect("an object of outcome strings")
}

// ---- cel -------------------------------------------------------------------

struct Cel {
    env: Arc<cel::Env>,
    programs: Vec<(&'static str, cel::Program)>,
}

fn cel_compile() -> Cel {
    let mut env = cel::Env::stdlib();
    env.add_extension(cel::extensions::strings)
        .expect("the strings extension loads");
    let env = Arc::new(env);
    let ids = ["customer-active", "nce-has-tenant"];
    let programs = CEL
        .split("\n---\n")
        .zip(ids)
        .map(|(src, id)| {
            (
                id,
                env.compile(src.trim()).expect("the CEL program compiles"),
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(programs.len(), 2, "two CEL programs");
    Cel { env, programs }
}

fn cel_prepare(env: &Arc<cel::Env>, raw: Raw) -> cel::Context<'static, 'static> {
    let mut ctx = cel::Context::with_env(env.clone());
    ctx.add_variable("customer", raw.customer)
        .expect("the customer converts");
    ctx.add_variable("cloudProfiles", raw.profiles)
        .expect("the profiles convert");
    ctx.add_variable("order", raw.order)
        .expect("the order converts");
    ctx
}

fn cel_eval(cel: &Cel, ctx: &cel::Context) -> [cel::Value; 2] {
    let run = |i: usize| cel.programs[i].1.execute(ctx).expect("CEL evaluates");
    [run(0), run(1)]
}

fn cel_outcomes(cel: &Cel, ctx: &cel::Context) -> Outcomes {
    cel_eval(cel, ctx)
        .into_iter()
        .zip(&cel.programs)
        .map(|(v, (id, _))| match v {
            cel::Value::String(s) => (id.to_string(), s.to_string()),
            other => panic!("CEL gave {other:?} for {id}"),
        })
        .collect()
}

// ---- the bench -------------------------------------------------------------

fn engines(c: &mut Criterion) {
    let ours = RuleSet::from_yaml("two-rules.yaml", OURS).expect("the rule file loads");
    let mut rego = rego_compile();
    let cel = cel_compile();

    for (name, raw, expected) in [
        (
            "passing",
            passing(),
            [("customer-active", "pass"), ("nce-has-tenant", "pass")],
        ),
        (
            "failing",
            failing(),
            [("customer-active", "fail"), ("nce-has-tenant", "fail")],
        ),
    ] {
        // The three engines agree, and say what the context was built for.
        let expected: Outcomes = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ctx = ours_prepare(raw.clone());
        assert_eq!(
            ours_outcomes(&ours, &ctx),
            expected,
            "ion-preflight, {name}"
        );
        let input = rego_prepare(raw.clone());
        let compiled = rego.compiled.eval_with_input(input.clone()).expect("Rego");
        assert_eq!(
            rego_outcomes(&compiled),
            expected,
            "regorus (compiled), {name}"
        );
        rego.engine.set_input(input.clone());
        let via_engine = rego
            .engine
            .eval_rule("data.preflight.outcomes".to_owned())
            .expect("Rego");
        assert_eq!(
            rego_outcomes(&via_engine),
            expected,
            "regorus (engine), {name}"
        );
        let cel_ctx = cel_prepare(&cel.env, raw.clone());
        assert_eq!(cel_outcomes(&cel, &cel_ctx), expected, "cel, {name}");

        let mut g = c.benchmark_group(format!("bench1-evaluate/{name}"));
        g.bench_function("ion-preflight", |b| {
            b.iter(|| black_box(ours.evaluate(black_box(&ctx))))
        });
        g.bench_function("regorus", |b| {
            b.iter(|| {
                black_box(
                    rego.compiled
                        .eval_with_input(black_box(&input).clone())
                        .expect("Rego"),
                )
            })
        });
        g.bench_function("regorus-engine", |b| {
            b.iter(|| {
                rego.engine.set_input(black_box(&input).clone());
                black_box(
                    rego.engine
                        .eval_rule("data.preflight.outcomes".to_owned())
                        .expect("Rego"),
                )
            })
        });
        g.bench_function("cel", |b| {
            b.iter(|| black_box(cel_eval(&cel, black_box(&cel_ctx))))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("bench1-prepare/{name}"));
        g.bench_function("ion-preflight", |b| {
            b.iter_batched(|| raw.clone(), ours_prepare, BatchSize::SmallInput)
        });
        g.bench_function("regorus", |b| {
            b.iter_batched(|| raw.clone(), rego_prepare, BatchSize::SmallInput)
        });
        g.bench_function("cel", |b| {
            b.iter_batched(
                || raw.clone(),
                |raw| cel_prepare(&cel.env, raw),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = engines
}
criterion_main!(benches);

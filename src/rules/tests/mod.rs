//! Unit tests of the rule engine: every operator, `requires`, `when`,
//! `for_each`, composition and overrides.

mod composition;
mod evaluation;
mod operators;
mod properties;

use serde_json::{Value, json};

use super::RuleSet;
use crate::context::{Context, Fetched};
use crate::report::{Outcome, Report};

/// The check's fixed "now".
pub(super) fn now() -> jiff::Timestamp {
    "2026-06-15T12:00:00Z".parse().unwrap()
}

/// A context whose customer is `customer`, with one order and two profiles.
pub(super) fn ctx_with(customer: Value) -> Context {
    Context::new(1001, 2002, now())
        .with_customer(Fetched::present(customer))
        .with_cloud_profiles(Fetched::present(json!([])))
        .with_order(Some(json!({"orderItems": []})))
}

/// A rule file with one rule asserting `assert` (YAML flow text).
pub(super) fn one_rule(assert: &str) -> RuleSet {
    let yaml = format!(
        "rules:\n  - id: t\n    title: t\n    severity: error\n    assert: {assert}\n    message: failed\n"
    );
    match RuleSet::from_yaml("t.yaml", &yaml) {
        Ok(set) => set,
        Err(e) => panic!(
            "{assert}: {:?}",
            e.diagnostics()
                .iter()
                .map(|d| d.one_line())
                .collect::<Vec<_>>()
        ),
    }
}

/// The outcome of the single rule `assert` against `ctx`.
pub(super) fn outcome_of(assert: &str, ctx: &Context) -> Outcome {
    one_rule(assert).evaluate(ctx).results()[0].outcome
}

/// Loads rule-file text (without the built-in set) and evaluates it.
pub(super) fn run(yaml: &str, ctx: &Context) -> Report {
    match RuleSet::from_yaml("t.yaml", yaml) {
        Ok(set) => set.evaluate(ctx),
        Err(e) => panic!(
            "{:?}",
            e.diagnostics()
                .iter()
                .map(|d| d.one_line())
                .collect::<Vec<_>>()
        ),
    }
}

/// The diagnostics' codes and positions for a broken rule text.
pub(super) fn problems(yaml: &str) -> Vec<String> {
    match RuleSet::from_yaml("t.yaml", yaml) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .diagnostics()
            .iter()
            .map(|d| format!("{}:{}:{}", d.code(), d.line(), d.column()))
            .collect(),
    }
}

/// A rule's source text is its lines of the file as `str::lines` gives
/// them (`\r\n` or `\n` endings, the last line with or without one),
/// without the comments and blank lines after it.
#[test]
fn source_text_is_the_rules_own_lines() {
    let rule = |id: &str| {
        format!(
            "  - id: {id}\n    title: t {id}\n    severity: error\n    assert: {{ path: customer.customerStatus, equals: ACTIVE }}\n    message: \"m {id}\"\n"
        )
    };
    let lf = format!("# head\nrules:\n{}\n# between\n\n{}", rule("a"), rule("b"));
    for text in [
        lf.clone(),
        lf.replace('\n', "\r\n"),
        lf.trim_end().to_owned(),
    ] {
        let set = RuleSet::from_yaml("t.yaml", &text).expect("loads");
        let lines: Vec<&str> = text.lines().collect();
        for (i, first) in [(0, 2), (1, 10)] {
            let want = lines[first..first + 5].join("\n");
            assert_eq!(set.rules()[i].source_text(), want, "{text:?}");
        }
    }
}

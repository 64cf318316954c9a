//! `--explain`: which branch of `when` / `any` / `all` / `not` / a
//! quantifier decided each result. A separate pass over an evaluated report
//! (run only when asked), so evaluation itself carries no trace and
//! allocates nothing for it.
//!
//! A trace names the branches that decided: the first false part of a
//! false `all`, the first true part of a true `any`, the element that
//! decided a quantifier; where no part decided alone (a true `all`, a false
//! `any`, a quantifier over every element) every part is listed, one level
//! deep, so the trace stays short.

use serde_json::Value;

use super::condition::{Cond, Env, Quantifier};
use super::path::Lookup;
use super::rows::Rows;
use super::{Inner, Rule};
use crate::context::{Context, Root};
use crate::report::{Decision, Explanation, Outcome, Report, RuleResult};

/// Attaches an [`Explanation`] to every result of `report` (evaluated from
/// `inner` against `ctx`).
pub(crate) fn annotate(inner: &Inner, ctx: &Context, report: &mut Report) {
    let mut env = Env {
        ctx,
        scope: Vec::new(),
        rows: Rows::new(inner.fields.len(), inner.named_conditions),
        fields: &inner.fields,
    };
    for r in report.results_mut() {
        let Some(rule) = inner.rules.iter().find(|x| x.id() == r.rule) else {
            continue;
        };
        r.explain = Some(explain(rule, r, &mut env));
    }
}

fn explain<'a>(rule: &Rule, r: &RuleResult, env: &mut Env<'a>) -> Explanation {
    let message = r.message.clone().unwrap_or_default();
    let not_reached = r.outcome == Outcome::Skip
        && (message.starts_with("requires ")
            || (rule.reads.contains(&Root::Order) && env.ctx.order.is_none()));
    if not_reached {
        return Explanation {
            decided_by: message,
            element: None,
            when: None,
            assert: None,
        };
    }
    env.scope.clear();
    match &rule.for_each {
        None => {
            let when = rule.when.as_ref().map(|w| trace(w, env, true));
            let when_held = when.as_ref().is_none_or(|w| w.value == "true");
            let assert = when_held.then(|| trace(&rule.assert, env, true));
            let decided_by = match (&when, &assert) {
                (Some(w), None) if w.value == "false" => "`when` did not hold".to_owned(),
                (Some(_), None) => "`when` could not be evaluated".to_owned(),
                (_, Some(a)) => format!("`assert` is {}", a.value),
                (None, None) => String::new(),
            };
            Explanation {
                decided_by,
                element: None,
                when,
                assert,
            }
        }
        Some(fe) => {
            let items = match fe.path.lookup(env.ctx, &[], None, None) {
                Lookup::Found(Value::Array(items)) => items,
                _ => {
                    return Explanation {
                        decided_by: message,
                        element: None,
                        when: None,
                        assert: None,
                    };
                }
            };
            let block = env.rows.block(items);
            let mut checked = 0usize;
            let mut first_skipped: Option<(String, Decision)> = None;
            for i in 0..items.len() {
                let element = format!("{}[{i}]", fe.path.text);
                env.scope.clear();
                env.bind(items, block, i, Some(element.clone()));
                let when_value = rule.when.as_ref().map(|w| w.eval(env));
                if let Some(Ok(false)) = when_value {
                    if first_skipped.is_none()
                        && let Some(w) = &rule.when
                    {
                        first_skipped = Some((element, trace(w, env, true)));
                    }
                    continue;
                }
                checked += 1;
                let decisive = match when_value {
                    Some(Err(_)) => true,
                    _ => match rule.assert.eval(env) {
                        Ok(true) => false,
                        Ok(false) => r.outcome == Outcome::Fail,
                        Err(_) => r.outcome == Outcome::Error,
                    },
                };
                if decisive {
                    let when = rule.when.as_ref().map(|w| trace(w, env, true));
                    let when_held = when.as_ref().is_none_or(|w| w.value == "true");
                    let assert = when_held.then(|| trace(&rule.assert, env, true));
                    env.scope.clear();
                    return Explanation {
                        decided_by: match &assert {
                            Some(a) => format!("`assert` is {} for {element}", a.value),
                            None => format!("`when` could not be evaluated for {element}"),
                        },
                        element: Some(element),
                        when,
                        assert,
                    };
                }
            }
            env.scope.clear();
            if checked == 0 {
                let (element, when) = first_skipped.unzip();
                return Explanation {
                    decided_by: message,
                    element,
                    when,
                    assert: None,
                };
            }
            Explanation {
                decided_by: format!(
                    "`assert` held for every one of the {checked} element(s) of {} it applied to",
                    fe.path.text
                ),
                element: None,
                when: None,
                assert: None,
            }
        }
    }
}

/// Most characters of a test's expectation in a trace (the built-in country
/// list alone is 1,000): the rule (`rules explain`) has it in full.
const MAX_EXPECTED: usize = 80;

fn short(expected: &str) -> String {
    if expected.chars().count() <= MAX_EXPECTED {
        return expected.to_owned();
    }
    let cut: String = expected.chars().take(MAX_EXPECTED).collect();
    format!("{cut}…")
}

fn value_word(v: &Result<bool, String>) -> &'static str {
    match v {
        Ok(true) => "true",
        Ok(false) => "false",
        Err(_) => "unknown",
    }
}

/// The decision of `c`: its value and, with `deep`, the branches that
/// decided it (traced in full when one decided alone, else listed one level
/// deep).
fn trace<'a>(c: &Cond, env: &mut Env<'a>, deep: bool) -> Decision {
    let value = c.eval(env);
    let word = value_word(&value);
    let mut d = Decision {
        what: String::new(),
        value: word.to_owned(),
        found: None,
        because: Vec::new(),
    };
    match c {
        Cond::All(parts) | Cond::Any(parts) => {
            let is_all = matches!(c, Cond::All(_));
            if parts.len() == 1 {
                return trace(&parts[0], env, deep);
            }
            d.what = format!("{} of {}", if is_all { "all" } else { "any" }, parts.len());
            if !deep {
                return d;
            }
            // The part that decided alone: the first false of an `all`, the
            // first true of an `any`, the first unknown of an unknown one.
            let decider = match (&value, is_all) {
                (Ok(false), true) => Some(Ok(false)),
                (Ok(true), false) => Some(Ok(true)),
                (Err(_), _) => None,
                _ => Some(Err(())),
            };
            match decider {
                Some(Ok(want)) => {
                    for p in parts {
                        if p.eval(env) == Ok(want) {
                            d.because.push(trace(p, env, true));
                            break;
                        }
                    }
                }
                None => {
                    for p in parts {
                        if p.eval(env).is_err() {
                            d.because.push(trace(p, env, true));
                            break;
                        }
                    }
                }
                Some(Err(())) => {
                    for p in parts {
                        d.because.push(trace(p, env, false));
                    }
                }
            }
        }
        Cond::Not(inner) => {
            d.what = "not".to_owned();
            if deep {
                d.because.push(trace(inner, env, true));
            }
        }
        Cond::Named { body, .. } => return trace(body, env, deep),
        Cond::Test { path, expected, .. } => {
            let expected = short(expected);
            let mut resolved = String::new();
            match path.lookup(env.ctx, &env.scope, None, Some(&mut resolved)) {
                Lookup::Found(v) => {
                    d.what = format!("`{resolved}`: {expected}");
                    d.found = Some(v.clone());
                }
                Lookup::Missing => d.what = format!("`{resolved}` (missing): {expected}"),
                Lookup::Unknown(_) => d.what = format!("`{resolved}` (unavailable): {expected}"),
            }
        }
        Cond::Quant { path, kind, body } => {
            let mut resolved = String::new();
            let lookup = path.lookup(env.ctx, &env.scope, None, Some(&mut resolved));
            let which = match kind {
                Quantifier::Some => "some",
                Quantifier::Every => "every",
                Quantifier::None => "none",
            };
            let items = match lookup {
                Lookup::Found(Value::Array(items)) => items,
                Lookup::Found(Value::Null) | Lookup::Missing => {
                    d.what = format!("{which} of `{resolved}`: missing or null, no elements");
                    return d;
                }
                Lookup::Found(_) => {
                    d.what = format!("{which} of `{resolved}`: not a list");
                    return d;
                }
                Lookup::Unknown(_) => {
                    d.what = format!("{which} of `{resolved}`: unknown");
                    return d;
                }
            };
            d.what = format!("{which} of `{resolved}` ({} element(s))", items.len());
            if !deep {
                return d;
            }
            // The element that decided: a match for `some` and `none`, a
            // miss for `every`.
            let want = !matches!(kind, Quantifier::Every);
            let block = env.rows.block(items);
            for i in 0..items.len() {
                let element_path = format!("{resolved}[{i}]");
                env.bind(items, block, i, Some(element_path));
                let r = body.eval(env);
                let decides = match &value {
                    Err(_) => r.is_err(),
                    _ => r == Ok(want),
                };
                if decides {
                    d.because.push(trace(body, env, true));
                    env.scope.pop();
                    break;
                }
                env.scope.pop();
            }
        }
    }
    d
}

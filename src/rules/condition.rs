//! Compiled conditions and their evaluation.
//!
//! Evaluation runs in two modes. The fast mode ([`Cond::eval`]) answers
//! true / false / unknown and allocates nothing on the passing path. When a
//! rule fails, [`Cond::explain`] walks the same condition again to collect the
//! evidence: the paths looked at, what was found and what was expected.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::path::{Binding, Lookup, Path};
use super::pattern::Pattern;
use super::rows::{FieldTable, MemoCell, Rows};
use crate::context::Context;
use crate::report::Evidence;

/// Why a condition's value is unknown.
pub(crate) type Unknown = String;

/// A compiled condition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Test {
        path: Path,
        test: Test,
        /// What the test expects, in words.
        expected: Box<str>,
    },
    Quant {
        path: Path,
        kind: Quantifier,
        body: Box<Cond>,
    },
    /// A use of a named condition whose free variable (at most one) is
    /// bound in scope slot `slot` (`None`: it reads only context roots).
    /// Its value is remembered per bound element for the rest of the check:
    /// the built-in set asks `microsoft-create-item` of every order item in
    /// three rules, and `microsoft-tenant-profile` of every profile for
    /// every NCE item.
    Named {
        id: u32,
        slot: Option<usize>,
        body: Box<Cond>,
    },
}

/// `some`, `every` or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Quantifier {
    Some,
    Every,
    None,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

impl Cmp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
            Cmp::Eq => "=",
        }
    }

    fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
            Cmp::Eq => a == b,
        }
    }
}

/// A point in time relative to the check's "now", or a fixed one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum When {
    Now(jiff::SignedDuration),
    At(jiff::Timestamp),
}

impl When {
    fn at(&self, now: jiff::Timestamp) -> jiff::Timestamp {
        match self {
            When::Now(d) => now.checked_add(*d).unwrap_or(now),
            When::At(t) => *t,
        }
    }
}

/// The JSON types `type:` can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TypeName {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
    Date,
}

impl TypeName {
    pub(crate) const NAMES: [&'static str; 8] = [
        "string", "number", "integer", "boolean", "array", "object", "null", "date",
    ];

    pub(crate) fn parse(s: &str) -> Option<TypeName> {
        Some(match s {
            "string" => TypeName::String,
            "number" => TypeName::Number,
            "integer" => TypeName::Integer,
            "boolean" => TypeName::Boolean,
            "array" => TypeName::Array,
            "object" => TypeName::Object,
            "null" => TypeName::Null,
            "date" => TypeName::Date,
            _ => return None,
        })
    }
}

/// A test on one value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Test {
    Exists,
    Null,
    Empty,
    NonEmpty,
    Equals {
        #[serde(with = "super::prepared::json")]
        value: Value,
        ignore_case: bool,
    },
    OneOf {
        #[serde(with = "super::prepared::json")]
        values: Vec<Value>,
        /// The string literals of `values`, sorted: a string tested without
        /// `ignore_case` is looked up here by binary search, not compared
        /// with every literal (the default set's country list has 249).
        strings: Box<[Box<str>]>,
        ignore_case: bool,
    },
    Matches(Pattern),
    Contains {
        #[serde(with = "super::prepared::json")]
        value: Value,
        ignore_case: bool,
    },
    Numeric(Vec<(Cmp, f64)>),
    Type(TypeName),
    Date(Vec<(Cmp, When)>),
    Length(Vec<(Cmp, f64)>),
}

/// What evaluation sees: the context, the bound variables and "now".
pub(crate) struct Env<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) scope: Vec<Binding<'a>>,
    /// Bound elements' fields and remembered named conditions.
    pub(crate) rows: Rows<'a>,
    /// The rule set's numbered fields.
    pub(crate) fields: &'a FieldTable,
}

impl<'a> Env<'a> {
    /// Binds element `index` of `list`, whose rows start at `block` (from
    /// [`Rows::block`], once per walk over the list), as the next variable.
    pub(crate) fn bind(
        &mut self,
        list: &'a [Value],
        block: Option<u32>,
        index: usize,
        path: Option<String>,
    ) {
        if let Some(value) = list.get(index) {
            let row = block.and_then(|b| self.rows.row(self.fields, b, index, value));
            self.scope.push(Binding { value, path, row });
        }
    }
}

/// Most elements a quantifier's evidence lists.
const MAX_ELEMENT_EVIDENCE: usize = 10;

impl Cond {
    /// true / false, or unknown when the data is not available. Three-valued:
    /// `all` is false as soon as one part is false, `any` true as soon as one
    /// part is true; otherwise unknown wins.
    pub(crate) fn eval<'a>(&self, env: &mut Env<'a>) -> Result<bool, Unknown> {
        match self {
            Cond::All(parts) => {
                let mut unknown = None;
                for p in parts {
                    match p.eval(env) {
                        Ok(false) => return Ok(false),
                        Ok(true) => {}
                        Err(e) => {
                            unknown.get_or_insert(e);
                        }
                    }
                }
                unknown.map_or(Ok(true), Err)
            }
            Cond::Any(parts) => {
                let mut unknown = None;
                for p in parts {
                    match p.eval(env) {
                        Ok(true) => return Ok(true),
                        Ok(false) => {}
                        Err(e) => {
                            unknown.get_or_insert(e);
                        }
                    }
                }
                unknown.map_or(Ok(false), Err)
            }
            Cond::Not(inner) => inner.eval(env).map(|b| !b),
            Cond::Named { id, slot, body } => {
                let cell = match slot {
                    None => MemoCell::Root,
                    Some(s) => match env.scope.get(*s).and_then(|b| b.row) {
                        Some(row) => MemoCell::Row(row),
                        None => return body.eval(env),
                    },
                };
                if let Some(v) = env.rows.remembered(cell, *id) {
                    return Ok(v);
                }
                let r = body.eval(env);
                if let Ok(v) = r {
                    env.rows.remember(cell, *id, v);
                }
                r
            }
            Cond::Test { path, test, .. } => {
                if let Test::Matches(p) = test
                    && p.regex().is_none()
                {
                    return Err(format!(
                        "the pattern `{}` could not be compiled",
                        p.source()
                    ));
                }
                // `item.field`: straight from the element's row.
                if let Some((slot, field)) = path.var_field()
                    && let Some(row) = env.scope.get(slot).and_then(|b| b.row)
                {
                    return Ok(test.holds(env.rows.field(row, field), env.ctx.now));
                }
                match path.lookup(env.ctx, &env.scope, Some(&env.rows), None) {
                    Lookup::Found(v) => Ok(test.holds(Some(v), env.ctx.now)),
                    Lookup::Missing => Ok(test.holds(None, env.ctx.now)),
                    Lookup::Unknown(e) => Err(e.into_owned()),
                }
            }
            Cond::Quant { path, kind, body } => {
                let items = match path.lookup(env.ctx, &env.scope, Some(&env.rows), None) {
                    Lookup::Found(Value::Array(items)) => items,
                    // ION leaves empty lists out of its JSON: a missing or
                    // null list has no elements, so it answers as `[]` does.
                    Lookup::Found(Value::Null) | Lookup::Missing => {
                        return Ok(*kind != Quantifier::Some);
                    }
                    Lookup::Found(_) => return Ok(false),
                    Lookup::Unknown(e) => return Err(e.into_owned()),
                };
                let mut unknown = None;
                let mut decided = None;
                let block = env.rows.block(items);
                for i in 0..items.len() {
                    env.bind(items, block, i, None);
                    let r = body.eval(env);
                    env.scope.pop();
                    match (kind, r) {
                        (Quantifier::Some, Ok(true)) => {
                            decided = Some(true);
                            break;
                        }
                        (Quantifier::Every, Ok(false)) => {
                            decided = Some(false);
                            break;
                        }
                        (Quantifier::None, Ok(true)) => {
                            decided = Some(false);
                            break;
                        }
                        (_, Ok(_)) => {}
                        (_, Err(e)) => {
                            unknown.get_or_insert(e);
                        }
                    }
                }
                if let Some(d) = decided {
                    return Ok(d);
                }
                match unknown {
                    Some(e) => Err(e),
                    None => Ok(*kind != Quantifier::Some),
                }
            }
        }
    }

    /// Collects evidence for why this condition has the value it has. Call it
    /// with `negated = false` to explain a condition that was false (or
    /// unknown), `true` to explain one that was true but should not have been.
    pub(crate) fn explain<'a>(&self, env: &mut Env<'a>, negated: bool, out: &mut Vec<Evidence>) {
        match self {
            Cond::All(parts) | Cond::Any(parts) => {
                let is_all = matches!(self, Cond::All(_));
                // A false `all` is explained by its false parts; a true `any`
                // (negated) by its true parts; a false `any` or a true `all`
                // (negated) by every part.
                let first = out.len();
                for p in parts {
                    let r = p.eval(env);
                    let relevant = match (is_all, negated) {
                        (true, false) => r != Ok(true),
                        (false, true) => r != Ok(false),
                        _ => true,
                    };
                    if relevant {
                        p.explain(env, negated, out);
                    }
                }
                // Every part of a false `any` (or a true `all` that should
                // not hold) was an alternative: one line per value looked at,
                // listing what would have satisfied it.
                if is_all == negated {
                    merge_alternatives(out, first, ", or ");
                } else {
                    // The false parts of a false `all` that look at the same
                    // value are one line: "a non-empty value, and of type
                    // string".
                    merge_alternatives(out, first, ", and ");
                }
            }
            Cond::Not(inner) => inner.explain(env, !negated, out),
            Cond::Named { body, .. } => body.explain(env, negated, out),
            Cond::Test {
                path,
                test,
                expected,
            } => {
                let mut resolved = String::new();
                let lookup = path.lookup(env.ctx, &env.scope, None, Some(&mut resolved));
                let expected = match (negated, test) {
                    (false, _) => expected.to_string(),
                    (true, Test::Exists) => "missing".to_owned(),
                    (true, Test::NonEmpty) => "missing, null or blank".to_owned(),
                    (true, _) => format!("not {expected}"),
                };
                out.push(match lookup {
                    Lookup::Found(v) => Evidence {
                        path: resolved,
                        found: Some(v.clone()),
                        missing: false,
                        expected,
                    },
                    Lookup::Missing => Evidence {
                        path: resolved,
                        found: None,
                        missing: true,
                        expected,
                    },
                    Lookup::Unknown(reason) => Evidence {
                        path: resolved,
                        found: None,
                        missing: false,
                        expected: format!("{expected} (unknown: {})", unknown_what(&reason)),
                    },
                });
            }
            Cond::Quant { path, kind, body } => {
                let mut resolved = String::new();
                let lookup = path.lookup(env.ctx, &env.scope, None, Some(&mut resolved));
                let what = match (kind, negated) {
                    (Quantifier::Some, false) | (Quantifier::None, true) => {
                        "at least one element matching"
                    }
                    (Quantifier::Every, false) => "every element matching",
                    (Quantifier::None, false) | (Quantifier::Some, true) => "no element matching",
                    (Quantifier::Every, true) => "not every element matching",
                };
                let items = match lookup {
                    Lookup::Found(Value::Array(items)) => items,
                    Lookup::Found(other) => {
                        out.push(Evidence {
                            path: resolved,
                            found: Some(other.clone()),
                            missing: false,
                            expected: format!("an array with {what} the condition"),
                        });
                        return;
                    }
                    Lookup::Missing => {
                        out.push(Evidence {
                            path: resolved,
                            found: None,
                            missing: true,
                            expected: format!(
                                "an array with {what} the condition (missing counts as no elements)"
                            ),
                        });
                        return;
                    }
                    Lookup::Unknown(reason) => {
                        out.push(Evidence {
                            path: resolved,
                            found: None,
                            missing: false,
                            expected: format!("an array (unknown: {})", unknown_what(&reason)),
                        });
                        return;
                    }
                };
                if items.is_empty() {
                    out.push(Evidence {
                        path: resolved,
                        found: Some(Value::Array(Vec::new())),
                        missing: false,
                        expected: format!("an array with {what} the condition"),
                    });
                    return;
                }
                // Which elements explain the outcome: for a failed `some` (or a
                // negated `none`) every element, which all failed the body;
                // for a failed `every` the elements that failed; for a failed
                // `none` (or a negated `some`) the elements that matched.
                let explain_matching = matches!(
                    (kind, negated),
                    (Quantifier::None, false)
                        | (Quantifier::Some, true)
                        | (Quantifier::Every, true)
                );
                let mut shown = 0;
                let block = env.rows.block(items);
                for i in 0..items.len() {
                    if shown == MAX_ELEMENT_EVIDENCE {
                        break;
                    }
                    let element_path = format!("{resolved}[{i}]");
                    env.bind(items, block, i, Some(element_path));
                    let r = body.eval(env);
                    let relevant = if explain_matching {
                        r != Ok(false)
                    } else {
                        r != Ok(true)
                    };
                    if relevant {
                        body.explain(env, explain_matching, out);
                        shown += 1;
                    }
                    env.scope.pop();
                }
            }
        }
    }
}

/// Folds the evidence from `first` on that looks at the same path and found
/// the same value into one entry whose expectations are joined with
/// `joiner` (", or " for alternatives, ", and " for conjuncts).
fn merge_alternatives(out: &mut Vec<Evidence>, first: usize, joiner: &str) {
    let mut merged: Vec<Evidence> = Vec::new();
    for e in out.drain(first..) {
        match merged
            .iter_mut()
            .find(|m| m.path == e.path && m.found == e.found && m.missing == e.missing)
        {
            Some(m) => {
                m.expected.push_str(joiner);
                m.expected.push_str(&e.expected);
            }
            None => merged.push(e),
        }
    }
    out.extend(merged);
}

impl Test {
    /// Whether the test holds for `value` (`None` = missing).
    pub(crate) fn holds(&self, value: Option<&Value>, now: jiff::Timestamp) -> bool {
        let Some(v) = value else {
            return false;
        };
        match self {
            Test::Exists => true,
            Test::Null => v.is_null(),
            Test::Empty => is_empty(v),
            Test::NonEmpty => match v {
                Value::Null => false,
                Value::String(s) => !s.trim().is_empty(),
                other => !is_empty(other),
            },
            Test::Equals { value, ignore_case } => json_eq(v, value, *ignore_case),
            Test::OneOf {
                values,
                strings,
                ignore_case,
            } => match v {
                // Without `ignore_case` a string equals only an equal string literal.
                Value::String(s) if !*ignore_case => strings
                    .binary_search_by(|x| x.as_ref().cmp(s.as_str()))
                    .is_ok(),
                _ => values.iter().any(|x| json_eq(v, x, *ignore_case)),
            },
            Test::Matches(re) => v.as_str().is_some_and(|s| re.is_match(s)),
            Test::Contains { value, ignore_case } => match v {
                Value::String(s) => value.as_str().is_some_and(|needle| {
                    if *ignore_case {
                        s.to_ascii_lowercase()
                            .contains(&needle.to_ascii_lowercase())
                    } else {
                        s.contains(needle)
                    }
                }),
                Value::Array(items) => items.iter().any(|x| json_eq(x, value, *ignore_case)),
                _ => false,
            },
            Test::Numeric(cmps) => v
                .as_f64()
                .is_some_and(|n| cmps.iter().all(|(c, b)| c.holds(n, *b))),
            Test::Type(t) => match t {
                TypeName::String => v.is_string(),
                TypeName::Number => v.is_number(),
                TypeName::Integer => {
                    v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
                }
                TypeName::Boolean => v.is_boolean(),
                TypeName::Array => v.is_array(),
                TypeName::Object => v.is_object(),
                TypeName::Null => v.is_null(),
                TypeName::Date => v.as_str().and_then(parse_date).is_some(),
            },
            Test::Date(cmps) => v
                .as_str()
                .and_then(parse_date)
                .is_some_and(|t| cmps.iter().all(|(c, w)| c.holds(t, w.at(now)))),
            Test::Length(cmps) => {
                let len = match v {
                    Value::String(s) => s.chars().count(),
                    Value::Array(a) => a.len(),
                    Value::Object(o) => o.len(),
                    _ => return false,
                };
                cmps.iter().all(|(c, b)| c.holds(len as f64, *b))
            }
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// JSON equality with numbers compared by value and optional case folding.
pub(crate) fn json_eq(a: &Value, b: &Value, ignore_case: bool) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::String(x), Value::String(y)) if ignore_case => eq_ignore_case(x, y),
        _ => a == b,
    }
}

/// `ignore_case` equality: ASCII letters fold, nothing else does (the rule
/// language's one case-folding rule, as for `(?i)` in `matches`): by
/// Unicode, `oK` with a KELVIN SIGN would equal `ok`, and a look-alike
/// identifier would pass for the real one.
fn eq_ignore_case(x: &str, y: &str) -> bool {
    x.eq_ignore_ascii_case(y)
}

/// An RFC 3339 timestamp (`2026-03-01T09:30:00Z`, `…T09:30:00.5+01:00`),
/// or a calendar date (`2026-03-01`, its midnight UTC) — exactly these
/// forms: no basic format (`20260301`), no timestamp without an offset (whose
/// instant is unknown), no time-zone annotation (`…[Europe/Paris]`), no
/// expanded year (`+002026-…`), no surrounding blanks.
pub(crate) fn parse_date(s: &str) -> Option<jiff::Timestamp> {
    match date_form(s)? {
        DateForm::Date => s
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp()),
        DateForm::Timestamp => s.parse::<jiff::Timestamp>().ok(),
        DateForm::NoOffset => None,
    }
}

/// The shape of a date string, checked byte by byte before any parser sees
/// it (parsers accept more than RFC 3339).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateForm {
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    Timestamp,
    /// `YYYY-MM-DDTHH:MM:SS[.frac]` without an offset: not a point in time.
    NoOffset,
}

/// Which RFC 3339 form `s` has, if any (see [`parse_date`]).
pub(crate) fn date_form(s: &str) -> Option<DateForm> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.len() == r.len() && d.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10))
    {
        return None;
    }
    if b.len() == 10 {
        return Some(DateForm::Date);
    }
    let time = matches!(b.get(10), Some(b'T' | b't'))
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !time {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    match &b[i..] {
        [] => Some(DateForm::NoOffset),
        [b'Z' | b'z'] => Some(DateForm::Timestamp),
        [b'+' | b'-', ..]
            if b.len() == i + 6
                && digits(i + 1..i + 3)
                && b[i + 3] == b':'
                && digits(i + 4..i + 6) =>
        {
            Some(DateForm::Timestamp)
        }
        _ => None,
    }
}

/// "a string", "a list", … for a JSON value, in messages.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Renders a JSON value the way messages and expectations show it.
pub(crate) fn show(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// What was unavailable, without why (`customer unavailable`): the rule's
/// message carries the reason in full, the evidence need not repeat it.
fn unknown_what(reason: &str) -> &str {
    reason.split(": ").next().unwrap_or(reason)
}

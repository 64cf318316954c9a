//! Load-time type checking of rule paths and operators against the context's
//! shape ([`super::shape`]): a misspelled field or an operator that cannot
//! apply to a field's type is a diagnostic, not a rule that silently passes
//! or fails on every order.
//!
//! A segment written `~name` reads a field the types do not know yet; it
//! and everything beneath it is unchecked, and the path is listed by
//! [`super::RuleSet::unchecked_paths`].

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::diagnostics::did_you_mean;
use super::path::{RawPath, RawSeg};
use super::shape::{Ty, context_shape, with_article};

/// A problem found while checking a path or an operator.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) label: &'static str,
    pub(crate) help: Option<String>,
}

impl Problem {
    fn new(code: &'static str, label: &'static str, message: String) -> Self {
        Problem {
            code,
            message,
            label,
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A path's type, and whether any part of it is unchecked (`~`).
#[derive(Debug)]
pub(crate) struct Typed {
    pub(crate) ty: Ty,
    pub(crate) unchecked: bool,
}

/// The type of the value `raw` names. `var` gives a bound variable's type
/// (`None` when `head` is not a variable in scope).
pub(crate) fn path_type(raw: &RawPath, var: &dyn Fn(&str) -> Option<Ty>) -> Result<Typed, Problem> {
    let mut unchecked = false;
    let ty = walk(raw, var, &mut unchecked)?;
    Ok(Typed { ty, unchecked })
}

fn walk(
    raw: &RawPath,
    var: &dyn Fn(&str) -> Option<Ty>,
    unchecked: &mut bool,
) -> Result<Ty, Problem> {
    let mut ty = match var(&raw.head) {
        Some(t) => t,
        None => match context_shape().root(&raw.head) {
            Some(t) => t.clone(),
            // Unresolved heads are reported by the loader; a free variable
            // of a named condition is checked where the condition is used.
            None => Ty::Unknown,
        },
    };
    for (i, seg) in raw.segs.iter().enumerate() {
        let at = At(raw, i);
        ty = match seg {
            RawSeg::Field(name) => field(&ty, &at, name)?,
            RawSeg::Unchecked(name) => {
                *unchecked = true;
                match &ty {
                    Ty::Record(_) | Ty::Map(_) => Ty::Unchecked,
                    t if t.is_open() => Ty::Unchecked,
                    other => {
                        return Err(Problem::new(
                            "type-mismatch",
                            "not an object",
                            format!("`{at}` is {other}, which has no fields (not even `~{name}`)"),
                        ));
                    }
                }
            }
            RawSeg::Index(_) => match &ty {
                Ty::Array(e) => (**e).clone(),
                Ty::Map(v) => (**v).clone(),
                t if t.is_open() => t.clone(),
                other => return Err(not_a_list(&at, other, "an index")),
            },
            RawSeg::Select { field: f, .. } => match &ty {
                Ty::Array(e) => {
                    match &**e {
                        Ty::Record(r) => match r.fields.get(f) {
                            Some(Ty::String) => {}
                            Some(t) if t.is_open() => {}
                            Some(t) => {
                                return Err(Problem::new(
                                    "type-mismatch",
                                    "selects on a non-string",
                                    format!(
                                        "`[{f}=…]` on `{at}` compares `{f}` as a string, but it is {t}"
                                    ),
                                ));
                            }
                            None => {
                                let mut p = unknown_field(&at, e, f);
                                p.message = format!(
                                    "`[{f}=…]` on `{at}` selects by `{f}`, but its elements ({}) have no field `{f}`",
                                    with_article(&r.name)
                                );
                                return Err(p);
                            }
                        },
                        t if t.is_open() => {}
                        other => {
                            return Err(Problem::new(
                                "type-mismatch",
                                "elements have no fields",
                                format!(
                                    "`[{f}=…]` on `{at}` selects by a field, but its elements are {other}"
                                ),
                            ));
                        }
                    }
                    (**e).clone()
                }
                t if t.is_open() => t.clone(),
                other => return Err(not_a_list(&at, other, "`[field=value]`")),
            },
            RawSeg::Keyed { field: f, key } => keyed(&ty, &at, f.as_deref(), key, var, unchecked)?,
            RawSeg::Dynamic(inner) => {
                let key = walk(inner, var, unchecked)?;
                let key_ok = matches!(key, Ty::String | Ty::Integer) || key.is_open();
                if !key_ok {
                    return Err(Problem::new(
                        "type-mismatch",
                        "not a key",
                        format!(
                            "the computed key `[{}]` in `{at}[…]` is {key}; a key must be a string or an integer",
                            render(inner)
                        ),
                    ));
                }
                match &ty {
                    Ty::Map(v) => (**v).clone(),
                    Ty::Array(e) => (**e).clone(),
                    t if t.is_open() => t.clone(),
                    other => {
                        return Err(Problem::new(
                            "type-mismatch",
                            "computed key",
                            format!(
                                "`{at}` is {other}: its fields cannot be chosen by a computed key `[{}]`",
                                render(inner)
                            ),
                        )
                        .help("name the field itself, e.g. `.customerStatus`"));
                    }
                }
            }
        };
    }
    Ok(ty)
}

/// The type a keyed step `[field=$key]` / `[=$key]` leads to from `ty`. The
/// key must be a string or a number; with a field, `ty` is a list of
/// records with that field (a string or a number); without one, a list of
/// strings or numbers, or a map.
fn keyed(
    ty: &Ty,
    at: &At<'_>,
    field: Option<&str>,
    key: &RawPath,
    var: &dyn Fn(&str) -> Option<Ty>,
    unchecked: &mut bool,
) -> Result<Ty, Problem> {
    let scalar = |t: &Ty| matches!(t, Ty::String | Ty::Integer | Ty::Number) || t.is_open();
    let shown = format!("[{}=${}]", field.unwrap_or(""), render(key));
    let key_ty = walk(key, var, unchecked)?;
    if !scalar(&key_ty) {
        return Err(Problem::new(
            "type-mismatch",
            "not a key",
            format!(
                "the key `${}` in `{at}{shown}` is {key_ty}; a key must be a string or a number",
                render(key)
            ),
        ));
    }
    match (ty, field) {
        (t, _) if t.is_open() => Ok(t.clone()),
        (Ty::Array(e), Some(f)) => match &**e {
            Ty::Record(r) => match r.fields.get(f) {
                Some(t) if scalar(t) => Ok((**e).clone()),
                Some(t) => Err(Problem::new(
                    "type-mismatch",
                    "keyed by a non-scalar",
                    format!("`{shown}` on `{at}` compares `{f}` with a key, but `{f}` is {t}"),
                )),
                None => {
                    let mut p = unknown_field(at, e, f);
                    p.message = format!(
                        "`{shown}` on `{at}` looks elements up by `{f}`, but its elements ({}) have no field `{f}`",
                        with_article(&r.name)
                    );
                    Err(p)
                }
            },
            t if t.is_open() => Ok((**e).clone()),
            other => Err(Problem::new(
                "type-mismatch",
                "elements have no fields",
                format!("`{shown}` on `{at}` looks elements up by a field, but its elements are {other}"),
            )),
        },
        (Ty::Record(r), Some(f)) => match r.fields.get(f) {
            Some(t) if scalar(t) => Ok(ty.clone()),
            Some(t) => Err(Problem::new(
                "type-mismatch",
                "keyed by a non-scalar",
                format!("`{shown}` on `{at}` compares `{f}` with a key, but `{f}` is {t}"),
            )),
            None => Err(unknown_field(at, ty, f)),
        },
        (Ty::Array(e), None) if scalar(e) => Ok((**e).clone()),
        (Ty::Array(e), None) => Err(Problem::new(
            "type-mismatch",
            "elements are not keys",
            format!(
                "`{shown}` on `{at}` looks for an element equal to the key, but its elements are {e}"
            ),
        )
        .help(format!("look records up by a field: `[id=${}]`", render(key)))),
        (Ty::Map(v), None) => Ok((**v).clone()),
        (other, _) => Err(not_a_list(at, other, &format!("`{shown}`"))),
    }
}

/// The path up to (not including) segment `.1`, as written; rendered only
/// when a message needs it.
struct At<'a>(&'a RawPath, usize);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0.head.clone();
        for seg in &self.0.segs[..self.1] {
            push_seg(&mut s, seg);
        }
        f.write_str(&s)
    }
}

fn field(ty: &Ty, at: &At<'_>, name: &str) -> Result<Ty, Problem> {
    match ty {
        Ty::Record(r) => match r.fields.get(name) {
            Some(t) => Ok(t.clone()),
            None => Err(unknown_field(at, ty, name)),
        },
        Ty::Map(v) => Ok((**v).clone()),
        Ty::Opaque => Err(Problem::new(
            "unchecked-field",
            "no declared shape",
            format!("`{at}` is arbitrary JSON in ION's types, so `{name}` cannot be checked"),
        )
        .help(format!(
            "read it as `{at}.~{name}`: the `~` marks a field the types do not describe, which `rules lint` lists as unchecked"
        ))),
        Ty::Unchecked | Ty::Unknown => Ok(ty.clone()),
        Ty::Array(_) => Err(Problem::new(
            "type-mismatch",
            "a list has no fields",
            format!("`{at}` is {ty}, which has no field `{name}`"),
        )
        .help(format!(
            "pick an element (`{at}[0].{name}`, `{at}[field=value].{name}`), iterate it with `for_each: {at} as x`, or use a quantifier (`some`, `every`, `none`)"
        ))),
        other => Err(Problem::new(
            "type-mismatch",
            "not an object",
            format!("`{at}` is {other}, which has no field `{name}`"),
        )),
    }
}

fn unknown_field(at: &At<'_>, ty: &Ty, name: &str) -> Problem {
    let Ty::Record(r) = ty else {
        return Problem::new(
            "unknown-field",
            "unknown field",
            format!("`{at}` has no field `{name}`"),
        );
    };
    let escape = format!(
        "if ION sends a `{name}` that ion-preflight's types do not know yet, write `~{name}` to read it unchecked"
    );
    let help = match did_you_mean(name, r.fields.keys().map(String::as_str)) {
        Some(d) => d,
        None => format!(
            "{}'s fields are {}; {escape}",
            r.name,
            r.fields
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Problem::new(
        "unknown-field",
        "unknown field",
        format!("`{at}` ({}) has no field `{name}`", with_article(&r.name)),
    )
    .help(help)
}

fn not_a_list(at: &At<'_>, ty: &Ty, what: &str) -> Problem {
    Problem::new(
        "type-mismatch",
        "not a list",
        format!("{what} applies to a list, but `{at}` is {ty}"),
    )
}

/// Checks that operator `op` can apply to a value of type `ty` (the value
/// at `path`). For quantifiers, returns the element type.
pub(crate) fn operator(op: &str, path: &str, ty: &Ty) -> Result<Option<Ty>, Problem> {
    if ty.is_open() {
        return Ok(matches!(op, "some" | "every" | "none").then_some(Ty::Unchecked));
    }
    let bad = |what: &str, fix: Option<&str>| {
        let p = Problem::new(
            "type-mismatch",
            "operator does not apply",
            format!("`{op}` {what}, but `{path}` is {ty}"),
        );
        match fix {
            Some(f) => p.help(f),
            None => p,
        }
    };
    match op {
        "some" | "every" | "none" => match ty {
            Ty::Array(e) => Ok(Some((**e).clone())),
            _ => Err(bad("iterates over a list", None)),
        },
        "matches" => match ty {
            Ty::String => Ok(None),
            Ty::Integer | Ty::Number => Err(bad(
                "tests a string",
                Some("compare numbers with `equals`, `one_of`, `gt`, `gte`, `lt`, `lte`"),
            )),
            _ => Err(bad("tests a string", None)),
        },
        "gt" | "gte" | "lt" | "lte" => match ty {
            Ty::Integer | Ty::Number => Ok(None),
            Ty::String => Err(bad(
                "compares numbers",
                Some(
                    "ION sends this field as text; use `matches`, `equals` or `one_of`, or `before`/`after` for a date",
                ),
            )),
            Ty::Array(_) | Ty::Map(_) | Ty::Record(_) => Err(bad(
                "compares numbers",
                Some("to compare a size use `length: { gte: 1 }`"),
            )),
            _ => Err(bad("compares numbers", None)),
        },
        "before" | "after" | "not_before" | "not_after" => match ty {
            Ty::String => Ok(None),
            _ => Err(bad("compares a date, written as a string", None)),
        },
        "length" => match ty {
            Ty::String | Ty::Array(_) | Ty::Map(_) | Ty::Record(_) => Ok(None),
            _ => Err(bad(
                "measures a string, list or object",
                Some("compare the number itself with `gt`, `gte`, `lt`, `lte`"),
            )),
        },
        "contains" => match ty {
            Ty::String | Ty::Array(_) => Ok(None),
            _ => Err(bad("searches a string or a list", None)),
        },
        "empty" => match ty {
            Ty::Integer | Ty::Number | Ty::Boolean => Err(bad(
                "asks for \"\", [] or {}",
                Some("a number or boolean is never empty: ask `exists: false` or `null: true`"),
            )),
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// Checks that a literal compared with `op` can ever equal a value of type
/// `ty`.
pub(crate) fn literal(op: &str, path: &str, ty: &Ty, value: &Value) -> Result<(), Problem> {
    if ty.is_open() || value.is_null() {
        return Ok(());
    }
    let (target, what) = match (op, ty) {
        ("contains", Ty::Array(e)) => (&**e, "elements"),
        _ => (ty, "value"),
    };
    let fits = match target {
        Ty::String => value.is_string(),
        Ty::Integer => value.as_f64().is_some_and(|f| f.fract() == 0.0),
        Ty::Number => value.is_number(),
        Ty::Boolean => value.is_boolean(),
        t if t.is_open() => true,
        // Records, lists and maps never equal a scalar.
        _ => false,
    };
    if fits {
        return Ok(());
    }
    let shown = match value {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("{b}"),
        other => other.to_string(),
    };
    let what_is = if what == "elements" {
        format!("`{path}` holds {}", ty)
    } else {
        format!("`{path}` is {target}")
    };
    let mut p = Problem::new(
        "type-mismatch",
        "can never match",
        format!("`{op}` {shown} can never match: {what_is}"),
    );
    if matches!(target, Ty::String) && (value.is_number() || value.is_boolean()) {
        p = p.help("quote it in the rule file: YAML reads unquoted digits, true and false as numbers and booleans");
    } else if matches!(target, Ty::Integer | Ty::Number | Ty::Boolean) && value.is_string() {
        p = p.help("write it without quotes");
    }
    Err(p)
}

/// The attribute-lookup check: `of` must have an `attributes` list of
/// name/value pairs.
pub(crate) fn attributes_of(of: &str, ty: &Ty) -> Result<(), Problem> {
    if ty.is_open() {
        return Ok(());
    }
    match ty.field("attributes") {
        Some(Ty::Array(e)) if e.field("name").is_some() && e.field("value").is_some() => Ok(()),
        Some(Ty::Array(e)) if e.is_open() => Ok(()),
        _ => Err(Problem::new(
            "type-mismatch",
            "no attributes list",
            format!(
                "`attribute:` looks in `{of}.attributes`, a list of name/value pairs, but `{of}` is {ty}, which has none"
            ),
        )
        .help("attribute lookups apply to order items (`of: item` with `for_each: order.orderItems as item`)")),
    }
}

/// A path as written (for messages).
pub(crate) fn render(p: &RawPath) -> String {
    let mut s = p.head.clone();
    for seg in &p.segs {
        push_seg(&mut s, seg);
    }
    s
}

fn push_seg(s: &mut String, seg: &RawSeg) {
    match seg {
        RawSeg::Field(f) => {
            s.push('.');
            s.push_str(f);
        }
        RawSeg::Unchecked(f) => {
            s.push_str(".~");
            s.push_str(f);
        }
        RawSeg::Index(i) => {
            let _ = write!(s, "[{i}]");
        }
        RawSeg::Select { field, value } => {
            let _ = write!(s, "[{field}={value}]");
        }
        RawSeg::Dynamic(inner) => {
            let _ = write!(s, "[{}]", render(inner));
        }
        RawSeg::Keyed { field, key } => {
            let _ = write!(s, "[{}=${}]", field.as_deref().unwrap_or(""), render(key));
        }
    }
}

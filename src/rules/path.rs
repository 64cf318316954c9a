//! Paths into the check's context: `customer.customerAddress.country`,
//! `order.orderItems[0]`, `item.attributes[name=domainName].value`,
//! `products[item.productId].definition`.
//!
//! Paths are parsed once when a rule file loads; the variables they start
//! from are resolved to scope slots then, so a lookup at evaluation time is a
//! walk over `serde_json::Value`s with no string parsing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::rows::Rows;
use crate::context::{Context, Fetched, Root, RootValue};

/// Where a path starts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Start {
    /// A context root.
    Root(Root),
    /// A variable, by scope slot (0 = outermost binding).
    Var(usize),
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Seg {
    /// `.field` or `["field"]`.
    Field(Box<str>),
    /// `[3]`.
    Index(usize),
    /// `[name=value]`: the first array element whose `field` is the string `value`.
    Select { field: Box<str>, value: Box<str> },
    /// `[other.path]`: a key (or index) computed from another path.
    Dynamic(Box<Path>),
    /// `[field=$other.path]`: the first array element whose `field` equals
    /// the value at another path; `[=$other.path]` (no field): the first
    /// array element equal to that value, or a map's entry keyed by it.
    Keyed {
        field: Option<Box<str>>,
        key: Box<Path>,
    },
}

/// A compiled path.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Path {
    pub(crate) start: Start,
    pub(crate) segs: Vec<Seg>,
    /// The path as written.
    pub(crate) text: Box<str>,
    /// When the path starts at a variable and its first step is a field:
    /// the field's number in the rule set's
    /// [`FieldTable`](super::rows::FieldTable), so a lookup
    /// reads it from the element's row.
    pub(crate) first_field: Option<u16>,
}

/// A path as parsed, before its start is resolved.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RawPath {
    pub(crate) head: String,
    pub(crate) segs: Vec<RawSeg>,
}

/// A step as parsed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawSeg {
    Field(String),
    /// `.~field`: a field the context's types do not describe, read unchecked.
    Unchecked(String),
    Index(usize),
    Select {
        field: String,
        value: String,
    },
    Dynamic(RawPath),
    /// `[field=$path]` / `[=$path]`: keyed by a value from the context.
    Keyed {
        field: Option<String>,
        key: RawPath,
    },
}

/// Parses `text` as a path. The error says what was expected where.
pub(crate) fn parse(text: &str) -> Result<RawPath, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        text,
    };
    let path = p.path()?;
    if p.i != p.s.len() {
        return Err(format!(
            "unexpected `{}` at character {} of path `{text}`",
            &text[p.i..p.i + 1],
            p.i + 1
        ));
    }
    Ok(path)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$' || b == b'@'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$' || b == b'@'
}

impl Parser<'_> {
    fn ident(&mut self) -> Result<String, String> {
        let start = self.i;
        if self.i < self.s.len() && is_ident_start(self.s[self.i]) {
            self.i += 1;
            while self.i < self.s.len() && is_ident(self.s[self.i]) {
                self.i += 1;
            }
            Ok(self.text[start..self.i].to_owned())
        } else if self.i >= self.s.len() {
            Err(format!(
                "path `{}` ends where a name was expected",
                self.text
            ))
        } else {
            Err(format!(
                "expected a name at character {} of path `{}`, found `{}`",
                self.i + 1,
                self.text,
                self.s[self.i] as char
            ))
        }
    }

    fn path(&mut self) -> Result<RawPath, String> {
        let head = self.ident()?;
        let mut segs = Vec::new();
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'.' => {
                    self.i += 1;
                    if self.s.get(self.i) == Some(&b'~') {
                        self.i += 1;
                        segs.push(RawSeg::Unchecked(self.ident()?));
                    } else {
                        segs.push(RawSeg::Field(self.ident()?));
                    }
                }
                b'[' => {
                    self.i += 1;
                    segs.push(self.bracket()?);
                    if self.s.get(self.i) != Some(&b']') {
                        return Err(format!("missing `]` in path `{}`", self.text));
                    }
                    self.i += 1;
                }
                _ => break,
            }
        }
        Ok(RawPath { head, segs })
    }

    fn bracket(&mut self) -> Result<RawSeg, String> {
        let rest = &self.text[self.i..];
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| format!("unterminated quoted key in path `{}`", self.text))?;
            let key = quoted[..end].to_owned();
            self.i += end + 2;
            return Ok(RawSeg::Field(key));
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            let n = rest[..digits]
                .parse()
                .map_err(|_| format!("index too large in path `{}`", self.text))?;
            self.i += digits;
            return Ok(RawSeg::Index(n));
        }
        if let Some(keyed) = self.keyed(rest)? {
            return Ok(keyed);
        }
        let close = rest.find(']').unwrap_or(rest.len());
        if let Some(eq) = rest[..close].find('=') {
            let field = rest[..eq].trim();
            let value = rest[eq + 1..close].trim();
            if field.is_empty() || !field.bytes().all(is_ident) {
                return Err(format!(
                    "`[{}]` in path `{}`: expected `[field=value]`",
                    &rest[..close],
                    self.text
                ));
            }
            let value = value.trim_matches('"').to_owned();
            self.i += close;
            return Ok(RawSeg::Select {
                field: field.to_owned(),
                value,
            });
        }
        Ok(RawSeg::Dynamic(self.path()?))
    }
}

impl Parser<'_> {
    /// `[field=$path]` or `[=$path]` (the text after `[`), when `rest` is one:
    /// the key is a path, parsed like any other, so it may itself contain
    /// brackets.
    fn keyed(&mut self, rest: &str) -> Result<Option<RawSeg>, String> {
        let name_len = rest
            .bytes()
            .take_while(|b| is_ident(*b) && *b != b'$')
            .count();
        let after = rest[name_len..].trim_start();
        let Some(value) = after.strip_prefix('=') else {
            return Ok(None);
        };
        let Some(path) = value.trim_start().strip_prefix('$') else {
            return Ok(None);
        };
        let field = rest[..name_len].to_owned();
        // Skip to the key path's first character, then parse it.
        self.i += rest.len() - path.len();
        if path.starts_with('$') || path.is_empty() {
            return Err(format!(
                "`[{}=$…]` in path `{}`: expected a path after `$`",
                field, self.text
            ));
        }
        let key = self.path()?;
        Ok(Some(RawSeg::Keyed {
            field: (!field.is_empty()).then_some(field),
            key,
        }))
    }
}

/// The text of a key taken from the context: strings as they are, numbers
/// in their JSON form (ION writes its int64 ids as strings, so a numeric
/// `request.customerId` matches `"2002"`); other values are no key.
pub(crate) fn key_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// A variable bound at evaluation time.
#[derive(Clone, Debug)]
pub(crate) struct Binding<'a> {
    pub(crate) value: &'a Value,
    /// The element's resolved path, kept only when collecting evidence.
    pub(crate) path: Option<String>,
    /// The element's row in the check's [`Rows`], when it has one.
    pub(crate) row: Option<u32>,
}

/// The result of looking a path up.
#[derive(Clone, Debug)]
pub(crate) enum Lookup<'a> {
    Found(&'a Value),
    Missing,
    /// The data cannot be known: the resource was not fetched.
    Unknown(Cow<'a, str>),
}

impl Path {
    /// Looks the path up. When `resolved` is given, the concrete path (with
    /// indexes) is written into it. With `rows`, a first field read from a
    /// bound element comes from the element's row.
    pub(crate) fn lookup<'a>(
        &self,
        ctx: &'a Context,
        scope: &[Binding<'a>],
        rows: Option<&Rows<'a>>,
        mut resolved: Option<&mut String>,
    ) -> Lookup<'a> {
        let mut segs = self.segs.iter();
        let mut current: &'a Value = match self.start {
            Start::Var(slot) => {
                let Some(b) = scope.get(slot) else {
                    return Lookup::Unknown(Cow::Borrowed("unbound variable"));
                };
                if let Some(r) = resolved.as_deref_mut() {
                    r.push_str(b.path.as_deref().unwrap_or(&self.text));
                    b.value
                } else if let (Some(rows), Some(row), Some(field)) = (rows, b.row, self.first_field)
                {
                    match rows.field(row, field) {
                        Some(v) => {
                            segs.next();
                            v
                        }
                        None => return Lookup::Missing,
                    }
                } else {
                    b.value
                }
            }
            Start::Root(root) => {
                if let Some(r) = resolved.as_deref_mut() {
                    r.push_str(root.name());
                }
                match ctx.root(root) {
                    RootValue::Present(v) => v,
                    RootValue::Absent => return Lookup::Missing,
                    RootValue::Unavailable { what, reason } => {
                        return Lookup::Unknown(Cow::Owned(format!(
                            "{what} unavailable: {reason}"
                        )));
                    }
                    RootValue::Products(map) | RootValue::Subscriptions(map) => {
                        let (what, example) = if root == Root::Products {
                            ("product", "a product id")
                        } else {
                            ("subscription", "a subscription id")
                        };
                        let Some(first) = segs.next() else {
                            return Lookup::Unknown(Cow::Owned(format!(
                                "`{}` must be indexed by {example}",
                                root.name()
                            )));
                        };
                        let key: Cow<'a, str> = match first {
                            Seg::Field(f) => Cow::Owned(f.to_string()),
                            Seg::Index(i) => Cow::Owned(i.to_string()),
                            Seg::Select { .. } | Seg::Keyed { field: Some(_), .. } => {
                                return Lookup::Missing;
                            }
                            Seg::Dynamic(p) | Seg::Keyed { key: p, .. } => {
                                match p.lookup(ctx, scope, rows, None) {
                                    Lookup::Found(v) => match key_text(v) {
                                        Some(k) => k,
                                        None => return Lookup::Missing,
                                    },
                                    Lookup::Missing => return Lookup::Missing,
                                    Lookup::Unknown(e) => return Lookup::Unknown(e),
                                }
                            }
                        };
                        if let Some(r) = resolved.as_deref_mut() {
                            let _ = write!(r, "[{key:?}]");
                        }
                        match entry(map, key.as_ref()) {
                            Some(f) => match fetched(f, what) {
                                Ok(Some(v)) => v,
                                Ok(None) => return Lookup::Missing,
                                Err(e) => return Lookup::Unknown(e),
                            },
                            None => {
                                return Lookup::Unknown(Cow::Owned(format!(
                                    "{what} {key} was not fetched"
                                )));
                            }
                        }
                    }
                }
            }
        };
        let rest = segs.as_slice();
        for (n, seg) in rest.iter().enumerate() {
            let next = match seg {
                Seg::Field(f) => {
                    if let Some(r) = resolved.as_deref_mut() {
                        push_field(r, f);
                    }
                    current.as_object().and_then(|m| field(m, f))
                }
                Seg::Index(i) => {
                    if let Some(r) = resolved.as_deref_mut() {
                        let _ = write!(r, "[{i}]");
                    }
                    current.as_array().and_then(|a| a.get(*i))
                }
                Seg::Select { field, value } => {
                    let found = current.as_array().and_then(|a| {
                        a.iter().enumerate().find(|(_, e)| {
                            e.as_object()
                                .and_then(|m| self::field(m, field))
                                .and_then(Value::as_str)
                                == Some(value.as_ref())
                        })
                    });
                    if let Some(r) = resolved.as_deref_mut() {
                        match found {
                            Some((i, _)) => {
                                let _ = write!(r, "[{i}]");
                            }
                            None => {
                                let _ = write!(r, "[{field}={value}]");
                            }
                        }
                    }
                    found.map(|(_, e)| e)
                }
                Seg::Keyed { field, key } => {
                    let key = match key.lookup(ctx, scope, rows, None) {
                        Lookup::Found(k) => k,
                        Lookup::Missing => return Lookup::Missing,
                        Lookup::Unknown(e) => return Lookup::Unknown(e),
                    };
                    let found = key_text(key).and_then(|k| keyed(current, field.as_deref(), &k));
                    if let Some(r) = resolved.as_deref_mut() {
                        match found {
                            Some(Keyed::Index(i, _)) => {
                                let _ = write!(r, "[{i}]");
                            }
                            Some(Keyed::Key(k, _)) => push_field(r, k),
                            Some(Keyed::Whole(_)) => {}
                            None => {
                                let _ = write!(
                                    r,
                                    "[{}={}]",
                                    field.as_deref().unwrap_or(""),
                                    key_text(key).as_deref().unwrap_or("?")
                                );
                            }
                        }
                    }
                    found.map(|f| match f {
                        Keyed::Index(_, v) | Keyed::Key(_, v) | Keyed::Whole(v) => v,
                    })
                }
                Seg::Dynamic(p) => {
                    let key = match p.lookup(ctx, scope, rows, None) {
                        Lookup::Found(k) => k,
                        Lookup::Missing => return Lookup::Missing,
                        Lookup::Unknown(e) => return Lookup::Unknown(e),
                    };
                    match key {
                        Value::String(s) => {
                            if let Some(r) = resolved.as_deref_mut() {
                                push_field(r, s);
                            }
                            current.as_object().and_then(|m| m.get(s.as_str()))
                        }
                        Value::Number(n) => {
                            if let Some(r) = resolved.as_deref_mut() {
                                let _ = write!(r, "[{n}]");
                            }
                            n.as_u64()
                                .and_then(|i| current.as_array().and_then(|a| a.get(i as usize)))
                        }
                        _ => None,
                    }
                }
            };
            match next {
                Some(v) => current = v,
                None => {
                    if let Some(r) = resolved.as_deref_mut() {
                        for unreached in &rest[n + 1..] {
                            push_seg_text(r, unreached);
                        }
                    }
                    return Lookup::Missing;
                }
            }
        }
        Lookup::Found(current)
    }

    /// `(scope slot, field number)` when the path is one numbered field of a
    /// variable (`item.action`): its value is then the element row's.
    #[inline]
    pub(crate) fn var_field(&self) -> Option<(usize, u16)> {
        match (&self.start, self.first_field) {
            (Start::Var(slot), Some(field)) if self.segs.len() == 1 => Some((*slot, field)),
            _ => None,
        }
    }

    /// The root this path (or a dynamic key inside it) reads, when it starts at one.
    pub(crate) fn roots(&self, out: &mut Vec<Root>) {
        if let Start::Root(r) = self.start {
            out.push(r);
        }
        for s in &self.segs {
            if let Seg::Dynamic(p) | Seg::Keyed { key: p, .. } = s {
                p.roots(out);
            }
        }
    }
}

/// What a keyed step found: an array element by index, or a map entry.
enum Keyed<'a> {
    Index(usize, &'a Value),
    Key(&'a str, &'a Value),
    Whole(&'a Value),
}

/// The step `[field=key]` (or `[=key]` when `field` is `None`) from `current`.
fn keyed<'a>(current: &'a Value, field: Option<&str>, key: &str) -> Option<Keyed<'a>> {
    let matches = |v: &Value| key_text(v).is_some_and(|t| t == key);
    match (current, field) {
        (Value::Array(a), Some(f)) => a
            .iter()
            .enumerate()
            .find(|(_, e)| {
                e.as_object()
                    .and_then(|m| self::field(m, f))
                    .is_some_and(matches)
            })
            .map(|(i, e)| Keyed::Index(i, e)),
        (Value::Array(a), None) => a
            .iter()
            .enumerate()
            .find(|(_, e)| matches(e))
            .map(|(i, e)| Keyed::Index(i, e)),
        (Value::Object(m), None) => m.get_key_value(key).map(|(k, v)| Keyed::Key(k.as_str(), v)),
        // A record is its own only candidate: `sku[id=$item.skuId]` is the
        // SKU when its id is the item's skuId (how a quantifier's element is
        // compared with another value).
        (Value::Object(m), Some(f)) => self::field(m, f)
            .is_some_and(matches)
            .then_some(Keyed::Whole(current)),
        _ => None,
    }
}

/// Writes a segment as written (for the unreached rest of a missing path).
fn push_seg_text(out: &mut String, seg: &Seg) {
    match seg {
        Seg::Field(f) => push_field(out, f),
        Seg::Index(i) => {
            let _ = write!(out, "[{i}]");
        }
        Seg::Select { field, value } => {
            let _ = write!(out, "[{field}={value}]");
        }
        Seg::Dynamic(p) => {
            let _ = write!(out, "[{}]", p.text);
        }
        Seg::Keyed { field, key } => {
            let _ = write!(out, "[{}=${}]", field.as_deref().unwrap_or(""), key.text);
        }
    }
}

fn push_field(out: &mut String, field: &str) {
    if !field.is_empty() && field.bytes().all(is_ident) {
        out.push('.');
        out.push_str(field);
    } else {
        let _ = write!(out, "[{field:?}]");
    }
}

/// Objects with at most this many fields are searched by a scan comparing
/// lengths first: cheaper than `BTreeMap`'s ordered search, which calls
/// `memcmp` for every key it passes (ION's objects have 2–20 fields).
const SCAN_FIELDS: usize = 24;

/// The value of field `key` of `m`.
#[inline]
fn field<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    if m.len() <= SCAN_FIELDS {
        m.iter().find_map(|(k, v)| (k.as_str() == key).then_some(v))
    } else {
        m.get(key)
    }
}

/// The entry `key` of a map of fetched resources. A check's maps hold a
/// few entries (one per distinct product or UPDATE), read for every item by
/// several rules: a scan comparing lengths first calls `memcmp` only on a
/// key of the right length, where `BTreeMap`'s ordered search calls it for
/// every key it passes (product ids share long prefixes).
#[inline]
fn entry<'m>(map: &'m BTreeMap<String, Fetched>, key: &str) -> Option<&'m Fetched> {
    if map.len() <= SCAN_FIELDS {
        map.iter()
            .find_map(|(k, v)| (k.as_str() == key).then_some(v))
    } else {
        map.get(key)
    }
}

fn fetched<'a>(f: &'a Fetched, what: &str) -> Result<Option<&'a Value>, Cow<'a, str>> {
    match f {
        Fetched::Present { value: Value::Null } => Err(Cow::Owned(format!(
            "{what} unavailable: {}",
            crate::context::NULL_RESOURCE
        ))),
        Fetched::Present { value } => Ok(Some(value)),
        Fetched::Absent => Ok(None),
        Fetched::Unavailable { reason } => Err(Cow::Owned(format!("{what} unavailable: {reason}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_segment_kind() {
        let p =
            parse(r#"products[item.productId].definition.skus[0].x[name=domainName]["odd key"]"#)
                .unwrap();
        assert_eq!(p.head, "products");
        assert_eq!(
            p.segs,
            vec![
                RawSeg::Dynamic(RawPath {
                    head: "item".into(),
                    segs: vec![RawSeg::Field("productId".into())]
                }),
                RawSeg::Field("definition".into()),
                RawSeg::Field("skus".into()),
                RawSeg::Index(0),
                RawSeg::Field("x".into()),
                RawSeg::Select {
                    field: "name".into(),
                    value: "domainName".into()
                },
                RawSeg::Field("odd key".into()),
            ]
        );
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "",
            "customer.",
            "customer..x",
            "a[1",
            ".x",
            "a b",
            "a[=x]",
            "a[\"x]",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}

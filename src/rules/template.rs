//! Message templates: `"{customer.customerOrganization} is {customer.customerStatus}"`.

use super::condition::show;
use super::path::{Binding, Lookup, Path, RawPath};
use crate::context::Context;

/// A template as parsed: literal text and placeholders.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawPart {
    Text(String),
    Path {
        path: RawPath,
        fallback: Option<String>,
        /// Byte offset of the placeholder inside the template text.
        offset: usize,
    },
    /// `{LIST[*].field}`: the field of every element of a list, joined.
    Each {
        list: RawPath,
        fields: Vec<String>,
        fallback: Option<String>,
        offset: usize,
    },
    /// `{$index}`, at this byte offset.
    Index(usize),
    /// `{$number}`, at this byte offset.
    Number(usize),
}

/// A compiled part.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum Part {
    Text(Box<str>),
    Path {
        path: Path,
        fallback: Option<Box<str>>,
    },
    /// The field at `fields` of every element of `list`, joined by `, `.
    Each {
        list: Path,
        fields: Vec<Box<str>>,
        fallback: Option<Box<str>>,
    },
    Index,
    Number,
}

/// A compiled template.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Template {
    pub(crate) parts: Vec<Part>,
}

/// Parses a template; the error names the problem and its byte offset.
pub(crate) fn parse(text: &str) -> Result<Vec<RawPart>, (usize, String)> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                lit.push('}');
            }
            '}' => {
                return Err((
                    i,
                    "a lone `}` in a message: write `}}` for a literal brace".into(),
                ));
            }
            '{' => {
                let rest = &text[i + 1..];
                let Some(end) = rest.find('}') else {
                    return Err((
                        i,
                        "a `{` in a message is never closed: write `{{` for a literal brace".into(),
                    ));
                };
                let inner = &rest[..end];
                for _ in 0..inner.chars().count() + 1 {
                    chars.next();
                }
                if !lit.is_empty() {
                    parts.push(RawPart::Text(std::mem::take(&mut lit)));
                }
                let (expr, fallback) = match inner.split_once('|') {
                    Some((e, f)) => (e.trim(), Some(f.to_owned())),
                    None => (inner.trim(), None),
                };
                match expr {
                    "$index" => parts.push(RawPart::Index(i)),
                    "$number" => parts.push(RawPart::Number(i)),
                    _ if expr.contains("[*]") => {
                        let bad = |e: String| (i, format!("in placeholder `{{{inner}}}`: {e}"));
                        let (list, rest) = expr.split_once("[*]").unwrap_or((expr, ""));
                        let list = super::path::parse(list).map_err(bad)?;
                        let fields: Vec<String> = match rest.strip_prefix('.') {
                            Some(r) => r.split('.').map(str::to_owned).collect(),
                            None => Vec::new(),
                        };
                        let plain = |f: &String| {
                            !f.is_empty()
                                && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        };
                        if fields.is_empty() || !fields.iter().all(plain) {
                            return Err(bad(
                                "`[*]` must be followed by field names, as in `skus[*].id`".into(),
                            ));
                        }
                        parts.push(RawPart::Each {
                            list,
                            fields,
                            fallback,
                            offset: i,
                        });
                    }
                    _ => {
                        let path = super::path::parse(expr)
                            .map_err(|e| (i, format!("in placeholder `{{{inner}}}`: {e}")))?;
                        parts.push(RawPart::Path {
                            path,
                            fallback,
                            offset: i,
                        });
                    }
                }
            }
            other => lit.push(other),
        }
    }
    if !lit.is_empty() {
        parts.push(RawPart::Text(lit));
    }
    Ok(parts)
}

impl Template {
    /// Renders the template. `index` is the current `for_each` element's.
    pub(crate) fn render<'a>(
        &self,
        ctx: &'a Context,
        scope: &[Binding<'a>],
        index: Option<usize>,
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Index => match index {
                    Some(i) => out.push_str(&i.to_string()),
                    None => out.push_str("<no element>"),
                },
                Part::Number => match index {
                    Some(i) => out.push_str(&(i + 1).to_string()),
                    None => out.push_str("<no element>"),
                },
                Part::Each {
                    list,
                    fields,
                    fallback,
                } => {
                    let found: Vec<String> = match list.lookup(ctx, scope, None, None) {
                        Lookup::Found(serde_json::Value::Array(items)) => items
                            .iter()
                            .filter_map(|e| {
                                fields
                                    .iter()
                                    .try_fold(e, |v, f| v.get(f.as_ref()))
                                    .filter(|v| !v.is_null())
                                    .map(|v| show(v).into_owned())
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    if found.is_empty() {
                        out.push_str(fallback.as_deref().unwrap_or("none"));
                    } else {
                        out.push_str(&found.join(", "));
                    }
                }
                Part::Path { path, fallback } => match path.lookup(ctx, scope, None, None) {
                    Lookup::Found(v) => {
                        let blank = v.is_null()
                            || v.as_str().is_some_and(|s| s.trim().is_empty())
                            || v.as_array().is_some_and(Vec::is_empty)
                            || v.as_object().is_some_and(|o| o.is_empty());
                        match fallback {
                            Some(f) if blank => out.push_str(f),
                            _ => out.push_str(&show(v)),
                        }
                    }
                    // A message never widens what its rule needs: data the
                    // rule does not read may be absent or not fetched, and
                    // renders the fallback (or says which it is).
                    Lookup::Missing => match fallback {
                        Some(f) => out.push_str(f),
                        None => out.push_str("<missing>"),
                    },
                    Lookup::Unknown(_) => match fallback {
                        Some(f) => out.push_str(f),
                        None => out.push_str("<unavailable>"),
                    },
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_placeholders_fallbacks_and_escapes() {
        let parts = parse("a {{x}} {item.productId|no id} #{$number}").unwrap();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], RawPart::Text("a {x} ".into()));
        let RawPart::Path { fallback, .. } = &parts[1] else {
            panic!("{parts:?}")
        };
        assert_eq!(fallback.as_deref(), Some("no id"));
        assert_eq!(parts[2], RawPart::Text(" #".into()));
        assert_eq!(parts[3], RawPart::Number(32));
    }

    #[test]
    fn rejects_unbalanced_braces() {
        assert!(parse("a {b").is_err());
        assert!(parse("a } b").is_err());
        assert!(parse("a {b..c}").is_err());
    }
}

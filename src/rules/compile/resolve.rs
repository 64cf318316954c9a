//! Paths, variables in scope and message templates.

use std::sync::Arc;

use super::FreeVars;
use super::conditions::Compiler;
use crate::context::Root;
use crate::rules::UncheckedPath;
use crate::rules::diagnostics::{Diagnostic, SourceFile, did_you_mean};
use crate::rules::path::{self as paths, Path, RawPath, RawSeg, Seg, Start};
use crate::rules::shape::Ty;
use crate::rules::template::{self, Part, RawPart, Template};
use crate::rules::typecheck;
use crate::rules::yaml::{Node, Pos};

impl Compiler {
    pub(super) fn path_text(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        text: &str,
        scope: &mut Scope<'_>,
    ) -> Option<(Path, Ty)> {
        match paths::parse(text) {
            Ok(raw) => {
                let path = self.resolve(file, pos, &raw, text, scope)?;
                let ty = self.typed(file, pos, &raw, text, scope)?;
                Some((path, ty))
            }
            Err(e) => {
                let d = Diagnostic::at(file, pos, "bad-path", e).label("malformed path");
                self.diags.push(d);
                None
            }
        }
    }

    pub(super) fn resolve(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        raw: &RawPath,
        text: &str,
        scope: &mut Scope<'_>,
    ) -> Option<Path> {
        let start = if let Some(slot) = scope.bound.iter().rposition(|b| b == &raw.head) {
            Start::Var(slot)
        } else if let Some(root) = Root::from_name(&raw.head) {
            Start::Root(root)
        } else if let Some(free) = scope.free.as_deref_mut() {
            free.entry(raw.head.clone())
                .or_insert_with(|| (file.clone(), pos));
            Start::Var(usize::MAX)
        } else {
            let mut candidates: Vec<&str> = Root::ALL.iter().map(|r| r.name()).collect();
            candidates.extend(scope.bound.iter().map(String::as_str));
            let help = did_you_mean(&raw.head, candidates.iter().copied());
            let bound = if scope.bound.is_empty() {
                String::new()
            } else {
                format!(" nor a variable bound here ({})", scope.bound.join(", "))
            };
            let d = Diagnostic::at(
                file,
                pos,
                "unknown-root",
                format!(
                    "path `{text}` starts at `{}`, which is not a context root (request, customer, cloudProfiles, order, products){bound}",
                    raw.head
                ),
            )
            .label("unknown start")
            .help(help.unwrap_or_else(|| {
                "variables are bound by `for_each: PATH as NAME` or by a quantifier's `as: NAME`"
                    .to_owned()
            }));
            self.diags.push(d);
            return None;
        };
        if let (Start::Root(r @ (Root::Products | Root::Subscriptions)), true) =
            (start.clone(), raw.segs.is_empty())
        {
            let example = if r == Root::Products {
                "a product id, e.g. `products[item.productId]`"
            } else {
                "a subscription id, e.g. `subscriptions[item.resourceId]`"
            };
            let d = Diagnostic::at(
                file,
                pos,
                "bad-path",
                format!("path `{text}`: `{}` must be indexed by {example}", r.name()),
            );
            self.diags.push(d);
            return None;
        }
        let mut segs = Vec::with_capacity(raw.segs.len());
        for s in &raw.segs {
            segs.push(match s {
                RawSeg::Field(f) | RawSeg::Unchecked(f) => Seg::Field(f.as_str().into()),
                RawSeg::Index(i) => Seg::Index(*i),
                RawSeg::Select { field, value } => Seg::Select {
                    field: field.as_str().into(),
                    value: value.as_str().into(),
                },
                RawSeg::Dynamic(inner) => {
                    let inner_text = render_raw(inner);
                    Seg::Dynamic(Box::new(self.resolve(
                        file,
                        pos,
                        inner,
                        &inner_text,
                        scope,
                    )?))
                }
                RawSeg::Keyed { field, key } => self.resolve_keyed(file, pos, field, key, scope)?,
            });
        }
        Some(Path {
            start,
            segs,
            text: text.into(),
            first_field: None,
        })
    }

    /// Resolves a keyed step, `[field=$key]` or `[=$key]`: its key is a path
    /// of its own, starting at a root or a bound variable.
    fn resolve_keyed(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        field: &Option<String>,
        key: &RawPath,
        scope: &mut Scope<'_>,
    ) -> Option<Seg> {
        let key_text = render_raw(key);
        let key = self.resolve(file, pos, key, &key_text, scope)?;
        Some(Seg::Keyed {
            field: field.as_deref().map(Into::into),
            key: Box::new(key),
        })
    }

    /// Type-checks a resolved path; records it when it has unchecked parts.
    pub(super) fn typed(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        raw: &RawPath,
        text: &str,
        scope: &Scope<'_>,
    ) -> Option<Ty> {
        let var = |v: &str| scope_type(scope, v);
        match typecheck::path_type(raw, &var) {
            Ok(t) => {
                if t.unchecked {
                    let u = UncheckedPath {
                        file: file.name.clone(),
                        line: pos.line,
                        column: pos.column,
                        path: text.to_owned(),
                    };
                    if !self.unchecked.contains(&u) {
                        self.unchecked.push(u);
                    }
                }
                Some(t.ty)
            }
            Err(problem) => {
                self.diags.type_problem(file, pos, problem);
                None
            }
        }
    }

    pub(super) fn check_var_name(
        &mut self,
        file: &Arc<SourceFile>,
        pos: Pos,
        var: &str,
        scope: &Scope<'_>,
    ) -> Option<()> {
        let ident = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            self.diags.diag(
                file,
                pos,
                "bad-variable",
                format!("`{var}` is not a valid variable name (letters, digits, `_`)"),
            );
            return None;
        }
        if Root::from_name(var).is_some() {
            self.diags.diag(
                file,
                pos,
                "bad-variable",
                format!("`{var}` is a context root and cannot name a variable"),
            );
            return None;
        }
        if scope.bound.iter().any(|b| b == var) {
            self.diags.diag(
                file,
                pos,
                "bad-variable",
                format!("`{var}` is already bound here; choose another name"),
            );
            return None;
        }
        Some(())
    }

    pub(super) fn template(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        scope: &Scope<'_>,
        in_for_each: bool,
    ) -> Option<Template> {
        let text = self.diags.string(file, node, "`message`")?;
        let raw = match template::parse(&text) {
            Ok(r) => r,
            Err((_, e)) => {
                let d = Diagnostic::at(file, node.pos, "bad-template", e).label("in this message");
                self.diags.push(d);
                return None;
            }
        };
        let mut parts = Vec::new();
        let mut ok = true;
        let mut scope = Scope {
            bound: scope.bound.clone(),
            types: scope.types.clone(),
            free: None,
        };
        for p in raw {
            parts.push(match p {
                RawPart::Text(t) => Part::Text(t.into()),
                RawPart::Index(offset) | RawPart::Number(offset) if !in_for_each => {
                    let name = if matches!(p, RawPart::Index(_)) { "$index" } else { "$number" };
                    let at = placeholder_pos(file.text(), node.pos, offset);
                    let d = Diagnostic::at(
                        file,
                        at,
                        "bad-placeholder",
                        format!("`{{{name}}}` is the position of the current `for_each` element, but this rule has no `for_each`"),
                    )
                    .label("no element here")
                    .help("add `for_each: PATH as NAME` to the rule, or leave the placeholder out");
                    self.diags.push(d);
                    ok = false;
                    continue;
                }
                RawPart::Index(_) => Part::Index,
                RawPart::Number(_) => Part::Number,
                RawPart::Each {
                    list,
                    fields,
                    fallback,
                    offset,
                } => {
                    let at = placeholder_pos(file.text(), node.pos, offset);
                    match self.each_part(file, at, &list, &fields, &mut scope) {
                        Some(list) => Part::Each {
                            list,
                            fields: fields.into_iter().map(Into::into).collect(),
                            fallback: fallback.map(Into::into),
                        },
                        None => {
                            ok = false;
                            continue;
                        }
                    }
                }
                RawPart::Path {
                    path,
                    fallback,
                    offset,
                } => {
                    let t = render_raw(&path);
                    let at = placeholder_pos(file.text(), node.pos, offset);
                    let resolved = self
                        .resolve(file, at, &path, &t, &mut scope)
                        .and_then(|p| self.typed(file, at, &path, &t, &scope).map(|_| p));
                    match resolved {
                        Some(path) => Part::Path {
                            path,
                            fallback: fallback.map(Into::into),
                        },
                        None => {
                            ok = false;
                            continue;
                        }
                    }
                }
            });
        }
        ok.then_some(Template { parts })
    }

    /// Resolves the list of a `{LIST[*].field}` placeholder, type-checking
    /// `LIST[0].field` (a list whose elements have the field).
    fn each_part(
        &mut self,
        file: &Arc<SourceFile>,
        at: Pos,
        list: &RawPath,
        fields: &[String],
        scope: &mut Scope<'_>,
    ) -> Option<Path> {
        let t = render_raw(list);
        let path = self.resolve(file, at, list, &t, scope)?;
        let mut element = list.clone();
        element.segs.push(RawSeg::Index(0));
        element
            .segs
            .extend(fields.iter().map(|f| RawSeg::Field(f.clone())));
        let et = format!("{t}[*].{}", fields.join("."));
        self.typed(file, at, &element, &et, scope)?;
        Some(path)
    }
}

/// Variables in scope while compiling a condition.
pub(super) struct Scope<'f> {
    pub(super) bound: Vec<String>,
    /// The type of each bound variable (parallel to `bound`).
    pub(super) types: Vec<Ty>,
    /// When compiling a named condition on its own: unbound names are
    /// collected here (with where they are read) instead of being errors.
    pub(super) free: Option<&'f mut FreeVars>,
}

/// The type of variable `name` when it is bound in `scope`.
pub(super) fn scope_type(scope: &Scope<'_>, name: &str) -> Option<Ty> {
    let slot = scope.bound.iter().rposition(|b| b == name)?;
    Some(scope.types.get(slot).cloned().unwrap_or(Ty::Unknown))
}

/// The position of a placeholder inside a message string: exact when the
/// string is written on one line without escapes before the placeholder,
/// else the message's own position.
fn placeholder_pos(text: &str, node: Pos, offset: usize) -> Pos {
    let Some(start) = node.offset else {
        return node;
    };
    let quoted = matches!(text.as_bytes().get(start), Some(b'"' | b'\''));
    let at = start + usize::from(quoted) + offset;
    let before = text.get(start..at).unwrap_or("\n");
    if text.as_bytes().get(at) == Some(&b'{') && !before.contains(['\n', '\\']) {
        Pos {
            line: node.line,
            column: node.column + before.chars().count() as u32,
            offset: Some(at),
            len: text[at..].find('}').map_or(1, |e| e + 1),
        }
    } else {
        node
    }
}

pub(super) fn render_raw(p: &RawPath) -> String {
    let mut s = p.head.clone();
    for seg in &p.segs {
        match seg {
            RawSeg::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            RawSeg::Unchecked(f) => {
                s.push_str(".~");
                s.push_str(f);
            }
            RawSeg::Index(i) => s.push_str(&format!("[{i}]")),
            RawSeg::Select { field, value } => s.push_str(&format!("[{field}={value}]")),
            RawSeg::Dynamic(inner) => s.push_str(&format!("[{}]", render_raw(inner))),
            RawSeg::Keyed { field, key } => s.push_str(&format!(
                "[{}=${}]",
                field.as_deref().unwrap_or(""),
                render_raw(key)
            )),
        }
    }
    s
}

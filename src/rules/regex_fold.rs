//! ASCII case folding for `matches` patterns.
//!
//! The `regex` crate folds case by Unicode under `(?i)`: `s` then matches
//! `ſ` (U+017F LATIN SMALL LETTER LONG S) and `k` matches `K` (U+212A KELVIN
//! SIGN), so `(?i)^[a-z0-9-]+\.onmicrosoft\.com$` accepts
//! `northwind-ſales.onmicroſoft.com`. Rules test identifiers (domains,
//! GUIDs, part numbers, codes), which are ASCII, so in the rule language
//! `(?i)` folds ASCII letters only: `a` matches `a` and `A`, nothing else.
//! A non-ASCII letter written under `(?i)` keeps its Unicode case variants
//! (asked for by writing it).
//!
//! `(?i-u)` is no way out: without Unicode, `.`, `[^…]`, `\S` can match
//! invalid UTF-8 and the `regex` crate refuses them on text. So the pattern
//! is rewritten instead: under `(?i)` every ASCII letter becomes the class
//! of its two cases (`[sS]`), ranges gain their other case, `[:upper:]` and
//! `[:lower:]` each other, and the `i` flag itself is dropped; then the
//! pattern is compiled as written.

use regex_syntax::ast::{
    self, Ast, ClassAsciiKind, ClassBracketed, ClassSet, ClassSetItem, ClassSetRange,
    ClassSetUnion, Flag, Flags, FlagsItem, FlagsItemKind, GroupKind, Literal, LiteralKind,
};
use regex_syntax::hir::Hir;

/// The pattern's syntax tree with ASCII-only case folding, translated to a
/// [`Hir`]; `None` when it does not parse (the caller reports `regex`'s
/// own error).
pub(crate) fn ascii_folded(pattern: &str) -> Option<Hir> {
    let mut ast = ast::parse::Parser::new().parse(pattern).ok()?;
    let mut ci = false;
    fold(&mut ast, &mut ci);
    regex_syntax::hir::translate::Translator::new()
        .translate(pattern, &ast)
        .ok()
}

/// Rewrites `ast` in place; `ci` is whether `(?i)` is in force, updated by
/// flag settings as the walk goes (they last to the end of their group).
fn fold(ast: &mut Ast, ci: &mut bool) {
    match ast {
        Ast::Flags(set) => apply_flags(&mut set.flags, ci),
        Ast::Literal(lit) if *ci => {
            let span = lit.span;
            if let Some(other) = other_case(lit.c) {
                let items = vec![
                    ClassSetItem::Literal((**lit).clone()),
                    ClassSetItem::Literal(literal(span, other)),
                ];
                *ast = Ast::class_bracketed(ClassBracketed {
                    span,
                    negated: false,
                    kind: ClassSet::Item(ClassSetItem::Union(ClassSetUnion { span, items })),
                });
            } else if !lit.c.is_ascii() {
                // Unicode folding for a non-ASCII letter, as written.
                let inner = Ast::literal((**lit).clone());
                *ast = Ast::group(ast::Group {
                    span,
                    kind: GroupKind::NonCapturing(Flags {
                        span,
                        items: vec![FlagsItem {
                            span,
                            kind: FlagsItemKind::Flag(Flag::CaseInsensitive),
                        }],
                    }),
                    ast: Box::new(inner),
                });
            }
        }
        Ast::ClassBracketed(class) if *ci => fold_set(&mut class.kind),
        Ast::Repetition(rep) => fold(&mut rep.ast, ci),
        Ast::Group(group) => {
            let mut inner = *ci;
            if let GroupKind::NonCapturing(flags) = &mut group.kind {
                apply_flags(flags, &mut inner);
            }
            fold(&mut group.ast, &mut inner);
        }
        Ast::Alternation(alt) => {
            for a in &mut alt.asts {
                fold(a, ci);
            }
        }
        Ast::Concat(concat) => {
            for a in &mut concat.asts {
                fold(a, ci);
            }
        }
        _ => {}
    }
}

/// Updates `ci` from `flags` and removes the `i` flag from them.
fn apply_flags(flags: &mut Flags, ci: &mut bool) {
    if let Some(on) = flags.flag_state(Flag::CaseInsensitive) {
        *ci = on;
    }
    flags
        .items
        .retain(|i| i.kind != FlagsItemKind::Flag(Flag::CaseInsensitive));
}

fn fold_set(set: &mut ClassSet) {
    match set {
        ClassSet::Item(item) => fold_item(item),
        ClassSet::BinaryOp(op) => {
            fold_set(&mut op.lhs);
            fold_set(&mut op.rhs);
        }
    }
}

fn fold_item(item: &mut ClassSetItem) {
    let extra: Vec<ClassSetItem> = match item {
        ClassSetItem::Literal(lit) => other_case(lit.c)
            .map(|o| ClassSetItem::Literal(literal(lit.span, o)))
            .into_iter()
            .collect(),
        ClassSetItem::Range(range) => other_case_ranges(range),
        ClassSetItem::Ascii(class) => {
            let other = match class.kind {
                ClassAsciiKind::Upper => Some(ClassAsciiKind::Lower),
                ClassAsciiKind::Lower => Some(ClassAsciiKind::Upper),
                _ => None,
            };
            match other {
                // `[[:^upper:]]` under `(?i)` would be `[^A-Za-z]`: left
                // as written rather than guessed.
                Some(kind) if !class.negated => {
                    let mut c = class.clone();
                    c.kind = kind;
                    vec![ClassSetItem::Ascii(c)]
                }
                _ => Vec::new(),
            }
        }
        ClassSetItem::Bracketed(inner) => {
            fold_set(&mut inner.kind);
            Vec::new()
        }
        ClassSetItem::Union(union) => {
            for i in &mut union.items {
                fold_item(i);
            }
            Vec::new()
        }
        _ => Vec::new(),
    };
    if extra.is_empty() {
        return;
    }
    let span = *item.span();
    let original = std::mem::replace(item, ClassSetItem::Empty(span));
    let mut items = vec![original];
    items.extend(extra);
    *item = ClassSetItem::Union(ClassSetUnion { span, items });
}

/// The other case of an ASCII letter.
fn other_case(c: char) -> Option<char> {
    if c.is_ascii_lowercase() {
        Some(c.to_ascii_uppercase())
    } else if c.is_ascii_uppercase() {
        Some(c.to_ascii_lowercase())
    } else {
        None
    }
}

/// The other case of the ASCII letters in `range`, as ranges.
fn other_case_ranges(range: &ClassSetRange) -> Vec<ClassSetItem> {
    let (lo, hi) = (range.start.c, range.end.c);
    let mut out = Vec::new();
    for (from, to) in [('a', 'z'), ('A', 'Z')] {
        let (s, e) = (lo.max(from), hi.min(to));
        if s <= e
            && let (Some(os), Some(oe)) = (other_case(s), other_case(e))
        {
            out.push(ClassSetItem::Range(ClassSetRange {
                span: range.span,
                start: literal(range.start.span, os),
                end: literal(range.end.span, oe),
            }));
        }
    }
    out
}

fn literal(span: ast::Span, c: char) -> Literal {
    Literal {
        span,
        kind: LiteralKind::Verbatim,
        c,
    }
}

#[cfg(test)]
mod tests {
    use super::ascii_folded;

    fn matches(pattern: &str, text: &str) -> bool {
        let hir = ascii_folded(pattern).expect("parses");
        regex_automata::meta::Builder::new()
            .build_from_hir(&hir)
            .expect("builds")
            .is_match(text)
    }

    #[test]
    fn case_insensitive_matching_folds_ascii_letters_only() {
        let tenant = r"(?i)^[a-z0-9]([a-z0-9-]{0,25}[a-z0-9])?\.onmicrosoft\.com$";
        assert!(matches(tenant, "Northwind-Sales.OnMicrosoft.COM"));
        assert!(!matches(
            tenant,
            "northwind-\u{17f}ales.onmicro\u{17f}oft.com"
        ));
        assert!(!matches(tenant, "\u{212a}ontoso.onmicrosoft.com"));
        assert!(!matches(
            "(?i)^cfq7ttc0",
            "CFQ7TTC0".replace('C', "\u{212a}").as_str()
        ));
        assert!(matches("(?i)^cfq7ttc0", "CFQ7TTC0LFLZ"));
        // Scopes: `(?i:…)`, `(?-i)`, flags set mid-pattern.
        assert!(matches("a(?i:b)c", "aBc"));
        assert!(!matches("a(?i:b)c", "aBC"));
        assert!(matches("(?i)a(?-i)b", "Ab"));
        assert!(!matches("(?i)a(?-i)b", "AB"));
        // Classes: ranges, negation, POSIX classes.
        assert!(matches("(?i)^[^a-z]$", "1"));
        assert!(!matches("(?i)^[^a-z]$", "Q"));
        assert!(matches("(?i)^[[:upper:]]+$", "abc"));
        // Without `(?i)` nothing changes; non-ASCII letters written under
        // `(?i)` keep their Unicode case variants.
        assert!(!matches("^abc$", "ABC"));
        assert!(matches("(?i)^é$", "É"));
        assert!(matches(r"(?i)^\w+$", "ſ"), "\\w is Unicode as before");
    }
}

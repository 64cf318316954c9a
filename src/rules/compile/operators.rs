//! Operator matching: one test on a value, its argument checked and
//! compiled.

use std::sync::Arc;

use regex::RegexBuilder;

use super::conditions::Compiler;
use super::nodes::get;
use super::resolve::Scope;
use crate::rules::condition::{Cmp, Cond, Quantifier, Test, TypeName, When};
use crate::rules::diagnostics::{Diagnostic, SourceFile, did_you_mean};
use crate::rules::operator::{Family, Operator};
use crate::rules::path::Path;
use crate::rules::pattern::Pattern;
use crate::rules::shape::Ty;
use crate::rules::typecheck;
use crate::rules::yaml::{Key, Node, NodeValue};

/// Longest `now±N` offset: 10,000 years of 366 days.
const MAX_RELATIVE_SECONDS: i64 = 10_000 * 366 * 86_400;
const MAX_REGEX_SIZE: usize = 1 << 20;
/// Longest `matches:` pattern accepted: refused before compiling, so a
/// hostile file cannot make the compiler work through megabytes.
const MAX_PATTERN_BYTES: usize = 16 * 1024;

impl Compiler {
    /// A test on the value at `path` (its text `path_text`): exactly one
    /// operator, or comparisons of one family, with its argument checked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn value_test(
        &mut self,
        file: &Arc<SourceFile>,
        node: &Node,
        entries: &[(Key, Node)],
        path: Option<(Path, Ty)>,
        path_text: &str,
        subject_keys: &[&str],
        scope: &mut Scope<'_>,
        depth: usize,
        expanding: &mut Vec<String>,
    ) -> Option<Cond> {
        const MODIFIERS: [&str; 3] = ["as", "ignore_case", "description"];
        let mut ops: Vec<(Operator, &Key, &Node)> = Vec::new();
        for (k, v) in entries {
            if let Some(op) = Operator::parse(&k.name) {
                ops.push((op, k, v));
            } else if !subject_keys.contains(&k.name.as_str())
                && !MODIFIERS.contains(&k.name.as_str())
            {
                // Listed only when needed: most conditions have no unknown key.
                let mut allowed: Vec<&str> = subject_keys.to_vec();
                allowed.extend(MODIFIERS);
                for name in Operator::names() {
                    allowed.push(name);
                }
                self.diags.unknown_operator(file, k, &allowed);
                return None;
            }
        }
        if ops.is_empty() {
            let d = Diagnostic::at(
                file,
                node.pos,
                "missing-operator",
                format!("the condition on `{path_text}` has no operator"),
            )
            .help("add one, e.g. `non_empty: true`, `equals: …`, `one_of: […]`, `matches: …`");
            self.diags.push(d);
            return None;
        }
        let (op, op_key, op_node) = ops[0];
        let first = op.name();
        for (other, k, _) in &ops[1..] {
            if op.family() == Family::Alone || other.family() != op.family() {
                let d = Diagnostic::at(
                    file,
                    k.pos,
                    "conflicting-operators",
                    format!("`{}` and `{}` cannot share one condition", first, k.name),
                )
                .label("second operator")
                .help("combine separate conditions with `all:` or `any:`");
                self.diags.push(d);
                return None;
            }
        }
        let ignore_case = match get(entries, "ignore_case") {
            Some(n) => {
                let b = self.diags.boolean(file, n, "`ignore_case`")?;
                if !op.takes_ignore_case() {
                    let d = Diagnostic::at(file, n.pos, "misplaced-key", format!("`ignore_case` does not apply to `{first}`"))
                        .help("it applies to equals, not_equals, one_of, not_one_of and contains; for `matches` use `(?i)` in the pattern");
                    self.diags.push(d);
                    return None;
                }
                b
            }
            None => false,
        };
        let (path, ty) = match path {
            Some((p, t)) => (Some(p), Some(t)),
            None => (None, None),
        };
        let mut element = Ty::Unknown;
        if let Some(ty) = &ty {
            match typecheck::operator(op, path_text, ty) {
                Ok(e) => element = e.unwrap_or(Ty::Unknown),
                Err(problem) => {
                    self.diags.type_problem(file, op_key.pos, problem);
                    return None;
                }
            }
        }
        let as_node = get(entries, "as");
        if op.is_quantifier() {
            let Some(as_node) = as_node else {
                let d = Diagnostic::at(file, op_key.pos, "missing-key", format!("`{first}` needs `as: NAME` to name the current element"))
                    .help("for example `{ path: cloudProfiles, as: profile, some: { path: profile.enabled, equals: true } }`");
                self.diags.push(d);
                return None;
            };
            let var = self.diags.string(file, as_node, "`as`")?;
            self.check_var_name(file, as_node.pos, &var, scope)?;
            scope.bound.push(var);
            scope.types.push(element);
            let body = self.cond(file, op_node, scope, depth + 1, expanding);
            scope.bound.pop();
            scope.types.pop();
            let kind = match op {
                Operator::Some => Quantifier::Some,
                Operator::Every => Quantifier::Every,
                _ => Quantifier::None,
            };
            return Some(Cond::Quant {
                path: path?,
                kind,
                body: Box::new(body?),
            });
        }
        if let Some(n) = as_node {
            let d = Diagnostic::at(
                file,
                n.pos,
                "misplaced-key",
                "`as` only goes with `some`, `every` or `none`".to_owned(),
            );
            self.diags.push(d);
            return None;
        }
        let (test, negate, expected): (Test, bool, String) = match op {
            Operator::Exists | Operator::Null | Operator::Empty | Operator::NonEmpty => {
                let b = self.diags.boolean(file, op_node, &format!("`{first}`"))?;
                let test = match op {
                    Operator::Exists => Test::Exists,
                    Operator::Null => Test::Null,
                    Operator::Empty => Test::Empty,
                    _ => Test::NonEmpty,
                };
                (test, !b, op.words().to_owned())
            }
            Operator::Equals | Operator::NotEquals => {
                let value = self.diags.literal(file, op_node, first)?;
                let exp = format!("{} {}{}", op.words(), value, case_note(ignore_case));
                (
                    Test::Equals { value, ignore_case },
                    op == Operator::NotEquals,
                    exp,
                )
            }
            Operator::OneOf | Operator::NotOneOf => {
                let items = self.diags.list(file, op_node, first);
                if items.is_empty() {
                    self.diags.diag(
                        file,
                        op_node.pos,
                        "empty-list",
                        format!("`{first}` needs at least one value"),
                    );
                    return None;
                }
                let mut values = Vec::new();
                for i in items {
                    values.push(self.diags.literal(file, i, "a value")?);
                }
                let shown: Vec<String> = values
                    .iter()
                    .map(|v| crate::rules::condition::show(v).into_owned())
                    .collect();
                let exp = format!(
                    "{} [{}]{}",
                    op.words(),
                    shown.join(", "),
                    case_note(ignore_case)
                );
                let mut strings: Vec<Box<str>> = values
                    .iter()
                    .filter_map(|v| v.as_str().map(Box::from))
                    .collect();
                strings.sort_unstable();
                (
                    Test::OneOf {
                        values,
                        strings: strings.into_boxed_slice(),
                        ignore_case,
                    },
                    op == Operator::NotOneOf,
                    exp,
                )
            }
            Operator::Matches => {
                let pattern = self.diags.string(file, op_node, "`matches`")?;
                if pattern.len() > MAX_PATTERN_BYTES {
                    let d = Diagnostic::at(
                        file,
                        op_node.pos,
                        "bad-regex",
                        format!(
                            "the regular expression is {} bytes long; patterns are limited to {MAX_PATTERN_BYTES}",
                            pattern.len()
                        ),
                    )
                    .label("this pattern");
                    self.diags.push(d);
                    return None;
                }
                if let Some((message, help)) =
                    crate::rules::diagnostics::control_character_in_pattern(&pattern)
                {
                    let d = Diagnostic::at(file, op_node.pos, "bad-regex", message)
                        .label("this pattern")
                        .help(help);
                    self.diags.push(d);
                    return None;
                }
                // A named condition is compiled again at every use, and files
                // repeat patterns: compile each pattern once per load (a
                // `Regex` clone shares the compiled program).
                let built = match self.regexes.get(&pattern) {
                    Some(re) => Ok(re.clone()),
                    None => build_regex(&pattern).inspect(|re| {
                        self.regexes.insert(pattern.clone(), re.clone());
                    }),
                };
                match built {
                    Ok(re) => (
                        Test::Matches(Pattern::compiled(&pattern, re)),
                        false,
                        format!("{} /{pattern}/", op.words()),
                    ),
                    Err(e) => {
                        let msg = e.to_string();
                        let short = msg.lines().last().unwrap_or(&msg).trim();
                        let short = short.strip_prefix("error: ").unwrap_or(short).to_owned();
                        let d = Diagnostic::at(file, op_node.pos, "bad-regex", format!("invalid regular expression: {short}"))
                            .label("this pattern")
                            .help("patterns use the `regex` crate's syntax (no look-around, no back-references)");
                        self.diags.push(d);
                        return None;
                    }
                }
            }
            Operator::Contains => {
                let value = self.diags.literal(file, op_node, "contains")?;
                let exp = format!("{} {}{}", op.words(), value, case_note(ignore_case));
                (Test::Contains { value, ignore_case }, false, exp)
            }
            Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte => {
                let mut cmps = Vec::new();
                for (o, k, v) in &ops {
                    let n = self.diags.number(file, v, &format!("`{}`", k.name))?;
                    cmps.push((o.cmp()?, n));
                }
                let exp = comparisons_text(op, &cmps);
                (Test::Numeric(cmps), false, exp)
            }
            Operator::Before | Operator::After | Operator::NotBefore | Operator::NotAfter => {
                let mut cmps = Vec::new();
                let mut words = Vec::new();
                for (o, k, v) in &ops {
                    let text = match &v.value {
                        NodeValue::Str(s) => s.clone(),
                        _ => {
                            let d = Diagnostic::at(
                                file,
                                v.pos,
                                "wrong-type",
                                format!(
                                    "`{}` expects `now`, `now-30d` or a date, found {}",
                                    k.name,
                                    v.value.kind()
                                ),
                            );
                            self.diags.push(d);
                            return None;
                        }
                    };
                    let Some(when) = parse_when(&text) else {
                        let d = if crate::rules::condition::date_form(&text)
                            == Some(crate::rules::condition::DateForm::NoOffset)
                        {
                            Diagnostic::at(file, v.pos, "bad-date", format!("`{text}` has no offset, so it names no point in time (it is a different instant in every time zone)"))
                                .label("no offset")
                                .help(format!("write the offset it is meant in, e.g. `{text}Z` for UTC or `{text}+01:00`"))
                        } else {
                            Diagnostic::at(file, v.pos, "bad-date", format!("`{text}` is not `now`, `now±N(d|h|m|s)`, an RFC 3339 timestamp such as 2026-01-31T09:30:00Z or a calendar date such as 2026-01-31"))
                                .label("not a point in time")
                        };
                        self.diags.push(d);
                        return None;
                    };
                    let cmp = o.cmp()?;
                    words.push(format!("{} {}", k.name.replace('_', " "), text));
                    cmps.push((cmp, when));
                }
                (
                    Test::Date(cmps),
                    false,
                    format!("{} {}", op.words(), words.join(" and ")),
                )
            }
            Operator::Type => {
                let t = if op_node.value == NodeValue::Null {
                    "null".to_owned()
                } else {
                    self.diags.string(file, op_node, "`type`")?
                };
                let Some(tn) = TypeName::parse(&t) else {
                    let help = did_you_mean(&t, TypeName::NAMES);
                    let d = Diagnostic::at(
                        file,
                        op_node.pos,
                        "unknown-type",
                        format!(
                            "unknown type `{t}`: expected one of {}",
                            TypeName::NAMES.join(", ")
                        ),
                    )
                    .maybe_help(help);
                    self.diags.push(d);
                    return None;
                };
                (Test::Type(tn), false, format!("{} {t}", op.words()))
            }
            Operator::Length => {
                let cmps = match &op_node.value {
                    NodeValue::Int(_) | NodeValue::Float(_) => {
                        vec![(Cmp::Eq, self.diags.number(file, op_node, "`length`")?)]
                    }
                    NodeValue::Map(m) => {
                        let mut cmps = Vec::new();
                        for (k, v) in m {
                            let numeric =
                                Operator::parse(&k.name).filter(|o| o.family() == Family::Numeric);
                            let Some(numeric) = numeric else {
                                let help =
                                    did_you_mean(&k.name, Operator::NUMERIC.map(Operator::name));
                                let d = Diagnostic::at(
                                    file,
                                    k.pos,
                                    "unknown-operator",
                                    format!("`length` takes gt, gte, lt, lte; found `{}`", k.name),
                                )
                                .maybe_help(help);
                                self.diags.push(d);
                                return None;
                            };
                            cmps.push((
                                numeric.cmp()?,
                                self.diags.number(file, v, &format!("`{}`", k.name))?,
                            ));
                        }
                        if cmps.is_empty() {
                            self.diags.diag(
                                file,
                                op_node.pos,
                                "empty-list",
                                "`length` needs a number or at least one of gt, gte, lt, lte",
                            );
                            return None;
                        }
                        cmps
                    }
                    other => {
                        let d = Diagnostic::at(
                            file,
                            op_node.pos,
                            "wrong-type",
                            format!(
                                "`length` expects a number or a mapping like {{gte: 1}}, found {}",
                                other.kind()
                            ),
                        );
                        self.diags.push(d);
                        return None;
                    }
                };
                let exp = comparisons_text(op, &cmps);
                (Test::Length(cmps), false, exp)
            }
            Operator::Some | Operator::Every | Operator::None => return None,
        };
        if let Some(ty) = &ty {
            let literals: Vec<&Node> = match (&test, &op_node.value) {
                (Test::OneOf { .. }, NodeValue::Seq(items)) => items.iter().collect(),
                (Test::Equals { .. } | Test::Contains { .. }, _) => vec![op_node],
                _ => Vec::new(),
            };
            for n in literals {
                if let Err(problem) = typecheck::literal(op, path_text, ty, &n.to_json()) {
                    self.diags.type_problem(file, n.pos, problem);
                    return None;
                }
            }
        }
        let path = path?;
        let cond = Cond::Test {
            path,
            test,
            expected: expected.into_boxed_str(),
        };
        Some(if negate {
            Cond::Not(Box::new(cond))
        } else {
            cond
        })
    }
}

fn case_note(ignore_case: bool) -> &'static str {
    if ignore_case { " (ignoring case)" } else { "" }
}

/// `now`, `now-30d`, `now+12h`, or a date / timestamp.
pub(crate) fn parse_when(text: &str) -> Option<When> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("now") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Some(When::Now(jiff::SignedDuration::ZERO));
        }
        let (sign, rest) = match rest.as_bytes()[0] {
            b'+' => (1i64, rest[1..].trim()),
            b'-' => (-1i64, rest[1..].trim()),
            _ => return None,
        };
        let unit = rest.chars().last()?;
        // Digits only (no sign of their own); the unit may be any character,
        // so it is cut off by its own length.
        let digits = &rest[..rest.len() - unit.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i64 = digits.parse().ok()?;
        let secs = match unit {
            'd' => n.checked_mul(86_400)?,
            'h' => n.checked_mul(3_600)?,
            'm' => n.checked_mul(60)?,
            's' => n,
            _ => return None,
        };
        // At most 10,000 years either way: further and "now" plus the offset
        // leaves the range of timestamps, where it would silently read as
        // "now".
        if secs > MAX_RELATIVE_SECONDS {
            return None;
        }
        return Some(When::Now(jiff::SignedDuration::from_secs(sign * secs)));
    }
    crate::rules::condition::parse_date(t).map(When::At)
}

/// Compiles `pattern` for `matches`: the `regex` crate's semantics
/// (`regex::Regex::new` with a size limit), without building a full DFA up
/// front. `regex` lets regex-automata determinize every small pattern
/// eagerly (its `dfa-build` feature is on in this build, through
/// tracing-subscriber's `env-filter`), which was half the cost of compiling
/// a pattern; a rule tests a pattern against a few short strings, where the
/// lazy DFA is as fast. Rules only ask whether a pattern matches, so no
/// capture groups are compiled. Errors are `regex`'s own, word for word.
pub(crate) fn build_regex(pattern: &str) -> Result<regex_automata::meta::Regex, regex::Error> {
    use regex_automata::MatchKind;
    use regex_automata::meta;
    let config = meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(true)
        .nfa_size_limit(Some(MAX_REGEX_SIZE))
        .hybrid_cache_capacity(2 * (1 << 20))
        .dfa(false)
        // Patterns are only ever asked whether they match (`is_match`): no
        // capture groups, and no one-pass DFA (which exists to report them).
        .onepass(false)
        .which_captures(regex_automata::nfa::thompson::WhichCaptures::None);
    // `(?i)` folds ASCII letters only (see `rules::regex_fold`).
    let mut builder = meta::Builder::new();
    builder.configure(config);
    match crate::rules::regex_fold::ascii_folded(pattern) {
        Some(hir) => builder.build_from_hir(&hir),
        None => builder.build(pattern),
    }
    .map_err(|_| {
        match RegexBuilder::new(pattern)
            .size_limit(MAX_REGEX_SIZE)
            .build()
        {
            Err(e) => e,
            // Unreachable in practice: both accept the same patterns.
            Ok(_) => regex::Error::Syntax(format!("the pattern `{pattern}` could not be compiled")),
        }
    })
}

/// How a numeric or length test reads in messages: the operator's words and
/// each comparison, joined by "and" (`at least >= 1 and <= 5`).
fn comparisons_text<N: std::fmt::Display>(op: Operator, cmps: &[(Cmp, N)]) -> String {
    let parts: Vec<String> = cmps
        .iter()
        .map(|(c, n)| format!("{} {}", c.symbol(), n))
        .collect();
    format!("{} {}", op.words(), parts.join(" and "))
}

//! The operator vocabulary of the rule language, defined once: each
//! operator's key, the argument it takes, the family it may share a
//! condition with, the words other languages use for it, and a one-line
//! description. Compilation parses keys with [`Operator::parse`], type
//! checking and `rules explain` match on the enum, the unknown-operator
//! help reads the aliases, and `rules schema` generates the operators'
//! properties from [`Operator::ALL`].

use super::condition::{Cmp, Quantifier};

/// A test applied to the value at a path (`exists`, `equals`, `some`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operator {
    Exists,
    Null,
    Empty,
    NonEmpty,
    Equals,
    NotEquals,
    OneOf,
    NotOneOf,
    Matches,
    Contains,
    Gt,
    Gte,
    Lt,
    Lte,
    Type,
    Before,
    After,
    NotBefore,
    NotAfter,
    Length,
    Some,
    Every,
    None,
}

/// What an operator's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Argument {
    /// `true` or `false`.
    Boolean,
    /// One scalar: string, number, boolean or null.
    Scalar,
    /// A non-empty list of scalars.
    Scalars,
    /// A regular expression, as a string.
    Pattern,
    /// A number.
    Number,
    /// `now`, `now±N(d|h|m|s)`, an RFC 3339 timestamp or a calendar date.
    Date,
    /// A type name (or YAML's null).
    TypeName,
    /// A number, or a mapping of numeric comparisons.
    Length,
    /// A condition on each element (with `as: NAME`).
    Condition,
}

/// Which operators may share one condition: the numeric comparisons with
/// each other, the date comparisons with each other, every other operator
/// alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Alone,
    Numeric,
    Date,
}

impl Operator {
    /// Every operator, in the order documented (docs/rules.md) and listed
    /// in help texts.
    pub(crate) const ALL: [Operator; 23] = [
        Operator::Exists,
        Operator::Null,
        Operator::Empty,
        Operator::NonEmpty,
        Operator::Equals,
        Operator::NotEquals,
        Operator::OneOf,
        Operator::NotOneOf,
        Operator::Matches,
        Operator::Contains,
        Operator::Gt,
        Operator::Gte,
        Operator::Lt,
        Operator::Lte,
        Operator::Type,
        Operator::Before,
        Operator::After,
        Operator::NotBefore,
        Operator::NotAfter,
        Operator::Length,
        Operator::Some,
        Operator::Every,
        Operator::None,
    ];

    /// The numeric comparisons (also the keys of `length: { … }`).
    pub(crate) const NUMERIC: [Operator; 4] =
        [Operator::Gt, Operator::Gte, Operator::Lt, Operator::Lte];

    /// The key as written in a rule file.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Operator::Exists => "exists",
            Operator::Null => "null",
            Operator::Empty => "empty",
            Operator::NonEmpty => "non_empty",
            Operator::Equals => "equals",
            Operator::NotEquals => "not_equals",
            Operator::OneOf => "one_of",
            Operator::NotOneOf => "not_one_of",
            Operator::Matches => "matches",
            Operator::Contains => "contains",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Type => "type",
            Operator::Before => "before",
            Operator::After => "after",
            Operator::NotBefore => "not_before",
            Operator::NotAfter => "not_after",
            Operator::Length => "length",
            Operator::Some => "some",
            Operator::Every => "every",
            Operator::None => "none",
        }
    }

    /// The operator a key names, if any (exact: aliases are only hints).
    pub(crate) fn parse(key: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.name() == key)
    }

    /// Every operator's key, in [`Operator::ALL`]'s order.
    pub(crate) fn names() -> impl Iterator<Item = &'static str> {
        Operator::ALL.into_iter().map(Operator::name)
    }

    /// What the operator's value must be.
    pub(crate) fn argument(self) -> Argument {
        match self {
            Operator::Exists | Operator::Null | Operator::Empty | Operator::NonEmpty => {
                Argument::Boolean
            }
            Operator::Equals | Operator::NotEquals | Operator::Contains => Argument::Scalar,
            Operator::OneOf | Operator::NotOneOf => Argument::Scalars,
            Operator::Matches => Argument::Pattern,
            Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte => Argument::Number,
            Operator::Type => Argument::TypeName,
            Operator::Before | Operator::After | Operator::NotBefore | Operator::NotAfter => {
                Argument::Date
            }
            Operator::Length => Argument::Length,
            Operator::Some | Operator::Every | Operator::None => Argument::Condition,
        }
    }

    /// Which operators this one may share a condition with.
    pub(crate) fn family(self) -> Family {
        match self.argument() {
            Argument::Number => Family::Numeric,
            Argument::Date => Family::Date,
            _ => Family::Alone,
        }
    }

    /// A quantifier: its value is a condition on each element, named by
    /// `as`.
    pub(crate) fn is_quantifier(self) -> bool {
        self.argument() == Argument::Condition
    }

    /// Whether `ignore_case` applies (text comparisons; `matches` folds
    /// with `(?i)` in the pattern instead).
    pub(crate) fn takes_ignore_case(self) -> bool {
        matches!(
            self,
            Operator::Equals
                | Operator::NotEquals
                | Operator::OneOf
                | Operator::NotOneOf
                | Operator::Contains
        )
    }

    /// The comparison a numeric or date operator makes with its argument
    /// (the value on the left: `before` is "value < argument").
    pub(crate) fn cmp(self) -> Option<Cmp> {
        Some(match self {
            Operator::Gt | Operator::After => Cmp::Gt,
            Operator::Gte | Operator::NotBefore => Cmp::Gte,
            Operator::Lt | Operator::Before => Cmp::Lt,
            Operator::Lte | Operator::NotAfter => Cmp::Lte,
            _ => return Option::None,
        })
    }

    /// Words other languages use for this operator, for the help on an
    /// unknown key (`in` is written `one_of` here).
    pub(crate) fn aliases(self) -> &'static [&'static str] {
        match self {
            Operator::Equals => &["==", "=", "eq"],
            Operator::NotEquals => &["!=", "ne"],
            Operator::OneOf => &["in"],
            Operator::NotOneOf => &["not_in"],
            Operator::Lt => &["<"],
            Operator::Lte => &["<=", "max"],
            Operator::Gt => &[">"],
            Operator::Gte => &[">=", "min"],
            Operator::Matches => &["regex", "pattern"],
            _ => &[],
        }
    }

    /// The operator another language's word means, if any.
    pub(crate) fn from_alias(word: &str) -> Option<Operator> {
        Operator::ALL
            .into_iter()
            .find(|op| op.aliases().contains(&word))
    }

    /// How the operator reads in words, as a report's `expected` and
    /// `rules explain` begin (`equal to ACTIVE`, `every element of …`).
    /// `not_equals` and `not_one_of` read as the negation of `equals` and
    /// `one_of`.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Operator::Exists => "present",
            Operator::Null => "null",
            Operator::Empty => "empty (\"\", [] or {})",
            Operator::NonEmpty => "a non-empty value",
            Operator::Equals | Operator::NotEquals => "equal to",
            Operator::OneOf | Operator::NotOneOf => "one of",
            Operator::Matches => "a string matching",
            Operator::Contains => "containing",
            Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte => "a number",
            Operator::Type => "of type",
            Operator::Before | Operator::After | Operator::NotBefore | Operator::NotAfter => {
                "a date"
            }
            Operator::Length => "length",
            Operator::Some => "at least one element",
            Operator::Every => "every element",
            Operator::None => "no element",
        }
    }

    /// What the operator asks of the value, in one line (the rule-file
    /// schema's description of the key).
    pub(crate) fn description(self) -> &'static str {
        match self {
            Operator::Exists => "`true`: the value is present (possibly null); `false`: missing.",
            Operator::Null => "`true`: the value is present and null.",
            Operator::Empty => "`true`: \"\", [] or {}.",
            Operator::NonEmpty => "`true`: present, not null, not blank, not [] or {}.",
            Operator::Equals => "Equal to this value.",
            Operator::NotEquals => "Not equal to this value (true when missing).",
            Operator::OneOf => "Equal to one of these values.",
            Operator::NotOneOf => "Equal to none of these values.",
            Operator::Matches => {
                "A string matching this regular expression (`regex` crate syntax)."
            }
            Operator::Contains => "A string containing this text, or a list containing this value.",
            Operator::Gt => "A number greater than this.",
            Operator::Gte => "A number at least this.",
            Operator::Lt => "A number less than this.",
            Operator::Lte => "A number at most this.",
            Operator::Type => "The value's JSON type (or `date`: a string that parses as a date).",
            Operator::Before => "A date before this: `now`, `now-30d`, `now+12h`, or a date.",
            Operator::After => "A date after this.",
            Operator::NotBefore => "A date not before this.",
            Operator::NotAfter => "A date not after this.",
            Operator::Length => "The length of a string, list or object: a number, or comparisons.",
            Operator::Some => {
                "At least one element of the list satisfies the condition (`as` names the element)."
            }
            Operator::Every => "Every element satisfies the condition.",
            Operator::None => "No element satisfies the condition.",
        }
    }
}

impl From<Quantifier> for Operator {
    fn from(q: Quantifier) -> Operator {
        match q {
            Quantifier::Some => Operator::Some,
            Quantifier::Every => Operator::Every,
            Quantifier::None => Operator::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_parses_back_from_its_name_and_no_alias_is_a_name() {
        for op in Operator::ALL {
            assert_eq!(Operator::parse(op.name()), Some(op));
            for alias in op.aliases() {
                assert_eq!(Operator::parse(alias), None, "{alias}");
                assert_eq!(Operator::from_alias(alias), Some(op));
            }
        }
        let mut names: Vec<_> = Operator::names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operator::ALL.len());
    }

    #[test]
    fn only_comparisons_share_a_condition_and_only_quantifiers_bind() {
        for op in Operator::ALL {
            assert_eq!(op.cmp().is_some(), op.family() != Family::Alone, "{op:?}");
            assert_eq!(
                op.is_quantifier(),
                matches!(op, Operator::Some | Operator::Every | Operator::None)
            );
        }
        assert_eq!(Operator::NUMERIC.map(|o| o.family()), [Family::Numeric; 4]);
    }
}

//! Every operator on every kind of value, with missing, null and empty kept
//! apart.

use serde_json::json;

use super::{ctx_with, outcome_of};
use crate::report::Outcome::{self, Fail, Pass};

fn sample() -> crate::context::Context {
    ctx_with(json!({
        "s": "Contoso",
        "e": "",
        "ws": "   ",
        "n": null,
        "arr": [],
        "list": ["a", "B"],
        "obj": {},
        "num": 5,
        "float": 2.5,
        "numstr": "5",
        "yes": true,
        "d": "2026-01-31",
        "ts": "2026-06-15T11:59:59Z",
        "future": "2027-01-01",
        "notdate": "31/01/2026",
        "attrs": {"attributes": [{"name": "domainName", "value": "contoso.onmicrosoft.com"},
                                  {"name": "blank", "value": ""}]}
    }))
}

fn table(cases: &[(&str, Outcome)]) {
    let ctx = sample();
    let mut wrong = Vec::new();
    for (assert, expected) in cases {
        let got = outcome_of(assert, &ctx);
        if got != *expected {
            wrong.push(format!("{assert}: expected {expected}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn exists_null_empty_and_non_empty_are_four_different_questions() {
    table(&[
        ("{ path: customer.~s, exists: true }", Pass),
        ("{ path: customer.~n, exists: true }", Pass),
        ("{ path: customer.~e, exists: true }", Pass),
        ("{ path: customer.~nope, exists: true }", Fail),
        ("{ path: customer.~nope, exists: false }", Pass),
        ("{ path: customer.~n, exists: false }", Fail),
        ("{ path: customer.~n, null: true }", Pass),
        ("{ path: customer.~nope, null: true }", Fail),
        ("{ path: customer.~e, null: true }", Fail),
        ("{ path: customer.~nope, null: false }", Pass),
        ("{ path: customer.~s, null: false }", Pass),
        ("{ path: customer.~e, empty: true }", Pass),
        ("{ path: customer.~arr, empty: true }", Pass),
        ("{ path: customer.~obj, empty: true }", Pass),
        ("{ path: customer.~ws, empty: true }", Fail),
        ("{ path: customer.~n, empty: true }", Fail),
        ("{ path: customer.~nope, empty: true }", Fail),
        ("{ path: customer.~s, non_empty: true }", Pass),
        ("{ path: customer.~list, non_empty: true }", Pass),
        ("{ path: customer.~num, non_empty: true }", Pass),
        ("{ path: customer.~ws, non_empty: true }", Fail),
        ("{ path: customer.~e, non_empty: true }", Fail),
        ("{ path: customer.~n, non_empty: true }", Fail),
        ("{ path: customer.~nope, non_empty: true }", Fail),
        ("{ path: customer.~arr, non_empty: true }", Fail),
        ("{ path: customer.~nope, non_empty: false }", Pass),
    ]);
}

#[test]
fn equality_and_membership() {
    table(&[
        ("{ path: customer.~s, equals: Contoso }", Pass),
        ("{ path: customer.~s, equals: contoso }", Fail),
        (
            "{ path: customer.~s, equals: contoso, ignore_case: true }",
            Pass,
        ),
        ("{ path: customer.~num, equals: 5 }", Pass),
        ("{ path: customer.~num, equals: 5.0 }", Pass),
        ("{ path: customer.~numstr, equals: 5 }", Fail),
        ("{ path: customer.~yes, equals: true }", Pass),
        ("{ path: customer.~n, equals: null }", Pass),
        ("{ path: customer.~nope, equals: null }", Fail),
        ("{ path: customer.~s, not_equals: Fabrikam }", Pass),
        ("{ path: customer.~nope, not_equals: Contoso }", Pass),
        ("{ path: customer.~s, one_of: [Fabrikam, Contoso] }", Pass),
        ("{ path: customer.~s, one_of: [FABRIKAM, CONTOSO] }", Fail),
        (
            "{ path: customer.~s, one_of: [FABRIKAM, CONTOSO], ignore_case: true }",
            Pass,
        ),
        ("{ path: customer.~nope, one_of: [Contoso] }", Fail),
        ("{ path: customer.~s, not_one_of: [Fabrikam] }", Pass),
        ("{ path: customer.~s, not_one_of: [Contoso] }", Fail),
        ("{ path: customer.~list, contains: a }", Pass),
        ("{ path: customer.~list, contains: b }", Fail),
        (
            "{ path: customer.~list, contains: b, ignore_case: true }",
            Pass,
        ),
        ("{ path: customer.~s, contains: nto }", Pass),
        ("{ path: customer.~num, contains: 5 }", Fail),
    ]);
}

#[test]
fn regular_expressions_apply_to_strings_only() {
    table(&[
        ("{ path: customer.~s, matches: \"^Con\" }", Pass),
        ("{ path: customer.~s, matches: \"^con\" }", Fail),
        ("{ path: customer.~s, matches: \"(?i)^con\" }", Pass),
        ("{ path: customer.~num, matches: \"5\" }", Fail),
        ("{ path: customer.~nope, matches: \".*\" }", Fail),
        ("{ path: customer.~e, matches: \"^$\" }", Pass),
    ]);
}

#[test]
fn numbers_compare_only_as_json_numbers() {
    table(&[
        ("{ path: customer.~num, gt: 4 }", Pass),
        ("{ path: customer.~num, gt: 5 }", Fail),
        ("{ path: customer.~num, gte: 5 }", Pass),
        ("{ path: customer.~num, lt: 5 }", Fail),
        ("{ path: customer.~num, lte: 5 }", Pass),
        ("{ path: customer.~num, gte: 1, lte: 10 }", Pass),
        ("{ path: customer.~num, gte: 6, lte: 10 }", Fail),
        ("{ path: customer.~float, gt: 2 }", Pass),
        ("{ path: customer.~numstr, gt: 1 }", Fail),
        ("{ path: customer.~nope, lt: 100 }", Fail),
    ]);
}

#[test]
fn types() {
    table(&[
        ("{ path: customer.~s, type: string }", Pass),
        ("{ path: customer.~num, type: integer }", Pass),
        ("{ path: customer.~float, type: integer }", Fail),
        ("{ path: customer.~float, type: number }", Pass),
        ("{ path: customer.~numstr, type: number }", Fail),
        ("{ path: customer.~yes, type: boolean }", Pass),
        ("{ path: customer.~arr, type: array }", Pass),
        ("{ path: customer.~obj, type: object }", Pass),
        ("{ path: customer.~n, type: null }", Pass),
        ("{ path: customer.~nope, type: null }", Fail),
        ("{ path: customer.~d, type: date }", Pass),
        ("{ path: customer.~ts, type: date }", Pass),
        ("{ path: customer.~notdate, type: date }", Fail),
    ]);
}

#[test]
fn dates_compare_against_the_checks_now() {
    // now = 2026-06-15T12:00:00Z
    table(&[
        ("{ path: customer.~d, before: now }", Pass),
        ("{ path: customer.~d, not_after: now }", Pass),
        ("{ path: customer.~future, not_after: now }", Fail),
        ("{ path: customer.~future, after: now }", Pass),
        ("{ path: customer.~ts, before: now }", Pass),
        ("{ path: customer.~ts, after: now-1m }", Pass),
        ("{ path: customer.~ts, after: now-1s }", Fail),
        ("{ path: customer.~d, after: now-200d }", Pass),
        ("{ path: customer.~d, after: now-100d }", Fail),
        (
            "{ path: customer.~d, after: 2026-01-30, before: 2026-02-01 }",
            Pass,
        ),
        ("{ path: customer.~notdate, before: now }", Fail),
        ("{ path: customer.~notdate, not_before: now }", Fail),
        ("{ path: customer.~nope, before: now }", Fail),
    ]);
}

#[test]
fn length_of_strings_arrays_and_objects() {
    table(&[
        ("{ path: customer.~s, length: 7 }", Pass),
        ("{ path: customer.~s, length: { gte: 8 } }", Fail),
        ("{ path: customer.~list, length: { gte: 1, lte: 2 } }", Pass),
        ("{ path: customer.~arr, length: 0 }", Pass),
        ("{ path: customer.~obj, length: { gt: 0 } }", Fail),
        ("{ path: customer.~num, length: 1 }", Fail),
        ("{ path: customer.~nope, length: 0 }", Fail),
    ]);
}

#[test]
fn attribute_lookup_by_name() {
    table(&[
        (
            "{ attribute: domainName, of: customer.~attrs, non_empty: true }",
            Pass,
        ),
        (
            "{ attribute: domainName, of: customer.~attrs, matches: \"\\\\.onmicrosoft\\\\.com$\" }",
            Pass,
        ),
        (
            "{ attribute: blank, of: customer.~attrs, non_empty: true }",
            Fail,
        ),
        (
            "{ attribute: blank, of: customer.~attrs, exists: true }",
            Pass,
        ),
        (
            "{ attribute: nope, of: customer.~attrs, exists: true }",
            Fail,
        ),
        (
            "{ attribute: nope, of: customer.~attrs, exists: false }",
            Pass,
        ),
        (
            "{ path: \"customer.~attrs.attributes[name=domainName].value\", equals: contoso.onmicrosoft.com }",
            Pass,
        ),
    ]);
}

#[test]
fn combinators() {
    table(&[
        (
            "{ all: [{ path: customer.~s, exists: true }, { path: customer.~num, gt: 1 }] }",
            Pass,
        ),
        (
            "{ all: [{ path: customer.~s, exists: true }, { path: customer.~num, gt: 9 }] }",
            Fail,
        ),
        (
            "{ any: [{ path: customer.~nope, exists: true }, { path: customer.~num, gt: 1 }] }",
            Pass,
        ),
        (
            "{ any: [{ path: customer.~nope, exists: true }, { path: customer.~num, gt: 9 }] }",
            Fail,
        ),
        ("{ not: { path: customer.~nope, exists: true } }", Pass),
        ("{ not: { path: customer.~s, exists: true } }", Fail),
    ]);
}

#[test]
fn quantifiers_bind_the_element() {
    table(&[
        (
            "{ path: customer.~list, as: x, some: { path: x, equals: B } }",
            Pass,
        ),
        (
            "{ path: customer.~list, as: x, some: { path: x, equals: C } }",
            Fail,
        ),
        (
            "{ path: customer.~list, as: x, every: { path: x, type: string } }",
            Pass,
        ),
        (
            "{ path: customer.~list, as: x, every: { path: x, equals: a } }",
            Fail,
        ),
        (
            "{ path: customer.~list, as: x, none: { path: x, equals: C } }",
            Pass,
        ),
        (
            "{ path: customer.~list, as: x, none: { path: x, equals: a } }",
            Fail,
        ),
        (
            "{ path: customer.~arr, as: x, every: { path: x, equals: a } }",
            Pass,
        ),
        (
            "{ path: customer.~arr, as: x, some: { path: x, equals: a } }",
            Fail,
        ),
        // A missing or null list has no elements (ION leaves empty lists
        // out of its JSON): it answers exactly as `[]` does.
        (
            "{ path: customer.~nope, as: x, every: { path: x, equals: a } }",
            Pass,
        ),
        (
            "{ path: customer.~nope, as: x, none: { path: x, equals: a } }",
            Pass,
        ),
        (
            "{ path: customer.~nope, as: x, some: { path: x, equals: a } }",
            Fail,
        ),
        (
            "{ path: customer.~n, as: x, none: { path: x, equals: a } }",
            Pass,
        ),
        (
            "{ path: customer.~n, as: x, some: { path: x, equals: a } }",
            Fail,
        ),
        (
            "{ path: customer.~s, as: x, every: { path: x, equals: a } }",
            Fail,
        ),
        (
            "{ path: customer.~s, as: x, none: { path: x, equals: a } }",
            Fail,
        ),
    ]);
}

//! The rule-file JSON Schema (`rules schema`): it accepts every rule file
//! this project ships, and rejects the broken files whose problem is
//! structural (unknown keys, wrong value types, malformed conditions). Files
//! broken in ways only the loader can see (paths against the context's
//! types, references, cycles) pass the schema: it gives editors completion
//! and early errors, the loader has the last word.

use std::path::{Path, PathBuf};

use ion_preflight::rules::schema::{rule_file_instance, rule_file_schema};
use serde_json::Value;

fn validator() -> jsonschema::Validator {
    let schema = rule_file_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::draft202012::new(&schema).expect("the rule-file schema is a valid JSON Schema")
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// YAML text as the JSON instance an editor validates, read the way the
/// loader reads it (only `true`/`false` are booleans; a `null:` key is the
/// text "null").
fn to_instance(text: &str) -> Value {
    rule_file_instance(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn instance(path: &Path) -> Value {
    to_instance(&std::fs::read_to_string(path).unwrap())
}

fn errors(v: &jsonschema::Validator, path: &Path) -> Vec<String> {
    v.iter_errors(&instance(path))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_shipped_rule_file_is_valid() {
    let v = validator();
    let files: Vec<PathBuf> = yaml_files("rules")
        .into_iter()
        .chain(yaml_files("rules/tests/rules"))
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    for f in files {
        let errs = errors(&v, &f);
        assert!(errs.is_empty(), "{}: {errs:#?}", f.display());
    }
}

/// Broken files and whether the schema can see the problem. Files that are
/// not YAML (syntax errors, invalid UTF-8, refused aliases or nesting) have
/// no instance to validate.
const BROKEN: &[(&str, bool)] = &[
    ("bad-placeholders", false),
    ("bad-regex", false),
    ("conditions", true),
    ("misspelled-paths", false),
    ("requires-graph", false),
    ("roots-and-variables", false),
    ("templates", false),
    ("top-level-list", true),
    ("type-mismatches", false),
    ("undefined-references", true),
    ("unknown-keys", true),
    ("wrong-types", true),
];

const NOT_YAML: &[&str] = &["alias-bomb", "deep-nesting", "not-utf8", "yaml-syntax"];

#[test]
fn structurally_broken_files_are_rejected_and_the_others_left_to_the_loader() {
    let v = validator();
    let mut unclassified = Vec::new();
    for f in yaml_files("tests/broken-rules") {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        if NOT_YAML.contains(&name.as_str()) {
            continue;
        }
        let Some((_, structural)) = BROKEN.iter().find(|(n, _)| *n == name) else {
            unclassified.push(name);
            continue;
        };
        let errs = errors(&v, &f);
        if *structural {
            assert!(!errs.is_empty(), "{name}: the schema accepted it");
        } else {
            assert!(errs.is_empty(), "{name}: {errs:#?}");
        }
    }
    assert!(unclassified.is_empty(), "classify these: {unclassified:?}");
}

#[test]
fn the_schema_rejects_each_structural_mistake() {
    let v = validator();
    let valid = |yaml: &str| v.is_valid(&to_instance(yaml));
    let rule = |assert: &str| {
        format!(
            "rules:\n  - id: r\n    title: t\n    severity: error\n    assert: {assert}\n    message: m\n"
        )
    };
    assert!(valid(&rule(
        "{ path: customer.customerStatus, equals: ACTIVE }"
    )));
    assert!(valid(&rule(
        "{ attribute: domainName, of: item, non_empty: true }"
    )));
    assert!(valid(&rule(
        "{ path: order.orderItems, as: i, some: { all: [{ condition: x }] } }"
    )));
    assert!(valid(&rule(
        "{ path: customer.customerStatus, type: null }"
    )));
    // An unknown operator, a misspelled combinator, a wrong value type.
    assert!(!valid(&rule(
        "{ path: customer.customerStatus, equal: ACTIVE }"
    )));
    assert!(!valid(&rule(
        "{ alll: [{ path: customer, exists: true }] }"
    )));
    assert!(!valid(&rule("{ path: customer, exists: yes please }")));
    assert!(!valid(&rule(
        "{ path: customer.customerStatus, one_of: [] }"
    )));
    assert!(!valid(&rule(
        "{ path: customer.customerStatus, type: text }"
    )));
    assert!(!valid(&rule("{ all: [], any: [] }")));
    // Rule keys: severity, id, missing assert, null where a value is needed.
    assert!(!valid(
        &rule("{ path: customer, exists: true }").replace("error", "fatal")
    ));
    assert!(!valid(
        &rule("{ path: customer, exists: true }").replace("id: r", "id: Bad_Id")
    ));
    assert!(!valid(
        "rules:\n  - id: r\n    title: t\n    severity: error\n    message: m\n"
    ));
    assert!(!valid(&rule("null")));
    assert!(!valid(
        "rules: [{ id: r, title: t, severity: error, for_each: order.orderItems, assert: { path: customer, exists: true }, message: m }]"
    ));
    assert!(!valid(
        "conditions:\n  Bad_Name: { path: customer, exists: true }\n"
    ));
    assert!(!valid("overrides: { r: { severity: error, title: x } }"));
    assert!(!valid("rulez: []"));
}

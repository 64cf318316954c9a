//! JSON Schemas: of the rule-file format, for editors (`ion-preflight rules
//! schema`), and of the check's context, as derived from the ION client's
//! types.
//!
//! The rule-file schema is derived from the types below, which mirror the
//! file format key for key. They exist for the schema only: the loader reads
//! files into a position-carrying YAML tree and validates them itself, with
//! more precise messages than a schema can give (which operators may share a
//! condition, variables in scope, paths against the context's types). The
//! schema gives an editor completion and catches structural mistakes while
//! typing; a file it accepts can still be rejected by the loader.

#![allow(dead_code)] // The types are read by `schemars`, never constructed.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// The JSON Schema (draft 2020-12) of a rule file.
pub fn rule_file_schema() -> Value {
    let mut schema = schemars::schema_for!(RuleFile).to_value();
    // An absent key and a key whose value is null are different things to
    // the loader: optional keys must not accept null.
    optional_not_null(&mut schema);
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String(
                "https://github.com/ion-preflight/ion-preflight/rule-file.schema.json".into(),
            ),
        );
    }
    schema
}

/// Removes the `null` that `schemars` allows for every `Option` property.
fn optional_not_null(schema: &mut Value) {
    match schema {
        Value::Object(obj) => {
            if let Some(Value::Object(props)) = obj.get_mut("properties") {
                for prop in props.values_mut() {
                    let Some(p) = prop.as_object_mut() else {
                        continue;
                    };
                    if let Some(Value::Array(types)) = p.get_mut("type") {
                        types.retain(|t| t != "null");
                        if let [one] = types.as_slice() {
                            let one = one.clone();
                            p.insert("type".into(), one);
                        }
                    }
                    if let Some(Value::Array(alts)) = p.get("anyOf")
                        && let [only, null] = alts.as_slice()
                        && null.get("type").and_then(Value::as_str) == Some("null")
                        && let Some(only) = only.as_object()
                    {
                        let only = only.clone();
                        p.remove("anyOf");
                        for (k, v) in only {
                            p.entry(k).or_insert(v);
                        }
                    }
                }
            }
            for v in obj.values_mut() {
                optional_not_null(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(optional_not_null),
        _ => {}
    }
}

/// The JSON Schema (draft 2020-12) of the context rule paths read
/// (`request`, `customer`, `cloudProfiles`, `order`, `products`), derived
/// from the ION client's types. Rule paths are checked against it at load
/// time.
pub fn context_schema() -> Value {
    super::shape::context_schema()
}

/// A rule file's YAML text as the JSON instance [`rule_file_schema`]
/// describes, read the way the loader reads it: only `true`/`false` are
/// booleans, and every key is text (a `null:` key is the text "null").
/// `Err` carries the parser's message when the text is not YAML.
///
/// ```
/// use ion_preflight::rules::schema::rule_file_instance;
/// let json = rule_file_instance("rules:\n  - id: a\n    assert: {yes: true}\n").unwrap();
/// assert_eq!(json["rules"][0]["assert"]["yes"], true);
/// assert!(rule_file_instance("rules: [").is_err());
/// ```
pub fn rule_file_instance(text: &str) -> Result<Value, String> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    let node: super::yaml::Node =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| e.to_string())?;
    Ok(node.to_json())
}

/// An ion-preflight rule file: named conditions, rules, and how the file
/// composes with other rule sets. See docs/rules.md.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ion-preflight rule file")]
struct RuleFile {
    /// The rule set's name.
    name: Option<String>,
    /// What the rule set checks.
    description: Option<String>,
    /// Rule sets this file builds on: `builtin:default` or a path relative
    /// to this file.
    extends: Option<Vec<String>>,
    /// Named, reusable conditions by kebab-case name; a later file's
    /// definition replaces an earlier one everywhere it is used.
    #[schemars(extend("propertyNames" = { "pattern": KEBAB }))]
    conditions: Option<BTreeMap<String, Condition>>,
    /// The rules.
    rules: Option<Vec<RuleDef>>,
    /// Changes to rules defined in files this one extends, by rule id.
    #[schemars(extend("propertyNames" = { "pattern": KEBAB }))]
    overrides: Option<BTreeMap<String, Override>>,
    /// Ids of rules (from extended files) to leave out.
    disable: Option<Vec<RuleId>>,
}

/// A kebab-case name: lowercase letters and digits separated by single
/// hyphens.
#[derive(Deserialize, JsonSchema)]
#[schemars(extend("pattern" = KEBAB))]
struct KebabName(String);

/// A rule id (kebab-case; public API: reports and tests refer to it).
#[derive(Deserialize, JsonSchema)]
#[schemars(extend("pattern" = KEBAB))]
struct RuleId(String);

/// Kebab-case: lowercase letters and digits separated by single hyphens.
const KEBAB: &str = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$";

/// One rule.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    /// Stable kebab-case id, e.g. `customer-active`.
    id: RuleId,
    /// One line saying what the rule checks.
    title: String,
    /// Why the rule exists and what to do when it fails.
    description: Option<String>,
    /// `error` blocks the order; `warning` and `info` do not.
    severity: Severity,
    /// Free-form tags.
    tags: Option<Vec<String>>,
    /// A documentation link.
    docs: Option<String>,
    /// The ION error code the rule pre-empts, e.g. `COMM-VL-004`.
    preempts: Option<String>,
    /// Ids of rules that must pass first; otherwise this rule is skipped.
    requires: Option<Vec<RuleId>>,
    /// `PATH as NAME`: evaluate the rule once per element of a list.
    #[schemars(regex(pattern = r"^\S.*\sas\s+[A-Za-z_][A-Za-z0-9_]*\s*$"))]
    for_each: Option<String>,
    /// A precondition: when it does not hold the rule is skipped.
    when: Option<Condition>,
    /// What must hold for the rule to pass.
    assert: Condition,
    /// The message when the rule fails; `{path}`, `{path|fallback}`,
    /// `{$index}` and `{$number}` are filled in.
    message: String,
}

/// A rule's severity.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Severity {
    /// The order is blocked when the rule fails.
    Error,
    /// Reported, does not block (unless the caller asks warnings to block).
    Warning,
    /// Reported, never blocks.
    Info,
}

/// Changes to an existing rule.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Override {
    /// The new severity.
    severity: Option<Severity>,
}

/// A condition: a combination (`all`, `any`, `not`), a reference to a named
/// condition, a test on the value at a path, or a test on an attribute of
/// an object's `attributes` list.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum Condition {
    /// Every condition holds.
    All(AllOf),
    /// At least one condition holds.
    Any(AnyOf),
    /// The condition does not hold.
    Not(NotOf),
    /// A named condition.
    Ref(ConditionRef),
    /// A test on the value at `path`.
    Path(PathTest),
    /// A test on the attribute named `attribute` of `of`.
    Attribute(AttributeTest),
}

/// `all: [...]`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AllOf {
    /// The conditions (at least one).
    #[schemars(length(min = 1))]
    all: Vec<Condition>,
    /// A note for readers.
    description: Option<String>,
}

/// `any: [...]`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AnyOf {
    /// The conditions (at least one).
    #[schemars(length(min = 1))]
    any: Vec<Condition>,
    /// A note for readers.
    description: Option<String>,
}

/// `not: {...}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NotOf {
    /// The condition that must not hold.
    not: Box<Condition>,
    /// A note for readers.
    description: Option<String>,
}

/// `condition: name`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConditionRef {
    /// The named condition's name.
    condition: KebabName,
    /// A note for readers.
    description: Option<String>,
}

/// A test on the value at a path, e.g.
/// `{ path: customer.customerStatus, equals: ACTIVE }`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PathTest {
    /// A path into the context: starts at a root (`request`, `customer`,
    /// `cloudProfiles`, `order`, `products`) or a variable; `~name` reads a
    /// field the types do not know yet, unchecked.
    path: String,
    /// With a quantifier: the name of the current element.
    #[serde(rename = "as")]
    as_: Option<String>,
    #[serde(flatten)]
    ops: Operators,
}

/// A test on an attribute, e.g.
/// `{ attribute: domainName, of: item, non_empty: true }`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AttributeTest {
    /// The attribute's name.
    attribute: String,
    /// The object whose `attributes` list to search (e.g. `item`).
    of: String,
    #[serde(flatten)]
    ops: Operators,
}

/// The operators of a test. One per condition, except that `gt`/`gte`/
/// `lt`/`lte` may share one, and so may the date operators.
#[derive(Deserialize, JsonSchema)]
struct Operators {
    /// `true`: the value is present (possibly null); `false`: missing.
    exists: Option<bool>,
    /// `true`: the value is present and null.
    null: Option<bool>,
    /// `true`: "", [] or {}.
    empty: Option<bool>,
    /// `true`: present, not null, not blank, not [] or {}.
    non_empty: Option<bool>,
    /// Equal to this value.
    equals: Option<Scalar>,
    /// Not equal to this value (true when missing).
    not_equals: Option<Scalar>,
    /// Equal to one of these values.
    #[schemars(length(min = 1))]
    one_of: Option<Vec<Scalar>>,
    /// Equal to none of these values.
    #[schemars(length(min = 1))]
    not_one_of: Option<Vec<Scalar>>,
    /// With equals, not_equals, one_of, not_one_of, contains: compare text
    /// ignoring case.
    ignore_case: Option<bool>,
    /// A string matching this regular expression (`regex` crate syntax).
    matches: Option<String>,
    /// A string containing this text, or a list containing this value.
    contains: Option<Scalar>,
    /// A number greater than this.
    gt: Option<f64>,
    /// A number at least this.
    gte: Option<f64>,
    /// A number less than this.
    lt: Option<f64>,
    /// A number at most this.
    lte: Option<f64>,
    /// The value's JSON type (or `date`: a string that parses as a date).
    #[serde(rename = "type")]
    type_: Option<TypeOrNull>,
    /// A date before this: `now`, `now-30d`, `now+12h`, or a date.
    before: Option<String>,
    /// A date after this.
    after: Option<String>,
    /// A date not before this.
    not_before: Option<String>,
    /// A date not after this.
    not_after: Option<String>,
    /// The length of a string, list or object: a number, or comparisons.
    length: Option<Length>,
    /// At least one element of the list satisfies the condition (`as`
    /// names the element).
    some: Option<Box<Condition>>,
    /// Every element satisfies the condition.
    every: Option<Box<Condition>>,
    /// No element satisfies the condition.
    none: Option<Box<Condition>>,
    /// A note for readers.
    description: Option<String>,
}

/// A single value: string, number, boolean or null.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum Scalar {
    /// Text.
    String(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// null.
    Null(()),
}

/// `type: string`, …, or `type: null` (YAML's null).
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum TypeOrNull {
    /// A type by name.
    Name(TypeName),
    /// The JSON null type, written as YAML's null.
    Null(()),
}

/// What `type:` can ask for.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum TypeName {
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// A number without fraction.
    Integer,
    /// true or false.
    Boolean,
    /// A list.
    Array,
    /// An object.
    Object,
    /// null.
    Null,
    /// A string that parses as an RFC 3339 timestamp or a calendar date.
    Date,
}

/// `length: 3` or `length: { gte: 1, lte: 10 }`.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum Length {
    /// Exactly this length.
    Exactly(f64),
    /// Comparisons.
    Compare(LengthCmp),
}

/// Comparisons on a length (at least one).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
struct LengthCmp {
    /// Longer than this.
    gt: Option<f64>,
    /// At least this long.
    gte: Option<f64>,
    /// Shorter than this.
    lt: Option<f64>,
    /// At most this long.
    lte: Option<f64>,
}

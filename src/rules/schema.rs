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
use serde_json::{Value, json};

use super::operator::{Argument, Operator};

/// The JSON Schema (draft 2020-12) of a rule file.
pub fn rule_file_schema() -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    // The operators' arguments, referred to by `operator_properties`.
    let _ = generator.subschema_for::<Scalar>();
    let _ = generator.subschema_for::<TypeOrNull>();
    let _ = generator.subschema_for::<Length>();
    let mut schema = generator.into_root_schema_for::<RuleFile>().to_value();
    for test in ["PathTest", "AttributeTest"] {
        if let Some(Value::Object(props)) = schema.pointer_mut(&format!("/$defs/{test}/properties"))
        {
            props.extend(operator_properties());
        }
    }
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
    modifiers: Modifiers,
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
    modifiers: Modifiers,
}

/// The keys of a test beside its subject and operators. The operators
/// themselves (`exists`, `equals`, …) are added to the schema from
/// [`Operator::ALL`] by [`operator_properties`]: one vocabulary for the
/// loader, the type checker and the schema.
#[derive(Deserialize, JsonSchema)]
struct Modifiers {
    /// With equals, not_equals, one_of, not_one_of, contains: compare text
    /// ignoring case.
    ignore_case: Option<bool>,
    /// A note for readers.
    description: Option<String>,
}

/// The schema of every operator's key, from the operator vocabulary: its
/// argument's type and its one-line description. One per condition, except
/// that `gt`/`gte`/`lt`/`lte` may share one, and so may the date operators.
fn operator_properties() -> serde_json::Map<String, Value> {
    let scalar = json!({ "$ref": "#/$defs/Scalar" });
    Operator::ALL
        .into_iter()
        .map(|op| {
            let mut schema = match op.argument() {
                Argument::Boolean => json!({ "type": "boolean" }),
                Argument::Scalar => scalar.clone(),
                Argument::Scalars => {
                    json!({ "type": "array", "items": scalar.clone(), "minItems": 1 })
                }
                Argument::Pattern | Argument::Date => json!({ "type": "string" }),
                Argument::Number => json!({ "type": "number" }),
                Argument::TypeName => json!({ "$ref": "#/$defs/TypeOrNull" }),
                Argument::Length => json!({ "$ref": "#/$defs/Length" }),
                Argument::Condition => json!({ "$ref": "#/$defs/Condition" }),
            };
            schema["description"] = Value::String(op.description().to_owned());
            (op.name().to_owned(), schema)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema's operators are the loader's: every operator, with its
    /// description, on both kinds of test, and nothing else but the
    /// subject and modifier keys.
    #[test]
    fn the_operator_properties_come_from_the_operator_vocabulary() {
        let schema = rule_file_schema();
        for test in ["PathTest", "AttributeTest"] {
            let props = schema
                .pointer(&format!("/$defs/{test}/properties"))
                .and_then(Value::as_object)
                .unwrap_or_else(|| panic!("{test} has properties: {schema:#}"));
            for op in Operator::ALL {
                assert_eq!(
                    props[op.name()]["description"],
                    op.description(),
                    "{test}.{}",
                    op.name()
                );
            }
            let others: Vec<&str> = props
                .keys()
                .map(String::as_str)
                .filter(|k| Operator::parse(k).is_none())
                .collect();
            let expected: &[&str] = if test == "PathTest" {
                &["path", "as", "ignore_case", "description"]
            } else {
                &["attribute", "of", "ignore_case", "description"]
            };
            let mut others = others;
            others.sort_unstable();
            let mut expected = expected.to_vec();
            expected.sort_unstable();
            assert_eq!(others, expected, "{test}");
            assert_eq!(
                schema.pointer(&format!("/$defs/{test}/additionalProperties")),
                Some(&Value::Bool(false)),
                "{test} refuses unknown keys"
            );
        }
    }
}

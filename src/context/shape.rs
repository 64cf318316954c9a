//! The shape of the check's context, derived once from the Rust types the ION
//! client deserializes into (their `schemars` JSON Schemas), so rule paths
//! can be checked at load time against the same description the client
//! uses.
//!
//! The types keep fields they do not name in a flattened `extra` map; that
//! map is how the client survives fields ION adds, not a promise that any
//! field exists, so in a shape every record is closed: a field the types do
//! not name is unknown (rule files reach such fields with `~name`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, LazyLock};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::ion::{
    CloudProfile, CreateCustomerRequest, Customer, ListedCustomer, OrderRequest, PlacedOrder,
    Product, Subscription,
};

/// The `request` root: the ids the check was asked about.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Request")]
pub(crate) struct RequestRoot {
    /// The reseller account.
    pub(crate) account_id: u64,
    /// The customer being checked (left out for a new customer, which has
    /// no id yet: ids start at 1).
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) customer_id: u64,
}

fn is_zero(id: &u64) -> bool {
    *id == 0
}

/// The `payloadList` root: where a payload stands in a list checked
/// together.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "PayloadList")]
pub(crate) struct PayloadListRoot {
    /// The payload's 1-based line in the list.
    pub(crate) line: u64,
    /// The lines of earlier payloads of the list with the same email
    /// (ignoring case): once the first is created, ION refuses the others
    /// with `CUS-CR-001`.
    pub(crate) same_email_lines: Vec<u64>,
}

/// The `customerSubscriptions` root: the customer's subscriptions as far as
/// the bounded scan looked.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SubscriptionScan")]
pub(crate) struct SubscriptionScan {
    /// The subscriptions found.
    pub(crate) subscriptions: Vec<Subscription>,
    /// How many subscriptions the scan read.
    pub(crate) scanned: u64,
    /// The most it reads.
    pub(crate) limit: u64,
    /// Whether it read all of the customer's subscriptions.
    pub(crate) complete: bool,
}

/// The `placedOrders` root: the customer's orders, newest first, as far as
/// the bounded scan looked.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "OrderScan")]
pub(crate) struct OrderScan {
    /// The orders found, newest first.
    pub(crate) orders: Vec<PlacedOrder>,
    /// How many orders the scan read.
    pub(crate) scanned: u64,
    /// The most it reads.
    pub(crate) limit: u64,
    /// Whether it read all of the customer's orders.
    pub(crate) complete: bool,
}

/// Every root a rule path can start from, with the type it holds.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "ion-preflight check context",
    description = "What rule paths read: the request, ION's customer, its cloud profiles, the order body, product details by product id, a new customer's payload with the customers sharing its email or organization, ISO 3166 countries and the payload's place in a list."
)]
#[allow(dead_code)] // only its schema is used
struct ContextRoots {
    /// `{accountId, customerId}` of the check.
    request: RequestRoot,
    /// ION's customer resource.
    customer: Customer,
    /// The customer's cloud profiles.
    cloud_profiles: Vec<CloudProfile>,
    /// The order body about to be POSTed.
    order: OrderRequest,
    /// Catalog product details by product id.
    products: BTreeMap<String, Product>,
    /// The account's subscriptions with a provider subscription id, by the
    /// id (the UPDATE items' `resourceId`).
    subscriptions: BTreeMap<String, Vec<Subscription>>,
    /// The customer's subscriptions.
    customer_subscriptions: SubscriptionScan,
    /// The customer's orders already placed, newest first.
    placed_orders: OrderScan,
    /// The new customer's payload.
    new_customer: CreateCustomerRequest,
    /// The account's customers with the new customer's email.
    customers_with_email: Vec<ListedCustomer>,
    /// The account's customers with the new customer's organization name.
    customers_with_organization: Vec<ListedCustomer>,
    /// ISO 3166 countries by alpha-2 code.
    countries: BTreeMap<String, crate::reference::Country>,
    /// Where the payload stands in a list of payloads.
    payload_list: PayloadListRoot,
}

/// The JSON Schema (draft 2020-12) of the check's context, as derived from
/// the client's types.
pub(crate) fn context_schema() -> Value {
    schemars::schema_for!(ContextRoots).to_value()
}

/// A record type: a closed set of named fields.
#[derive(Debug)]
pub(crate) struct Record {
    /// The type's name (`Customer`, `OrderItem`, …).
    pub(crate) name: String,
    /// Fields by their JSON name.
    pub(crate) fields: BTreeMap<String, Ty>,
}

/// The static type of a value in the context. Every field may also be
/// missing or null: ION omits empty fields.
#[derive(Clone, Debug)]
pub(crate) enum Ty {
    String,
    Integer,
    Number,
    Boolean,
    Array(Box<Ty>),
    /// String keys to values of one type (`products`).
    Map(Box<Ty>),
    Record(Arc<Record>),
    /// Declared as arbitrary JSON (`serde_json::Value`): its inside has no
    /// shape, so reading into it needs the `~` escape.
    Opaque,
    /// Beneath a `~` segment: not checked.
    Unchecked,
    /// Not known at this point (a variable of a named condition checked on
    /// its own): not checked here, but wherever the condition is used.
    Unknown,
}

impl Ty {
    /// Whether nothing is known about the type, so no check applies.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self, Ty::Opaque | Ty::Unchecked | Ty::Unknown)
    }

    /// The record's field `name`, when this is a record that has it.
    pub(crate) fn field(&self, name: &str) -> Option<&Ty> {
        match self {
            Ty::Record(r) => r.fields.get(name),
            _ => None,
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::String => f.write_str("a string"),
            Ty::Integer => f.write_str("an integer"),
            Ty::Number => f.write_str("a number"),
            Ty::Boolean => f.write_str("a boolean"),
            Ty::Array(e) => match &**e {
                Ty::Record(r) => write!(f, "a list of {}", r.name),
                Ty::String => f.write_str("a list of strings"),
                Ty::Integer | Ty::Number => f.write_str("a list of numbers"),
                _ => f.write_str("a list"),
            },
            Ty::Map(v) => match &**v {
                Ty::Record(r) => write!(f, "a map of {} by key", r.name),
                _ => f.write_str("a map"),
            },
            Ty::Record(r) => f.write_str(&with_article(&r.name)),
            Ty::Opaque => f.write_str("arbitrary JSON"),
            Ty::Unchecked | Ty::Unknown => f.write_str("an unchecked value"),
        }
    }
}

/// "an OrderItem", "a Customer".
pub(crate) fn with_article(name: &str) -> String {
    let vowel = name
        .chars()
        .next()
        .is_some_and(|c| "AEIOUaeiou".contains(c));
    format!("{} {name}", if vowel { "an" } else { "a" })
}

/// The context's roots and their types.
pub(crate) struct ContextShape {
    roots: BTreeMap<String, Ty>,
}

impl ContextShape {
    /// The type of root `name`.
    pub(crate) fn root(&self, name: &str) -> Option<&Ty> {
        self.roots.get(name)
    }
}

static SHAPE: LazyLock<ContextShape> = LazyLock::new(|| {
    let schema = context_schema();
    let mut b = Builder {
        defs: schema.get("$defs").and_then(Value::as_object),
        done: HashMap::new(),
    };
    let roots = match b.ty(&schema, None, 0) {
        Ty::Record(r) => r.fields.clone(),
        _ => BTreeMap::new(),
    };
    ContextShape { roots }
});

/// The context's shape (built once per process).
pub(crate) fn context_shape() -> &'static ContextShape {
    &SHAPE
}

struct Builder<'s> {
    defs: Option<&'s serde_json::Map<String, Value>>,
    done: HashMap<String, Ty>,
}

/// Deeper than any of the client's types; a guard against recursive ones.
const MAX_DEPTH: usize = 32;

impl Builder<'_> {
    fn ty(&mut self, s: &Value, name: Option<&str>, depth: usize) -> Ty {
        if depth > MAX_DEPTH {
            return Ty::Opaque;
        }
        let Some(obj) = s.as_object() else {
            // `true`: anything.
            return Ty::Opaque;
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            let def = r.rsplit('/').next().unwrap_or(r).to_owned();
            if let Some(t) = self.done.get(&def) {
                return t.clone();
            }
            let Some(target) = self.defs.and_then(|d| d.get(&def)) else {
                return Ty::Opaque;
            };
            let t = self.ty(target, Some(&def), depth + 1);
            self.done.insert(def, t.clone());
            return t;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = obj.get(key).and_then(Value::as_array) {
                let non_null: Vec<&Value> = alts
                    .iter()
                    .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                    .collect();
                return match non_null.as_slice() {
                    [one] => self.ty(one, name, depth + 1),
                    _ => Ty::Opaque,
                };
            }
        }
        let types: Vec<&str> = match obj.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ if obj.contains_key("properties") => vec!["object"],
            _ => Vec::new(),
        };
        let [t] = types.as_slice() else {
            return Ty::Opaque;
        };
        match *t {
            "string" => Ty::String,
            "integer" => Ty::Integer,
            "number" => Ty::Number,
            "boolean" => Ty::Boolean,
            "array" => Ty::Array(Box::new(match obj.get("items") {
                Some(items) => self.ty(items, None, depth + 1),
                None => Ty::Opaque,
            })),
            "object" => {
                if let Some(props) = obj.get("properties").and_then(Value::as_object) {
                    let name = name
                        .map(str::to_owned)
                        .or_else(|| obj.get("title").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_else(|| "object".to_owned());
                    let fields = props
                        .iter()
                        .map(|(k, v)| (k.clone(), self.ty(v, None, depth + 1)))
                        .collect();
                    // `additionalProperties: true` comes from the flattened
                    // `extra` map: the record stays closed.
                    return Ty::Record(Arc::new(Record { name, fields }));
                }
                match obj.get("additionalProperties") {
                    Some(v @ Value::Object(m)) if !m.is_empty() => {
                        Ty::Map(Box::new(self.ty(v, None, depth + 1)))
                    }
                    _ => Ty::Opaque,
                }
            }
            _ => Ty::Opaque,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(t: &Ty) -> &Record {
        match t {
            Ty::Record(r) => r,
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn the_roots_have_the_client_types() {
        let s = context_shape();
        let customer = record(s.root("customer").unwrap());
        assert_eq!(customer.name, "Customer");
        assert!(matches!(customer.fields["customerStatus"], Ty::String));
        assert!(!customer.fields.contains_key("extra"));
        let address = record(&customer.fields["customerAddress"]);
        assert_eq!(address.name, "CustomerAddress");
        assert!(matches!(address.fields["country"], Ty::String));
        let Ty::Array(p) = s.root("cloudProfiles").unwrap() else {
            panic!("cloudProfiles is not a list")
        };
        assert!(matches!(record(p).fields["enabled"], Ty::Boolean));
        let order = record(s.root("order").unwrap());
        let Ty::Array(item) = &order.fields["orderItems"] else {
            panic!("orderItems is not a list")
        };
        let item = record(item);
        assert!(matches!(item.fields["quantity"], Ty::Integer));
        assert!(matches!(item.fields["providerName"], Ty::String));
        let Ty::Array(attr) = &item.fields["attributes"] else {
            panic!("attributes is not a list")
        };
        assert!(matches!(record(attr).fields["value"], Ty::String));
        let Ty::Map(product) = s.root("products").unwrap() else {
            panic!("products is not a map")
        };
        assert_eq!(record(product).name, "Product");
        let req = record(s.root("request").unwrap());
        assert!(matches!(req.fields["customerId"], Ty::Integer));
    }

    #[test]
    fn catalog_plans_are_typed() {
        let Ty::Map(product) = context_shape().root("products").unwrap() else {
            panic!()
        };
        let def = record(product).fields["definition"].clone();
        let Some(Ty::Array(sku)) = def.field("skus") else {
            panic!("skus")
        };
        let Some(Ty::Array(plan)) = sku.field("plans") else {
            panic!("plans")
        };
        assert_eq!(record(plan).name, "Plan");
        assert!(matches!(record(plan).fields["id"], Ty::String));
    }
}

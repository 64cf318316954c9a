//! The data a check evaluates its rules against.
//!
//! A [`Context`] is assembled by a [`crate::source::Source`] (live ION or a
//! snapshot directory) and read by [`crate::rules::RuleSet::evaluate`]. Each
//! fetched resource is a [`Fetched`]: present, absent (ION said it does not
//! exist — a fact the rules can judge), or unavailable (the fetch failed — the
//! rules that need it cannot be evaluated and come out as `error`).
//!
//! Rule paths start at one of the context's roots, listed in [`Root`]; what
//! a root holds in a context is [`Context::root`]. The roots' types (the
//! shape rule paths are checked against at load time) live here too, in
//! `shape`, derived from the ION client's types. A [`CheckRequest`] is what
//! a check is asked about; a source turns it into a `Context`.

mod request;
pub(crate) mod shape;

pub use request::{CheckRequest, ListPosition, NewCustomerRequest};

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A resource as a check obtained it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Fetched {
    /// ION returned it.
    Present {
        /// The resource in ION's JSON shape.
        value: Value,
    },
    /// ION answered that it does not exist (HTTP 404): a fact, not a failure.
    Absent,
    /// It could not be obtained (network, auth, server or shape problem), or
    /// was not fetched at all. Rules that read it evaluate to `error`.
    Unavailable {
        /// Why, in words a user can act on (never a token).
        reason: String,
    },
}

impl Fetched {
    /// A present resource.
    pub fn present(value: Value) -> Self {
        Fetched::Present { value }
    }

    /// An unavailable resource with the reason.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Fetched::Unavailable {
            reason: reason.into(),
        }
    }

    /// The value when present.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Fetched::Present { value } => Some(value),
            _ => None,
        }
    }
}

/// The roots a rule path can start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Root {
    /// `request`: `{accountId, customerId}` of the check.
    Request,
    /// `customer`: ION's customer resource (GET .../customers/{id}).
    Customer,
    /// `cloudProfiles`: the customer's cloud profiles (the
    /// `customerCloudProfiles` array of GET .../cloudProfiles).
    CloudProfiles,
    /// `order`: the order body about to be POSTed, when the check has one.
    Order,
    /// `products`: catalog product details by product id
    /// (GET .../products/{productId}) for the order's products.
    Products,
    /// `subscriptions`: the account's subscriptions by provider subscription
    /// id (GET .../subscriptions?subscriptionId=…), for the `resourceId`s of
    /// the order's UPDATE items; each a list (ION may list several lines).
    Subscriptions,
    /// `customerSubscriptions`: the customer's subscriptions
    /// (GET .../subscriptions?customerId=…), a bounded scan
    /// `{subscriptions, scanned, limit, complete}`.
    CustomerSubscriptions,
    /// `placedOrders`: the customer's orders already placed, newest first
    /// (GET .../orders?filter.customerIdList=…), a bounded scan
    /// `{orders, scanned, limit, complete}`.
    PlacedOrders,
    /// `newCustomer`: the customer body about to be POSTed
    /// (`POST .../customers`), in a new-customer check.
    NewCustomer,
    /// `customersWithEmail`: the account's customers (ACTIVE and INACTIVE)
    /// whose `customerEmail` equals the new customer's, ignoring case.
    CustomersWithEmail,
    /// `customersWithOrganization`: the account's customers (ACTIVE and
    /// INACTIVE) whose `customerOrganization` equals the new customer's,
    /// ignoring case and surrounding blanks.
    CustomersWithOrganization,
    /// `countries`: ISO 3166-1 countries by alpha-2 code, each with its
    /// ISO 3166-2 subdivisions ([`crate::reference`]); never fetched.
    Countries,
    /// `payloadList`: where the new customer stands in a list of payloads
    /// checked together (`{line, sameEmailLines}`); missing for a payload
    /// checked on its own.
    PayloadList,
}

impl Root {
    /// Every root, in a stable order.
    pub const ALL: [Root; 13] = [
        Root::Request,
        Root::Customer,
        Root::CloudProfiles,
        Root::Order,
        Root::Products,
        Root::Subscriptions,
        Root::CustomerSubscriptions,
        Root::PlacedOrders,
        Root::NewCustomer,
        Root::CustomersWithEmail,
        Root::CustomersWithOrganization,
        Root::Countries,
        Root::PayloadList,
    ];

    /// The root's name as written in rule paths.
    pub fn name(self) -> &'static str {
        match self {
            Root::Request => "request",
            Root::Customer => "customer",
            Root::CloudProfiles => "cloudProfiles",
            Root::Order => "order",
            Root::Products => "products",
            Root::Subscriptions => "subscriptions",
            Root::CustomerSubscriptions => "customerSubscriptions",
            Root::PlacedOrders => "placedOrders",
            Root::NewCustomer => "newCustomer",
            Root::CustomersWithEmail => "customersWithEmail",
            Root::CustomersWithOrganization => "customersWithOrganization",
            Root::Countries => "countries",
            Root::PayloadList => "payloadList",
        }
    }

    /// The root named `name`, if any.
    pub fn from_name(name: &str) -> Option<Root> {
        Root::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one root holds in a [`Context`] (see [`Context::root`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum RootValue<'a> {
    /// The root's value.
    Present(&'a Value),
    /// ION said the resource does not exist, or the check has no order.
    Absent,
    /// The resource could not be obtained: paths into it cannot be known.
    Unavailable {
        /// The resource, in words ("customer", "cloud profiles").
        what: &'static str,
        /// Why it is unavailable.
        reason: &'a str,
    },
    /// `products`: details by product id, each fetched on its own (index
    /// the map and read each [`Fetched`]).
    Products(&'a BTreeMap<String, Fetched>),
    /// `subscriptions`: the subscriptions found by provider subscription
    /// id, each looked up on its own (index the map and read each
    /// [`Fetched`]).
    Subscriptions(&'a BTreeMap<String, Fetched>),
}

/// Why a resource a source answered as JSON null is unavailable.
pub(crate) const NULL_RESOURCE: &str = "the data source answered JSON null, which is no resource";

impl<'a> RootValue<'a> {
    fn from_fetched(f: &'a Fetched, what: &'static str) -> Self {
        match f {
            // JSON null is no resource: a source answering it (a caller's
            // own, a rule test) must not make `exists` hold for a customer.
            Fetched::Present { value: Value::Null } => RootValue::Unavailable {
                what,
                reason: NULL_RESOURCE,
            },
            Fetched::Present { value } => RootValue::Present(value),
            Fetched::Absent => RootValue::Absent,
            Fetched::Unavailable { reason } => RootValue::Unavailable { what, reason },
        }
    }
}

/// Which ION resources a rule set reads, so a check fetches nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needs {
    /// The customer resource.
    pub customer: bool,
    /// The customer's cloud profiles.
    pub cloud_profiles: bool,
    /// Product details for the order's products.
    pub products: bool,
    /// The subscriptions the order's UPDATE items name.
    pub subscriptions: bool,
    /// The customer's subscriptions.
    pub customer_subscriptions: bool,
    /// The customer's orders already placed.
    pub placed_orders: bool,
    /// The order itself (not fetched: supplied by the caller).
    pub order: bool,
    /// The new customer's payload (not fetched: supplied by the caller).
    pub new_customer: bool,
    /// The account's customers with the new customer's email.
    pub customers_with_email: bool,
    /// The account's customers with the new customer's organization name.
    pub customers_with_organization: bool,
}

impl Needs {
    /// Marks `root` as needed.
    pub fn add(&mut self, root: Root) {
        match root {
            Root::Request => {}
            Root::Customer => self.customer = true,
            Root::CloudProfiles => self.cloud_profiles = true,
            Root::Order => self.order = true,
            Root::Products => self.products = true,
            Root::Subscriptions => self.subscriptions = true,
            Root::CustomerSubscriptions => self.customer_subscriptions = true,
            Root::PlacedOrders => self.placed_orders = true,
            Root::NewCustomer => self.new_customer = true,
            Root::CustomersWithEmail => self.customers_with_email = true,
            Root::CustomersWithOrganization => self.customers_with_organization = true,
            Root::Countries | Root::PayloadList => {}
        }
    }
}

/// `[]`, for resources whose absence means an empty list.
static EMPTY_LIST: Value = Value::Array(Vec::new());

/// Everything a rule set is evaluated against.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// The reseller account.
    pub account_id: u64,
    /// The customer being checked.
    pub customer_id: u64,
    /// The time date conditions compare against ("now").
    pub now: jiff::Timestamp,
    /// The customer resource.
    pub customer: Fetched,
    /// The customer's cloud profiles, as a JSON array.
    pub cloud_profiles: Fetched,
    /// The order body, when the check has one (shared with the
    /// [`CheckRequest`] it came from, not copied).
    pub order: Option<Arc<Value>>,
    /// Product details by product id.
    pub products: BTreeMap<String, Fetched>,
    /// The subscriptions found by provider subscription id (each a JSON
    /// array of subscriptions when present).
    pub subscriptions: BTreeMap<String, Fetched>,
    /// The customer's subscriptions (the `customerSubscriptions` scan).
    pub customer_subscriptions: Fetched,
    /// The customer's orders already placed (the `placedOrders` scan).
    pub placed_orders: Fetched,
    /// The new customer's payload, in a new-customer check (shared with the
    /// [`NewCustomerRequest`] it came from).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_customer: Option<Arc<Value>>,
    /// The account's customers with the new customer's email (a JSON array
    /// of listed customers when present).
    pub customers_with_email: Fetched,
    /// The account's customers with the new customer's organization name.
    pub customers_with_organization: Fetched,
    /// The `payloadList` root, when the payload is one of a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_list: Option<Value>,
    /// The `request` root, built from the ids.
    #[serde(skip)]
    request: Value,
}

impl Context {
    /// A context for `account_id`/`customer_id` at time `now` with nothing
    /// fetched yet: every resource starts [`Fetched::Unavailable`] ("not
    /// fetched"), so a rule reading a resource nobody fetched fails closed.
    pub fn new(account_id: u64, customer_id: u64, now: jiff::Timestamp) -> Self {
        Context {
            account_id,
            customer_id,
            now,
            customer: Fetched::unavailable("the customer was not fetched"),
            cloud_profiles: Fetched::unavailable("the cloud profiles were not fetched"),
            order: None,
            products: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            customer_subscriptions: Fetched::unavailable(
                "the customer's subscriptions were not fetched",
            ),
            placed_orders: Fetched::unavailable("the customer's orders were not fetched"),
            new_customer: None,
            customers_with_email: Fetched::unavailable(
                "the customers with this email were not looked up",
            ),
            customers_with_organization: Fetched::unavailable(
                "the customers with this organization name were not looked up",
            ),
            payload_list: None,
            request: request_value(account_id, customer_id),
        }
    }

    /// A context for a new customer of `account_id` at time `now`: the
    /// payload is set, the customer id is 0 (there is none yet, and the
    /// `request` root has no `customerId`), and the lookups start
    /// unavailable like every fetched resource.
    pub fn for_new_customer(account_id: u64, payload: Arc<Value>, now: jiff::Timestamp) -> Self {
        let mut ctx = Context::new(account_id, 0, now);
        ctx.new_customer = Some(payload);
        ctx
    }

    /// Sets the new customer's payload.
    pub fn with_new_customer(mut self, payload: Option<Value>) -> Self {
        self.new_customer = payload.map(Arc::new);
        self
    }

    /// Sets the customers found with the new customer's email.
    pub fn with_customers_with_email(mut self, customers: Fetched) -> Self {
        self.customers_with_email = customers;
        self
    }

    /// Sets the customers found with the new customer's organization name.
    pub fn with_customers_with_organization(mut self, customers: Fetched) -> Self {
        self.customers_with_organization = customers;
        self
    }

    /// Sets the `payloadList` root.
    pub fn with_payload_list(mut self, list: Option<Value>) -> Self {
        self.payload_list = list;
        self
    }

    /// Sets the customer.
    pub fn with_customer(mut self, customer: Fetched) -> Self {
        self.customer = customer;
        self
    }

    /// Sets the cloud profiles (a JSON array when present).
    pub fn with_cloud_profiles(mut self, profiles: Fetched) -> Self {
        self.cloud_profiles = profiles;
        self
    }

    /// Sets the order body.
    pub fn with_order(mut self, order: Option<Value>) -> Self {
        self.order = order.map(Arc::new);
        self
    }

    /// Sets the order body, shared with whoever else holds it.
    pub fn with_shared_order(mut self, order: Option<Arc<Value>>) -> Self {
        self.order = order;
        self
    }

    /// Adds one product's details.
    pub fn with_product(mut self, product_id: impl Into<String>, product: Fetched) -> Self {
        self.products.insert(product_id.into(), product);
        self
    }

    /// Adds the subscriptions found for one provider subscription id.
    pub fn with_subscription(mut self, subscription_id: impl Into<String>, found: Fetched) -> Self {
        self.subscriptions.insert(subscription_id.into(), found);
        self
    }

    /// Sets the customer's subscriptions (`{subscriptions, scanned, limit,
    /// complete}` when present).
    pub fn with_customer_subscriptions(mut self, scan: Fetched) -> Self {
        self.customer_subscriptions = scan;
        self
    }

    /// Sets the customer's placed orders (`{orders, scanned, limit,
    /// complete}` when present).
    pub fn with_placed_orders(mut self, scan: Fetched) -> Self {
        self.placed_orders = scan;
        self
    }

    /// The `request` root value: `{"accountId": …, "customerId": …}`.
    pub fn request(&self) -> &Value {
        &self.request
    }

    /// What `root` holds in this context, as rule paths read it.
    ///
    /// ```
    /// use ion_preflight::context::{Context, Fetched, Root, RootValue};
    /// let now = jiff::Timestamp::UNIX_EPOCH;
    /// let ctx = Context::new(1001, 2002, now).with_customer(Fetched::Absent);
    /// assert!(matches!(ctx.root(Root::Customer), RootValue::Absent));
    /// assert!(matches!(ctx.root(Root::CloudProfiles), RootValue::Unavailable { .. }));
    /// let RootValue::Present(request) = ctx.root(Root::Request) else { panic!() };
    /// assert_eq!(request["customerId"], 2002);
    /// ```
    pub fn root(&self, root: Root) -> RootValue<'_> {
        match root {
            Root::Request => RootValue::Present(&self.request),
            Root::Customer => RootValue::from_fetched(&self.customer, "customer"),
            // A 404 from the cloud-profiles endpoint (not in ION's OpenAPI,
            // but answered) and a 200 without `customerCloudProfiles` (ION
            // leaves empty lists out) both say the customer has no cloud
            // profiles: one fact, one value, `[]`. (A customer that does not
            // exist is `customer-exists`'s to report.)
            Root::CloudProfiles => match &self.cloud_profiles {
                Fetched::Absent | Fetched::Present { value: Value::Null } => {
                    RootValue::Present(&EMPTY_LIST)
                }
                other => RootValue::from_fetched(other, "cloud profiles"),
            },
            Root::Order => match &self.order {
                Some(order) => RootValue::Present(order),
                None => RootValue::Absent,
            },
            Root::Products => RootValue::Products(&self.products),
            Root::Subscriptions => RootValue::Subscriptions(&self.subscriptions),
            // A scan ION answered 404 for (the customer does not exist) found
            // nothing: `customer-exists` reports the customer.
            Root::CustomerSubscriptions => {
                RootValue::from_fetched(&self.customer_subscriptions, "customer's subscriptions")
            }
            Root::PlacedOrders => {
                RootValue::from_fetched(&self.placed_orders, "customer's placed orders")
            }
            Root::NewCustomer => match &self.new_customer {
                Some(payload) => RootValue::Present(payload),
                None => RootValue::Absent,
            },
            Root::CustomersWithEmail => {
                RootValue::from_fetched(&self.customers_with_email, "customers with this email")
            }
            Root::CustomersWithOrganization => RootValue::from_fetched(
                &self.customers_with_organization,
                "customers with this organization name",
            ),
            Root::Countries => RootValue::Present(crate::reference::countries_value()),
            Root::PayloadList => match &self.payload_list {
                Some(list) => RootValue::Present(list),
                None => RootValue::Absent,
            },
        }
    }

    /// The distinct product ids the order refers to (`orderItems[].productId`
    /// strings), in sorted order.
    pub fn order_product_ids(&self) -> Vec<String> {
        order_product_ids(self.order.as_deref())
    }
}

/// The distinct `resourceId` strings of an order body's UPDATE items, sorted.
pub(crate) fn order_update_resource_ids(order: Option<&Value>) -> Vec<String> {
    let mut ids: Vec<String> = order
        .and_then(|o| o.get("orderItems"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|item| item.get("action").and_then(Value::as_str) == Some("UPDATE"))
        .filter_map(|item| item.get("resourceId").and_then(Value::as_str))
        .filter(|id| !id.trim().is_empty())
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The distinct `orderItems[].productId` strings of an order body, sorted.
pub(crate) fn order_product_ids(order: Option<&Value>) -> Vec<String> {
    let mut ids: Vec<String> = order
        .and_then(|o| o.get("orderItems"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("productId").and_then(Value::as_str))
        .filter(|id| !id.trim().is_empty())
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn request_value(account_id: u64, customer_id: u64) -> Value {
    // The shape rule paths are checked against.
    let request = shape::RequestRoot {
        account_id,
        customer_id,
    };
    serde_json::to_value(request).unwrap_or(Value::Null)
}

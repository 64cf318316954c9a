//! What a check is asked about.

use std::sync::Arc;

use serde_json::Value;

/// What to check: a customer of an account, optionally with the order body
/// about to be POSTed.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckRequest {
    /// The reseller account id.
    pub account_id: u64,
    /// The customer id.
    pub customer_id: u64,
    /// The order body (`POST .../customers/{id}/orders`), when there is one.
    /// Shared, not copied: the checks of a batch all hold the same order
    /// (see [`CheckRequest::with_shared_order`]), and the check's context
    /// holds it too.
    pub order: Option<Arc<Value>>,
    /// The time date conditions compare against; the current time when
    /// `None`.
    pub now: Option<jiff::Timestamp>,
}

impl CheckRequest {
    /// A check of customer `customer_id` in account `account_id`, no order.
    pub fn new(account_id: u64, customer_id: u64) -> Self {
        CheckRequest {
            account_id,
            customer_id,
            order: None,
            now: None,
        }
    }

    /// With the order body about to be placed.
    pub fn with_order(mut self, order: Value) -> Self {
        self.order = Some(Arc::new(order));
        self
    }

    /// With an order body shared with other checks (one copy in memory
    /// however many checks of it run at once, as in `batch`).
    pub fn with_shared_order(mut self, order: Arc<Value>) -> Self {
        self.order = Some(order);
        self
    }

    /// Evaluated as of `now` instead of the current time.
    pub fn at(mut self, now: jiff::Timestamp) -> Self {
        self.now = Some(now);
        self
    }
}

/// What to check before `POST /api/v3/accounts/{accountId}/customers`: the
/// CreateCustomerRequest body about to be sent for an account, checked with
/// [`Preflight::check_new_customer`](crate::Preflight::check_new_customer) (normally against
/// [`RuleSet::builtin_new_customer`](crate::RuleSet::builtin_new_customer)).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ion_preflight::{IonClient, NewCustomerRequest, Preflight, RuleSet};
/// let payload = serde_json::json!({"customerOrganization": "Acme Corp", "customerEmail": "john.doe@acme.com"});
/// let preflight = Preflight::new(IonClient::from_env()?, RuleSet::builtin_new_customer());
/// let report = preflight.check_new_customer(NewCustomerRequest::new(1001, payload)).await;
/// if !report.verdict().is_ready() {
///     // do not POST the customer
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NewCustomerRequest {
    /// The reseller account id.
    pub account_id: u64,
    /// The body about to be POSTed (any JSON: a check judges what it gets).
    pub payload: Arc<Value>,
    /// Where the payload stands in a list checked together, if it does.
    pub list: Option<ListPosition>,
    /// The time the check is evaluated as of; the current time when `None`.
    pub now: Option<jiff::Timestamp>,
}

/// A payload's place in a list of payloads checked together (the
/// `payloadList` root).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPosition {
    /// The payload's 1-based line.
    pub line: u64,
    /// The lines of earlier payloads with the same email, ignoring case.
    pub same_email_lines: Vec<u64>,
}

impl NewCustomerRequest {
    /// A check of `payload` for a new customer of account `account_id`.
    pub fn new(account_id: u64, payload: Value) -> Self {
        Self::shared(account_id, Arc::new(payload))
    }

    /// Like [`NewCustomerRequest::new`] with a payload shared, not copied.
    pub fn shared(account_id: u64, payload: Arc<Value>) -> Self {
        NewCustomerRequest {
            account_id,
            payload,
            list: None,
            now: None,
        }
    }

    /// As one payload of a list, at `position`.
    pub fn in_list(mut self, position: ListPosition) -> Self {
        self.list = Some(position);
        self
    }

    /// Evaluated as of `now` instead of the current time.
    pub fn at(mut self, now: jiff::Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// The payload's `customerEmail`, trimmed, when it is a non-empty
    /// string.
    pub fn email(&self) -> Option<&str> {
        payload_str(&self.payload, "customerEmail")
    }

    /// The payload's `customerOrganization`, trimmed, when it is a
    /// non-empty string.
    pub fn organization(&self) -> Option<&str> {
        payload_str(&self.payload, "customerOrganization")
    }
}

fn payload_str<'a>(payload: &'a Value, field: &str) -> Option<&'a str> {
    payload
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

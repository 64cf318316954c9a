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

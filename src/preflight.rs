//! The library call that ties it together: fetch what the rules need, then
//! evaluate them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ion_preflight::{CheckRequest, Preflight, ion::IonClient, rules::RuleSet};
//! let order: serde_json::Value = serde_json::from_str(r#"{"orderItems": []}"#)?;
//! let preflight = Preflight::new(IonClient::from_env()?, RuleSet::builtin());
//! let report = preflight
//!     .check(CheckRequest::new(1001, 2002).with_order(order))
//!     .await;
//! if !report.verdict().is_ready() {
//!     // do not POST the order
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::report::{NewCustomerSubject, Report};
use crate::rules::{EvalOptions, RuleSet};
use crate::source::Source;

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
/// [`Preflight::check_new_customer`] (normally against
/// [`RuleSet::builtin_new_customer`]).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ion_preflight::{NewCustomerRequest, Preflight, ion::IonClient, rules::RuleSet};
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

/// Runs checks: a data source and a rule set. Cheap to clone; share one
/// across tasks.
#[derive(Clone, Debug)]
pub struct Preflight {
    source: Source,
    rules: RuleSet,
    options: EvalOptions,
    check_timeout: Option<Duration>,
}

impl Preflight {
    /// A checker reading from `source` (an [`crate::ion::IonClient`] or a
    /// [`crate::source::SnapshotSource`]) and evaluating `rules`.
    pub fn new(source: impl Into<Source>, rules: RuleSet) -> Self {
        Preflight {
            source: source.into(),
            rules,
            options: EvalOptions::default(),
            check_timeout: None,
        }
    }

    /// Evaluation options (e.g. warnings block).
    pub fn with_options(mut self, options: EvalOptions) -> Self {
        self.options = options;
        self
    }

    /// Bounds the data fetching of one check: what is not obtained in time is
    /// unavailable, and the rules that needed it come out as `error`.
    pub fn with_check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = Some(timeout);
        self
    }

    /// The data source.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The rule set.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Checks `req`: fetches what the rules read (concurrently), evaluates
    /// every rule, returns the report. Never fails: data that could not be
    /// fetched makes the rules that need it `error` and the verdict
    /// `indeterminate`.
    pub async fn check(&self, req: CheckRequest) -> Report {
        let span = tracing::info_span!(
            "check",
            account = req.account_id,
            customer = req.customer_id,
            verdict = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            // The context shares the request's order body (an `Arc`).
            let ctx = self
                .source
                .fetch_within(&req, self.rules.needs(), self.check_timeout)
                .await;
            let report = self.rules.evaluate_with(&ctx, &self.options);
            let span = tracing::Span::current();
            span.record("verdict", report.verdict().as_str());
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            tracing::debug!("check finished");
            report
        }
        .instrument(span)
        .await
    }
}

impl Preflight {
    /// Checks a new customer's payload before `POST .../customers`: looks up
    /// what the rules read (the account's customers with the payload's email
    /// and with its organization name, each for status ACTIVE and INACTIVE,
    /// all concurrently), evaluates every rule, returns the report. Never
    /// fails, like [`Preflight::check`]: a lookup that could not be made
    /// makes the rules that need it `error` and the verdict
    /// `indeterminate`.
    ///
    /// The report has no customer id (`customer_id` is 0 and left out of
    /// the JSON); its `new_customer` says which payload it is about.
    pub async fn check_new_customer(&self, req: NewCustomerRequest) -> Report {
        let span = tracing::info_span!(
            "check_new_customer",
            account = req.account_id,
            line = req.list.as_ref().map(|l| l.line),
            verdict = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let ctx = self
                .source
                .fetch_new_customer(&req, self.rules.needs(), self.check_timeout)
                .await;
            let mut report = self.rules.evaluate_with(&ctx, &self.options);
            report.new_customer = Some(NewCustomerSubject {
                organization: req.organization().map(str::to_owned),
                email: req.email().map(str::to_owned),
                line: req.list.as_ref().map(|l| l.line),
            });
            let span = tracing::Span::current();
            span.record("verdict", report.verdict().as_str());
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            tracing::debug!("new-customer check finished");
            report
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn a_check_can_be_spawned() {
        let dir = std::env::temp_dir();
        let source = crate::source::SnapshotSource::open(dir).expect("temp dir exists");
        let preflight = Preflight::new(source, RuleSet::builtin());
        let fut = preflight.check(CheckRequest::new(1, 2));
        assert_send(&fut);
        let listing = preflight.source().list_customers(1, 10);
        assert_send(&listing);
    }

    #[test]
    fn request_builders_set_fields() {
        let now = jiff::Timestamp::from_second(1_700_000_000).expect("valid");
        let r = CheckRequest::new(1, 2)
            .with_order(serde_json::json!({"orderItems": []}))
            .at(now);
        assert_eq!((r.account_id, r.customer_id), (1, 2));
        assert_eq!(r.now, Some(now));
        assert!(r.order.is_some());
    }
}

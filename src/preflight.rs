//! The library call that ties it together: fetch what the rules need, then
//! evaluate them.

use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use crate::context::{CheckRequest, NewCustomerRequest};
use crate::report::{Inputs, NewCustomerSubject, Report};
use crate::rules::{EvalOptions, RuleSet};
use crate::source::{ProductCache, Source};

/// Runs checks: a data source and a rule set. Cheap to clone; share one
/// across tasks.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ion_preflight::{CheckRequest, IonClient, Preflight, RuleSet};
/// let order: serde_json::Value = serde_json::from_str(r#"{"orderItems": []}"#)?;
/// let preflight = Preflight::new(IonClient::from_env()?, RuleSet::builtin());
/// let report = preflight
///     .check(CheckRequest::new(1001, 2002).with_order(order))
///     .await;
/// if !report.verdict().is_ready() {
///     // do not POST the order
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Preflight {
    source: Source,
    rules: RuleSet,
    options: EvalOptions,
    check_timeout: Option<Duration>,
    /// Catalog products, shared by every check of this `Preflight` and its
    /// clones (see [`ProductCache`]: 1024 products, 10 minutes, faults never
    /// kept).
    products: ProductCache,
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
            products: ProductCache::new(),
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

    /// The catalog products kept between checks (shared with clones).
    pub fn product_cache(&self) -> &ProductCache {
        &self.products
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
                .fetch_cached(&req, self.rules.needs(), self.check_timeout, &self.products)
                .await;
            let mut report = self.rules.evaluate_with(&ctx, &self.options);
            report.inputs = Some(Inputs {
                order: req.order.is_some(),
            });
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
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo");
        let source = crate::source::SnapshotSource::open(dir).expect("the demo snapshot");
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

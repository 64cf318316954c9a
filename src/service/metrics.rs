//! The service's Prometheus metrics (text exposition format 0.0.4), kept
//! by hand: a few counters, one histogram and one gauge do not need a
//! metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::ion::{Endpoint, RequestObserver};
use crate::report::{Outcome, Report, Verdict};

/// Upper bounds (seconds) of the check-duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric the service exposes on `GET /metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    checks: [[AtomicU64; 3]; 2],
    /// Per rule, counts by outcome ([`OUTCOMES`] order). Keyed by the rule
    /// id alone so that counting a known rule allocates nothing.
    outcomes: Mutex<BTreeMap<String, [u64; 4]>>,
    buckets: [AtomicU64; DURATION_BUCKETS.len()],
    duration_count: AtomicU64,
    duration_sum_us: AtomicU64,
    /// Per endpoint label, counts by status ([`NO_STATUS`]: no answer).
    ion: Mutex<BTreeMap<String, BTreeMap<u32, u64>>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

/// What was checked: the `check` label of `ion_preflight_checks_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// A customer, optionally with an order (`/v1/check`, the proxy's
    /// order route).
    Order,
    /// A new customer's payload (`/v1/check-new-customer`, the proxy's
    /// customer-creation route).
    NewCustomer,
}

impl CheckKind {
    const ALL: [CheckKind; 2] = [CheckKind::Order, CheckKind::NewCustomer];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Order => "order",
            CheckKind::NewCustomer => "new-customer",
        }
    }

    fn index(self) -> usize {
        match self {
            CheckKind::Order => 0,
            CheckKind::NewCustomer => 1,
        }
    }
}

/// The outcomes in the exposition's order (alphabetical, as their labels
/// sort).
const OUTCOMES: [Outcome; 4] = [Outcome::Error, Outcome::Fail, Outcome::Pass, Outcome::Skip];

fn outcome_index(o: Outcome) -> usize {
    match o {
        Outcome::Error => 0,
        Outcome::Fail => 1,
        Outcome::Pass => 2,
        Outcome::Skip => 3,
    }
}

/// The status key of an ION request that got no answer: after every HTTP
/// status, as `none` sorts after digits.
const NO_STATUS: u32 = u32::MAX;

fn verdict_index(v: Verdict) -> usize {
    match v {
        Verdict::Ready => 0,
        Verdict::Blocked => 1,
        Verdict::Indeterminate => 2,
    }
}

/// An ION request path with the ids taken out, so that the label has a few
/// values, not one per customer: `/api/v3/accounts/{id}/customers/{id}`.
pub fn endpoint_label(endpoint: &Endpoint) -> String {
    // Counted for every ION request: one allocation, no formatting.
    let mut out = String::with_capacity(endpoint.method.len() + endpoint.path.len() + 8);
    out.push_str(endpoint.method);
    out.push(' ');
    let mut after_products = false;
    let mut any = false;
    for seg in endpoint.path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        any = true;
        if after_products || seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
        after_products = seg == "products";
    }
    if !any {
        out.push('/');
    }
    out
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one finished check of `kind`.
    pub fn record_check(&self, kind: CheckKind, report: &Report, took: Duration) {
        self.checks[kind.index()][verdict_index(report.verdict())].fetch_add(1, Ordering::Relaxed);
        if let Ok(mut outcomes) = self.outcomes.lock() {
            for r in report.results() {
                let i = outcome_index(r.outcome);
                match outcomes.get_mut(r.rule.as_str()) {
                    Some(counts) => counts[i] += 1,
                    None => {
                        let mut counts = [0; 4];
                        counts[i] = 1;
                        outcomes.insert(r.rule.clone(), counts);
                    }
                }
            }
        }
        let secs = took.as_secs_f64();
        for (bound, bucket) in DURATION_BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_count.fetch_add(1, Ordering::Relaxed);
        self.duration_sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts one rule reload.
    pub fn record_reload(&self, ok: bool) {
        let c = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one ION request.
    pub fn record_ion(&self, endpoint: &Endpoint, status: Option<u16>) {
        let status = status.map_or(NO_STATUS, u32::from);
        let label = endpoint_label(endpoint);
        if let Ok(mut ion) = self.ion.lock() {
            match ion.get_mut(label.as_str()) {
                Some(by_status) => *by_status.entry(status).or_default() += 1,
                None => {
                    ion.insert(label, BTreeMap::from([(status, 1)]));
                }
            }
        }
    }

    /// An observer for [`crate::ion::IonClientBuilder::observer`] that
    /// counts into these metrics.
    pub fn ion_observer(self: &std::sync::Arc<Self>) -> RequestObserver {
        let metrics = std::sync::Arc::clone(self);
        std::sync::Arc::new(move |e: &Endpoint, s: Option<u16>| metrics.record_ion(e, s))
    }

    /// The metrics in Prometheus text format. `refresh_seconds_left` is the
    /// gauge's value, when the service has its own refresh token and knows
    /// its expiry.
    pub fn render(&self, refresh_seconds_left: Option<i64>) -> String {
        let mut out = String::new();
        let _ = self.render_into(&mut out, refresh_seconds_left);
        out
    }

    fn render_into(&self, out: &mut String, refresh: Option<i64>) -> std::fmt::Result {
        writeln!(
            out,
            "# HELP ion_preflight_checks_total Checks answered, by what was checked and verdict."
        )?;
        writeln!(out, "# TYPE ion_preflight_checks_total counter")?;
        for kind in CheckKind::ALL {
            for v in [Verdict::Ready, Verdict::Blocked, Verdict::Indeterminate] {
                let n = self.checks[kind.index()][verdict_index(v)].load(Ordering::Relaxed);
                let check = kind.as_str();
                writeln!(
                    out,
                    "ion_preflight_checks_total{{check=\"{check}\",verdict=\"{v}\"}} {n}"
                )?;
            }
        }
        writeln!(
            out,
            "# HELP ion_preflight_rule_outcomes_total Rule results, by rule and outcome."
        )?;
        writeln!(out, "# TYPE ion_preflight_rule_outcomes_total counter")?;
        if let Ok(outcomes) = self.outcomes.lock() {
            for (rule, counts) in outcomes.iter() {
                let rule = escape(rule);
                for (outcome, n) in OUTCOMES.iter().zip(counts).filter(|(_, n)| **n > 0) {
                    writeln!(
                        out,
                        "ion_preflight_rule_outcomes_total{{rule=\"{rule}\",outcome=\"{outcome}\"}} {n}"
                    )?;
                }
            }
        }
        writeln!(
            out,
            "# HELP ion_preflight_check_duration_seconds How long a check took, fetching included."
        )?;
        writeln!(out, "# TYPE ion_preflight_check_duration_seconds histogram")?;
        for (bound, bucket) in DURATION_BUCKETS.iter().zip(&self.buckets) {
            let n = bucket.load(Ordering::Relaxed);
            writeln!(
                out,
                "ion_preflight_check_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
            )?;
        }
        let count = self.duration_count.load(Ordering::Relaxed);
        writeln!(
            out,
            "ion_preflight_check_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        )?;
        let sum = self.duration_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        writeln!(out, "ion_preflight_check_duration_seconds_sum {sum}")?;
        writeln!(out, "ion_preflight_check_duration_seconds_count {count}")?;
        writeln!(
            out,
            "# HELP ion_preflight_ion_requests_total HTTP requests to ION, by endpoint and status (none: no answer)."
        )?;
        writeln!(out, "# TYPE ion_preflight_ion_requests_total counter")?;
        if let Ok(ion) = self.ion.lock() {
            for (endpoint, by_status) in ion.iter() {
                let endpoint = escape(endpoint);
                for (status, n) in by_status {
                    let status = match *status {
                        NO_STATUS => "none".to_owned(),
                        s => s.to_string(),
                    };
                    writeln!(
                        out,
                        "ion_preflight_ion_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
                    )?;
                }
            }
        }
        writeln!(
            out,
            "# HELP ion_preflight_rule_reloads_total Rule-set reloads, by result."
        )?;
        writeln!(out, "# TYPE ion_preflight_rule_reloads_total counter")?;
        let ok = self.reloads_ok.load(Ordering::Relaxed);
        let failed = self.reloads_failed.load(Ordering::Relaxed);
        writeln!(
            out,
            "ion_preflight_rule_reloads_total{{result=\"success\"}} {ok}"
        )?;
        writeln!(
            out,
            "ion_preflight_rule_reloads_total{{result=\"failure\"}} {failed}"
        )?;
        if let Some(left) = refresh {
            writeln!(
                out,
                "# HELP ion_preflight_refresh_token_seconds_left Seconds until the service's own refresh token expires."
            )?;
            writeln!(out, "# TYPE ion_preflight_refresh_token_seconds_left gauge")?;
            writeln!(out, "ion_preflight_refresh_token_seconds_left {left}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_labels_carry_no_ids() {
        let e = |path: &str| Endpoint {
            method: "GET",
            path: path.to_owned(),
        };
        assert_eq!(
            endpoint_label(&e("/api/v3/accounts/1001/customers/2002/cloudProfiles")),
            "GET /api/v3/accounts/{id}/customers/{id}/cloudProfiles"
        );
        assert_eq!(
            endpoint_label(&e("/api/v3/accounts/1001/products/MS-NCE-365")),
            "GET /api/v3/accounts/{id}/products/{id}"
        );
        assert_eq!(endpoint_label(&e("/")), "GET /");
        assert_eq!(endpoint_label(&e("")), "GET /");
        assert_eq!(endpoint_label(&e("//api//v3/ping/")), "GET /api/v3/ping");
    }

    #[test]
    fn ion_requests_render_by_endpoint_then_status_with_none_last() {
        let m = Metrics::default();
        let e = |path: &str| Endpoint {
            method: "GET",
            path: path.to_owned(),
        };
        let customer = e("/api/v3/accounts/1/customers/2");
        let profiles = e("/api/v3/accounts/1/customers/2/cloudProfiles");
        for status in [None, Some(404), Some(200), Some(200)] {
            m.record_ion(&customer, status);
        }
        m.record_ion(&profiles, Some(503));
        let text = m.render(None);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ion_preflight_ion_requests_total{"))
            .collect();
        assert_eq!(
            lines,
            [
                "ion_preflight_ion_requests_total{endpoint=\"GET /api/v3/accounts/{id}/customers/{id}\",status=\"200\"} 2",
                "ion_preflight_ion_requests_total{endpoint=\"GET /api/v3/accounts/{id}/customers/{id}\",status=\"404\"} 1",
                "ion_preflight_ion_requests_total{endpoint=\"GET /api/v3/accounts/{id}/customers/{id}\",status=\"none\"} 1",
                "ion_preflight_ion_requests_total{endpoint=\"GET /api/v3/accounts/{id}/customers/{id}/cloudProfiles\",status=\"503\"} 1",
            ]
        );
    }

    #[test]
    fn rule_outcomes_count_per_rule_and_outcome_in_label_order() {
        use crate::report::{RuleResult, Severity};
        let result = |rule: &str, outcome| RuleResult::bare(rule, Severity::Error, outcome);
        let report = |outcomes: [Outcome; 2]| {
            Report::from_results(
                1,
                2,
                jiff::Timestamp::UNIX_EPOCH,
                Severity::Error,
                vec![result("b-rule", outcomes[0]), result("a-rule", outcomes[1])],
            )
        };
        let m = Metrics::default();
        let took = Duration::from_millis(1);
        m.record_check(
            CheckKind::Order,
            &report([Outcome::Skip, Outcome::Pass]),
            took,
        );
        m.record_check(
            CheckKind::Order,
            &report([Outcome::Error, Outcome::Pass]),
            took,
        );
        m.record_check(
            CheckKind::Order,
            &report([Outcome::Skip, Outcome::Fail]),
            took,
        );
        let text = m.render(None);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ion_preflight_rule_outcomes_total{"))
            .collect();
        assert_eq!(
            lines,
            [
                "ion_preflight_rule_outcomes_total{rule=\"a-rule\",outcome=\"fail\"} 1",
                "ion_preflight_rule_outcomes_total{rule=\"a-rule\",outcome=\"pass\"} 2",
                "ion_preflight_rule_outcomes_total{rule=\"b-rule\",outcome=\"error\"} 1",
                "ion_preflight_rule_outcomes_total{rule=\"b-rule\",outcome=\"skip\"} 2",
            ]
        );
    }
}

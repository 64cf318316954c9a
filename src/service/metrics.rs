//! The service's Prometheus metrics (text exposition format 0.0.4), kept
//! by hand: a few counters, one histogram and one gauge do not need a
//! metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::ion::{Endpoint, RequestObserver};
use crate::report::{Report, Verdict};

/// Upper bounds (seconds) of the check-duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric the service exposes on `GET /metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    checks: [[AtomicU64; 3]; 2],
    outcomes: Mutex<BTreeMap<(String, &'static str), u64>>,
    buckets: [AtomicU64; DURATION_BUCKETS.len()],
    duration_count: AtomicU64,
    duration_sum_us: AtomicU64,
    ion: Mutex<BTreeMap<(String, String), u64>>,
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
    let mut out = String::new();
    let mut after_products = false;
    for seg in endpoint.path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if after_products || (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit())) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
        after_products = seg == "products";
    }
    format!(
        "{} {}",
        endpoint.method,
        if out.is_empty() { "/" } else { &out }
    )
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
                *outcomes
                    .entry((r.rule.clone(), r.outcome.as_str()))
                    .or_default() += 1;
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
        let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        if let Ok(mut ion) = self.ion.lock() {
            *ion.entry((endpoint_label(endpoint), status)).or_default() += 1;
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
            for ((rule, outcome), n) in outcomes.iter() {
                let rule = escape(rule);
                writeln!(
                    out,
                    "ion_preflight_rule_outcomes_total{{rule=\"{rule}\",outcome=\"{outcome}\"}} {n}"
                )?;
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
            for ((endpoint, status), n) in ion.iter() {
                let endpoint = escape(endpoint);
                writeln!(
                    out,
                    "ion_preflight_ion_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
                )?;
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
    }
}

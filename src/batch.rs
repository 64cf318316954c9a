//! Many checks at once: [`run`] checks a stream of customer ids with bounded
//! concurrency, writes each report whole as soon as it is ready, keeps
//! counts for a summary, and stops cleanly on interrupt.
//!
//! It is generic over the check (an async function from customer id to
//! report) and the id stream, so the same loop serves a list of ids, a
//! customer listing, live ION, snapshot directories and a caller's own
//! [`DataSource`](crate::source::DataSource). The CLI's `batch` is this loop
//! with a progress bar and Ctrl-C.
//!
//! ```
//! use futures::stream;
//! use ion_preflight::report::render::NdjsonStream;
//! use ion_preflight::{CheckRequest, Preflight, RuleSet, SnapshotSource, Verdict, batch};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let preflight = Preflight::new(SnapshotSource::open("fixtures/demo")?, RuleSet::builtin());
//! let ids = stream::iter([2002u64, 9999].map(Ok::<u64, std::convert::Infallible>));
//! let mut out = NdjsonStream::new(Vec::new());
//! let run = batch::run(
//!     ids,
//!     8,
//!     |customer| preflight.check(CheckRequest::new(1001, customer)),
//!     &mut out,
//!     stream::pending(), // never interrupted
//! )
//! .await;
//! assert!(run.stop.is_none());
//! assert_eq!(run.stats.total(), 2);
//! assert_ne!(run.stats.verdict(), Verdict::Ready); // customer 9999 does not exist
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{Stream, StreamExt, future};

use crate::report::render::ReportStream;
use crate::report::{Outcome, Report, Verdict};

/// How many failing rules the summary lists.
const TOP_FAILING: usize = 5;

/// Counts kept while a batch runs (memory bounded by the number of rules,
/// not of customers).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchStats {
    /// Checks that came out `ready`.
    pub ready: usize,
    /// Checks that came out `blocked`.
    pub blocked: usize,
    /// Checks that came out `indeterminate`.
    pub indeterminate: usize,
    /// Per rule id, in how many reports it failed.
    pub failing: HashMap<String, usize>,
    /// Per rule id, in how many reports it could not be evaluated (at or
    /// above the report's blocking threshold: the rules that made checks
    /// indeterminate).
    pub errored: HashMap<String, usize>,
    /// Why rules could not be evaluated: each report's first reason (its
    /// first line, the report's own customer id replaced by `{customer}` so
    /// the same cause counts once), and in how many reports. At most
    /// [`MAX_REASONS`] distinct reasons are kept; later ones are counted
    /// under [`OTHER_REASONS`].
    pub reasons: HashMap<String, usize>,
}

/// `reason` with every number that *is* `customer` (a whole run of digits,
/// not a part of one: customer 1 of account 1001 leaves the account alone)
/// replaced by `{customer}`, so one cause counts once across customers.
fn mask_customer(reason: &str, customer: u64) -> String {
    if customer == 0 {
        return reason.to_owned();
    }
    let id = customer.to_string();
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, digits) = rest.split_at(start);
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        let (run, after) = digits.split_at(end);
        out.push_str(before);
        out.push_str(if run == id { "{customer}" } else { run });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// How many distinct reasons [`BatchStats::reasons`] keeps.
pub const MAX_REASONS: usize = 1000;

/// The reason the ones past [`MAX_REASONS`] are counted under.
pub const OTHER_REASONS: &str = "(other reasons)";

impl BatchStats {
    /// Counts one report.
    pub fn record(&mut self, report: &Report) {
        match report.verdict() {
            Verdict::Ready => self.ready += 1,
            Verdict::Blocked => self.blocked += 1,
            Verdict::Indeterminate => self.indeterminate += 1,
        }
        let mut reason = None;
        for r in report.results() {
            if r.outcome == Outcome::Fail {
                *self.failing.entry(r.rule.clone()).or_default() += 1;
            }
            if r.outcome == Outcome::Error && r.severity >= report.fail_on() {
                *self.errored.entry(r.rule.clone()).or_default() += 1;
                if reason.is_none() {
                    reason = r.message.as_deref();
                }
            }
        }
        if let Some(reason) = reason {
            let first = reason.lines().next().unwrap_or(reason);
            let first = first.strip_prefix("cannot evaluate: ").unwrap_or(first);
            let key = mask_customer(first, report.customer_id);
            let key = if self.reasons.len() < MAX_REASONS || self.reasons.contains_key(&key) {
                key
            } else {
                OTHER_REASONS.to_owned()
            };
            *self.reasons.entry(key).or_default() += 1;
        }
    }

    /// Checks completed.
    pub fn total(&self) -> usize {
        self.ready + self.blocked + self.indeterminate
    }

    /// The batch's verdict: `indeterminate` if any check was, else
    /// `blocked` if any check was, else `ready` (also for no checks).
    pub fn verdict(&self) -> Verdict {
        if self.indeterminate > 0 {
            Verdict::Indeterminate
        } else if self.blocked > 0 {
            Verdict::Blocked
        } else {
            Verdict::Ready
        }
    }

    /// The most frequent failing rules, most frequent first, ties by id.
    pub fn top_failing(&self, n: usize) -> Vec<(&str, usize)> {
        top(&self.failing, n)
    }

    /// The rules that most often could not be evaluated, most frequent
    /// first, ties by id.
    pub fn top_errored(&self, n: usize) -> Vec<(&str, usize)> {
        top(&self.errored, n)
    }

    /// The most frequent reasons rules could not be evaluated.
    pub fn top_reasons(&self, n: usize) -> Vec<(&str, usize)> {
        top(&self.reasons, n)
    }

    /// The summary printed on stderr at the end.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} checked: {} ready, {} blocked, {} indeterminate",
            self.total(),
            self.ready,
            self.blocked,
            self.indeterminate
        );
        for (heading, top) in [
            ("most frequent failing rules", self.top_failing(TOP_FAILING)),
            (
                "rules that could not be evaluated",
                self.top_errored(TOP_FAILING),
            ),
            ("most frequent reasons", self.top_reasons(TOP_REASONS)),
        ] {
            if top.is_empty() {
                continue;
            }
            s.push_str(&format!("\n{heading}:"));
            let width = top
                .iter()
                .map(|(_, c)| c.to_string().len())
                .max()
                .unwrap_or(1);
            for (what, count) in top {
                s.push_str(&format!("\n  {count:>width$}  {}", shortened(what)));
            }
        }
        s
    }
}

/// How many reasons the summary lists.
const TOP_REASONS: usize = 3;

/// The longest reason the summary shows whole (the reports have it all).
const REASON_CHARS: usize = 160;

fn shortened(text: &str) -> String {
    if text.chars().count() <= REASON_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(REASON_CHARS - 1).collect();
    format!("{cut}…")
}

/// The `n` largest counts, largest first, ties by key.
fn top(counts: &HashMap<String, usize>, n: usize) -> Vec<(&str, usize)> {
    let mut v: Vec<(&str, usize)> = counts.iter().map(|(k, &c)| (k.as_str(), c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.truncate(n);
    v
}

/// Why a batch stopped before its id stream ended.
#[derive(Debug)]
pub enum Stop<E> {
    /// Interrupted (Ctrl-C). `aborted` when a second interrupt dropped the
    /// checks in flight instead of waiting for them.
    Interrupted {
        /// Checks in flight were dropped.
        aborted: bool,
    },
    /// The id stream failed (listing customers).
    Ids(E),
    /// The output could not be written.
    Output(std::io::Error),
}

/// The result of a batch run.
#[derive(Debug)]
pub struct BatchRun<E> {
    /// Counts of the reports written.
    pub stats: BatchStats,
    /// Why it stopped early, if it did.
    pub stop: Option<Stop<E>>,
}

/// Runs `check` for every id from `ids`, at most `concurrency` at a time,
/// writing each report to `out` as it finishes (see the module example).
///
/// The first item of `interrupts` stops launching new checks and lets the
/// ones in flight finish and be written; a second one drops them. An error
/// from `ids` stops launching too (checks in flight still finish). Reports
/// are written whole: nothing is cancelled in the middle of a write.
pub async fn run<T, Ids, E, F, Fut, I>(
    ids: Ids,
    concurrency: usize,
    check: F,
    out: &mut dyn ReportStream,
    interrupts: I,
) -> BatchRun<E>
where
    Ids: Stream<Item = Result<T, E>>,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Report>,
    I: Stream<Item = ()>,
{
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stopping);
    let check = &check;
    let checks = ids
        .take_while(move |_| future::ready(!flag.load(Ordering::SeqCst)))
        .map(|item| async move {
            match item {
                Ok(id) => Ok(check(id).await),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut checks = std::pin::pin!(checks);
    let mut interrupts = std::pin::pin!(interrupts.fuse());
    let mut stats = BatchStats::default();
    let mut stop = None;
    let mut interrupted = false;
    loop {
        tokio::select! {
            biased;
            Some(()) = interrupts.next() => {
                stopping.store(true, Ordering::SeqCst);
                if interrupted {
                    stop = Some(Stop::Interrupted { aborted: true });
                    break;
                }
                interrupted = true;
            }
            next = checks.next() => match next {
                None => break,
                Some(Ok(report)) => {
                    stats.record(&report);
                    if let Err(e) = out.report(&report) {
                        stopping.store(true, Ordering::SeqCst);
                        stop = Some(Stop::Output(e));
                        break;
                    }
                }
                Some(Err(e)) => {
                    stopping.store(true, Ordering::SeqCst);
                    if stop.is_none() {
                        stop = Some(Stop::Ids(e));
                    }
                }
            },
        }
    }
    if interrupted && stop.is_none() {
        stop = Some(Stop::Interrupted { aborted: false });
    }
    if !matches!(stop, Some(Stop::Output(_)))
        && let Err(e) = out.finish()
    {
        stop = Some(Stop::Output(e));
    }
    BatchRun { stats, stop }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use futures::stream;

    use super::*;
    use crate::report::render::NdjsonStream;
    use crate::report::{RuleResult, Severity};

    fn report(customer: u64) -> Report {
        let outcome = if customer.is_multiple_of(3) {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        Report::from_results(
            1,
            customer,
            jiff::Timestamp::UNIX_EPOCH,
            Severity::Error,
            vec![RuleResult::bare(
                "customer-active",
                Severity::Error,
                outcome,
            )],
        )
    }

    /// Runs a batch over `ids` into an NDJSON buffer; returns the run and
    /// the bytes written.
    async fn run_ndjson<E, F, Fut>(
        ids: impl Stream<Item = Result<u64, E>>,
        concurrency: usize,
        check: F,
        interrupts: impl Stream<Item = ()>,
    ) -> (BatchRun<E>, Vec<u8>)
    where
        F: Fn(u64) -> Fut,
        Fut: Future<Output = Report>,
    {
        let mut buf = Vec::new();
        let mut out = NdjsonStream::new(&mut buf);
        let batch = run(ids, concurrency, check, &mut out, interrupts).await;
        (batch, buf)
    }

    fn lines(buf: &[u8]) -> Vec<Report> {
        std::str::from_utf8(buf)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is a whole report"))
            .collect()
    }

    #[tokio::test]
    async fn checks_every_id_once_within_the_concurrency_bound() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let ids = stream::iter((1..=50u64).map(Ok::<u64, ()>));
        let (run, buf) = run_ndjson(
            ids,
            4,
            |id| {
                let running = &running;
                let peak = &peak;
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1 + id % 3)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    report(id)
                }
            },
            stream::pending(),
        )
        .await;
        assert!(run.stop.is_none());
        assert_eq!(peak.load(Ordering::SeqCst), 4);
        let mut seen: Vec<u64> = lines(&buf).iter().map(|r| r.customer_id).collect();
        seen.sort();
        assert_eq!(seen, (1..=50).collect::<Vec<_>>());
        assert_eq!(run.stats.blocked, 16);
        assert_eq!(run.stats.ready, 34);
        assert_eq!(run.stats.verdict(), Verdict::Blocked);
        assert_eq!(run.stats.top_failing(5), vec![("customer-active", 16)]);
    }

    #[tokio::test]
    async fn interrupt_stops_launching_and_finishes_checks_in_flight() {
        let started = Mutex::new(Vec::new());
        let ids = stream::iter((1..=100u64).map(Ok::<u64, ()>));
        // The check of customer 5 presses Ctrl-C.
        let (tx, interrupts) = futures::channel::mpsc::unbounded::<()>();
        let (run, buf) = run_ndjson(
            ids,
            2,
            |id| {
                started.lock().expect("lock").push(id);
                if id == 5 {
                    let _ = tx.unbounded_send(());
                }
                async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    report(id)
                }
            },
            interrupts,
        )
        .await;
        assert!(matches!(
            run.stop,
            Some(Stop::Interrupted { aborted: false })
        ));
        let written = lines(&buf);
        let started = started.lock().expect("lock").len();
        // Every check started was finished and written; none was launched
        // after the interrupt was seen (at most one more slot refilled).
        assert_eq!(written.len(), started);
        assert!((5..=7).contains(&started), "started {started}");
        assert_eq!(run.stats.total(), started);
    }

    #[tokio::test]
    async fn second_interrupt_drops_checks_in_flight() {
        let ids = stream::iter((1..=10u64).map(Ok::<u64, ()>));
        let interrupts = stream::iter([(), ()]);
        let (run, buf) = run_ndjson(
            ids,
            2,
            |id| async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                report(id)
            },
            interrupts,
        )
        .await;
        assert!(matches!(
            run.stop,
            Some(Stop::Interrupted { aborted: true })
        ));
        assert!(buf.is_empty());
    }

    #[tokio::test]
    async fn an_id_stream_error_stops_launching_and_is_reported() {
        let ids = stream::iter(vec![Ok(1), Ok(2), Err("page 2 failed"), Ok(3)]);
        let (run, buf) =
            run_ndjson(ids, 1, |id| async move { report(id) }, stream::pending()).await;
        assert!(matches!(run.stop, Some(Stop::Ids("page 2 failed"))));
        assert_eq!(lines(&buf).len(), 2);
    }

    #[test]
    fn the_verdict_is_indeterminate_over_blocked_over_ready() {
        let stats = |ready, blocked, indeterminate| BatchStats {
            ready,
            blocked,
            indeterminate,
            ..BatchStats::default()
        };
        assert_eq!(stats(0, 0, 0).verdict(), Verdict::Ready);
        assert_eq!(stats(5, 0, 0).verdict(), Verdict::Ready);
        assert_eq!(stats(5, 1, 0).verdict(), Verdict::Blocked);
        assert_eq!(stats(5, 1, 1).verdict(), Verdict::Indeterminate);
        assert_eq!(stats(0, 0, 1).verdict(), Verdict::Indeterminate);
    }

    #[test]
    fn summary_lists_counts_and_top_failing_rules() {
        let mut s = BatchStats::default();
        for id in [3, 6, 1, 2] {
            s.record(&report(id));
        }
        s.failing.insert("gdap".into(), 2);
        s.failing.insert("email".into(), 10);
        assert_eq!(
            s.summary(),
            "4 checked: 2 ready, 2 blocked, 0 indeterminate\nmost frequent failing rules:\n  10  email\n   2  customer-active\n   2  gdap"
        );
    }

    #[test]
    fn summary_lists_the_rules_that_errored_and_the_most_frequent_reasons() {
        let unavailable = |customer: u64, why: &str| {
            Report::from_results(
                1,
                customer,
                jiff::Timestamp::UNIX_EPOCH,
                Severity::Error,
                vec![RuleResult {
                    message: Some(format!(
                        "cannot evaluate: customer unavailable: ION did not answer GET /c/{customer}: {why}\nmore"
                    )),
                    ..RuleResult::bare("customer-exists", Severity::Error, Outcome::Error)
                }],
            )
        };
        let mut s = BatchStats::default();
        for (id, why) in [(7001, "timeout"), (7002, "timeout"), (7003, "reset")] {
            s.record(&unavailable(id, why));
        }
        assert_eq!(
            s.summary(),
            "3 checked: 0 ready, 0 blocked, 3 indeterminate\nrules that could not be evaluated:\n  3  customer-exists\nmost frequent reasons:\n  2  customer unavailable: ION did not answer GET /c/{customer}: timeout\n  1  customer unavailable: ION did not answer GET /c/{customer}: reset"
        );
    }

    /// Only a whole number equal to the customer id is masked: customers 1,
    /// 2 and 3 of account 1001 share one reason, and the account stays.
    #[test]
    fn reasons_mask_the_customer_id_only_where_it_stands_whole() {
        let unrecorded = |customer: u64| {
            Report::from_results(
                1001,
                customer,
                jiff::Timestamp::UNIX_EPOCH,
                Severity::Error,
                vec![RuleResult {
                    message: Some(format!(
                        "cannot evaluate: the snapshot holds no customer {customer} of account 1001 (no accounts/1001/customers/{customer}.json)"
                    )),
                    ..RuleResult::bare("customer-exists", Severity::Error, Outcome::Error)
                }],
            )
        };
        let mut s = BatchStats::default();
        for id in [1, 2, 3] {
            s.record(&unrecorded(id));
        }
        assert_eq!(
            s.reasons,
            HashMap::from([(
                "the snapshot holds no customer {customer} of account 1001 (no accounts/1001/customers/{customer}.json)".to_owned(),
                3
            )])
        );
        assert_eq!(
            mask_customer("customer 12 is not 123 or 312", 12),
            "customer {customer} is not 123 or 312"
        );
    }
}

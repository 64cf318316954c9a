//! The report a check produces: a verdict and one result per rule, with the
//! evidence behind each. The JSON form of [`Report`] is public API (documented
//! in the README); field names and outcome strings are stable.

pub mod render;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How much a failing rule matters.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Shown, never blocks.
    Info,
    /// Shown; blocks only when the caller asks warnings to block.
    Warning,
    /// Blocks the order.
    #[default]
    Error,
}

impl Severity {
    /// The lowercase name used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// Parses `info`, `warning` or `error`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The assertion held.
    Pass,
    /// The assertion did not hold.
    Fail,
    /// Not evaluated: its precondition did not hold, a rule it requires did
    /// not pass, or the check has no order for an order rule.
    Skip,
    /// Could not be evaluated: the data it needs could not be obtained.
    Error,
}

impl Outcome {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to "will this order go through?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No blocking rule failed and every blocking rule could be evaluated.
    Ready,
    /// At least one blocking rule failed.
    Blocked,
    /// No blocking rule failed, but at least one could not be evaluated:
    /// the data to say `ready` is missing (fail closed).
    Indeterminate,
}

impl Verdict {
    /// `true` only for [`Verdict::Ready`].
    pub fn is_ready(self) -> bool {
        self == Verdict::Ready
    }

    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ready => "ready",
            Verdict::Blocked => "blocked",
            Verdict::Indeterminate => "indeterminate",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts of results per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Rules evaluated.
    pub total: usize,
    /// Rules that passed.
    pub pass: usize,
    /// Rules that failed (any severity).
    pub fail: usize,
    /// Rules skipped.
    pub skip: usize,
    /// Rules that could not be evaluated.
    pub error: usize,
    /// Failed rules at or above the blocking threshold.
    pub blocking: usize,
    /// Failed rules below the blocking threshold.
    pub warnings: usize,
}

/// One piece of evidence: a path looked at, what was found there, and what was
/// expected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The path looked at, with array indexes resolved
    /// (`order.orderItems[2].quantity`).
    pub path: String,
    /// The value found; absent from the JSON when the path was missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<Value>,
    /// `true` when nothing was at the path (not even `null`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing: bool,
    /// What the condition expected, in words (`one of [ACTIVE, …]`).
    pub expected: String,
}

/// The result for one element of a `for_each` rule that did not pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The element's path (`order.orderItems[1]`).
    pub path: String,
    /// `fail` or `error`.
    pub outcome: Outcome,
    /// The rule's message rendered for this element, or why it could not be
    /// evaluated.
    pub message: String,
    /// Why, as evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// The result of one rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    /// The rule's stable kebab-case id.
    pub rule: String,
    /// The rule's title.
    pub title: String,
    /// The rule's effective severity.
    pub severity: Severity,
    /// What happened.
    pub outcome: Outcome,
    /// For `fail`: the rendered message (one line per failing element for
    /// `for_each` rules). For `skip` and `error`: the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The ION error code the rule pre-empts (`COMM-VL-004`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preempts: Option<String>,
    /// Documentation link, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// Evidence for rules without `for_each`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// For `for_each` rules: every element that failed or errored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemResult>,
    /// For `for_each` rules: how many elements were checked (the
    /// precondition held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_items: Option<usize>,
    /// With `--explain`: which branch of the rule's conditions decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explanation>,
}

/// Which branches decided a result (`--explain`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// In one line: what decided (`` `assert` is false for
    /// order.orderItems[1] ``, `requires customer-exists (fail)`).
    pub decided_by: String,
    /// For a `for_each` rule: the element the decisions below are about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    /// The rule's `when`, when it was evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Decision>,
    /// The rule's `assert`, when it was evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert: Option<Decision>,
}

/// One node of a condition and its value, with the branches that decided it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The node: `all of 3`, `any of 4`, `not`, `some of
    /// `order.orderItems` (2 element(s))`, or a test
    /// (`` `customer.customerStatus`: one of [ACTIVE] ``).
    pub what: String,
    /// `true`, `false` or `unknown`.
    pub value: String,
    /// For a test: the value found (absent when the path was missing or
    /// unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<Value>,
    /// The branches that decided it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub because: Vec<Decision>,
}

impl Explanation {
    /// The explanation as indented text lines, for the text report.
    pub fn lines(&self) -> Vec<String> {
        fn node(d: &Decision, indent: usize, label: &str, out: &mut Vec<String>) {
            let found = match &d.found {
                Some(v) => {
                    let s = v.to_string();
                    let s = if s.chars().count() > 60 {
                        format!("{}…", s.chars().take(60).collect::<String>())
                    } else {
                        s
                    };
                    format!(" (found {s})")
                }
                None => String::new(),
            };
            out.push(format!(
                "{}{label}{} → {}{found}",
                "  ".repeat(indent),
                d.what,
                d.value
            ));
            for c in &d.because {
                node(c, indent + 1, "", out);
            }
        }
        let mut out = vec![format!("decided by: {}", self.decided_by)];
        if let Some(w) = &self.when {
            node(w, 0, "when: ", &mut out);
        }
        if let Some(a) = &self.assert {
            node(a, 0, "assert: ", &mut out);
        }
        out
    }
}

#[cfg(test)]
impl RuleResult {
    /// A result with nothing but its rule, severity and outcome (title
    /// `t`), for the crate's unit tests.
    pub(crate) fn bare(rule: &str, severity: Severity, outcome: Outcome) -> Self {
        Self {
            rule: rule.to_owned(),
            title: "t".to_owned(),
            severity,
            outcome,
            message: None,
            preempts: None,
            docs: None,
            evidence: Vec::new(),
            items: Vec::new(),
            checked_items: None,
            explain: None,
        }
    }
}

/// Which payload a new-customer check was about (it has no customer id
/// yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCustomerSubject {
    /// The payload's `customerOrganization`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The payload's `customerEmail`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The payload's 1-based line, when it was one of a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

/// Which order file an order-only check (`check-order`) was about: no
/// customer, no ION data, only the rules that read nothing but the order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderOnly {
    /// The order file, as given.
    pub file: String,
}

/// What a customer check was given to read, beyond the data it fetched:
/// without an order, the order rules were skipped, and a `ready` verdict
/// covers the customer checks only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// `true` when the check had an order body.
    pub order: bool,
}

/// A rule of the loaded set that a selection (`--only`, `--skip`, `--tag`,
/// `check-order`) left out: not evaluated, and named here so the report never
/// reads as if the set were smaller than it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deselected {
    /// The rule's id.
    pub rule: String,
    /// The rule's title.
    pub title: String,
    /// Why it was left out (`left out by --skip`, `not selected by --tag
    /// nce`, `needs a customer or ION data: reads customer`).
    pub reason: String,
}

/// The outcome of one check.
///
/// The verdict and summary are derived from the results and the threshold
/// (in [`Report::from_results`], [`Report::with_fail_on`] and when a report
/// is read back from JSON), and the fields they derive from are read-only:
/// a caller cannot make a report's verdict disagree with its results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "ReportData")]
pub struct Report {
    /// The reseller account; 0 (and left out of the JSON) for an
    /// order-only check, which has none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub account_id: u64,
    /// The customer checked; 0 (and left out of the JSON) for a new
    /// customer, which has no id yet.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub customer_id: u64,
    /// For a new-customer check: which payload it was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_customer: Option<NewCustomerSubject>,
    /// For an order-only check (`check-order`): the order file. Its
    /// `ready` covers the order rules only; the checks of the customer and of ION's data were not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_only: Option<OrderOnly>,
    /// For a check of an existing customer: which inputs it had (the order
    /// or not). Left out of the JSON for a new-customer check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
    /// The verdict.
    verdict: Verdict,
    /// The lowest severity that blocks (`error`, or `warning` when warnings
    /// were asked to block).
    fail_on: Severity,
    /// When the check was evaluated (RFC 3339).
    pub checked_at: String,
    /// Counts per outcome.
    summary: Summary,
    /// One result per rule, in rule-set order.
    results: Vec<RuleResult>,
    /// Rules of the loaded set a selection left out (not evaluated), with
    /// why; left out of the JSON when none was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deselected: Vec<Deselected>,
}

/// A report as JSON carries it; the verdict and summary in it are not
/// trusted but derived again from the results.
#[derive(Deserialize)]
struct ReportData {
    #[serde(default)]
    account_id: u64,
    #[serde(default)]
    customer_id: u64,
    #[serde(default)]
    new_customer: Option<NewCustomerSubject>,
    #[serde(default)]
    order_only: Option<OrderOnly>,
    #[serde(default)]
    inputs: Option<Inputs>,
    fail_on: Severity,
    checked_at: String,
    results: Vec<RuleResult>,
    #[serde(default)]
    deselected: Vec<Deselected>,
}

impl From<ReportData> for Report {
    fn from(d: ReportData) -> Report {
        Report {
            account_id: d.account_id,
            customer_id: d.customer_id,
            new_customer: d.new_customer,
            order_only: d.order_only,
            inputs: d.inputs,
            verdict: verdict_of(&d.results, d.fail_on),
            fail_on: d.fail_on,
            checked_at: d.checked_at,
            summary: summarize(&d.results, d.fail_on),
            results: d.results,
            deselected: d.deselected,
        }
    }
}

impl Report {
    /// One line saying why the report is indeterminate: how many blocking
    /// rules could not be evaluated and the first reason, shortened (what
    /// was unavailable and the first cause; the report's results hold the
    /// reason in full, and this line goes beside them).
    pub fn indeterminate_reason(&self) -> String {
        let errors: Vec<_> = self
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Error && r.severity >= self.fail_on)
            .collect();
        let first = errors
            .iter()
            .find_map(|r| r.message.as_deref())
            .unwrap_or("the data they need is unavailable");
        let first = short_reason(first.lines().next().unwrap_or(first));
        format!(
            "{} could not be evaluated, so the verdict is indeterminate: {first}",
            if errors.len() == 1 {
                "1 rule".to_owned()
            } else {
                format!("{} rules", errors.len())
            }
        )
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The lowest severity that blocks.
    pub fn fail_on(&self) -> Severity {
        self.fail_on
    }

    /// Counts per outcome.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// One result per rule, in rule-set order.
    pub fn results(&self) -> &[RuleResult] {
        &self.results
    }

    /// Builds a report from results, computing the summary and verdict.
    pub fn from_results(
        account_id: u64,
        customer_id: u64,
        checked_at: jiff::Timestamp,
        fail_on: Severity,
        results: Vec<RuleResult>,
    ) -> Report {
        let summary = summarize(&results, fail_on);
        let verdict = verdict_of(&results, fail_on);
        Report {
            account_id,
            customer_id,
            new_customer: None,
            order_only: None,
            inputs: None,
            verdict,
            fail_on,
            checked_at: checked_at.to_string(),
            summary,
            results,
            deselected: Vec::new(),
        }
    }

    /// The same report judged with another blocking threshold.
    pub fn with_fail_on(mut self, fail_on: Severity) -> Report {
        self.fail_on = fail_on;
        self.summary = summarize(&self.results, fail_on);
        self.verdict = verdict_of(&self.results, fail_on);
        self
    }

    /// When the report has rules at or above the blocking threshold but
    /// evaluated none of them (every one was `skip`): those rules, each with
    /// its reason. A `ready` verdict then means "nothing blocking applied",
    /// and renderings say so. `None` when a blocking rule was evaluated (or
    /// there is none).
    pub fn unevaluated_blocking(&self) -> Option<Vec<&RuleResult>> {
        let blocking: Vec<&RuleResult> = self
            .results
            .iter()
            .filter(|r| r.severity >= self.fail_on)
            .collect();
        (!blocking.is_empty() && blocking.iter().all(|r| r.outcome == Outcome::Skip))
            .then_some(blocking)
    }

    /// Results that failed at or above the blocking threshold.
    pub fn blocking(&self) -> impl Iterator<Item = &RuleResult> {
        self.results
            .iter()
            .filter(move |r| r.outcome == Outcome::Fail && r.severity >= self.fail_on)
    }

    /// Who the report is about, for headlines: `customer 2002 (account
    /// 1001)`, or for a new customer `new customer "Acme Corp"
    /// <john.doe@acme.com> (account 1001)` (with `line 3,` for one of a
    /// list).
    pub fn subject(&self) -> String {
        if let Some(o) = &self.order_only {
            return format!(
                "order file {} (no customer: the checks of the customer and of ION's data were not run)",
                o.file
            );
        }
        let Some(n) = &self.new_customer else {
            return format!(
                "customer {} (account {})",
                self.customer_id, self.account_id
            );
        };
        let mut s = String::from("new customer");
        if let Some(line) = n.line {
            s.push_str(&format!(" on line {line}"));
        }
        if let Some(org) = &n.organization {
            s.push_str(&format!(" {org:?}"));
        }
        if let Some(email) = &n.email {
            s.push_str(&format!(" <{email}>"));
        }
        s.push_str(&format!(" (account {})", self.account_id));
        s
    }

    /// The results, to attach explanations to (never their outcomes: the
    /// verdict was derived from them).
    pub(crate) fn results_mut(&mut self) -> impl Iterator<Item = &mut RuleResult> {
        self.results.iter_mut()
    }

    /// The result for rule `id`, if the rule set has it.
    pub fn result(&self, id: &str) -> Option<&RuleResult> {
        self.results.iter().find(|r| r.rule == id)
    }
}

/// `reason` without the `cannot evaluate:` prefix, cut after its second
/// `: `-separated part (`customer unavailable: could not reach ION for GET
/// …`), with a pointer to the rest: the report states it in full.
fn short_reason(reason: &str) -> String {
    match brief_reason(reason) {
        Some(brief) => format!("{brief} (the report has the full reason)"),
        None => reason
            .strip_prefix("cannot evaluate: ")
            .unwrap_or(reason)
            .to_owned(),
    }
}

/// `reason` cut to what was unavailable and the first cause, without the
/// `cannot evaluate:` prefix: after its second `: `-separated part, or,
/// when it has only two, before the second's parenthesis (`customer
/// unavailable: the snapshot holds no customer 2002 of account 1002 (no
/// …)`). `None` when there is nothing to cut.
pub(crate) fn brief_reason(reason: &str) -> Option<String> {
    let reason = reason.strip_prefix("cannot evaluate: ").unwrap_or(reason);
    let mut parts = reason.splitn(3, ": ");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(what), Some(why), Some(_)) => Some(format!("{what}: {why}")),
        (Some(what), Some(why), None) => why.find(" (").map(|i| format!("{what}: {}", &why[..i])),
        _ => None,
    }
}

fn is_zero(id: &u64) -> bool {
    *id == 0
}

fn summarize(results: &[RuleResult], fail_on: Severity) -> Summary {
    let mut s = Summary {
        total: results.len(),
        ..Summary::default()
    };
    for r in results {
        match r.outcome {
            Outcome::Pass => s.pass += 1,
            Outcome::Fail => {
                s.fail += 1;
                if r.severity >= fail_on {
                    s.blocking += 1;
                } else {
                    s.warnings += 1;
                }
            }
            Outcome::Skip => s.skip += 1,
            Outcome::Error => s.error += 1,
        }
    }
    s
}

/// The one verdict function: every report's verdict comes from here, from
/// its results and threshold.
///
/// Blocked beats indeterminate: a definite blocking failure means the order
/// will not go through whatever the missing data says. A rule below the
/// threshold can never block, so its `error` does not make the verdict
/// indeterminate either. No results at all (an empty rule set) vouch for
/// nothing: indeterminate, never ready.
fn verdict_of(results: &[RuleResult], fail_on: Severity) -> Verdict {
    let relevant = || results.iter().filter(|r| r.severity >= fail_on);
    if results.is_empty() {
        Verdict::Indeterminate
    } else if relevant().any(|r| r.outcome == Outcome::Fail) {
        Verdict::Blocked
    } else if relevant().any(|r| r.outcome == Outcome::Error) {
        Verdict::Indeterminate
    } else {
        Verdict::Ready
    }
}

//! The decision log: one JSON line per decision (`--decision-log FILE`),
//! with personal data masked.
//!
//! A line holds the decision id, the time, the rule-set revision, account,
//! customer, verdict and the failing rules (id, outcome, severity,
//! pre-empted code, message). Messages are rendered from ION data and the
//! order, so before a line is written every e-mail address, phone number and
//! Microsoft Customer Agreement attestation value (the order's `agreement*`
//! attributes: names, user id, e-mail, phone) is replaced by a mask. A
//! new-customer check's line masks the payload's contact values the same
//! way (its e-mail, phone, contact name and street, in whatever form they
//! were typed), and names the organization only as masked text.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::report::{Outcome, Report};

/// The text that replaces an e-mail address.
pub const EMAIL_MASK: &str = "[email]";
/// The text that replaces a phone number.
pub const PHONE_MASK: &str = "[phone]";
/// The text that replaces an agreement attestation value.
pub const AGREEMENT_MASK: &str = "[agreement]";
/// The text that replaces a new customer's contact value (name, street, an
/// e-mail or phone in a form the patterns do not catch).
pub const CONTACT_MASK: &str = "[contact]";

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+").expect("valid pattern")
});

/// Seven or more digits, possibly grouped by spaces, dots, dashes or
/// parentheses, possibly after a `+`: phone numbers in any common notation
/// (long ids are masked too, which errs on the safe side).
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d(?:[\s().\-]*\d){6,}").expect("valid pattern"));

/// The personal values an order carries that no pattern finds: the
/// agreement attestation's names and user id (and its e-mail and phone, in
/// whatever form they were typed).
pub fn agreement_values(order: Option<&Value>) -> Vec<String> {
    let mut values = Vec::new();
    let items = order.and_then(|o| o["orderItems"].as_array());
    for item in items.into_iter().flatten() {
        for attr in item["attributes"].as_array().into_iter().flatten() {
            let name = attr["name"].as_str().unwrap_or_default();
            if name.to_ascii_lowercase().starts_with("agreement")
                && let Some(v) = attr["value"].as_str().map(str::trim)
                && v.len() >= 2
            {
                values.push(v.to_owned());
            }
        }
    }
    // Longest first, so a value containing another is masked whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    values
}

/// The personal values of a new customer's payload that a message may
/// quote and no pattern is sure to find (`customerPhone: "555 12"`, a
/// malformed `customerEmail`, the contact's name, the street), longest
/// first.
pub fn payload_values(payload: &Value) -> Vec<String> {
    let mut values: Vec<String> = [
        &payload["customerEmail"],
        &payload["customerPhone"],
        &payload["customerName"],
        &payload["customerAddress"]["street"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .map(str::trim)
    .filter(|v| v.len() >= 2)
    .map(str::to_owned)
    .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    values
}

/// `text` with every agreement value, e-mail address and phone number
/// masked.
pub fn mask(text: &str, agreement: &[String]) -> String {
    mask_as(text, agreement, AGREEMENT_MASK)
}

/// `text` with every one of `values` replaced by `replacement`, then every
/// e-mail address and phone number masked.
fn mask_as(text: &str, values: &[String], replacement: &str) -> String {
    let mut out = text.to_owned();
    for v in values {
        out = out.replace(v.as_str(), replacement);
    }
    let out = EMAIL.replace_all(&out, EMAIL_MASK);
    PHONE.replace_all(&out, PHONE_MASK).into_owned()
}

/// One line of the decision log.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    /// The decision id (also in the response).
    pub decision_id: &'a str,
    /// When the decision was made (RFC 3339).
    pub time: String,
    /// The revision of the rule set that decided.
    pub rules_revision: &'a str,
    /// What was checked: `order` or `new-customer`.
    pub check: &'static str,
    /// The account.
    pub account_id: u64,
    /// The customer (absent for a new customer: it has no id yet).
    #[serde(skip_serializing_if = "is_zero")]
    pub customer_id: u64,
    /// The verdict.
    pub verdict: &'static str,
    /// Every rule that failed or could not be evaluated.
    pub failing_rules: Vec<FailingRule>,
    /// The proxy's mode (`enforce`, `audit`); absent for `serve`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    /// The status ION answered a forwarded order with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ion_status: Option<u16>,
    /// The error codes in ION's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ion_codes: Option<Vec<String>>,
    /// How the verdict compares with ION's answer: `agree`, `false-block`,
    /// `false-ready`, `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment: Option<&'static str>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A rule in [`Entry::failing_rules`].
#[derive(Debug, Serialize)]
pub struct FailingRule {
    /// The rule id.
    pub rule: String,
    /// `fail` or `error`.
    pub outcome: &'static str,
    /// The rule's severity.
    pub severity: &'static str,
    /// The ION code it pre-empts, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempts: Option<String>,
    /// The message, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl<'a> Entry<'a> {
    /// The entry for `report`, its messages masked with the agreement values
    /// of `order`.
    pub fn new(
        decision_id: &'a str,
        rules_revision: &'a str,
        report: &Report,
        order: Option<&Value>,
    ) -> Self {
        Self::masked(
            decision_id,
            rules_revision,
            report,
            "order",
            (&agreement_values(order), AGREEMENT_MASK),
        )
    }

    /// The entry for a new-customer `report`, its messages masked with the
    /// personal values of `payload`.
    pub fn new_customer(
        decision_id: &'a str,
        rules_revision: &'a str,
        report: &Report,
        payload: &Value,
    ) -> Self {
        Self::masked(
            decision_id,
            rules_revision,
            report,
            "new-customer",
            (&payload_values(payload), CONTACT_MASK),
        )
    }

    fn masked(
        decision_id: &'a str,
        rules_revision: &'a str,
        report: &Report,
        check: &'static str,
        (values, replacement): (&[String], &str),
    ) -> Self {
        let failing_rules = report
            .results()
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
            .map(|r| FailingRule {
                rule: r.rule.clone(),
                outcome: r.outcome.as_str(),
                severity: r.severity.as_str(),
                preempts: r.preempts.clone(),
                message: r
                    .message
                    .as_deref()
                    .map(|m| mask_as(m, values, replacement)),
            })
            .collect();
        Entry {
            decision_id,
            time: jiff::Timestamp::now().to_string(),
            rules_revision,
            check,
            account_id: report.account_id,
            customer_id: report.customer_id,
            verdict: report.verdict().as_str(),
            failing_rules,
            mode: None,
            ion_status: None,
            ion_codes: None,
            assessment: None,
        }
    }
}

/// An open decision log, appended to by every check.
#[derive(Debug)]
pub struct DecisionLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl DecisionLog {
    /// Opens (creating, appending to) `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(DecisionLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Opens the log a service was configured with, if any; the error names
    /// the file (shared by `serve` and `proxy`).
    pub(crate) fn open_configured(
        path: Option<PathBuf>,
    ) -> Result<Option<Self>, super::ServiceError> {
        path.map(|p| {
            DecisionLog::open(&p).map_err(|source| super::ServiceError::DecisionLog {
                path: p.display().to_string(),
                source,
            })
        })
        .transpose()
    }

    /// Appends `entry` as one line, written whole with a single `write`.
    /// A failure is logged, not returned: the decision stands either way.
    pub fn append(&self, entry: &Entry<'_>) {
        let mut line = match serde_json::to_vec(entry) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a decision-log entry");
                return;
            }
        };
        line.push(b'\n');
        let written = match self.file.lock() {
            Ok(mut f) => f.write_all(&line),
            Err(_) => Err(std::io::Error::other("the decision log's lock is poisoned")),
        };
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write to the decision log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_phones_and_agreement_values_are_masked() {
        let order = serde_json::json!({"orderItems": [{"attributes": [
            {"name": "agreementFirstName", "value": "Ada"},
            {"name": "agreementLastName", "value": "Lovelace"},
            {"name": "agreementUserId", "value": "u-77"},
            {"name": "domainName", "value": "contoso.example"},
        ]}]});
        let agreement = agreement_values(Some(&order));
        let text = "Ada Lovelace (u-77, ada.lovelace@contoso.example, +44 (20) 7946-0958 or 020.7946.0958) for contoso.example";
        let masked = mask(text, &agreement);
        assert_eq!(
            masked,
            "[agreement] [agreement] ([agreement], [email], [phone] or [phone]) for contoso.example"
        );
    }

    #[test]
    fn a_payloads_contact_values_are_masked_whatever_their_form() {
        let payload = serde_json::json!({
            "customerEmail": "not-an-address",
            "customerPhone": "555 12",
            "customerName": "Ada Lovelace",
            "customerAddress": {"street": "12 Analytical Row", "city": "London"},
            "customerOrganization": "Engines Ltd",
        });
        let values = payload_values(&payload);
        let text = "not-an-address / 555 12 / Ada Lovelace / 12 Analytical Row / London / Engines Ltd, or ada@engines.example";
        assert_eq!(
            mask_as(text, &values, CONTACT_MASK),
            "[contact] / [contact] / [contact] / [contact] / London / Engines Ltd, or [email]"
        );
    }

    #[test]
    fn short_numbers_are_left_alone() {
        assert_eq!(
            mask("item 3 of 12, quantity 250", &[]),
            "item 3 of 12, quantity 250"
        );
    }
}

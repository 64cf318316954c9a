//! Choosing rules by id and tag (`--only`, `--skip`, `--tag`) or by what
//! they read (`check-order`: nothing from ION), without ever shrinking a
//! rule set silently: every rule left out is named with why
//! ([`Deselected`], carried into every report), and leaving out a rule that
//! a kept rule requires is refused exactly as a `disable` of it is.

use std::collections::BTreeSet;

use super::{RuleLoadError, RuleSet};
use crate::context::Root;
use crate::did_you_mean::did_you_mean;
use crate::report::Deselected;

/// Which rules of a loaded set to evaluate. Empty: all of them.
///
/// ```
/// use ion_preflight::{RuleSetLoader, rules::Selection};
/// let set = RuleSetLoader::new()
///     .select(Selection::new().only(["customer-active"]))
///     .load()?;
/// // The rule asked for, and the rule it requires.
/// let ids: Vec<&str> = set.rules().iter().map(|r| r.id()).collect();
/// assert_eq!(ids, ["customer-exists", "customer-active"]);
/// assert!(set.deselected().iter().any(|d| d.rule == "customer-email-valid"));
/// # Ok::<(), ion_preflight::RuleLoadError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selection {
    /// Keep only these rules (and the rules they require).
    pub only: Vec<String>,
    /// Leave these rules out.
    pub skip: Vec<String>,
    /// Keep only rules with one of these tags (and the rules they require).
    pub tags: Vec<String>,
    /// Keep only rules that read nothing but the order (nothing from ION,
    /// not the customer id of `request`), and whose required rules do too.
    pub offline: bool,
}

impl Selection {
    /// A selection that keeps every rule.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also keep only these rules (and the rules they require).
    pub fn only<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.only.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Also leave these rules out.
    pub fn skip<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.skip.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Also keep only rules with one of these tags (and the rules they
    /// require).
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Keep only the rules that read nothing but the order.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// `true` when it keeps every rule.
    pub fn is_empty(&self) -> bool {
        self.only.is_empty() && self.skip.is_empty() && self.tags.is_empty() && !self.offline
    }
}

/// The name the disable of a selection is loaded under: diagnostics about
/// it (a rule left out that a kept rule requires) name the flags.
pub(crate) const SELECTION_SOURCE: &str = "the rule selection (--only/--skip/--tag, check-order)";

/// What `selection` leaves out of `set`, each rule once, in rule-set order,
/// with why; or why the selection itself is wrong (an unknown id or tag).
pub(crate) fn deselect(
    set: &RuleSet,
    selection: &Selection,
) -> Result<Vec<Deselected>, RuleLoadError> {
    let rules = set.rules();
    let ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
    let unknown = |flag: &str, id: &str| -> RuleLoadError {
        let hint = did_you_mean(id, ids.iter().copied())
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        RuleLoadError::Selection {
            message: format!(
                "{flag} {id}: the rule set has no rule `{id}`{hint} (see `rules list`)"
            ),
        }
    };
    for id in &selection.only {
        if !ids.contains(&id.as_str()) {
            return Err(unknown("--only", id));
        }
    }
    for id in &selection.skip {
        if !ids.contains(&id.as_str()) {
            return Err(unknown("--skip", id));
        }
    }
    let all_tags: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| r.tags().iter().map(String::as_str))
        .collect();
    for tag in &selection.tags {
        if !all_tags.contains(tag.as_str()) {
            let hint = did_you_mean(tag, all_tags.iter().copied())
                .map(|h| format!("{h} "))
                .unwrap_or_default();
            return Err(RuleLoadError::Selection {
                message: format!(
                    "--tag {tag}: no rule has the tag `{tag}`; {hint}(the tags are: {})",
                    all_tags.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    let index = |id: &str| ids.iter().position(|i| *i == id);
    let mut why: Vec<Option<String>> = vec![None; rules.len()];
    // --only and --tag: what is asked for, then what it requires.
    if !selection.only.is_empty() || !selection.tags.is_empty() {
        let mut keep = vec![false; rules.len()];
        for (i, r) in rules.iter().enumerate() {
            keep[i] = selection.only.iter().any(|o| o == r.id())
                || r.tags().iter().any(|t| selection.tags.contains(t));
        }
        close_over_requirements(set, &mut keep, &index);
        let mut asked = Vec::new();
        if !selection.only.is_empty() {
            asked.push(format!("--only {}", selection.only.join(", ")));
        }
        if !selection.tags.is_empty() {
            asked.push(format!("--tag {}", selection.tags.join(", ")));
        }
        let reason = format!("not selected by {}", asked.join(" or "));
        for (i, k) in keep.iter().enumerate() {
            if !k {
                why[i] = Some(reason.clone());
            }
        }
    }
    if selection.offline {
        // A rule that reads ION data, or requires one that does, cannot be
        // evaluated without a customer.
        let mut keep: Vec<bool> = rules
            .iter()
            .map(|r| r.reads().all(|root| root == Root::Order))
            .collect();
        loop {
            let mut changed = false;
            for (i, r) in rules.iter().enumerate() {
                if keep[i]
                    && r.requires()
                        .iter()
                        .any(|d| index(d).is_some_and(|j| !keep[j]))
                {
                    keep[i] = false;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for (i, r) in rules.iter().enumerate() {
            if !keep[i] && why[i].is_none() {
                let reads: Vec<&str> = r
                    .reads()
                    .filter(|root| *root != Root::Order)
                    .map(|root| root.name())
                    .collect();
                why[i] = Some(if reads.is_empty() {
                    "needs a customer or ION data: requires a rule that does".to_owned()
                } else {
                    format!("needs a customer or ION data: reads {}", reads.join(", "))
                });
            }
        }
    }
    for id in &selection.skip {
        if let Some(i) = index(id)
            && why[i].is_none()
        {
            why[i] = Some("left out by --skip".to_owned());
        }
    }
    // Fail closed, as a `disable` of it is refused: a rule that stays would
    // judge data the skipped rule guards (a missing customer would pass
    // `customer-active`). Said here in the flags' words; the engine's own
    // check stays behind it.
    for id in &selection.skip {
        let dependants: Vec<&str> = rules
            .iter()
            .enumerate()
            .filter(|(i, r)| why[*i].is_none() && r.requires().iter().any(|d| d == id))
            .map(|(_, r)| r.id())
            .collect();
        if !dependants.is_empty() {
            return Err(RuleLoadError::Selection {
                message: format!(
                    "--skip {id}: refused, rules that stay require it: {} (they would judge data `{id}` guards); skip them too, or choose rules with --only",
                    dependants.join(", ")
                ),
            });
        }
    }
    Ok(rules
        .iter()
        .zip(why)
        .filter_map(|(r, why)| {
            why.map(|reason| Deselected {
                rule: r.id().to_owned(),
                title: r.title().to_owned(),
                reason,
            })
        })
        .collect())
}

/// Marks every rule that a kept rule requires (transitively) as kept.
fn close_over_requirements(
    set: &RuleSet,
    keep: &mut [bool],
    index: &dyn Fn(&str) -> Option<usize>,
) {
    let rules = set.rules();
    let mut stack: Vec<usize> = (0..rules.len()).filter(|&i| keep[i]).collect();
    while let Some(i) = stack.pop() {
        for d in rules[i].requires() {
            if let Some(j) = index(d)
                && !keep[j]
            {
                keep[j] = true;
                stack.push(j);
            }
        }
    }
}

/// The rule-file text that disables `deselected`: loaded last, it leaves the
/// rules out through the engine's own `disable`, with its checks (a rule a
/// kept rule requires cannot be left out alone; an empty set is refused).
pub(crate) fn disable_source(deselected: &[Deselected]) -> String {
    let mut s = String::from("disable:\n");
    for d in deselected {
        // JSON strings are YAML double-quoted scalars: any id is safe.
        s.push_str(&format!(
            "  - {}\n",
            serde_json::to_string(&d.rule).unwrap_or_default()
        ));
    }
    s
}

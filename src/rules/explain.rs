//! `rules explain`: a rule in words — what it reads, when it applies, what
//! must hold, and when it is skipped — from the compiled rule, so the words
//! say what the engine does (the YAML follows for reference).

use super::Rule;
use super::condition::Cond;
use super::operator::Operator;
use crate::context::Root;

/// The rule in words, one section per question, indented two spaces.
pub(crate) fn in_words(rule: &Rule) -> String {
    let mut out = String::new();
    let reads: Vec<String> = rule
        .reads
        .iter()
        .map(|r| format!("`{}`", r.name()))
        .collect();
    out.push_str(&format!("What it reads: {}\n", reads.join(", ")));

    out.push_str("When it applies:");
    let mut applies = Vec::new();
    if !rule.requires.is_empty() {
        applies.push(format!(
            "after {} passed",
            rule.requires
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        ));
    }
    if rule.reads.contains(&Root::Order) {
        applies.push("when the check has an order".to_owned());
    }
    if let Some(fe) = &rule.for_each {
        applies.push(format!(
            "to every element of `{}` (as `{}`){}",
            fe.path.text,
            fe.var,
            if rule.when.is_some() {
                " for which this holds:"
            } else {
                ""
            }
        ));
    } else if rule.when.is_some() {
        applies.push("when this holds:".to_owned());
    }
    if applies.is_empty() {
        out.push_str(" always\n");
    } else {
        out.push_str(&format!(" {}\n", applies.join("; ")));
    }
    if let Some(when) = &rule.when {
        cond(when, 2, &mut out);
    }

    out.push_str(if rule.for_each.is_some() {
        "What must hold (for each element):\n"
    } else {
        "What must hold:\n"
    });
    cond(&rule.assert, 2, &mut out);

    let mut skips = Vec::new();
    if !rule.requires.is_empty() {
        skips.push("a rule it requires did not pass".to_owned());
    }
    if rule.reads.contains(&Root::Order) {
        skips.push("the check has no order".to_owned());
    }
    match (&rule.for_each, &rule.when) {
        (Some(fe), when) => {
            skips.push(format!(
                "`{}` is missing, not a list or empty",
                fe.path.text
            ));
            if when.is_some() {
                skips.push("no element meets the condition above".to_owned());
            }
        }
        (None, Some(_)) => skips.push("the condition above does not hold".to_owned()),
        (None, None) => {}
    }
    if skips.is_empty() {
        out.push_str("When it skips: never\n");
    } else {
        out.push_str(&format!("When it skips: when {}\n", skips.join(", or ")));
    }
    out.push_str(
        "When data it reads could not be fetched, it is `error` (never `pass`): the verdict is `indeterminate`.\n",
    );
    out
}

/// `c` as an indented list, one test a line.
fn cond(c: &Cond, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match c {
        Cond::Test { path, expected, .. } => {
            out.push_str(&format!("{pad}- `{}`: {expected}\n", path.text));
        }
        Cond::All(parts) if parts.len() == 1 => cond(&parts[0], indent, out),
        Cond::Any(parts) if parts.len() == 1 => cond(&parts[0], indent, out),
        Cond::All(parts) => {
            out.push_str(&format!("{pad}- all of:\n"));
            for p in parts {
                cond(p, indent + 2, out);
            }
        }
        Cond::Any(parts) => {
            out.push_str(&format!("{pad}- any of:\n"));
            for p in parts {
                cond(p, indent + 2, out);
            }
        }
        Cond::Not(inner) if matches!(**inner, Cond::Test { .. }) => {
            if let Cond::Test { path, expected, .. } = &**inner {
                out.push_str(&format!("{pad}- `{}`: not {expected}\n", path.text));
            }
        }
        Cond::Not(inner) => {
            out.push_str(&format!("{pad}- not:\n"));
            cond(inner, indent + 2, out);
        }
        Cond::Quant { path, kind, body } => {
            let which = Operator::from(*kind).words();
            out.push_str(&format!("{pad}- {which} of `{}` such that:\n", path.text));
            cond(body, indent + 2, out);
        }
        Cond::Named { body, .. } => cond(body, indent, out),
    }
}

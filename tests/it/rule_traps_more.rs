//! More traps (issue 13, "try hard to fool it"): rule files written to
//! change the verdict without a word through YAML itself (aliases, merge
//! keys, duplicate keys), composition (`extends` cycles, overrides of a rule
//! that is gone, `requires` chains through disabled rules, a replaced
//! `customer-exists` that always passes) and look-alike letters in ids.
//! Each is refused with a diagnostic at the trap file's own line, or loads
//! with its effect visible and fail-closed.

use ion_preflight::report::Outcome;
use ion_preflight::rules::{Diagnostic, RuleSet, RuleSetLoader};
use ion_preflight::{Context, Fetched, RuleLoadError, Verdict};

use crate::cli_support::bin;
use crate::rule_traps::{line_of, one_line, trap};

/// Loads the built-in set plus `file` (unless it extends what it needs)
/// and expects the load to fail.
fn refused(builtin: bool, file: &str) -> Vec<Diagnostic> {
    let mut loader = RuleSetLoader::new();
    if !builtin {
        loader = loader.without_builtin();
    }
    match loader.file(trap(file)).load() {
        Err(RuleLoadError::Invalid { diagnostics }) => diagnostics,
        Err(e) => panic!("{file}: not a diagnostic: {e}"),
        Ok(set) => panic!(
            "{file} loaded with {} rules; it must be refused",
            set.rules().len()
        ),
    }
}

/// The only diagnostic with `code`, else a panic listing them all.
fn only<'d>(ds: &'d [Diagnostic], code: &str) -> &'d Diagnostic {
    let found: Vec<&Diagnostic> = ds.iter().filter(|d| d.code() == code).collect();
    assert_eq!(found.len(), 1, "one {code} in:\n{}", one_line(ds));
    found[0]
}

/// A YAML alias repeating a whole rule defines its id twice: refused at the
/// alias, naming the anchored definition.
#[test]
fn an_alias_repeating_a_rule_is_a_duplicate_id_at_the_alias() {
    let file = trap("anchor-repeats-rule.yaml");
    let ds = refused(true, "anchor-repeats-rule.yaml");
    let d = only(&ds, "duplicate-id");
    assert_eq!(
        (d.file(), d.line()),
        (file.as_str(), line_of(&file, "- *checked"))
    );
    let first = line_of(&file, "id: customer-has-email");
    assert!(
        d.message()
            .contains(&format!("already defined at {file}:{first}:")),
        "{}",
        d.message()
    );
}

/// A merge key copying a rule (changing only its severity) is a second
/// definition of the same id, refused at the merge.
#[test]
fn a_merge_key_copying_a_rule_is_a_duplicate_id_at_the_merge() {
    let file = trap("merge-key-rule.yaml");
    let ds = refused(true, "merge-key-rule.yaml");
    let d = only(&ds, "duplicate-id");
    assert_eq!(
        (d.file(), d.line()),
        (file.as_str(), line_of(&file, "<<: *base"))
    );
}

/// Two definitions of one key in one mapping (a named condition, a rule's
/// severity) are refused by the parser at the second, never "last wins".
#[test]
fn a_key_written_twice_in_one_mapping_is_refused_at_the_second() {
    for (name, needle) in [
        ("condition-defined-twice.yaml", "strict-status:"),
        ("severity-twice.yaml", "severity: info"),
    ] {
        let file = trap(name);
        let ds = refused(true, name);
        assert_eq!(ds.len(), 1, "{}", one_line(&ds));
        let d = &ds[0];
        assert_eq!(d.code(), "yaml-syntax");
        assert!(
            d.message().contains("duplicate mapping key"),
            "{}",
            d.message()
        );
        let text = std::fs::read_to_string(&file).unwrap();
        let second = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .map(|(i, _)| i as u32 + 1)
            .nth(if needle == "strict-status:" { 1 } else { 0 })
            .unwrap();
        assert_eq!((d.file(), d.line()), (file.as_str(), second), "{name}");
    }
}

/// `extends` cycles, between two files or a file and itself spelled
/// another way, are refused at the `extends` entry that closes the cycle.
#[test]
fn extends_cycles_are_refused_where_they_close() {
    let ds = refused(false, "extends-cycle-a.yaml");
    let d = only(&ds, "extends-cycle");
    let b = trap("extends-cycle-b.yaml");
    assert_eq!(
        (d.file(), d.line()),
        (b.as_str(), line_of(&b, "- extends-cycle-a.yaml"))
    );
    let ds = refused(false, "extends-self.yaml");
    let d = only(&ds, "extends-cycle");
    let me = trap("extends-self.yaml");
    assert_eq!((d.file(), d.line()), (me.as_str(), 2));
}

/// An override of a rule an extended file disabled would change nothing:
/// refused, saying where the rule was disabled (not "did you mean" some
/// other rule).
#[test]
fn an_override_of_a_disabled_rule_says_where_it_was_disabled() {
    let ds = refused(false, "override-after-disable.yaml");
    let d = only(&ds, "unknown-rule");
    let file = trap("override-after-disable.yaml");
    assert_eq!(
        (d.file(), d.line()),
        (file.as_str(), line_of(&file, "customer-email-valid:"))
    );
    let leaf = trap("disables-leaf.yaml");
    assert!(
        d.message()
            .contains(&format!("it was disabled at {leaf}:3")),
        "{}",
        d.one_line()
    );
    assert!(
        d.related()
            .iter()
            .any(|r| r.file() == leaf && r.line() == 3),
        "{}",
        d.one_line()
    );
    assert!(!d.one_line().contains("did you mean"), "{}", d.one_line());
}

/// A rule requiring `customer-active`, with `customer-active` and
/// `customer-exists` (and its other dependents) disabled: refused at the
/// `disable` of `customer-active`, naming the user's rule; nothing judges a
/// customer no rule checked exists.
#[test]
fn a_requires_chain_through_disabled_rules_is_refused() {
    let file = trap("requires-two-levels.yaml");
    let ds = refused(true, "requires-two-levels.yaml");
    let d = only(&ds, "disabled-required-rule");
    assert_eq!(
        (d.file(), d.line()),
        (file.as_str(), line_of(&file, "- customer-active"))
    );
    assert!(
        d.message().contains("`customer-recently-active`"),
        "{}",
        d.message()
    );
    assert!(
        d.related()
            .iter()
            .any(|r| r.file() == file && r.line() == line_of(&file, "requires: [customer-active]"))
    );
}

/// Ids spelled with look-alike letters name no rule: the `disable`, the
/// override and the `requires` are each refused at their own place, and the
/// help names the character that is not ASCII.
#[test]
fn look_alike_ids_are_refused_naming_the_character() {
    let file = trap("confusable-ids.yaml");
    let ds = refused(true, "confusable-ids.yaml");
    let unknown: Vec<&Diagnostic> = ds.iter().filter(|d| d.code() == "unknown-rule").collect();
    let mut lines: Vec<u32> = unknown.iter().map(|d| d.line()).collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            line_of(&file, "disable:"),
            line_of(&file, "customer-addre"),
            line_of(&file, "requires:")
        ],
        "{}",
        one_line(&ds)
    );
    for (d, (code, ascii)) in unknown.iter().zip([
        ("U+0430", "customer-email-valid"),
        ("U+017F", "customer-address-complete"),
        ("U+0456", "customer-exists"),
    ]) {
        assert_eq!(d.file(), file);
        let text = d.one_line();
        assert!(text.contains(code), "{text}");
        assert!(text.contains(&format!("did you mean `{ascii}`?")), "{text}");
        assert!(text.contains("not ASCII"), "{text}");
    }
}

/// `customer-exists` disabled and replaced by a rule that always passes:
/// the set loads (the replacement is explicit, and `rules lint` lists it),
/// but a customer ION does not know is still not `ready`:
/// `customer-active` fails on a missing customer on its own.
#[test]
fn a_replaced_customer_exists_that_always_passes_cannot_make_a_missing_customer_ready() {
    let set = RuleSetLoader::new()
        .file(trap("replaces-customer-exists.yaml"))
        .load()
        .expect("an explicit replacement loads");
    assert_eq!(set.rules().len(), RuleSet::builtin().rules().len());
    let ctx = Context::new(1001, 9999, jiff::Timestamp::UNIX_EPOCH)
        .with_customer(Fetched::Absent)
        .with_cloud_profiles(Fetched::Absent);
    let report = set.evaluate(&ctx);
    assert_eq!(
        report.result("customer-exists").unwrap().outcome,
        Outcome::Pass,
        "the trap's replacement passes"
    );
    let active = report.result("customer-active").unwrap();
    assert_eq!(active.outcome, Outcome::Fail, "{active:#?}");
    assert!(
        active
            .message
            .as_deref()
            .is_some_and(|m| m.contains("ION does not know this customer")),
        "{active:#?}"
    );
    assert_eq!(report.verdict(), Verdict::Blocked);

    let lint = bin()
        .args(["rules", "lint"])
        .arg(trap("replaces-customer-exists.yaml"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&lint.stdout);
    assert_eq!(lint.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "{}: disabled customer-exists",
            trap("disable-customer-exists.yaml")
        )) && out.contains(&format!(
            "{}: added 1 rule (customer-exists)",
            trap("replaces-customer-exists.yaml")
        )),
        "{out}"
    );
}

/// A replacement `customer-exists` whose `when` never holds would always be
/// `skip`, and a rule whose requirement is skipped is skipped too: every
/// rule requiring `customer-exists` would be silenced, and a valid NCE order
/// for a customer ION does not know was `ready`. The built-in
/// `customer-exists` always applies, so a replacement that can skip (a
/// `when`, a `for_each` or a `requires`) is refused at its own line, naming
/// the rules it would silence.
#[test]
fn a_replaced_customer_exists_that_can_skip_is_refused_where_it_can() {
    let file = "replaces-customer-exists-never-applies.yaml";
    let ds = refused(true, file);
    let d = only(&ds, "replacement-can-skip");
    assert_eq!(d.file(), trap(file), "{}", one_line(&ds));
    assert_eq!(d.line(), line_of(&trap(file), "when:"), "{}", one_line(&ds));
    let line = d.one_line();
    for dependent in [
        "customer-active",
        "nce-item-has-microsoft-tenant",
        "customer-email-valid",
    ] {
        assert!(line.contains(&format!("`{dependent}`")), "{line}");
    }
    assert!(
        line.contains("builtin:default:"),
        "the replaced rule and the dependents are related: {line}"
    );

    // A `requires` the replaced rule did not have can skip it just as well.
    let file2 = "replaces-customer-exists-requiring.yaml";
    let ds2 = refused(true, file2);
    let d2 = only(&ds2, "replacement-can-skip");
    assert_eq!(
        (d2.file(), d2.line()),
        (
            trap(file2).as_str(),
            line_of(&trap(file2), "requires: [azure-create")
        ),
        "{}",
        one_line(&ds2)
    );
    assert!(
        d2.message()
            .starts_with("this `requires` lets `customer-exists` be skipped"),
        "{}",
        one_line(&ds2)
    );

    // The same rule without its `when` (the condition in `assert`) loads.
    let fixed = std::fs::read_to_string(trap(file)).unwrap().replace(
        "    when: { path: request.customerId, exists: false }\n",
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        trap("disable-customer-exists.yaml"),
        dir.path().join("disable-customer-exists.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join(file), fixed).unwrap();
    let set = RuleSetLoader::new()
        .file(dir.path().join(file))
        .load()
        .expect("a replacement that always applies loads");
    assert_eq!(set.rules().len(), RuleSet::builtin().rules().len());

    // A rule of one's own that requires one's own replacement is the
    // author's design: not refused. Disabled first: every rule requiring
    // `customer-exists`, and what requires those.
    let builtin = RuleSet::builtin();
    let mut off = vec!["customer-exists".to_owned()];
    while let Some(more) = builtin
        .rules()
        .iter()
        .find(|r| !off.iter().any(|o| o == r.id()) && r.requires().iter().any(|q| off.contains(q)))
    {
        off.push(more.id().to_owned());
    }
    assert!(off.len() > 8, "{off:?}");
    let off = format!("disable: [{}]\n", off.join(", "));
    let own = "rules:\n  - id: customer-exists\n    title: t\n    severity: error\n    when: { path: customer, exists: true }\n    assert: { path: customer.customerStatus, exists: true }\n    message: m\n  - id: mine\n    title: t\n    severity: error\n    requires: [customer-exists]\n    assert: { path: customer, exists: true }\n    message: m\n";
    RuleSetLoader::new()
        .source("off.yaml", &off)
        .source("own.yaml", own)
        .load()
        .expect("own dependents of own replacement load");
}

/// The same for a required rule that has a `when` of its own: a
/// replacement `new-customer-email-valid` with another `when` (one that
/// never holds) would skip `new-customer-email-not-in-use` on every payload.
/// Refused at the new `when`; the same replacement keeping the replaced
/// rule's `when` (written differently: flow spacing is not a difference)
/// loads, and so does one without a `when` (it applies more often, never
/// less).
#[test]
fn a_replaced_rule_with_another_when_is_refused_and_the_same_when_loads() {
    let file = "replaces-email-valid-never-applies.yaml";
    let ds = refused(false, file);
    let d = only(&ds, "replacement-can-skip");
    assert_eq!(
        (d.file(), d.line()),
        (trap(file).as_str(), line_of(&trap(file), "when:")),
        "{}",
        one_line(&ds)
    );
    assert!(
        d.message().contains("has another `when`")
            && d.message().contains("`new-customer-email-not-in-use`"),
        "{}",
        one_line(&ds)
    );

    let text = std::fs::read_to_string(trap(file)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        trap("disable-email-valid.yaml"),
        dir.path().join("disable-email-valid.yaml"),
    )
    .unwrap();
    let never =
        "    when: { path: newCustomer.customerEmail, equals: \"never@example.invalid\" }\n";
    assert!(text.contains(never));
    for (what, when) in [
        (
            "the same when",
            "    when:   {condition:   new-customer-email-given}\n",
        ),
        ("no when", ""),
    ] {
        let path = dir.path().join("replacement.yaml");
        std::fs::write(&path, text.replace(never, when)).unwrap();
        let set = RuleSetLoader::new()
            .without_builtin()
            .file(&path)
            .load()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            set.rule("new-customer-email-not-in-use").is_some(),
            "{what}"
        );
    }
}

/// A `for_each` lets a replacement skip too (on an order without items, or
/// a check without an order): refused at the `for_each`.
#[test]
fn a_replaced_customer_exists_with_a_for_each_is_refused_at_it() {
    let text = "rules:\n  - id: customer-exists\n    title: t\n    severity: error\n    for_each: order.orderItems as item\n    assert: { path: customer, exists: true }\n    message: m\n";
    let err = RuleSetLoader::new()
        .file(trap("disable-customer-exists.yaml"))
        .source("per-item.yaml", text)
        .load()
        .expect_err("a replacement that can skip is refused");
    let RuleLoadError::Invalid { diagnostics } = err else {
        panic!("not a diagnostic: {err}");
    };
    let d = only(&diagnostics, "replacement-can-skip");
    assert_eq!(
        (d.file(), d.line()),
        ("per-item.yaml", 5),
        "{}",
        one_line(&diagnostics)
    );
    assert!(
        d.message()
            .starts_with("this `for_each` lets `customer-exists` be skipped")
    );
}

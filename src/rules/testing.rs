//! Rule-test files: named cases, each a context and the outcomes the rules
//! must produce for it, in the spirit of `kyverno test` and `conftest verify`.
//!
//! The format is documented in `docs/rule-tests.md`. In short:
//!
//! ```yaml
//! name: customer rules
//! rules: [builtin:default]          # the default; or paths relative to this file
//! now: 2026-03-01T12:00:00Z
//! given:                            # context shared by every case (optional)
//!   customer: { file: ../../fixtures/scenarios/ready-nce/customer.json }
//! cases:
//!   - name: an inactive customer is blocked
//!     given:
//!       customer: { customerStatus: INACTIVE }
//!     expect:
//!       verdict: blocked
//!       rules:
//!         customer-active: fail
//!         customer-email-valid: { outcome: fail, message_contains: "not a well-formed" }
//! ```
//!
//! [`RuleTestFile::load`] parses and checks the file (every problem names file,
//! line and column), reads the fixture files and loads the rule set;
//! [`RuleTestFile::run`] evaluates every case and compares.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::context::{Context, Fetched};
use crate::report::{Outcome, Report, RuleResult, Severity, Verdict};
use crate::rules::condition::json_kind;
use crate::rules::yaml::{Node, NodeValue};
use crate::rules::{Builtin, EvalOptions, RuleLoadError, RuleSet, RuleSetLoader};

/// Why a rule-test file could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum RuleTestError {
    /// The test file or a fixture file could not be read.
    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(ion_preflight::rule_test::read))]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML, or does not have the shape of a rule-test
    /// file (unknown key, wrong type, missing key).
    #[error("{file}:{line}:{column}: {message}")]
    #[diagnostic(code(ion_preflight::rule_test::syntax))]
    Syntax {
        /// The test file.
        file: String,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// A value in the file is well-formed YAML but not valid here (a bad
    /// `now`, an unknown outcome or rule id, a duplicate case name, …).
    #[error("{file}:{line}:{column}: {message}")]
    #[diagnostic(code(ion_preflight::rule_test::invalid))]
    Invalid {
        /// The test file.
        file: String,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// A fixture file named by the test file is not valid JSON.
    #[error("{file}:{line}:{column}: fixture {fixture}: {message}")]
    #[diagnostic(code(ion_preflight::rule_test::fixture))]
    Fixture {
        /// The test file.
        file: String,
        /// 1-based line of the `file:` reference in the test file.
        line: u64,
        /// 1-based column of the reference.
        column: u64,
        /// The fixture file.
        fixture: String,
        /// What is wrong, with the line and column inside the fixture.
        message: String,
    },
    /// The rule files the test names do not load.
    #[error("{file}: the rule set under test does not load")]
    #[diagnostic(code(ion_preflight::rule_test::rules))]
    Rules {
        /// The test file.
        file: String,
        /// The loader's diagnostics.
        #[source]
        #[diagnostic_source]
        source: RuleLoadError,
    },
}

/// A loaded rule-test file: the rule set under test and its cases, each with a
/// ready-built [`Context`].
#[derive(Debug, Clone)]
pub struct RuleTestFile {
    file: String,
    name: Option<String>,
    rule_set: RuleSet,
    cases: Vec<Case>,
}

/// One named case of a rule-test file.
#[derive(Debug, Clone)]
pub struct Case {
    name: String,
    line: u64,
    context: Context,
    fail_on: Severity,
    expect: Expect,
}

impl Case {
    /// The case's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The 1-based line of the case's `name` in the test file.
    pub fn line(&self) -> u64 {
        self.line
    }
    /// The context the rules are evaluated against.
    pub fn context(&self) -> &Context {
        &self.context
    }
    /// The expected verdict, if the case states one.
    pub fn expected_verdict(&self) -> Option<Verdict> {
        self.expect.verdict
    }
    /// The expected outcome of each rule the case names, in file order.
    pub fn expected_outcomes(&self) -> impl Iterator<Item = (&str, Outcome)> {
        self.expect
            .rules
            .iter()
            .map(|r| (r.rule.as_str(), r.outcome))
    }
}

/// What a case expects.
#[derive(Debug, Clone, Default, PartialEq)]
struct Expect {
    verdict: Option<Verdict>,
    rules: Vec<RuleExpect>,
}

/// What a case expects of one rule.
#[derive(Debug, Clone, PartialEq)]
struct RuleExpect {
    rule: String,
    outcome: Outcome,
    /// Elements that failed or errored, as 1-based numbers (`{$number}`) or
    /// paths (`order.orderItems[1]`). `None`: not checked.
    items: Option<Vec<ItemRef>>,
    /// Text the rendered message (or any element's message) must contain.
    message_contains: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum ItemRef {
    Number(u64),
    Path(String),
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemRef::Number(n) => write!(f, "{n}"),
            ItemRef::Path(p) => f.write_str(p),
        }
    }
}

/// The result of running a rule-test file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTestReport {
    /// The test file, as given to [`RuleTestFile::load`].
    pub file: String,
    /// One result per case, in file order.
    pub cases: Vec<CaseResult>,
}

impl RuleTestReport {
    /// `true` when every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.passed)
    }

    /// The cases that did not pass.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.passed)
    }
}

impl fmt::Display for RuleTestReport {
    /// One line per case (`ok` / `FAILED`), each mismatch indented below its
    /// case, and a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for case in &self.cases {
            let status = if case.passed { "ok" } else { "FAILED" };
            writeln!(f, "{}:{}: {} ... {status}", self.file, case.line, case.name)?;
            for m in &case.mismatches {
                writeln!(f, "    {m}")?;
            }
        }
        let failed = self.cases.iter().filter(|c| !c.passed).count();
        write!(
            f,
            "{}: {} passed, {failed} failed",
            self.file,
            self.cases.len() - failed
        )
    }
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// The 1-based line of the case in the test file.
    pub line: u64,
    /// `true` when every expectation held.
    pub passed: bool,
    /// Every expectation that did not hold.
    pub mismatches: Vec<Mismatch>,
    /// The report the rule set produced for the case.
    pub report: Report,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The rule id, or `(verdict)` for the expected verdict.
    pub rule: String,
    /// What the case expected, in words.
    pub expected: String,
    /// What happened, in words.
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.rule, self.expected, self.actual
        )
    }
}

/// The `rule` of a [`Mismatch`] about the verdict.
pub const VERDICT: &str = "(verdict)";

// ---------------------------------------------------------------------------
// The file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    rules: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    now: Option<Spanned<String>>,
    #[serde(default)]
    account_id: Option<u64>,
    #[serde(default)]
    customer_id: Option<u64>,
    #[serde(default)]
    fail_on: Option<Severity>,
    #[serde(default)]
    given: Option<RawGiven>,
    cases: Vec<RawCase>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawGiven {
    #[serde(default)]
    customer: Option<Node>,
    #[serde(default)]
    cloud_profiles: Option<Node>,
    #[serde(default)]
    order: Option<Node>,
    #[serde(default)]
    products: Option<BTreeMap<String, Node>>,
    #[serde(default)]
    subscriptions: Option<BTreeMap<String, Node>>,
    #[serde(default)]
    customer_subscriptions: Option<Node>,
    #[serde(default)]
    placed_orders: Option<Node>,
    #[serde(default)]
    new_customer: Option<Node>,
    #[serde(default)]
    customers_with_email: Option<Node>,
    #[serde(default)]
    customers_with_organization: Option<Node>,
    #[serde(default)]
    payload_list: Option<Node>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: Spanned<String>,
    #[serde(default)]
    now: Option<Spanned<String>>,
    #[serde(default)]
    account_id: Option<u64>,
    #[serde(default)]
    customer_id: Option<u64>,
    #[serde(default)]
    fail_on: Option<Severity>,
    #[serde(default)]
    given: Option<RawGiven>,
    expect: RawExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default)]
    verdict: Option<Verdict>,
    #[serde(default)]
    rules: Option<Node>,
}

// ---------------------------------------------------------------------------
// Loading.

impl RuleTestFile {
    /// Reads, checks and prepares the rule-test file at `path`: parses it,
    /// reads every fixture it names (relative to the file's folder), loads the
    /// rule set under test and checks that every rule id it expects exists.
    pub fn load(path: impl AsRef<Path>) -> Result<RuleTestFile, RuleTestError> {
        let path = path.as_ref();
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RuleTestError::Read {
            path: display.clone(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&display, &text, &base)
    }

    /// Like [`RuleTestFile::load`] for text already in memory: `file` names it
    /// in errors and reports, `base` is the folder relative paths start from.
    pub fn parse(file: &str, text: &str, base: &Path) -> Result<RuleTestFile, RuleTestError> {
        let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            RuleTestError::Syntax {
                file: file.to_owned(),
                line,
                column,
                message: without_location(&first_line(&e.to_string())),
            }
        })?;
        let loader = Loader { file, base };
        loader.build(raw)
    }

    /// The test file as given to [`RuleTestFile::load`].
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The file's `name`, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The rule set under test.
    pub fn rule_set(&self) -> &RuleSet {
        &self.rule_set
    }

    /// The cases, in file order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// The expected outcome of each rule named by any case, in file order
    /// (a rule appears once per case that names it).
    pub fn expected_outcomes(&self) -> impl Iterator<Item = (&str, Outcome)> {
        self.cases.iter().flat_map(Case::expected_outcomes)
    }

    /// Evaluates every case and compares the report with the expectations.
    pub fn run(&self) -> RuleTestReport {
        RuleTestReport {
            file: self.file.clone(),
            cases: self.cases.iter().map(|c| self.run_case(c)).collect(),
        }
    }

    /// Evaluates one case of this file (`rules test --run`, `--fail-fast`).
    pub fn run_case(&self, case: &Case) -> CaseResult {
        let report = self.rule_set.evaluate_with(
            &case.context,
            &EvalOptions::default().with_fail_on(case.fail_on),
        );
        let mismatches = compare(&case.expect, &report);
        CaseResult {
            name: case.name.clone(),
            line: case.line,
            passed: mismatches.is_empty(),
            mismatches,
            report,
        }
    }
}

struct Loader<'a> {
    file: &'a str,
    base: &'a Path,
}

impl Loader<'_> {
    fn invalid(&self, line: u64, column: u64, message: impl Into<String>) -> RuleTestError {
        RuleTestError::Invalid {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn invalid_at(&self, node: &Node, message: impl Into<String>) -> RuleTestError {
        self.invalid(
            u64::from(node.pos.line),
            u64::from(node.pos.column),
            message,
        )
    }

    fn invalid_spanned<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> RuleTestError {
        self.invalid(s.referenced.line(), s.referenced.column(), message)
    }

    fn build(&self, raw: RawFile) -> Result<RuleTestFile, RuleTestError> {
        let rule_set = self.rule_set(raw.rules.as_deref())?;
        let file_now = raw.now.as_ref().map(|n| self.now(n)).transpose()?;
        let file_given = raw.given.unwrap_or_default();
        if raw.cases.is_empty() {
            return Err(self.invalid(1, 1, "the file has no cases"));
        }
        let mut cases: Vec<Case> = Vec::with_capacity(raw.cases.len());
        for rc in raw.cases {
            let line = rc.name.referenced.line();
            if rc.name.value.trim().is_empty() {
                return Err(self.invalid_spanned(&rc.name, "a case needs a non-empty name"));
            }
            if let Some(other) = cases.iter().find(|c| c.name == rc.name.value) {
                return Err(self.invalid_spanned(
                    &rc.name,
                    format!(
                        "duplicate case name `{}` (first at line {})",
                        rc.name.value, other.line
                    ),
                ));
            }
            let now = match (&rc.now, file_now) {
                (Some(n), _) => self.now(n)?,
                (None, Some(n)) => n,
                (None, None) => {
                    return Err(self.invalid_spanned(
                        &rc.name,
                        format!(
                            "case `{}` has no `now`: give one for the file or the case, e.g. `now: 2026-03-01T12:00:00Z`",
                            rc.name.value
                        ),
                    ));
                }
            };
            let given = merge(&file_given, rc.given.as_ref());
            let context = self.context(
                &given,
                now,
                rc.account_id.or(raw.account_id),
                rc.customer_id.or(raw.customer_id),
            )?;
            let expect = self.expect(&rc.expect, &rule_set)?;
            cases.push(Case {
                name: rc.name.value,
                line,
                context,
                fail_on: rc.fail_on.or(raw.fail_on).unwrap_or_default(),
                expect,
            });
        }
        Ok(RuleTestFile {
            file: self.file.to_owned(),
            name: raw.name,
            rule_set,
            cases,
        })
    }

    fn rule_set(&self, rules: Option<&[Spanned<String>]>) -> Result<RuleSet, RuleTestError> {
        let mut loader = RuleSetLoader::new();
        if let Some(rules) = rules {
            loader = loader.without_builtin();
            for r in rules.iter().filter(|r| r.value.starts_with("builtin:")) {
                let Some(set) = Builtin::from_name(&r.value) else {
                    let known: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
                    return Err(self.invalid_spanned(
                        r,
                        format!(
                            "unknown built-in rule set `{}`: the built-in sets are {}",
                            r.value,
                            known.join(", ")
                        ),
                    ));
                };
                loader = loader.with_builtin(set);
            }
            for r in rules.iter().filter(|r| !r.value.starts_with("builtin:")) {
                let path = self.base.join(&r.value);
                if !path.is_file() {
                    return Err(self.invalid_spanned(
                        r,
                        format!("rule file `{}` not found ({})", r.value, path.display()),
                    ));
                }
                loader = loader.file(path);
            }
        }
        loader.load().map_err(|source| RuleTestError::Rules {
            file: self.file.to_owned(),
            source,
        })
    }

    fn now(&self, s: &Spanned<String>) -> Result<jiff::Timestamp, RuleTestError> {
        parse_now(&s.value).ok_or_else(|| {
            self.invalid_spanned(
                s,
                format!(
                    "`now: {}` is not a timestamp: write an RFC 3339 time such as 2026-03-01T12:00:00Z, or a date such as 2026-03-01",
                    s.value
                ),
            )
        })
    }

    fn context(
        &self,
        given: &RawGiven,
        now: jiff::Timestamp,
        account_id: Option<u64>,
        customer_id: Option<u64>,
    ) -> Result<Context, RuleTestError> {
        let customer = match &given.customer {
            Some(node) => Some(self.resource(node, "customer")?),
            None => None,
        };
        // Ids: given explicitly, else from the customer's `name`
        // (accounts/{a}/customers/{c}), else 0.
        let (name_account, name_customer) = customer
            .as_ref()
            .and_then(Fetched::value)
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(ids_from_name)
            .unwrap_or((None, None));
        let mut ctx = Context::new(
            account_id.or(name_account).unwrap_or(0),
            customer_id.or(name_customer).unwrap_or(0),
            now,
        );
        if let Some(customer) = customer {
            ctx = ctx.with_customer(customer);
        }
        if let Some(node) = &given.cloud_profiles {
            let profiles = match self.resource(node, "cloud_profiles")? {
                // Accept the whole GET .../cloudProfiles response as well as
                // the bare array.
                Fetched::Present { value } => match value {
                    Value::Object(mut obj) if obj.contains_key("customerCloudProfiles") => {
                        Fetched::present(obj.remove("customerCloudProfiles").unwrap_or_default())
                    }
                    Value::Array(_) => Fetched::present(value),
                    other => {
                        return Err(self.invalid_at(
                            node,
                            format!(
                                "cloud_profiles must be a list of profiles or an object with `customerCloudProfiles`, found {}",
                                json_kind(&other)
                            ),
                        ));
                    }
                },
                other => other,
            };
            ctx = ctx.with_cloud_profiles(profiles);
        }
        if let Some(node) = &given.order {
            match self.resource(node, "order")? {
                Fetched::Present { value } => ctx = ctx.with_order(Some(value)),
                Fetched::Absent => ctx = ctx.with_order(None),
                Fetched::Unavailable { .. } => {
                    return Err(self.invalid_at(
                        node,
                        "the order cannot be `unavailable` (it is not fetched): give it, or write `order: absent` for a check without an order",
                    ));
                }
            }
        }
        if let Some(products) = &given.products {
            for (id, node) in products {
                ctx = ctx.with_product(id.clone(), self.resource(node, "product")?);
            }
        }
        if let Some(found) = &given.subscriptions {
            for (id, node) in found {
                ctx = ctx.with_subscription(id.clone(), self.resource(node, "subscriptions")?);
            }
        }
        if let Some(node) = &given.customer_subscriptions {
            ctx = ctx.with_customer_subscriptions(self.resource(node, "customer_subscriptions")?);
        }
        if let Some(node) = &given.placed_orders {
            ctx = ctx.with_placed_orders(self.resource(node, "placed_orders")?);
        }
        for (node, what) in [
            (&given.new_customer, "new_customer"),
            (&given.payload_list, "payload_list"),
        ] {
            let Some(node) = node else { continue };
            let value = match self.resource(node, what)? {
                Fetched::Present { value } => Some(value),
                Fetched::Absent => None,
                Fetched::Unavailable { .. } => {
                    return Err(self.invalid_at(
                        node,
                        format!(
                            "the {what} cannot be `unavailable` (it is not fetched): give it, or write `{what}: absent`"
                        ),
                    ));
                }
            };
            ctx = if what == "new_customer" {
                ctx.with_new_customer(value)
            } else {
                ctx.with_payload_list(value)
            };
        }
        if let Some(node) = &given.customers_with_email {
            ctx = ctx.with_customers_with_email(self.resource(node, "customers_with_email")?);
        }
        if let Some(node) = &given.customers_with_organization {
            ctx = ctx.with_customers_with_organization(
                self.resource(node, "customers_with_organization")?,
            );
        }
        Ok(ctx)
    }

    /// Reads one context entry: `absent`, `unavailable`,
    /// `{unavailable: REASON}`, `{file: PATH}`, `{value: JSON}`, or an inline
    /// mapping or list.
    fn resource(&self, node: &Node, what: &str) -> Result<Fetched, RuleTestError> {
        match &node.value {
            NodeValue::Str(s) if s == "absent" => Ok(Fetched::Absent),
            NodeValue::Str(s) if s == "unavailable" => Ok(Fetched::unavailable(format!(
                "the {what} is unavailable in this test"
            ))),
            NodeValue::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                match key.name.as_str() {
                    "file" => {
                        let Some(rel) = value.as_str() else {
                            return Err(self.invalid_at(value, "`file` takes a path"));
                        };
                        self.fixture(rel, value).map(Fetched::present)
                    }
                    "value" => Ok(Fetched::present(value.to_json())),
                    "unavailable" => match value.as_str() {
                        Some(reason) => Ok(Fetched::unavailable(reason)),
                        None => Err(self.invalid_at(value, "`unavailable` takes the reason as text")),
                    },
                    _ => Ok(Fetched::present(node.to_json())),
                }
            }
            NodeValue::Map(_) | NodeValue::Seq(_) => Ok(Fetched::present(node.to_json())),
            other => Err(self.invalid_at(
                node,
                format!(
                    "the {what} must be `absent`, `unavailable`, {{unavailable: REASON}}, {{file: PATH}}, {{value: JSON}} or an inline mapping or list; found {}",
                    match other {
                        NodeValue::Str(s) => format!("`{s}`"),
                        other => other.kind().to_owned(),
                    }
                ),
            )),
        }
    }

    fn fixture(&self, rel: &str, at: &Node) -> Result<Value, RuleTestError> {
        let path: PathBuf = self.base.join(rel);
        let err = |message: String| RuleTestError::Fixture {
            file: self.file.to_owned(),
            line: u64::from(at.pos.line),
            column: u64::from(at.pos.column),
            fixture: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| err(e.to_string()))
    }

    fn expect(&self, raw: &RawExpect, rule_set: &RuleSet) -> Result<Expect, RuleTestError> {
        let mut expect = Expect {
            verdict: raw.verdict,
            rules: Vec::new(),
        };
        let Some(node) = &raw.rules else {
            return Ok(expect);
        };
        let entries = match &node.value {
            NodeValue::Map(entries) => entries,
            NodeValue::Null => return Ok(expect),
            other => {
                return Err(self.invalid_at(
                    node,
                    format!(
                        "`rules` maps rule ids to expected outcomes; found {}",
                        other.kind()
                    ),
                ));
            }
        };
        for (key, value) in entries {
            let at =
                |m: String| self.invalid(u64::from(key.pos.line), u64::from(key.pos.column), m);
            if rule_set.rule(&key.name).is_none() {
                let hint = rule_set
                    .closest_id(&key.name)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                return Err(at(format!(
                    "no rule `{}` in the rule set under test{hint}",
                    key.name
                )));
            }
            if expect.rules.iter().any(|r| r.rule == key.name) {
                return Err(at(format!("rule `{}` is expected twice", key.name)));
            }
            expect.rules.push(self.rule_expect(&key.name, value)?);
        }
        Ok(expect)
    }

    fn rule_expect(&self, rule: &str, node: &Node) -> Result<RuleExpect, RuleTestError> {
        let outcome = |n: &Node| -> Result<Outcome, RuleTestError> {
            n.as_str().and_then(parse_outcome).ok_or_else(|| {
                self.invalid_at(n, "an outcome is one of `pass`, `fail`, `skip`, `error`")
            })
        };
        match &node.value {
            NodeValue::Str(_) => Ok(RuleExpect {
                rule: rule.to_owned(),
                outcome: outcome(node)?,
                items: None,
                message_contains: None,
            }),
            NodeValue::Map(entries) => {
                let mut out = None;
                let mut items = None;
                let mut message_contains = None;
                for (key, value) in entries {
                    match key.name.as_str() {
                        "outcome" => out = Some(outcome(value)?),
                        "items" => items = Some(self.items(value)?),
                        "message_contains" => match value.as_str() {
                            Some(s) => message_contains = Some(s.to_owned()),
                            None => {
                                return Err(self.invalid_at(value, "`message_contains` takes text"));
                            }
                        },
                        other => {
                            return Err(self.invalid(
                                u64::from(key.pos.line),
                                u64::from(key.pos.column),
                                format!(
                                    "unknown key `{other}` in a rule expectation (expected `outcome`, `items` or `message_contains`)"
                                ),
                            ));
                        }
                    }
                }
                let Some(outcome) = out else {
                    return Err(self.invalid_at(node, "a rule expectation needs an `outcome`"));
                };
                Ok(RuleExpect {
                    rule: rule.to_owned(),
                    outcome,
                    items,
                    message_contains,
                })
            }
            other => Err(self.invalid_at(
                node,
                format!(
                    "expected an outcome (`pass`, `fail`, `skip`, `error`) or {{outcome, items, message_contains}}; found {}",
                    other.kind()
                ),
            )),
        }
    }

    fn items(&self, node: &Node) -> Result<Vec<ItemRef>, RuleTestError> {
        let NodeValue::Seq(list) = &node.value else {
            return Err(self.invalid_at(
                node,
                "`items` lists the failing elements: numbers from 1 ({$number}) or paths such as `order.orderItems[0]`",
            ));
        };
        list.iter()
            .map(|n| match &n.value {
                NodeValue::Int(i) if *i >= 1 => Ok(ItemRef::Number(*i as u64)),
                NodeValue::Str(s) => Ok(ItemRef::Path(s.clone())),
                _ => Err(self.invalid_at(
                    n,
                    "an element is a number from 1 ({$number}) or a path such as `order.orderItems[0]`",
                )),
            })
            .collect()
    }
}

fn merge(file: &RawGiven, case: Option<&RawGiven>) -> RawGiven {
    let Some(case) = case else {
        return file.clone();
    };
    let mut products = file.products.clone();
    if let Some(more) = &case.products {
        products
            .get_or_insert_with(BTreeMap::new)
            .extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut subscriptions = file.subscriptions.clone();
    if let Some(more) = &case.subscriptions {
        subscriptions
            .get_or_insert_with(BTreeMap::new)
            .extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    RawGiven {
        customer: case.customer.clone().or_else(|| file.customer.clone()),
        cloud_profiles: case
            .cloud_profiles
            .clone()
            .or_else(|| file.cloud_profiles.clone()),
        order: case.order.clone().or_else(|| file.order.clone()),
        products,
        subscriptions,
        customer_subscriptions: case
            .customer_subscriptions
            .clone()
            .or_else(|| file.customer_subscriptions.clone()),
        placed_orders: case
            .placed_orders
            .clone()
            .or_else(|| file.placed_orders.clone()),
        new_customer: case
            .new_customer
            .clone()
            .or_else(|| file.new_customer.clone()),
        customers_with_email: case
            .customers_with_email
            .clone()
            .or_else(|| file.customers_with_email.clone()),
        customers_with_organization: case
            .customers_with_organization
            .clone()
            .or_else(|| file.customers_with_organization.clone()),
        payload_list: case
            .payload_list
            .clone()
            .or_else(|| file.payload_list.clone()),
    }
}

// ---------------------------------------------------------------------------
// Comparing.

fn compare(expect: &Expect, report: &Report) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    if let Some(verdict) = expect.verdict
        && verdict != report.verdict()
    {
        mismatches.push(Mismatch {
            rule: VERDICT.to_owned(),
            expected: verdict.to_string(),
            actual: report.verdict().to_string(),
        });
    }
    for e in &expect.rules {
        let Some(result) = report.result(&e.rule) else {
            mismatches.push(Mismatch {
                rule: e.rule.clone(),
                expected: e.outcome.to_string(),
                actual: "no result (the rule is not in the report)".to_owned(),
            });
            continue;
        };
        if result.outcome != e.outcome {
            mismatches.push(Mismatch {
                rule: e.rule.clone(),
                expected: e.outcome.to_string(),
                actual: describe(result),
            });
            continue;
        }
        if let Some(items) = &e.items {
            let actual: Vec<&str> = result.items.iter().map(|i| i.path.as_str()).collect();
            let same = items.len() == actual.len()
                && items
                    .iter()
                    .all(|want| actual.iter().any(|got| item_matches(want, got)));
            if !same {
                mismatches.push(Mismatch {
                    rule: e.rule.clone(),
                    expected: format!("{} on items [{}]", e.outcome, join(items)),
                    actual: format!("{} on items [{}]", result.outcome, actual.join(", ")),
                });
            }
        }
        if let Some(text) = &e.message_contains {
            let found = result.message.as_deref().is_some_and(|m| m.contains(text))
                || result.items.iter().any(|i| i.message.contains(text));
            if !found {
                mismatches.push(Mismatch {
                    rule: e.rule.clone(),
                    expected: format!("a message containing {text:?}"),
                    actual: match &result.message {
                        Some(m) => format!("message {m:?}"),
                        None => "no message".to_owned(),
                    },
                });
            }
        }
    }
    mismatches
}

fn describe(result: &RuleResult) -> String {
    match &result.message {
        Some(m) => format!("{} ({m})", result.outcome),
        None => result.outcome.to_string(),
    }
}

fn item_matches(want: &ItemRef, path: &str) -> bool {
    match want {
        ItemRef::Path(p) => p == path,
        ItemRef::Number(n) => trailing_index(path).is_some_and(|i| i + 1 == *n),
    }
}

/// The index in a path's last `[N]`.
fn trailing_index(path: &str) -> Option<u64> {
    let inner = path.strip_suffix(']')?;
    let open = inner.rfind('[')?;
    inner[open + 1..].parse().ok()
}

fn join(items: &[ItemRef]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// Small helpers.

fn parse_outcome(s: &str) -> Option<Outcome> {
    match s {
        "pass" => Some(Outcome::Pass),
        "fail" => Some(Outcome::Fail),
        "skip" => Some(Outcome::Skip),
        "error" => Some(Outcome::Error),
        _ => None,
    }
}

/// An RFC 3339 timestamp, or a calendar date meaning its midnight UTC.
fn parse_now(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    let date: jiff::civil::Date = s.parse().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// `(account, customer)` from `accounts/{a}/customers/{c}`.
fn ids_from_name(name: &str) -> (Option<u64>, Option<u64>) {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["accounts", a, "customers", c] => (a.parse().ok(), c.parse().ok()),
        _ => (None, None),
    }
}

/// The first line of a parser message (serde-saphyr appends a snippet).
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_owned()
}

/// The YAML library's message without its own `error: line L column C:`
/// prefix: the file, line and column are said once, before it.
fn without_location(message: &str) -> String {
    let text = message.strip_prefix("error: ").unwrap_or(message);
    match text.strip_prefix("line ").and_then(|rest| {
        let at = rest.find(": ")?;
        rest[..at].contains(" column ").then(|| &rest[at + 2..])
    }) {
        Some(rest) => rest.to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ItemResult, RuleResult};

    fn parse(text: &str) -> Result<RuleTestFile, RuleTestError> {
        RuleTestFile::parse("t.yaml", text, Path::new("."))
    }

    fn parse_in(dir: &Path, text: &str) -> Result<RuleTestFile, RuleTestError> {
        RuleTestFile::parse("t.yaml", text, dir)
    }

    /// Where and why `text` fails to parse (fixtures relative to `.`).
    fn parse_err(text: &str) -> (u64, u64, String) {
        err_at(parse(text).unwrap_err())
    }

    /// Where and why `text` fails to parse (fixtures relative to `dir`).
    fn parse_err_in(dir: &Path, text: &str) -> (u64, u64, String) {
        err_at(parse_in(dir, text).unwrap_err())
    }

    fn err_at(e: RuleTestError) -> (u64, u64, String) {
        match e {
            RuleTestError::Syntax {
                line,
                column,
                message,
                ..
            }
            | RuleTestError::Invalid {
                line,
                column,
                message,
                ..
            } => (line, column, message),
            RuleTestError::Fixture {
                line,
                column,
                fixture,
                message,
                ..
            } => (line, column, format!("{fixture}: {message}")),
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let (line, column, message) = parse_err(
            "rules: [builtin:default]\nnow: 2026-03-01\ncases:\n  - name: a\n    expcet: {}\n",
        );
        assert_eq!((line, column), (5, 5), "{message}");
        assert!(message.contains("expcet"), "{message}");
    }

    #[test]
    fn bad_now_is_reported_where_it_is() {
        let (line, column, message) = parse_err(
            "rules: [builtin:default]\nnow: yesterday\ncases:\n  - name: a\n    expect: {}\n",
        );
        assert_eq!((line, column), (2, 6));
        assert!(
            message.contains("`now: yesterday` is not a timestamp"),
            "{message}"
        );
    }

    #[test]
    fn a_case_without_now_is_an_error() {
        let (line, _, message) =
            parse_err("rules: [builtin:default]\ncases:\n  - name: a\n    expect: {}\n");
        assert_eq!(line, 3);
        assert!(message.contains("has no `now`"), "{message}");
    }

    #[test]
    fn duplicate_case_names_are_an_error() {
        let (line, _, message) = parse_err(
            "rules: [builtin:default]\nnow: 2026-03-01\ncases:\n  - name: a\n    expect: {}\n  - name: a\n    expect: {}\n",
        );
        assert_eq!(line, 6);
        assert!(
            message.contains("duplicate case name `a` (first at line 4)"),
            "{message}"
        );
    }

    #[test]
    fn contexts_inline_absent_unavailable_and_from_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("customer.json"),
            r#"{"name": "accounts/1001/customers/2002", "customerStatus": "ACTIVE"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("profiles.json"),
            r#"{"customerId": "2002", "customerCloudProfiles": [{"shortName": "AZURE"}]}"#,
        )
        .unwrap();
        let file = parse_in(
            dir.path(),
            r#"
rules: [builtin:default]
now: 2026-03-01T12:00:00Z
given:
  customer: { file: customer.json }
  cloud_profiles: { file: profiles.json }
cases:
  - name: from files
    expect: {}
  - name: inline and explicit forms
    account_id: 7
    now: 2026-02-01
    given:
      customer: { customerStatus: INACTIVE }
      cloud_profiles: { unavailable: "ION timed out" }
      order: { orderItems: [ { action: CREATE, quantity: 2 } ] }
      products:
        P1: absent
        P2: { value: { file: "not a directive" } }
        P3: unavailable
    expect: {}
  - name: no order and absent customer
    given:
      customer: absent
      order: absent
    expect: {}
"#,
        )
        .unwrap();
        let cases = file.cases();
        let c0 = cases[0].context();
        assert_eq!((c0.account_id, c0.customer_id), (1001, 2002));
        assert_eq!(
            c0.cloud_profiles,
            Fetched::present(serde_json::json!([{"shortName": "AZURE"}]))
        );
        assert_eq!(c0.order, None);
        assert_eq!(c0.now.to_string(), "2026-03-01T12:00:00Z");

        let c1 = cases[1].context();
        assert_eq!((c1.account_id, c1.customer_id), (7, 0));
        assert_eq!(c1.now.to_string(), "2026-02-01T00:00:00Z");
        assert_eq!(
            c1.customer,
            Fetched::present(serde_json::json!({"customerStatus": "INACTIVE"}))
        );
        assert_eq!(c1.cloud_profiles, Fetched::unavailable("ION timed out"));
        assert_eq!(
            c1.order.as_deref(),
            Some(&serde_json::json!({"orderItems": [{"action": "CREATE", "quantity": 2}]}))
        );
        assert_eq!(c1.products["P1"], Fetched::Absent);
        assert_eq!(
            c1.products["P2"],
            Fetched::present(serde_json::json!({"file": "not a directive"}))
        );
        assert!(matches!(c1.products["P3"], Fetched::Unavailable { .. }));

        let c2 = cases[2].context();
        assert_eq!(c2.customer, Fetched::Absent);
        assert_eq!(c2.order, None);
        // Not given in the case: the file-level `given` applies.
        assert_eq!(
            c2.cloud_profiles,
            Fetched::present(serde_json::json!([{"shortName": "AZURE"}]))
        );
    }

    #[test]
    fn a_missing_fixture_names_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let (line, column, message) = parse_err_in(
            dir.path(),
            "rules: [builtin:default]\nnow: 2026-03-01\ncases:\n  - name: a\n    given:\n      customer: { file: nope.json }\n    expect: {}\n",
        );
        assert_eq!((line, column), (6, 25), "{message}");
        assert!(message.contains("nope.json"), "{message}");
    }

    #[test]
    fn a_malformed_fixture_names_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.json"), "{\n  \"a\": 1,\n  oops\n}").unwrap();
        let (line, _, message) = parse_err_in(
            dir.path(),
            "rules: [builtin:default]\nnow: 2026-03-01\ncases:\n  - name: a\n    given:\n      order: { file: bad.json }\n    expect: {}\n",
        );
        assert_eq!(line, 6);
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn a_bad_outcome_is_an_error() {
        let (line, _, message) = parse_err(
            "rules: [builtin:default]\nnow: 2026-03-01\ncases:\n  - name: a\n    expect:\n      verdict: fine\n",
        );
        assert_eq!(line, 6, "{message}");
    }

    #[test]
    fn an_unavailable_order_is_an_error() {
        let (line, _, message) = parse_err(
            "rules: [builtin:default]\nnow: 2026-03-01\ncases:\n  - name: a\n    given:\n      order: unavailable\n    expect: {}\n",
        );
        assert_eq!(line, 6);
        assert!(message.contains("cannot be `unavailable`"), "{message}");
    }

    #[test]
    fn an_unknown_builtin_is_an_error() {
        let (line, column, message) = parse_err(
            "rules: [builtin:strict]\nnow: 2026-03-01\ncases:\n  - name: a\n    expect: {}\n",
        );
        assert_eq!((line, column), (1, 9));
        assert!(message.contains("builtin:strict"), "{message}");
    }

    fn result(rule: &str, outcome: Outcome, items: &[&str]) -> RuleResult {
        RuleResult {
            rule: rule.to_owned(),
            title: String::new(),
            severity: Severity::Error,
            outcome,
            message: Some(format!("{rule} said so")),
            preempts: None,
            docs: None,
            evidence: Vec::new(),
            items: items
                .iter()
                .map(|p| ItemResult {
                    path: (*p).to_owned(),
                    outcome,
                    message: format!("{p} is wrong"),
                    evidence: Vec::new(),
                })
                .collect(),
            checked_items: None,
            explain: None,
        }
    }

    fn report(results: Vec<RuleResult>) -> Report {
        Report::from_results(1, 2, jiff::Timestamp::UNIX_EPOCH, Severity::Error, results)
    }

    fn expect(rule: &str, outcome: Outcome) -> RuleExpect {
        RuleExpect {
            rule: rule.to_owned(),
            outcome,
            items: None,
            message_contains: None,
        }
    }

    #[test]
    fn compare_reports_outcome_verdict_items_and_message_mismatches() {
        let r = report(vec![
            result("a", Outcome::Pass, &[]),
            result(
                "b",
                Outcome::Fail,
                &["order.orderItems[0]", "order.orderItems[2]"],
            ),
        ]);
        assert_eq!(r.verdict(), Verdict::Blocked);

        let all_good = Expect {
            verdict: Some(Verdict::Blocked),
            rules: vec![
                expect("a", Outcome::Pass),
                RuleExpect {
                    items: Some(vec![
                        ItemRef::Number(3),
                        ItemRef::Path("order.orderItems[0]".into()),
                    ]),
                    message_contains: Some("[2] is wrong".into()),
                    ..expect("b", Outcome::Fail)
                },
            ],
        };
        assert_eq!(compare(&all_good, &r), Vec::<Mismatch>::new());

        let all_wrong = Expect {
            verdict: Some(Verdict::Ready),
            rules: vec![
                expect("a", Outcome::Fail),
                RuleExpect {
                    items: Some(vec![ItemRef::Number(1)]),
                    message_contains: Some("nothing like it".into()),
                    ..expect("b", Outcome::Fail)
                },
                expect("c", Outcome::Skip),
            ],
        };
        let m = compare(&all_wrong, &r);
        let rendered: Vec<String> = m.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            vec![
                "(verdict): expected ready, got blocked",
                "a: expected fail, got pass (a said so)",
                "b: expected fail on items [1], got fail on items [order.orderItems[0], order.orderItems[2]]",
                "b: expected a message containing \"nothing like it\", got message \"b said so\"",
                "c: expected skip, got no result (the rule is not in the report)",
            ]
        );
    }

    #[test]
    fn report_display_lists_cases_and_mismatches() {
        let ok = CaseResult {
            name: "good".into(),
            line: 4,
            passed: true,
            mismatches: vec![],
            report: report(vec![]),
        };
        let bad = CaseResult {
            name: "bad".into(),
            line: 9,
            passed: false,
            mismatches: vec![Mismatch {
                rule: "a".into(),
                expected: "fail".into(),
                actual: "pass".into(),
            }],
            report: report(vec![]),
        };
        let r = RuleTestReport {
            file: "t.yaml".into(),
            cases: vec![ok, bad],
        };
        assert!(!r.passed());
        assert_eq!(
            r.to_string(),
            "t.yaml:4: good ... ok\nt.yaml:9: bad ... FAILED\n    a: expected fail, got pass\nt.yaml: 1 passed, 1 failed"
        );
    }

    #[test]
    fn closest_suggests_near_ids_only() {
        let set = RuleSet::builtin();
        assert_eq!(set.closest_id("customer-actve"), Some("customer-active"));
        assert_eq!(set.closest_id("quantity"), None);
    }
}

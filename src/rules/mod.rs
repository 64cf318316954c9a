//! Rule files: the YAML language, loading and validation with source
//! locations, compiled conditions and evaluation into a [`Report`].
//!
//! The language is documented in `docs/rules.md`.

mod compile;
mod condition;
mod diagnostics;
mod eval;
mod explain;
mod operator;
mod path;
mod pattern;
mod prepared;
mod regex_fold;
mod rows;
pub mod schema;
mod select;
pub(crate) use crate::context::shape;
mod template;
pub mod testing;
mod trace;
mod typecheck;
pub(crate) mod yaml;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

pub use diagnostics::Diagnostic;
pub use select::Selection;

use crate::context::{Context, Needs, Root};
use crate::report::{Report, Severity};

/// The built-in rule set's source, embedded at build time.
pub const BUILTIN_DEFAULT: &str = include_str!("../../rules/default.yaml");

/// The name the built-in rule set goes by in `extends` and diagnostics.
pub const BUILTIN_NAME: &str = "builtin:default";

/// The built-in rule set for new customers' payloads, embedded at build
/// time.
pub const BUILTIN_NEW_CUSTOMER: &str = include_str!("../../rules/new-customer.yaml");

/// The name the new-customer rule set goes by in `extends` and
/// diagnostics.
pub const BUILTIN_NEW_CUSTOMER_NAME: &str = "builtin:new-customer";

/// A rule set shipped inside the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Builtin {
    /// `builtin:default` (`rules/default.yaml`): the order checks.
    Default,
    /// `builtin:new-customer` (`rules/new-customer.yaml`): the checks of a
    /// customer payload before `POST .../customers`. Order checks do not
    /// load it.
    NewCustomer,
}

impl Builtin {
    /// Every built-in set.
    pub const ALL: [Builtin; 2] = [Builtin::Default, Builtin::NewCustomer];

    /// The name in `extends`, rule tests and diagnostics.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Default => BUILTIN_NAME,
            Builtin::NewCustomer => BUILTIN_NEW_CUSTOMER_NAME,
        }
    }

    /// The YAML source.
    pub fn source(self) -> &'static str {
        match self {
            Builtin::Default => BUILTIN_DEFAULT,
            Builtin::NewCustomer => BUILTIN_NEW_CUSTOMER,
        }
    }

    /// The set named `name` (`builtin:…`), if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// `for_each: PATH as NAME`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ForEach {
    pub(crate) path: path::Path,
    pub(crate) var: String,
}

/// Where a rule was defined.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// The file name (`builtin:default` for the embedded set).
    pub file: String,
    /// 1-based line of the rule's `id`.
    pub line: u32,
}

/// A path written with an unchecked (`~`) segment: it reads a field the
/// context's types do not describe, so the loader could not check it.
/// `rules lint` lists these.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UncheckedPath {
    /// The file it is written in (`builtin:default` for the embedded set).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The path as written, e.g. `customer.~newField`.
    pub path: String,
}

/// One compiled rule.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    id: String,
    title: String,
    description: Option<String>,
    severity: Severity,
    tags: Vec<String>,
    docs: Option<String>,
    preempts: Option<String>,
    requires: Vec<String>,
    origin: Origin,
    pub(crate) for_each: Option<ForEach>,
    pub(crate) when: Option<condition::Cond>,
    pub(crate) assert: condition::Cond,
    pub(crate) message: template::Template,
    pub(crate) requires_idx: Vec<usize>,
    pub(crate) reads: Vec<Root>,
    source_text: String,
    conditions_text: Vec<(String, String)>,
}

impl Rule {
    /// The stable kebab-case id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The one-line title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The longer description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// The effective severity (after overrides).
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// Tags.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
    /// Documentation link.
    pub fn docs(&self) -> Option<&str> {
        self.docs.as_deref()
    }
    /// The ION error code this rule pre-empts.
    pub fn preempts(&self) -> Option<&str> {
        self.preempts.as_deref()
    }
    /// Ids of rules that must pass before this one is evaluated.
    pub fn requires(&self) -> &[String] {
        &self.requires
    }
    /// Where the rule was defined.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The context roots the rule reads (`customer`, `order`, …).
    pub fn reads(&self) -> impl Iterator<Item = Root> + '_ {
        self.reads.iter().copied()
    }

    /// `for_each` as written (`order.orderItems as item`), if any.
    pub fn for_each(&self) -> Option<String> {
        self.for_each
            .as_ref()
            .map(|f| format!("{} as {}", f.path.text, f.var))
    }

    /// The rule's YAML source as written in its file.
    pub fn source_text(&self) -> &str {
        &self.source_text
    }

    /// The named conditions the rule uses (directly or through other named
    /// conditions), each with its YAML source.
    pub fn conditions_used(&self) -> &[(String, String)] {
        &self.conditions_text
    }

    /// A readable account of the rule: what it checks and why, where it comes
    /// from, its definition and the named conditions it uses.
    pub fn explain(&self) -> String {
        let mut out = format!("{} — {}\n", self.id, self.title);
        out.push_str(&format!("  severity:  {}\n", self.severity));
        if let Some(p) = &self.preempts {
            out.push_str(&format!("  pre-empts: {p}\n"));
        }
        if !self.requires.is_empty() {
            out.push_str(&format!("  requires:  {}\n", self.requires.join(", ")));
        }
        if !self.tags.is_empty() {
            out.push_str(&format!("  tags:      {}\n", self.tags.join(", ")));
        }
        if let Some(d) = &self.docs {
            out.push_str(&format!("  docs:      {d}\n"));
        }
        let reads: Vec<&str> = self.reads.iter().map(|r| r.name()).collect();
        out.push_str(&format!("  reads:     {}\n", reads.join(", ")));
        out.push_str(&format!(
            "  defined:   {}:{}\n",
            self.origin.file, self.origin.line
        ));
        if let Some(d) = &self.description {
            out.push('\n');
            for line in d.trim().lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out.push_str("\nIn words:\n");
        for line in explain::in_words(self).lines() {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str("\nDefinition:\n");
        for line in self.source_text.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        for (name, text) in &self.conditions_text {
            out.push_str(&format!("\nNamed condition `{name}`:\n"));
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        out
    }
}

/// How a rule set is evaluated.
///
/// ```
/// use ion_preflight::{EvalOptions, report::Severity};
/// let strict = EvalOptions::default().with_fail_on(Severity::Warning);
/// assert_eq!(strict.fail_on, Severity::Warning);
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct EvalOptions {
    /// The lowest severity whose failure blocks (default `error`).
    pub fail_on: Severity,
    /// Attach to every result which branch of its conditions decided it
    /// ([`crate::report::Explanation`]); a second pass, off by default.
    pub explain: bool,
}

impl EvalOptions {
    /// Explain every result (`--explain`).
    pub fn with_explain(mut self, explain: bool) -> Self {
        self.explain = explain;
        self
    }

    /// Failures of `severity` and above block.
    pub fn with_fail_on(mut self, severity: Severity) -> Self {
        self.fail_on = severity;
        self
    }
}

/// A loaded, validated, compiled rule set. Immutable, `Send + Sync`, cheap to
/// clone and share.
#[derive(Clone, Debug)]
pub struct RuleSet {
    inner: Arc<Inner>,
    /// The rules a [`Selection`] left out, with why (empty without one):
    /// every report of this set names them.
    deselected: Arc<[crate::report::Deselected]>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Inner {
    pub(crate) rules: Vec<Rule>,
    /// How evaluation proceeds: every rule after the rules it requires,
    /// rules over the same list in one walk.
    pub(crate) plan: Vec<eval::Step>,
    pub(crate) needs: Needs,
    /// Paths with unchecked segments, in file and position order.
    pub(crate) unchecked: Vec<UncheckedPath>,
    /// The fields rules read directly from bound elements, numbered.
    pub(crate) fields: rows::FieldTable,
    /// How many named conditions are remembered per element.
    pub(crate) named_conditions: usize,
    /// What each loaded file contributed, in load order.
    pub(crate) composition: Vec<FileComposition>,
}

/// What one loaded rule file contributed to the effective set
/// ([`RuleSet::composition`]; `rules lint` prints it).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct FileComposition {
    /// The file (`builtin:default` for the embedded set).
    pub file: String,
    /// Ids of the rules it defined, in file order.
    pub added: Vec<String>,
    /// Ids it disabled.
    pub disabled: Vec<String>,
    /// Rules whose severity it changed, with the new severity.
    pub overridden: Vec<(String, Severity)>,
    /// Named conditions it defined that no earlier file had.
    pub defined_conditions: Vec<String>,
    /// Named conditions it redefined (replacing an earlier file's, for
    /// every rule that uses them).
    pub redefined_conditions: Vec<String>,
}

impl FileComposition {
    /// One line: `FILE: added 2 rules (a, b); disabled x; …`.
    pub fn summary(&self) -> String {
        fn part(out: &mut Vec<String>, what: &str, items: &[String]) {
            if !items.is_empty() {
                out.push(format!("{what} {}", items.join(", ")));
            }
        }
        let mut parts = Vec::new();
        match self.added.len() {
            0 => {}
            n @ 1..=8 => parts.push(format!(
                "added {} ({})",
                plural_rules(n),
                self.added.join(", ")
            )),
            n => parts.push(format!("added {}", plural_rules(n))),
        }
        part(&mut parts, "disabled", &self.disabled);
        let overridden: Vec<String> = self
            .overridden
            .iter()
            .map(|(id, s)| format!("{id} (to {s})"))
            .collect();
        part(&mut parts, "overrode", &overridden);
        let conditions = |n: usize| if n == 1 { "condition" } else { "conditions" };
        let redefined = format!("redefined {}", conditions(self.redefined_conditions.len()));
        part(&mut parts, &redefined, &self.redefined_conditions);
        let defined = format!("defined {}", conditions(self.defined_conditions.len()));
        part(&mut parts, &defined, &self.defined_conditions);
        if parts.is_empty() {
            parts.push("nothing".to_owned());
        }
        format!("{}: {}", self.file, parts.join("; "))
    }
}

static BUILTIN: LazyLock<Result<RuleSet, String>> =
    LazyLock::new(|| load_builtin(Builtin::Default));

static BUILTIN_NEW: LazyLock<Result<RuleSet, String>> =
    LazyLock::new(|| load_builtin(Builtin::NewCustomer));

fn load_builtin(set: Builtin) -> Result<RuleSet, String> {
    compile::load(&[compile::Unit::Builtin(set)])
        .map(|inner| RuleSet {
            inner: Arc::new(inner),
            deselected: Arc::from([]),
        })
        .map_err(|e| e.to_string())
}

/// The compiled set, or an empty one (whose checks are all
/// `indeterminate`) if the embedded file ever failed to load.
fn builtin_or_empty(set: &Result<RuleSet, String>) -> RuleSet {
    match set {
        Ok(set) => set.clone(),
        Err(_) => RuleSet {
            inner: Arc::new(Inner {
                rules: Vec::new(),
                plan: Vec::new(),
                needs: Needs::default(),
                unchecked: Vec::new(),
                fields: rows::FieldTable::default(),
                named_conditions: 0,
                composition: Vec::new(),
            }),
            deselected: Arc::from([]),
        },
    }
}

impl RuleSet {
    /// The built-in rule set (`rules/default.yaml`), compiled once per
    /// process. The embedded file is validated by the test suite, so this
    /// cannot fail in a released build; if it ever did, the result is an
    /// empty set whose checks are all `indeterminate` rather than a panic.
    pub fn builtin() -> RuleSet {
        builtin_or_empty(&BUILTIN)
    }

    /// The built-in new-customer rule set (`rules/new-customer.yaml`,
    /// `builtin:new-customer`), compiled once per process, with the same
    /// guarantee as [`RuleSet::builtin`].
    pub fn builtin_new_customer() -> RuleSet {
        builtin_or_empty(&BUILTIN_NEW)
    }

    /// Loads the built-in set and reports its problems; for tests and
    /// `rules lint builtin:default`.
    pub fn try_builtin() -> Result<RuleSet, RuleLoadError> {
        RuleSetLoader::new().load()
    }

    /// A rule set from one YAML text (without the built-in set unless the
    /// text `extends` it).
    pub fn from_yaml(name: &str, text: &str) -> Result<RuleSet, RuleLoadError> {
        RuleSetLoader::new()
            .without_builtin()
            .source(name, text)
            .load()
    }

    /// The rules, in evaluation and report order.
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// The rule with id `id`.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.inner.rules.iter().find(|r| r.id == id)
    }

    /// The rule id most like `id`, when one is close enough to be what was
    /// meant: for "did you mean" messages.
    ///
    /// ```
    /// let set = ion_preflight::RuleSet::builtin();
    /// assert_eq!(set.closest_id("customer-actve"), Some("customer-active"));
    /// assert_eq!(set.closest_id("quantity"), None);
    /// ```
    pub fn closest_id(&self, id: &str) -> Option<&str> {
        diagnostics::closest(id, self.inner.rules.iter().map(|r| r.id.as_str()))
    }

    /// The paths written with an unchecked (`~`) segment, with where they
    /// are written, in file and position order. Empty for a set whose every
    /// path was checked against the context's types.
    pub fn unchecked_paths(&self) -> &[UncheckedPath] {
        &self.inner.unchecked
    }

    /// What each loaded file added, disabled, overrode and redefined, in
    /// load order (extended files before the files extending them).
    pub fn composition(&self) -> &[FileComposition] {
        &self.inner.composition
    }

    /// Which resources the rules read.
    pub fn needs(&self) -> Needs {
        self.inner.needs
    }

    /// Evaluates every rule against `ctx` with default options.
    pub fn evaluate(&self, ctx: &Context) -> Report {
        self.evaluate_with(ctx, &EvalOptions::default())
    }

    /// Evaluates every rule against `ctx`. Never panics, whatever the data.
    ///
    /// The verdict is the report's own ([`Report::verdict`]), decided from
    /// the results in one place: an empty set (which the loader refuses;
    /// only the fallback of [`RuleSet::builtin`] can be one) has nothing to
    /// vouch for an order, so its verdict is `indeterminate`, never `ready`.
    pub fn evaluate_with(&self, ctx: &Context, options: &EvalOptions) -> Report {
        let mut report = eval::evaluate(&self.inner, ctx, options);
        if options.explain {
            trace::annotate(&self.inner, ctx, &mut report);
        }
        if !self.deselected.is_empty() {
            report.deselected = self.deselected.to_vec();
        }
        report
    }

    /// The rules a [`Selection`] left out of this set, with why, in the
    /// order of the set they were chosen from (empty without a selection).
    pub fn deselected(&self) -> &[crate::report::Deselected] {
        &self.deselected
    }
}

/// Builds a [`RuleSet`] from the built-in set and rule files.
///
/// ```
/// use ion_preflight::RuleSetLoader;
/// // The built-in set plus a file of the caller's (later files override).
/// let rules = RuleSetLoader::new()
///     .file("rules/tests/rules/acme-nce.yaml")
///     .load()?;
/// assert!(rules.rule("customer-active").is_some());
/// // A broken file is refused, every problem with file, line and column.
/// let e = RuleSetLoader::new().file("tests/broken-rules/yaml-syntax.yaml").load();
/// let Err(ion_preflight::RuleLoadError::Invalid { diagnostics }) = e else { panic!() };
/// assert!(diagnostics[0].file().ends_with("yaml-syntax.yaml"));
/// assert!(diagnostics[0].line() > 0);
/// # Ok::<(), ion_preflight::RuleLoadError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RuleSetLoader {
    builtins: Vec<Builtin>,
    sources: Vec<(String, Option<String>)>,
    selection: Selection,
}

impl Default for RuleSetLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl RuleSetLoader {
    /// A loader that starts from the built-in set.
    pub fn new() -> Self {
        Self::starting_from(Builtin::Default)
    }
    /// A loader that starts from the built-in set `set` (e.g.
    /// [`Builtin::NewCustomer`] for new-customer checks).
    pub fn starting_from(set: Builtin) -> Self {
        RuleSetLoader {
            builtins: vec![set],
            sources: Vec::new(),
            selection: Selection::default(),
        }
    }
    /// Leaves the built-in sets out.
    pub fn without_builtin(mut self) -> Self {
        self.builtins.clear();
        self
    }
    /// Adds the built-in set `set` (loaded before every file, once however
    /// often it is added or extended).
    pub fn with_builtin(mut self, set: Builtin) -> Self {
        if !self.builtins.contains(&set) {
            self.builtins.push(set);
        }
        self
    }
    /// Adds a rule file, read from disk at [`RuleSetLoader::load`].
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push((path.into().display().to_string(), None));
        self
    }
    /// Adds rule-file text under a display name.
    pub fn source(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.sources.push((name.into(), Some(text.into())));
        self
    }
    /// Evaluates only the rules `selection` keeps; the others are named
    /// in every report ([`RuleSet::deselected`]).
    pub fn select(mut self, selection: Selection) -> Self {
        self.selection = selection;
        self
    }

    /// Loads, validates and compiles everything added. Every problem in every
    /// file is reported, not only the first.
    pub fn load(&self) -> Result<RuleSet, RuleLoadError> {
        let set = self.load_units(None)?;
        if self.selection.is_empty() {
            return Ok(set);
        }
        let deselected = select::deselect(&set, &self.selection)?;
        if deselected.is_empty() {
            return Ok(set);
        }
        let mut chosen = self.load_units(Some(select::disable_source(&deselected)))?;
        chosen.deselected = Arc::from(deselected);
        Ok(chosen)
    }

    /// The units added, and `extra` (a selection's `disable`) last.
    fn load_units(&self, extra: Option<String>) -> Result<RuleSet, RuleLoadError> {
        let mut units = Vec::new();
        for &set in &self.builtins {
            units.push(compile::Unit::Builtin(set));
        }
        for (name, text) in &self.sources {
            units.push(match text {
                Some(text) => compile::Unit::Text {
                    name: name.clone(),
                    text: text.clone(),
                },
                None => compile::Unit::File(PathBuf::from(name)),
            });
        }
        if let Some(text) = extra {
            units.push(compile::Unit::Text {
                name: select::SELECTION_SOURCE.to_owned(),
                text,
            });
        }
        compile::load(&units).map(|inner| RuleSet {
            inner: Arc::new(inner),
            deselected: Arc::from([]),
        })
    }
}

/// Why rule files could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum RuleLoadError {
    /// A rule file could not be read.
    #[error("cannot read rule file {path}: {source}")]
    #[diagnostic(code(ion_preflight::rules::read))]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The files were read but have problems; every one is listed.
    #[error("{} in rule files", plural(diagnostics.len()))]
    #[diagnostic(code(ion_preflight::rules::invalid))]
    Invalid {
        /// Every problem found, in file order.
        #[related]
        diagnostics: Vec<Diagnostic>,
    },
    /// A selection ([`Selection`]) names a rule or tag the set does not
    /// have.
    #[error("{message}")]
    #[diagnostic(code(ion_preflight::rules::selection))]
    Selection {
        /// What is wrong, with the closest id or tag when one is close.
        message: String,
    },
}

impl RuleLoadError {
    /// Every diagnostic (empty for [`RuleLoadError::Read`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            RuleLoadError::Invalid { diagnostics } => diagnostics,
            RuleLoadError::Read { .. } | RuleLoadError::Selection { .. } => &[],
        }
    }
}

fn plural_rules(n: usize) -> String {
    if n == 1 {
        "1 rule".to_owned()
    } else {
        format!("{n} rules")
    }
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

#[cfg(test)]
mod tests;

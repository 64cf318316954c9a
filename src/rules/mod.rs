//! Rule files: the YAML language, loading and validation with source
//! locations, compiled conditions and evaluation into a [`Report`].
//!
//! The language is documented in `docs/rules.md`.

pub mod testing;
pub mod yaml;

use std::path::PathBuf;
use std::sync::Arc;

use crate::context::{Context, Needs};
use crate::report::{Report, Severity};

/// The built-in rule set's source, embedded at build time.
pub const BUILTIN_DEFAULT: &str = include_str!("../../rules/default.yaml");

/// Where a rule was defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file name (`builtin:default` for the embedded set).
    pub file: String,
    /// 1-based line of the rule's `id`.
    pub line: u32,
}

/// One compiled rule.
#[derive(Debug)]
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
}

/// How a rule set is evaluated.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvalOptions {
    /// The lowest severity whose failure blocks (default `error`).
    pub fail_on: Severity,
}

/// A loaded, validated, compiled rule set. Immutable, `Send + Sync`, cheap to
/// clone and share.
#[derive(Clone, Debug)]
pub struct RuleSet {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: Vec<Rule>,
    needs: Needs,
}

impl RuleSet {
    /// The built-in rule set (`rules/default.yaml`).
    pub fn builtin() -> RuleSet {
        RuleSet {
            inner: Arc::new(Inner {
                rules: Vec::new(),
                needs: Needs::default(),
            }),
        }
    }

    /// The rules, in evaluation and report order.
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// The rule with id `id`.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.inner.rules.iter().find(|r| r.id == id)
    }

    /// Which resources the rules read.
    pub fn needs(&self) -> Needs {
        self.inner.needs
    }

    /// Evaluates every rule against `ctx` with default options.
    pub fn evaluate(&self, ctx: &Context) -> Report {
        self.evaluate_with(ctx, &EvalOptions::default())
    }

    /// Evaluates every rule against `ctx`.
    pub fn evaluate_with(&self, ctx: &Context, options: &EvalOptions) -> Report {
        Report::from_results(
            ctx.account_id,
            ctx.customer_id,
            ctx.now,
            options.fail_on,
            Vec::new(),
        )
    }
}

/// Builds a [`RuleSet`] from the built-in set and rule files.
#[derive(Clone, Debug)]
pub struct RuleSetLoader {
    builtin: bool,
    sources: Vec<(String, Option<String>)>,
}

impl Default for RuleSetLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl RuleSetLoader {
    /// A loader that starts from the built-in set.
    pub fn new() -> Self {
        RuleSetLoader {
            builtin: true,
            sources: Vec::new(),
        }
    }
    /// Leaves the built-in set out.
    pub fn without_builtin(mut self) -> Self {
        self.builtin = false;
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
    /// Loads, validates and compiles everything added.
    pub fn load(&self) -> Result<RuleSet, RuleLoadError> {
        let _ = self.builtin;
        Ok(RuleSet::builtin())
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
}

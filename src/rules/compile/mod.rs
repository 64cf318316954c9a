//! Loading rule files, in stages with one concern each. Every stage takes
//! the previous stage's complete result and returns its own, carrying every
//! diagnostic found so far (nothing is muted or dropped between stages):
//!
//! 1. [`compose`]: read and parse each file, follow `extends`, register named
//!    conditions, collect rules, apply `overrides` and `disable` → [`Composed`].
//! 2. [`link`]: the effective set; `requires` resolved by id, disabled
//!    required rules, severity inversions → [`Linked`].
//! 3. [`conditions`] (with [`operators`], [`resolve`] for paths, variables
//!    and templates, and [`super::typecheck`]): every named condition checked
//!    on its own, every enabled rule compiled → [`Compiled`].
//! 4. [`plan`]: checks on the set as a whole (empty, `requires` cycles); the
//!    diagnostics, or the evaluation plan.
//!
//! [`nodes`] reads YAML nodes into values or located diagnostics for every
//! stage; the operator vocabulary is [`super::operator::Operator`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

mod compose;
mod conditions;
mod lines;
mod link;
mod nodes;
mod operators;
mod plan;
mod resolve;

pub(crate) use operators::build_regex;

use compose::Composed;
use conditions::Compiled;
use link::Linked;

use super::diagnostics::SourceFile;
use super::yaml::{Node, Pos};
use super::{Builtin, Inner, RuleLoadError};
use crate::report::Severity;

/// One unit of rule text to load.
#[derive(Clone, Debug)]
pub(crate) enum Unit {
    Builtin(Builtin),
    File(PathBuf),
    Text { name: String, text: String },
}

pub(super) struct NamedCond {
    /// Shared: every use of the condition compiles it from here.
    pub(super) node: Arc<Node>,
    pub(super) file: Arc<SourceFile>,
    /// Variables the condition uses that it does not bind itself, each with
    /// the first place (in this definition or one it uses) that reads it.
    pub(super) free: FreeVars,
}

/// Free variables of a named condition and where each is first read.
pub(super) type FreeVars = BTreeMap<String, (Arc<SourceFile>, Pos)>;

/// A place in a file: where a rule, a `requires` entry, a severity or a
/// `disable` entry was written.
#[derive(Clone)]
pub(super) struct Place {
    pub(super) file: Arc<SourceFile>,
    pub(super) pos: Pos,
}

/// A rule as composition collected it: checked fields, and its condition
/// and message nodes still to be compiled.
pub(super) struct PendingRule {
    pub(super) file: Arc<SourceFile>,
    pub(super) id: String,
    pub(super) id_pos: Pos,
    pub(super) title: String,
    pub(super) description: Option<String>,
    pub(super) severity: Severity,
    pub(super) tags: Vec<String>,
    pub(super) docs: Option<String>,
    pub(super) preempts: Option<String>,
    pub(super) requires: Vec<(String, Pos)>,
    pub(super) for_each: Option<Node>,
    pub(super) when: Option<Node>,
    pub(super) assert: Option<Node>,
    pub(super) message: Option<Node>,
    pub(super) disabled: bool,
    pub(super) source_text: String,
    /// Where the rule's effective severity was set: its `severity`, or the
    /// last `overrides` entry that changed it.
    pub(super) severity_at: Place,
}

/// Stack for the loading thread: parsing and compiling are recursive, and a
/// hostile file nested as deep as the YAML limits allow must get a clear
/// error, not overflow a small (e.g. async worker) stack.
const LOADER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Loads the units, in order, into a compiled rule set. A built-in set on
/// its own is read from its prepared form when that is current
/// ([`super::prepared`]).
pub(crate) fn load(units: &[Unit]) -> Result<Inner, RuleLoadError> {
    if let [Unit::Builtin(set)] = units
        && let Some(inner) = super::prepared::load(*set)
    {
        return Ok(inner);
    }
    load_from_source(units)
}

/// Loads the units from their YAML, whatever is prepared.
pub(crate) fn load_from_source(units: &[Unit]) -> Result<Inner, RuleLoadError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("rule-loader".into())
            .stack_size(LOADER_STACK_BYTES)
            .spawn_scoped(s, || load_on_this_thread(units))
            .map_err(|source| RuleLoadError::Read {
                path: "(rule loader thread)".into(),
                source,
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(RuleLoadError::Read {
                    path: "(rule loader thread)".into(),
                    source: std::io::Error::other("the rule loader stopped unexpectedly"),
                })
            })
    })
}

// Not inlined: benches/instructions.sh counts instructions per call of it.
#[inline(never)]
fn load_on_this_thread(units: &[Unit]) -> Result<Inner, RuleLoadError> {
    let composed: Composed = compose::compose(units)?;
    let linked: Linked = link::link(composed);
    let compiled: Compiled = conditions::compile(linked);
    plan::plan(compiled)
}

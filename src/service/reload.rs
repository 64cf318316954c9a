//! The rule sets a service checks with (one for orders, one for new
//! customers), and reloading them without a restart: both sets are loaded
//! again and swapped in together only when both load cleanly; a check holds
//! the revision it started with until it finishes.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::rules::{Builtin, RuleLoadError, RuleSet, RuleSetLoader};

/// Which rule files a service loads (and reloads): the order set
/// (`builtin:default` and `files`, as `check` loads it) and the
/// new-customer set (`builtin:new-customer` and `new_customer_files`, as
/// `check-new-customer` loads it). A file named `builtin:…` adds that
/// built-in set, as on the command line.
#[derive(Clone, Debug)]
pub struct RuleSpec {
    /// Whether `builtin:default` is under the order rules.
    pub builtin: bool,
    /// Order rule files on top of it, in order.
    pub files: Vec<PathBuf>,
    /// Whether `builtin:new-customer` is under the new-customer rules.
    pub new_customer_builtin: bool,
    /// New-customer rule files on top of it, in order.
    pub new_customer_files: Vec<PathBuf>,
}

impl Default for RuleSpec {
    fn default() -> Self {
        RuleSpec {
            builtin: true,
            files: Vec::new(),
            new_customer_builtin: true,
            new_customer_files: Vec::new(),
        }
    }
}

impl RuleSpec {
    /// Every rule file the spec reads (not the built-in sets), orders'
    /// first: what a file watcher watches.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.files
            .iter()
            .chain(&self.new_customer_files)
            .filter(|p| p.to_str().and_then(Builtin::from_name).is_none())
    }
}

/// The loaded rule sets and their revision.
#[derive(Debug)]
pub struct Revision {
    /// The order rules (`POST /v1/check`, the proxy's order route).
    pub rules: RuleSet,
    /// The new-customer rules (`POST /v1/check-new-customer`, the proxy's
    /// customer-creation route).
    pub new_customer: RuleSet,
    /// A hash of everything both sets were loaded from (which files, their
    /// bytes, the built-in sets included): replicas loading the same files
    /// report the same revision.
    pub id: String,
}

/// The current rule set of a running service.
#[derive(Debug)]
pub struct LiveRules {
    spec: RuleSpec,
    current: RwLock<Arc<Revision>>,
}

/// FNV-1a, 64 bits: a stable content hash without a dependency.
fn fnv(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

/// Loads one set (`base` unless left out, then `files`), hashing what it
/// read into `hash`.
fn load_set(
    hash: &mut u64,
    base: Builtin,
    with_base: bool,
    files: &[PathBuf],
) -> Result<RuleSet, RuleLoadError> {
    let mut loader = RuleSetLoader::starting_from(base);
    fnv(hash, &[1]);
    if with_base {
        fnv(hash, base.source().as_bytes());
    } else {
        loader = loader.without_builtin();
    }
    for path in files {
        if let Some(set) = path.to_str().and_then(Builtin::from_name) {
            fnv(hash, &[0]);
            fnv(hash, set.source().as_bytes());
            loader = loader.with_builtin(set);
            continue;
        }
        // Read here, so the revision hashes exactly the bytes that loaded.
        let text = std::fs::read_to_string(path).map_err(|source| RuleLoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let name = path.display().to_string();
        fnv(hash, &[0]);
        fnv(hash, name.as_bytes());
        fnv(hash, &[0]);
        fnv(hash, text.as_bytes());
        loader = loader.source(name, text);
    }
    loader.load()
}

fn load(spec: &RuleSpec) -> Result<Revision, RuleLoadError> {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let rules = load_set(&mut hash, Builtin::Default, spec.builtin, &spec.files)?;
    let new_customer = load_set(
        &mut hash,
        Builtin::NewCustomer,
        spec.new_customer_builtin,
        &spec.new_customer_files,
    )?;
    Ok(Revision {
        rules,
        new_customer,
        id: format!("{hash:016x}"),
    })
}

impl LiveRules {
    /// Loads the sets `spec` names.
    pub fn load(spec: RuleSpec) -> Result<Self, RuleLoadError> {
        let first = load(&spec)?;
        Ok(LiveRules {
            spec,
            current: RwLock::new(Arc::new(first)),
        })
    }

    /// The current sets; a check keeps them for as long as it runs.
    pub fn current(&self) -> Arc<Revision> {
        match self.current.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Loads both sets again; swaps them in when both load cleanly, else
    /// keeps the current ones and returns why.
    pub fn reload(&self) -> Result<Arc<Revision>, RuleLoadError> {
        let next = Arc::new(load(&self.spec)?);
        let mut slot = match self.current.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::clone(&next);
        Ok(next)
    }
}

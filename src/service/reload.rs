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
    /// The revision id of the files' last content that failed to load, so
    /// that a file watcher does not load (and count) the same broken bytes
    /// again on every event.
    failed: std::sync::Mutex<Option<String>>,
}

/// FNV-1a, 64 bits: a stable content hash without a dependency.
fn fnv(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

/// Reads one set's files (`base` unless left out, then `files`) into a
/// loader, hashing what it read into `hash`.
fn read_set(
    hash: &mut u64,
    base: Builtin,
    with_base: bool,
    files: &[PathBuf],
) -> Result<RuleSetLoader, RuleLoadError> {
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
        // Read here, so the revision hashes exactly the bytes that load.
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
    Ok(loader)
}

/// Both sets' files, read and hashed, not yet compiled.
struct Read {
    id: String,
    rules: RuleSetLoader,
    new_customer: RuleSetLoader,
}

fn read(spec: &RuleSpec) -> Result<Read, RuleLoadError> {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let rules = read_set(&mut hash, Builtin::Default, spec.builtin, &spec.files)?;
    let new_customer = read_set(
        &mut hash,
        Builtin::NewCustomer,
        spec.new_customer_builtin,
        &spec.new_customer_files,
    )?;
    Ok(Read {
        id: format!("{hash:016x}"),
        rules,
        new_customer,
    })
}

impl Read {
    fn load(self) -> Result<Revision, RuleLoadError> {
        Ok(Revision {
            rules: self.rules.load()?,
            new_customer: self.new_customer.load()?,
            id: self.id,
        })
    }
}

/// What [`LiveRules::reload_if_changed`] did.
#[derive(Debug)]
pub enum Reloaded {
    /// The files hold the bytes of the current revision, or of one that
    /// already failed to load: nothing was done.
    Unchanged,
    /// The new revision is in use.
    Swapped(Arc<Revision>),
}

impl LiveRules {
    /// Loads the sets `spec` names.
    pub fn load(spec: RuleSpec) -> Result<Self, RuleLoadError> {
        let first = read(&spec)?.load()?;
        Ok(LiveRules {
            spec,
            current: RwLock::new(Arc::new(first)),
            failed: std::sync::Mutex::new(None),
        })
    }

    /// Which files the sets are loaded from.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
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
        let next = read(&self.spec)?;
        self.swap_in(next)
    }

    /// Like [`LiveRules::reload`], but only when the files' bytes differ
    /// from the current revision's and from the last ones that failed (what
    /// a file watcher calls on every burst of events).
    pub fn reload_if_changed(&self) -> Result<Reloaded, RuleLoadError> {
        let next = read(&self.spec)?;
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if next.id == self.current().id || failed.as_deref() == Some(next.id.as_str()) {
            return Ok(Reloaded::Unchanged);
        }
        drop(failed);
        self.swap_in(next).map(Reloaded::Swapped)
    }

    fn swap_in(&self, next: Read) -> Result<Arc<Revision>, RuleLoadError> {
        let id = next.id.clone();
        let next = match next.load() {
            Ok(r) => Arc::new(r),
            Err(e) => {
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
                return Err(e);
            }
        };
        let mut slot = match self.current.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::clone(&next);
        Ok(next)
    }
}

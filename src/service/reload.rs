//! The rule set a service checks with, and reloading it without a restart:
//! the whole set is loaded again and swapped in only when it loads cleanly;
//! a check holds the set it started with until it finishes.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::rules::{BUILTIN_DEFAULT, RuleLoadError, RuleSet, RuleSetLoader};

/// Which rule files a service loads (and reloads).
#[derive(Clone, Debug)]
pub struct RuleSpec {
    /// Whether the built-in set is included.
    pub builtin: bool,
    /// Rule files on top of it, in order.
    pub files: Vec<PathBuf>,
}

impl Default for RuleSpec {
    fn default() -> Self {
        RuleSpec {
            builtin: true,
            files: Vec::new(),
        }
    }
}

/// A loaded rule set and its revision.
#[derive(Debug)]
pub struct Revision {
    /// The rules.
    pub rules: RuleSet,
    /// A hash of everything the set was loaded from (which files, their
    /// bytes, the built-in set when included): replicas loading the same
    /// files report the same revision.
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

fn load(spec: &RuleSpec) -> Result<Revision, RuleLoadError> {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut loader = RuleSetLoader::new();
    if spec.builtin {
        fnv(&mut hash, BUILTIN_DEFAULT.as_bytes());
    } else {
        loader = loader.without_builtin();
    }
    for path in &spec.files {
        // Read here, so the revision hashes exactly the bytes that loaded.
        let text = std::fs::read_to_string(path).map_err(|source| RuleLoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let name = path.display().to_string();
        fnv(&mut hash, &[0]);
        fnv(&mut hash, name.as_bytes());
        fnv(&mut hash, &[0]);
        fnv(&mut hash, text.as_bytes());
        loader = loader.source(name, text);
    }
    Ok(Revision {
        rules: loader.load()?,
        id: format!("{hash:016x}"),
    })
}

impl LiveRules {
    /// Loads the set `spec` names.
    pub fn load(spec: RuleSpec) -> Result<Self, RuleLoadError> {
        let first = load(&spec)?;
        Ok(LiveRules {
            spec,
            current: RwLock::new(Arc::new(first)),
        })
    }

    /// The current set; a check keeps it for as long as it runs.
    pub fn current(&self) -> Arc<Revision> {
        match self.current.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Loads the whole set again; swaps it in when it loads cleanly, else
    /// keeps the current one and returns why.
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

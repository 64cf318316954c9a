//! A `matches` pattern: its source and its compiled program, built when the
//! rule set loads (a user's file, so a bad pattern is a located diagnostic)
//! or, for a prepared built-in set, on first use (the prepared set was
//! compiled from the same source by the same code, so it builds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex_automata::meta::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A regular expression of a `matches` test.
#[derive(Clone)]
pub(crate) struct Pattern {
    inner: Arc<Inner>,
}

struct Inner {
    source: Box<str>,
    /// `None` inside: the pattern did not build (never for a pattern that
    /// loaded from a file; see [`Pattern::regex`]).
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    /// A pattern already compiled.
    pub(crate) fn compiled(source: &str, regex: Regex) -> Pattern {
        Pattern {
            inner: Arc::new(Inner {
                source: source.into(),
                compiled: OnceLock::from(Some(regex)),
            }),
        }
    }

    /// A pattern compiled on first use.
    fn lazy(source: Box<str>) -> Pattern {
        Pattern {
            inner: Arc::new(Inner {
                source,
                compiled: OnceLock::new(),
            }),
        }
    }

    /// The pattern as written.
    pub(crate) fn source(&self) -> &str {
        &self.inner.source
    }

    /// The compiled program, building it on first use. `None` only if a
    /// prepared pattern fails to build, which its preparation rules out; the
    /// test that uses it is then unknown, never passed.
    pub(crate) fn regex(&self) -> Option<&Regex> {
        self.inner
            .compiled
            .get_or_init(|| shared(&self.inner.source))
            .as_ref()
    }

    /// Whether `s` matches (false if the pattern could not be built).
    pub(crate) fn is_match(&self, s: &str) -> bool {
        self.regex().is_some_and(|re| re.is_match(s))
    }
}

/// The program for `source`, built once per process: a named condition is
/// copied into every rule that uses it, so one pattern appears many times
/// in a prepared set (a `Regex` clone shares the compiled program).
fn shared(source: &str) -> Option<Regex> {
    static BUILT: OnceLock<Mutex<HashMap<Box<str>, Option<Regex>>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked mid-insert; the map
    // is still a valid cache.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    built
        .entry(source.into())
        .or_insert_with(|| super::compile::build_regex(source).ok())
        .clone()
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}/", self.inner.source)
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.inner.source.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        Box::<str>::deserialize(d).map(Pattern::lazy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_pattern_builds_on_first_use_and_matches_as_the_loaded_one() {
        let source = "(?i)^CFQ7TTC0";
        let loaded = Pattern::compiled(
            source,
            super::super::compile::build_regex(source).expect("builds"),
        );
        let text = serde_json::to_string(&loaded).expect("serializes");
        assert_eq!(text, r#""(?i)^CFQ7TTC0""#);
        let prepared: Pattern = serde_json::from_str(&text).expect("deserializes");
        assert!(prepared.inner.compiled.get().is_none(), "not built yet");
        for s in ["CFQ7TTC0LH18", "cfq7ttc0lh18", "XCFQ7TTC0", ""] {
            assert_eq!(prepared.is_match(s), loaded.is_match(s), "{s:?}");
        }
        assert!(prepared.regex().is_some());
    }

    #[test]
    fn a_prepared_pattern_that_cannot_build_matches_nothing_and_says_so() {
        let broken: Pattern = serde_json::from_str(r#""(unclosed""#).expect("deserializes");
        assert!(broken.regex().is_none());
        assert!(!broken.is_match("(unclosed"));
    }
}

//! The built-in rule sets, compiled ahead of time.
//!
//! Every process used to parse, check and compile `rules/default.yaml`
//! before its first check. The files in `rules/prepared/` hold what the
//! compiler makes of each built-in set, serialized with `postcard` (patterns
//! by their source, built on first use), so a process only reads them back.
//!
//! Each file starts with the fingerprint `build.rs` computes of the built-in
//! YAML and the compiler's code (16 hex digits and a newline). A prepared set is used only when that
//! fingerprint is the build's; after any edit it is not, and the set is
//! compiled from its YAML as before (correct, only slower) until the files
//! are prepared again:
//!
//! ```text
//! PREPARE_RULES=1 cargo test --lib rules::prepared
//! ```
//!
//! The test `the_prepared_sets_are_what_the_compiler_makes_of_the_yaml`
//! fails while a file is stale, so CI never ships one.

use super::{Builtin, Inner};

/// The fingerprint of this build's rule inputs (see `build.rs`).
const INPUTS: &str = env!("ION_PREFLIGHT_RULE_INPUTS");

/// The prepared file of `set`, as embedded.
fn embedded(set: Builtin) -> &'static [u8] {
    match set {
        Builtin::Default => include_bytes!("../../rules/prepared/default.postcard"),
        Builtin::NewCustomer => include_bytes!("../../rules/prepared/new-customer.postcard"),
    }
}

/// The prepared `set`, if its file was prepared from this build's inputs
/// and reads.
pub(crate) fn load(set: Builtin) -> Option<Inner> {
    read(embedded(set))
        .inspect_err(|why| tracing::debug!(set = set.name(), "compiling the YAML: {why}"))
        .ok()
}

/// A prepared file's set, or why it cannot be used.
fn read(file: &[u8]) -> Result<Inner, String> {
    let body = file
        .strip_prefix(INPUTS.as_bytes())
        .and_then(|rest| rest.strip_prefix(b"\n"))
        .ok_or("the prepared set is stale (its fingerprint is not this build's)")?;
    postcard::from_bytes(body).map_err(|e| format!("the prepared set does not read: {e}"))
}

#[cfg(test)]
fn render(inner: &Inner) -> Vec<u8> {
    let mut file = format!("{INPUTS}\n").into_bytes();
    file.extend(postcard::to_allocvec(inner).expect("a compiled set serializes"));
    file
}

/// A JSON value of a rule (`equals: …`) as its JSON text: postcard, which
/// does not describe its own data, cannot read a `serde_json::Value`
/// (whose type is only known from the data).
pub(crate) mod json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub(crate) fn serialize<T: Serialize, S: Serializer>(
        value: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        serde_json::to_string(value)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, T: serde::de::DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = <&str>::deserialize(d)?;
        serde_json::from_str(text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile::{self, Unit};

    fn file_name(set: Builtin) -> &'static str {
        match set {
            Builtin::Default => "default.postcard",
            Builtin::NewCustomer => "new-customer.postcard",
        }
    }

    #[test]
    fn the_prepared_sets_are_what_the_compiler_makes_of_the_yaml() {
        let prepare = std::env::var_os("PREPARE_RULES").is_some();
        for set in Builtin::ALL {
            let compiled = compile::load_from_source(&[Unit::Builtin(set)])
                .unwrap_or_else(|e| panic!("{} loads: {e}", set.name()));
            let want = render(&compiled);
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("rules/prepared")
                .join(file_name(set));
            if prepare {
                std::fs::write(&path, &want).expect("the prepared file is written");
                continue;
            }
            assert!(
                embedded(set) == want,
                "{} is stale (the built-in YAML or the compiler changed): run \
                 `PREPARE_RULES=1 cargo test --lib rules::prepared`, then review and commit it",
                path.display()
            );
        }
    }

    #[test]
    fn a_prepared_set_reads_back_to_itself() {
        for set in Builtin::ALL {
            let inner = load(set).unwrap_or_else(|| panic!("{} is prepared", set.name()));
            assert_eq!(render(&inner), embedded(set), "{}", set.name());
            assert!(!inner.rules.is_empty());
        }
    }

    #[test]
    fn a_stale_or_unreadable_file_is_not_used() {
        // The loader compiles the YAML when `read` says no.
        let file = embedded(Builtin::Default);
        assert!(read(file).is_ok());
        let body = &file[INPUTS.len() + 1..];
        let with = |inputs: &str, body: &[u8]| [inputs.as_bytes(), b"\n", body].concat();
        // Each refusal says why (the loader logs it at debug level).
        let why = |file: &[u8]| read(file).err().unwrap_or_default();
        assert!(why(&with("0000000000000000", body)).contains("stale"));
        assert!(why(&with(INPUTS, b"\x05garbage")).contains("does not read"));
        assert!(why(&with(INPUTS, &body[..body.len() / 2])).contains("does not read"));
        assert!(why(body).contains("stale"), "no fingerprint");
    }

    #[test]
    fn json_values_keep_their_type_through_the_prepared_form() {
        let set = load(Builtin::Default).expect("prepared");
        let compiled =
            compile::load_from_source(&[Unit::Builtin(Builtin::Default)]).expect("loads");
        // Every rule's conditions, as the evaluator sees them.
        for (a, b) in set.rules.iter().zip(&compiled.rules) {
            assert_eq!(
                format!("{:?}", a.assert),
                format!("{:?}", b.assert),
                "{}",
                a.id()
            );
            assert_eq!(
                format!("{:?}", a.when),
                format!("{:?}", b.when),
                "{}",
                a.id()
            );
        }
    }
}

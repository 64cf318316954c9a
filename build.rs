//! Fingerprints what the prepared built-in rule sets (`rules/prepared/`)
//! are made from: the built-in YAML files and the code that compiles them.
//! A prepared set is used only when its recorded fingerprint is this one;
//! otherwise the set is compiled from its YAML, so an edit never runs with
//! a stale set (and `cargo test` says how to prepare it again).

use std::path::{Path, PathBuf};

/// Files and directories (every file below, recursively) that decide what a
/// built-in set compiles to.
const INPUTS: &[&str] = &[
    "rules/default.yaml",
    "rules/new-customer.yaml",
    "src/rules",
    "src/context",
    "src/ion/types.rs",
    "src/ion/order.rs",
    "src/ion/new_customer.rs",
    "src/reference.rs",
    "src/did_you_mean.rs",
    "src/report/mod.rs",
];

fn main() {
    let mut files = Vec::new();
    for input in INPUTS {
        println!("cargo::rerun-if-changed={input}");
        collect(Path::new(input), &mut files);
    }
    files.sort();
    // FNV-1a, 64 bits: stable across Rust releases (std's hashers are not).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // Path separators and line endings do not change what compiles.
        eat(file.to_string_lossy().replace('\\', "/").as_bytes());
        eat(&[0]);
        let text: Vec<u8> = bytes.into_iter().filter(|&b| b != b'\r').collect();
        eat(&(text.len() as u64).to_le_bytes());
        eat(&text);
    }
    println!("cargo::rustc-env=ION_PREFLIGHT_RULE_INPUTS={hash:016x}");
}

/// Every file below `path`, except unit-test directories (a test cannot
/// change what a set compiles to).
fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        if path.file_name().is_some_and(|n| n == "tests") {
            return;
        }
        let entries = std::fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for entry in entries {
            collect(&entry.expect("a directory entry").path(), out);
        }
    } else {
        out.push(path.to_owned());
    }
}

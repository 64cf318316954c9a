//! Every YAML and shell example in the README and docs/ runs as shown, or
//! says why not in its fence's info string (the first word stays the
//! language, so it is still highlighted):
//!
//! - ```` ```yaml ````: a rule file; it loads on top of the built-in set
//!   (`rules lint`). ```` ```yaml new-customer ````: on top of
//!   `builtin:new-customer`. ```` ```yaml rule-test ````: a rule-test file;
//!   `rules test` runs it (from a directory two levels below the crate, as
//!   its `../../fixtures` paths assume) and every case passes.
//!   ```` ```yaml fragment ````: part of a file (a condition, a case), not
//!   loaded.
//! - ```` ```sh ````: run with `sh -e` in a scratch directory that sees the
//!   crate's `fixtures/` and `rules/`, `ion-preflight` on `PATH` and
//!   `cargo run --release --` standing for it; it must exit 0, or the code
//!   its `exit=N` word says. ```` ```sh no-run ````: needs live ION, a
//!   network or cargo; not run, but every `ion-preflight` command in it
//!   must parse (flags, values, subcommands).

use std::path::{Path, PathBuf};

use clap::Parser;
use ion_preflight::cli::Cli;

use crate::cli_support::{clean_env, root, run};

/// One fenced block.
#[derive(Debug)]
struct Block {
    file: String,
    line: usize,
    lang: String,
    words: Vec<String>,
    body: String,
}

impl Block {
    fn has(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word)
    }

    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The fenced blocks of a Markdown file (indented ones too, as in a list).
fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).expect("doc");
    let name = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - trimmed.len();
        let mut words = info.split_whitespace().map(str::to_owned);
        let lang = words.next().unwrap_or_default();
        let words: Vec<String> = words.collect();
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && lines[end].trim() != "```" {
            end += 1;
        }
        let body: String = lines[start..end]
            .iter()
            .map(|l| format!("{}\n", l.get(indent..).unwrap_or(l.trim_start())))
            .collect();
        out.push(Block {
            file: name.clone(),
            line: start,
            lang,
            words,
            body,
        });
        i = end + 1;
    }
    out
}

fn all_blocks() -> Vec<Block> {
    doc_files().iter().flat_map(|f| blocks(f)).collect()
}

#[test]
fn every_yaml_example_loads_or_is_marked_a_fragment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    for (n, b) in all_blocks()
        .into_iter()
        .filter(|b| b.lang == "yaml")
        .enumerate()
    {
        if b.has("fragment") {
            continue;
        }
        if b.has("rule-test") {
            // Two levels below the crate, as `../../fixtures` assumes.
            let deep = dir.path().join(format!("t{n}/a/b"));
            std::fs::create_dir_all(&deep).expect("mkdir");
            std::os::unix::fs::symlink(
                root().join("fixtures"),
                dir.path().join(format!("t{n}/fixtures")),
            )
            .expect("symlink");
            let file = deep.join("example.yaml");
            std::fs::write(&file, &b.body).expect("write");
            let r = run(crate::cli_support::bin().args(["rules", "test"]).arg(&file));
            assert_eq!(r.code, 0, "{}: {}\n{}", b.at(), r.stdout, r.stderr);
        } else {
            let file = dir.path().join(format!("example-{n}.yaml"));
            std::fs::write(&file, &b.body).expect("write");
            let mut cmd = crate::cli_support::bin();
            cmd.args(["rules", "lint"]).arg(&file);
            if b.has("new-customer") {
                cmd.args(["--no-default-rules"]).arg("builtin:new-customer");
            }
            let r = run(&mut cmd);
            assert_eq!(r.code, 0, "{} does not load:\n{}", b.at(), r.stderr);
        }
        checked += 1;
    }
    assert!(checked >= 5, "{checked} YAML examples checked");
}

/// The commands of a shell block: continuation lines joined, comments and
/// blank lines dropped, each split into words (quotes respected) and cut
/// at the first `|`, `>`, `<`, `&` or `;`.
fn commands(body: &str) -> Vec<Vec<String>> {
    let joined = body.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut in_word = false;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    in_word = true;
                }
                (None, '#') if !in_word => break,
                (None, '|' | '>' | '<' | '&' | ';') => break,
                (None, c) if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                (None, c) => {
                    word.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            words.push(word);
        }
        if !words.is_empty() {
            out.push(words);
        }
    }
    out
}

/// The arguments after the binary's name, when `words` runs ion-preflight
/// (directly, as `./target/release/ion-preflight`, or through `cargo run
/// --release --`), after any `VAR=value` prefix.
fn ion_preflight_args(words: &[String]) -> Option<Vec<String>> {
    let words: Vec<&String> = words.iter().skip_while(|w| w.contains('=')).collect();
    let first = words.first()?;
    if first.ends_with("ion-preflight") {
        return Some(words[1..].iter().map(|w| (*w).clone()).collect());
    }
    if words.len() > 3 && *first == "cargo" && words[1] == "run" {
        let at = words.iter().position(|w| *w == "--")?;
        return Some(words[at + 1..].iter().map(|w| (*w).clone()).collect());
    }
    None
}

#[test]
fn every_shell_example_runs_or_its_commands_parse() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ion-preflight"));
    let bin_dir = bin.parent().expect("bin dir").to_owned();
    let mut ran = 0;
    let mut parsed = 0;
    let mut failures = Vec::new();
    for b in all_blocks().into_iter().filter(|b| b.lang == "sh") {
        // A block that exports ION_ACCOUNT_ID, or says it runs where it is
        // exported, gives its commands the account.
        let exports_account = b.body.contains("ION_ACCOUNT_ID");
        for words in commands(&b.body) {
            let Some(args) = ion_preflight_args(&words) else {
                continue;
            };
            let mut argv = vec!["ion-preflight".to_owned()];
            argv.extend(args);
            let mut parsed_ok = Cli::try_parse_from(&argv);
            if let Err(e) = &parsed_ok
                && e.kind() == clap::error::ErrorKind::MissingRequiredArgument
                && exports_account
            {
                // The block exports ION_ACCOUNT_ID for the commands after it.
                argv.extend(["--account".to_owned(), "1001".to_owned()]);
                parsed_ok = Cli::try_parse_from(&argv);
            }
            match parsed_ok {
                Ok(_) => parsed += 1,
                Err(e) => failures.push(format!(
                    "{}: `{}` does not parse:\n{e}",
                    b.at(),
                    argv.join(" ")
                )),
            }
        }
        if b.has("no-run") {
            continue;
        }
        let expected: i32 = b
            .words
            .iter()
            .find_map(|w| w.strip_prefix("exit="))
            .map_or(0, |n| n.parse().expect("exit=N"));
        let scratch = tempfile::tempdir().expect("tempdir");
        for shared in ["fixtures", "rules"] {
            std::os::unix::fs::symlink(root().join(shared), scratch.path().join(shared))
                .expect("symlink");
        }
        let script = b.body.replace("cargo run --release --", "ion-preflight");
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut sh = assert_cmd::Command::new("sh");
        sh.current_dir(scratch.path())
            .env("PATH", path)
            .args(["-e", "-c", &script])
            .timeout(std::time::Duration::from_secs(60));
        let r = run(clean_env(&mut sh));
        if r.code != expected {
            failures.push(format!(
                "{} exits {} (expected {expected}):\n{}\n{}",
                b.at(),
                r.code,
                r.stdout,
                r.stderr
            ));
        }
        ran += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 3, "{ran} shell examples ran");
    assert!(parsed >= 10, "{parsed} commands parsed");
}

#[test]
fn the_shell_splitter_keeps_quotes_and_cuts_at_redirections() {
    assert_eq!(
        commands("a 'b c' \"d\" # note\nx --y \\\n  z > out | jq\n\n# only a comment\n"),
        vec![
            vec!["a".to_owned(), "b c".to_owned(), "d".to_owned()],
            vec!["x".to_owned(), "--y".to_owned(), "z".to_owned()],
        ]
    );
    let words: Vec<String> = ["cargo", "run", "--release", "--", "check", "--x"]
        .map(str::to_owned)
        .into();
    assert_eq!(
        ion_preflight_args(&words),
        Some(vec!["check".to_owned(), "--x".to_owned()])
    );
}

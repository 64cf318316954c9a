//! `ion-preflight.toml`: settings shared by every run in a directory tree.
//!
//! The file is found with `--config FILE`, else as `ion-preflight.toml` in
//! the working directory or the nearest parent that has one. Its values
//! become the defaults of the matching flags, so a flag wins, then the
//! environment (`ION_ACCOUNT_ID`, `ION_BASE_URL`), then the file, then the
//! built-in default. `ion-preflight config` prints each effective setting
//! and where it came from.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::write_stdout;
use crate::cli::exit::{CliError, Exit};

/// The file's name.
pub const FILE_NAME: &str = "ion-preflight.toml";

/// The keys, in the order `config` prints them.
pub const KEYS: [&str; 7] = [
    "account",
    "base_url",
    "rules",
    "no_default_rules",
    "fail_on",
    "concurrency",
    "format",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    rules: Option<Spanned<Vec<Spanned<String>>>>,
    no_default_rules: Option<Spanned<bool>>,
    fail_on: Option<Spanned<String>>,
    account: Option<Spanned<i64>>,
    base_url: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    format: Option<Spanned<String>>,
}

/// One setting of the file, with the line it is on.
#[derive(Clone, Debug)]
pub struct Setting {
    /// The value(s), as the flag would take them.
    pub values: Vec<String>,
    /// 1-based line and column of the value.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A loaded configuration file.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// Where it is.
    pub path: PathBuf,
    /// The settings it has, by key.
    pub settings: Vec<(&'static str, Setting)>,
}

impl ConfigFile {
    /// The setting for `key`, if the file has it.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s)
    }

    /// `FILE:LINE:COLUMN` of `key`'s value.
    pub fn place(&self, s: &Setting) -> String {
        format!("{}:{}:{}", self.path.display(), s.line, s.column)
    }
}

/// Finds the file: `explicit`, else the nearest `ion-preflight.toml` from
/// the working directory up. `Ok(None)` when there is none.
pub fn find(explicit: Option<&Path>) -> Result<Option<PathBuf>, CliError> {
    if let Some(p) = explicit {
        if !p.is_file() {
            return Err(CliError::Config(format!(
                "--config {}: no such file",
                p.display()
            )));
        }
        return Ok(Some(p.to_path_buf()));
    }
    let Ok(mut dir) = std::env::current_dir() else {
        return Ok(None);
    };
    loop {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Ok(Some(candidate));
        }
        if !dir.pop() {
            return Ok(None);
        }
    }
}

/// Whether a configuration file may set this base URL: ION's own host, or
/// a loopback server. A file found by walking up from the working directory
/// may have come with somebody else's repository, and the tokens are sent
/// wherever the base URL points.
fn trusted_base_url(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        // Not a URL at all: the client's own validation says what is wrong.
        return true;
    };
    let ion = url::Url::parse(crate::ion::DEFAULT_BASE_URL).ok();
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || ion
                    .as_ref()
                    .and_then(|i| i.host_str())
                    .is_some_and(|h| h.eq_ignore_ascii_case(d))
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Reads and validates the file at `path`: every problem names the file,
/// line and column.
pub fn load(path: &Path) -> Result<ConfigFile, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Config(format!("cannot read {}: {e}", path.display())))?;
    parse(path, &text)
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses the text of a configuration file read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, CliError> {
    let fail = |span: Option<Range<usize>>, message: &str| -> CliError {
        let (line, column) = span.map_or((1, 1), |s| line_col(text, s.start));
        CliError::Config(format!("{}:{line}:{column}: {message}", path.display()))
    };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        // toml's message is several lines with a drawing of the place; the
        // first line says what is wrong, and the place is ours to give.
        let message = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim()
            .to_owned();
        fail(e.span(), &message)
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut settings: Vec<(&'static str, Setting)> = Vec::new();
    let mut put = |key: &'static str, span: Range<usize>, values: Vec<String>| {
        let (line, column) = line_col(text, span.start);
        settings.push((
            key,
            Setting {
                values,
                line,
                column,
            },
        ));
    };
    if let Some(a) = &raw.account {
        if *a.get_ref() < 1 {
            return Err(fail(
                Some(a.span()),
                "account: expected a positive integer id, e.g. 1001",
            ));
        }
        put("account", a.span(), vec![a.get_ref().to_string()]);
    }
    if let Some(u) = &raw.base_url {
        if !trusted_base_url(u.get_ref()) {
            return Err(fail(
                Some(u.span()),
                &format!(
                    "base_url: a configuration file may point only at ION ({}) or a loopback test server, since the credentials go wherever it points and the file may come with a checkout; give another host with --base-url or ION_BASE_URL",
                    crate::ion::DEFAULT_BASE_URL
                ),
            ));
        }
        put("base_url", u.span(), vec![u.get_ref().clone()]);
    }
    if let Some(r) = &raw.rules {
        let values = r
            .get_ref()
            .iter()
            .map(|f| {
                let f = f.get_ref();
                // Relative to the file, so the file works from any directory.
                if f.starts_with("builtin:") || Path::new(f).is_absolute() {
                    f.clone()
                } else {
                    dir.join(f).display().to_string()
                }
            })
            .collect();
        put("rules", r.span(), values);
    }
    if let Some(n) = &raw.no_default_rules {
        if *n.get_ref() && raw.rules.as_ref().is_none_or(|r| r.get_ref().is_empty()) {
            return Err(fail(
                Some(n.span()),
                "no_default_rules = true leaves no rule at all without `rules = [...]`",
            ));
        }
        put("no_default_rules", n.span(), vec![n.get_ref().to_string()]);
    }
    if let Some(f) = &raw.fail_on {
        if !["error", "warning", "info"].contains(&f.get_ref().as_str()) {
            return Err(fail(
                Some(f.span()),
                &format!(
                    "fail_on: expected \"error\", \"warning\" or \"info\", found {:?}",
                    f.get_ref()
                ),
            ));
        }
        put("fail_on", f.span(), vec![f.get_ref().clone()]);
    }
    if let Some(c) = &raw.concurrency {
        if !(1..=1024).contains(c.get_ref()) {
            return Err(fail(Some(c.span()), "concurrency: expected 1 to 1024"));
        }
        put("concurrency", c.span(), vec![c.get_ref().to_string()]);
    }
    if let Some(f) = &raw.format {
        put("format", f.span(), vec![f.get_ref().clone()]);
    }
    Ok(ConfigFile {
        path: path.to_path_buf(),
        settings,
    })
}

/// The arg id of each key in the clap model (the derive's field names).
fn arg_id(key: &str) -> &str {
    key
}

/// Makes the file's settings the defaults of the matching flags of every
/// subcommand. A `format` a subcommand does not have is not applied to it;
/// the names of those subcommands are returned, so running one of them
/// without `--format` is an error naming the file's line.
pub fn apply(cmd: clap::Command, file: &ConfigFile) -> (clap::Command, Vec<String>) {
    let mut refused = Vec::new();
    let cmd = apply_to(cmd, file, "", &mut refused);
    (cmd, refused)
}

fn apply_to(
    mut cmd: clap::Command,
    file: &ConfigFile,
    prefix: &str,
    refused: &mut Vec<String>,
) -> clap::Command {
    let me = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix} {}", cmd.get_name())
    };
    for key in KEYS {
        let Some(setting) = file.get(key) else {
            continue;
        };
        let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == arg_id(key)) else {
            continue;
        };
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_owned())
            .collect();
        if !possible.is_empty() && setting.values.iter().any(|v| !possible.contains(v)) {
            refused.push(me.trim().to_owned());
            continue;
        }
        // The defaults live as long as the process: clap keeps `&'static str`.
        let values: Vec<&'static str> = setting
            .values
            .iter()
            .map(|v| &*Box::leak(v.clone().into_boxed_str()))
            .collect();
        // A required flag (`--account`) is satisfied by the file's value.
        cmd = cmd.mut_arg(arg_id(key), |a| a.default_values(values).required(false));
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let prefix = if prefix.is_empty() {
        "ion-preflight"
    } else {
        &me
    };
    let prefix = prefix.to_owned();
    for n in names {
        cmd = cmd.mut_subcommand(&n, |s| apply_to(s, file, &prefix, refused));
    }
    cmd
}

/// `ion-preflight config`: each setting, its effective value for a command
/// given no flags, and where it came from.
pub fn run(explicit: Option<&Path>) -> Result<Exit, CliError> {
    let path = find(explicit)?;
    let file = path.as_deref().map(load).transpose()?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut rows: Vec<[String; 3]> = Vec::new();
    for key in KEYS {
        let from_file = file.as_ref().and_then(|f| f.get(key).map(|s| (f, s)));
        let env_name = match key {
            "account" => Some("ION_ACCOUNT_ID"),
            "base_url" => Some("ION_BASE_URL"),
            _ => None,
        };
        let (value, source) = if let Some(v) = env_name.and_then(env) {
            (v, format!("environment ({})", env_name.unwrap_or_default()))
        } else if let Some((f, s)) = from_file {
            (s.values.join(", "), f.place(s))
        } else {
            let default = match key {
                "account" => "(none: give --account or set ION_ACCOUNT_ID)",
                "base_url" => crate::ion::DEFAULT_BASE_URL,
                "rules" => "(none: the built-in set only)",
                "no_default_rules" => "false",
                "fail_on" => "error",
                "concurrency" => "8",
                _ => "(per command: text for check, ndjson for batch)",
            };
            (default.to_owned(), "default".to_owned())
        };
        rows.push([key.to_owned(), value, source]);
    }
    let mut out = match (&file, &path) {
        (Some(f), _) => format!("configuration file: {}\n", f.path.display()),
        _ => format!(
            "configuration file: none ({FILE_NAME} was not found in {} or a parent)\n",
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "the working directory".to_owned())
        ),
    };
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(7);
    let w1 = rows
        .iter()
        .map(|r| r[1].chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    out.push_str(&format!("{:w0$}  {:w1$}  FROM\n", "SETTING", "VALUE"));
    for [k, v, s] in &rows {
        out.push_str(&format!("{k:w0$}  {v:w1$}  {s}\n"));
    }
    out.push_str("A flag given to a command wins over all of these.\n");
    write_stdout(out.as_bytes())?;
    Ok(Exit::Ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_located() {
        let p = Path::new("dir/ion-preflight.toml");
        let e = parse(p, "account = 1001\nfial_on = \"warning\"\n").unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("dir/ion-preflight.toml:2:1: unknown field `fial_on`"),
            "{m}"
        );
        let e = parse(p, "\n\nfail_on = \"warn\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("dir/ion-preflight.toml:3:11: fail_on: expected"),
            "{e}"
        );
        let e = parse(p, "account = \"x\"\n").unwrap_err().to_string();
        assert!(e.starts_with("dir/ion-preflight.toml:1:11: "), "{e}");
    }

    #[test]
    fn rule_paths_are_relative_to_the_file() {
        let c = parse(
            Path::new("ci/ion-preflight.toml"),
            "rules = [\"acme.yaml\", \"builtin:new-customer\"]\n",
        )
        .expect("valid");
        assert_eq!(
            c.get("rules").map(|s| s.values.clone()),
            Some(vec![
                "ci/acme.yaml".to_owned(),
                "builtin:new-customer".to_owned()
            ])
        );
    }
}

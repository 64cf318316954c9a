//! `rules lint | list | explain | schema | test`.

use serde::Serialize;

use super::{load_rules, write_stdout};
use crate::cli::args::{ListFormat, RuleArgs, RulesCommand};
use crate::cli::exit::{CliError, Exit};
use crate::rules::RuleSet;
use crate::rules::testing::RuleTestFile;

/// Runs a `rules` subcommand.
pub fn run(cmd: RulesCommand) -> Result<Exit, CliError> {
    match cmd {
        RulesCommand::Lint {
            files,
            no_default_rules,
        } => {
            let set = load_rules(&RuleArgs {
                rules: files.clone(),
                no_default_rules,
            })?;
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            let mut out = String::new();
            for u in set.unchecked_paths() {
                out.push_str(&format!(
                    "unchecked: {}:{}:{}: `{}` is read without checking it against ION's types\n",
                    u.file, u.line, u.column, u.path
                ));
            }
            out.push_str(&format!(
                "ok: {} valid; the effective rule set has {}",
                names.join(", "),
                rules_count(set.rules().len())
            ));
            match set.unchecked_paths().len() {
                0 => out.push('\n'),
                n => out.push_str(&format!(
                    " ({n} unchecked path{})\n",
                    if n == 1 { "" } else { "s" }
                )),
            }
            for file in set.composition() {
                out.push_str(&format!("  {}\n", file.summary()));
            }
            write_stdout(out.as_bytes())?;
            Ok(Exit::Ready)
        }
        RulesCommand::List { rules, format } => {
            let set = load_rules(&rules)?;
            let out = match format {
                ListFormat::Text => list_text(&set),
                ListFormat::Json => list_json(&set),
            };
            write_stdout(out.as_bytes())?;
            Ok(Exit::Ready)
        }
        RulesCommand::Explain { id, rules } => {
            let set = load_rules(&rules)?;
            match set.rule(&id) {
                Some(rule) => {
                    write_stdout(rule.explain().as_bytes())?;
                    Ok(Exit::Ready)
                }
                None => Err(CliError::Usage(unknown_rule(&set, &id))),
            }
        }
        RulesCommand::Schema => {
            let schema = crate::rules::schema::rule_file_schema();
            let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
            text.push('\n');
            write_stdout(text.as_bytes())?;
            Ok(Exit::Ready)
        }
        RulesCommand::Test { files } => test(&files),
    }
}

/// Runs every rule-test file; prints each case's result. A file that does
/// not load is reported (with its diagnostics) and the others still run.
fn test(files: &[std::path::PathBuf]) -> Result<Exit, CliError> {
    let mut invalid = 0usize;
    let mut failed_cases = 0usize;
    let mut cases = 0usize;
    for file in files {
        match RuleTestFile::load(file) {
            Ok(tests) => {
                let report = tests.run();
                cases += report.cases.len();
                failed_cases += report.failures().count();
                write_stdout(format!("{report}\n").as_bytes())?;
            }
            Err(e) => {
                invalid += 1;
                crate::cli::print_error(&CliError::RuleTest(e));
            }
        }
    }
    let files_note = if invalid > 0 {
        format!(", {invalid} invalid test file(s)")
    } else {
        String::new()
    };
    write_stdout(
        format!(
            "{} case(s): {} passed, {failed_cases} failed{files_note}\n",
            cases,
            cases - failed_cases
        )
        .as_bytes(),
    )?;
    Ok(if invalid > 0 {
        Exit::Usage
    } else if failed_cases > 0 {
        Exit::Blocked
    } else {
        Exit::Ready
    })
}

fn list_text(set: &RuleSet) -> String {
    let rows: Vec<[String; 4]> = set
        .rules()
        .iter()
        .map(|r| {
            [
                r.id().to_owned(),
                r.severity().to_string(),
                r.title().to_owned(),
                format!("{}:{}", r.origin().file, r.origin().line),
            ]
        })
        .collect();
    let header = [
        "ID".to_owned(),
        "SEVERITY".to_owned(),
        "TITLE".to_owned(),
        "ORIGIN".to_owned(),
    ];
    let mut width = [0usize; 3];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2]
        );
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s.push_str(&rules_count(rows.len()));
    s.push('\n');
    s
}

#[derive(Serialize)]
struct ListedRule<'a> {
    id: &'a str,
    severity: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    preempts: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    docs: Option<&'a str>,
    tags: &'a [String],
    requires: &'a [String],
    file: &'a str,
    line: u32,
}

fn list_json(set: &RuleSet) -> String {
    let rules: Vec<ListedRule<'_>> = set
        .rules()
        .iter()
        .map(|r| ListedRule {
            id: r.id(),
            severity: r.severity().as_str(),
            title: r.title(),
            preempts: r.preempts(),
            docs: r.docs(),
            tags: r.tags(),
            requires: r.requires(),
            file: &r.origin().file,
            line: r.origin().line,
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&rules).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

fn rules_count(n: usize) -> String {
    if n == 1 {
        "1 rule".to_owned()
    } else {
        format!("{n} rules")
    }
}

/// "no rule `x`", with the closest id when one is close.
fn unknown_rule(set: &RuleSet, id: &str) -> String {
    match set.closest_id(id) {
        Some(near) => {
            format!("the rule set has no rule `{id}`; did you mean `{near}`? (see `rules list`)")
        }
        None => format!("the rule set has no rule `{id}` (see `rules list`)"),
    }
}

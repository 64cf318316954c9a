//! `rules lint | list | explain | schema | test`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{load_rules, write_output, write_stdout};
use crate::cli::args::{LintFormat, ListFormat, OutputArg, RuleArgs, RulesCommand, TestFormat};
use crate::cli::exit::{CliError, Exit};
use crate::report::render::{self, Level, Position};
use crate::rules::testing::{CaseResult, RuleTestError, RuleTestFile};
use crate::rules::{Diagnostic, RuleLoadError, RuleSet};

/// Runs a `rules` subcommand.
pub fn run(cmd: RulesCommand) -> Result<Exit, CliError> {
    match cmd {
        RulesCommand::Lint {
            files,
            no_default_rules,
            format: LintFormat::Text,
            output,
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
            write_output(&output, out.as_bytes())?;
            Ok(Exit::Ready)
        }
        RulesCommand::Lint {
            files,
            no_default_rules,
            format,
            output,
        } => lint_structured(&files, no_default_rules, format, &output),
        RulesCommand::List {
            rules,
            format,
            output,
        } => {
            let set = load_rules(&rules)?;
            let out = match format {
                ListFormat::Text => list_text(&set),
                ListFormat::Json => list_json(&set),
            };
            write_output(&output, out.as_bytes())?;
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
        RulesCommand::Test {
            files,
            run,
            fail_fast,
            format,
            output,
        } => test(&files, run.as_deref(), fail_fast, format, &output),
        RulesCommand::Init { dir, name } => init(&dir, &name),
    }
}

/// One problem of `rules lint`, in the structured formats.
#[derive(Serialize)]
struct LintProblem {
    file: String,
    line: u32,
    column: u32,
    code: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

/// `rules lint --format json|junit|github|sarif`: every diagnostic with its
/// location, on stdout (or -o), exit 2 when there is one.
fn lint_structured(
    files: &[PathBuf],
    no_default_rules: bool,
    format: LintFormat,
    output: &OutputArg,
) -> Result<Exit, CliError> {
    let loaded = load_rules(&RuleArgs {
        rules: files.to_vec(),
        no_default_rules,
    });
    let (set, diagnostics) = match loaded {
        Ok(set) => (Some(set), Vec::new()),
        Err(CliError::Rules(RuleLoadError::Invalid { diagnostics })) => (None, diagnostics),
        // A file that cannot be read has no line to point at: one error.
        Err(e) => return Err(e),
    };
    let problems: Vec<LintProblem> = diagnostics
        .iter()
        .map(|d| LintProblem {
            file: d.file().to_owned(),
            line: d.line(),
            column: d.column(),
            code: d.code().to_owned(),
            message: d.message().to_owned(),
            hint: d.hint().map(str::to_owned),
        })
        .collect();
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut buf = Vec::new();
    let written = match format {
        // `run` renders text itself, with the diagnostics' snippets.
        LintFormat::Text => Ok(()),
        LintFormat::Json => {
            #[derive(Serialize)]
            struct Lint<'a> {
                valid: bool,
                files: &'a [String],
                #[serde(skip_serializing_if = "Option::is_none")]
                rules: Option<usize>,
                problems: &'a [LintProblem],
                unchecked: &'a [crate::rules::UncheckedPath],
                composition: &'a [crate::rules::FileComposition],
            }
            let doc = Lint {
                valid: set.is_some(),
                files: &names,
                rules: set.as_ref().map(|s| s.rules().len()),
                problems: &problems,
                unchecked: set.as_ref().map_or(&[], |s| s.unchecked_paths()),
                composition: set.as_ref().map_or(&[], |s| s.composition()),
            };
            serde_json::to_writer_pretty(&mut buf, &doc)
                .map_err(std::io::Error::from)
                .map(|()| buf.push(b'\n'))
        }
        LintFormat::Junit => {
            buf.extend_from_slice(lint_junit(&names, &diagnostics).as_bytes());
            Ok(())
        }
        LintFormat::Github => {
            let mut r = render::github_diagnostics(&file_problems(&diagnostics), &mut buf);
            if r.is_ok() {
                let (level, line) = match &set {
                    Some(s) => (
                        Level::Notice,
                        format!(
                            "{} valid; the effective rule set has {}",
                            names.join(", "),
                            rules_count(s.rules().len())
                        ),
                    ),
                    None => (
                        Level::Error,
                        format!("{} in rule files", problems_count(diagnostics.len())),
                    ),
                };
                if let Some(s) = &set {
                    for u in s.unchecked_paths() {
                        buf.extend_from_slice(
                            render::annotation(
                                Level::Warning,
                                Some(&u.file),
                                Some(Position {
                                    line: u.line,
                                    column: u.column,
                                }),
                                "unchecked-path",
                                &format!(
                                    "`{}` is read without checking it against ION's types",
                                    u.path
                                ),
                            )
                            .as_bytes(),
                        );
                    }
                }
                r = std::io::Write::write_all(
                    &mut buf,
                    render::annotation(level, None, None, "ion-preflight rules lint", &line)
                        .as_bytes(),
                );
            }
            r
        }
        LintFormat::Sarif => render::sarif_diagnostics(&file_problems(&diagnostics), &mut buf),
    };
    written.map_err(CliError::stdout)?;
    write_output(output, &buf)?;
    if set.is_some() {
        Ok(Exit::Ready)
    } else {
        eprintln!("error: {} in rule files", problems_count(diagnostics.len()));
        Ok(Exit::Usage)
    }
}

fn problems_count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

/// `rules lint --format junit`: one test case per file, failing with its
/// diagnostics.
fn lint_junit(files: &[String], diagnostics: &[Diagnostic]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"ion-preflight rules lint\">\n  <testsuite name=\"rules lint\" tests=\"{}\" failures=\"{}\">\n",
        files.len(),
        files
            .iter()
            .filter(|f| diagnostics.iter().any(|d| same_file(d.file(), f)))
            .count()
    ));
    // Diagnostics in files not given (an extended file) get a case of their own.
    let mut names: Vec<String> = files.to_vec();
    for d in diagnostics {
        if !names.iter().any(|n| same_file(d.file(), n)) {
            names.push(d.file().to_owned());
        }
    }
    for f in &names {
        let mine: Vec<&Diagnostic> = diagnostics
            .iter()
            .filter(|d| same_file(d.file(), f))
            .collect();
        x.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"ion-preflight.rules-lint\"",
            xml(f)
        ));
        if mine.is_empty() {
            x.push_str("/>\n");
            continue;
        }
        x.push_str(">\n");
        let body: Vec<String> = mine.iter().map(|d| d.one_line()).collect();
        x.push_str(&format!(
            "      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
            xml(&problems_count(mine.len())),
            xml(mine[0].code()),
            xml(&body.join("\n"))
        ));
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn same_file(a: &str, b: &str) -> bool {
    a == b || Path::new(a) == Path::new(b)
}

fn xml(s: &str) -> String {
    render::xml_escape(s)
}

/// What happened to one case of a run.
#[derive(Serialize)]
struct CaseRun {
    name: String,
    line: u64,
    /// `pass`, `fail` or `not-run` (deselected by --run, or after
    /// --fail-fast stopped).
    outcome: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mismatches: Vec<MismatchRun>,
}

#[derive(Serialize)]
struct MismatchRun {
    rule: String,
    expected: String,
    actual: String,
}

#[derive(Serialize)]
struct FileRun {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    cases: Vec<CaseRun>,
}

fn case_run(r: &CaseResult) -> CaseRun {
    CaseRun {
        name: r.name.clone(),
        line: r.line,
        outcome: if r.passed { "pass" } else { "fail" },
        mismatches: r
            .mismatches
            .iter()
            .map(|m| MismatchRun {
                rule: m.rule.clone(),
                expected: m.expected.clone(),
                actual: m.actual.clone(),
            })
            .collect(),
    }
}

/// The line of a test file's load error, when it has one.
fn error_line(e: &RuleTestError) -> Option<u64> {
    match e {
        RuleTestError::Syntax { line, .. }
        | RuleTestError::Invalid { line, .. }
        | RuleTestError::Fixture { line, .. } => Some(*line),
        _ => None,
    }
}

/// Runs every rule-test file; prints each case's result. A file that does
/// not load is reported (with its diagnostics) and the others still run.
/// `pattern` selects cases by name; `fail_fast` stops at the first failure.
fn test(
    files: &[PathBuf],
    pattern: Option<&str>,
    fail_fast: bool,
    format: TestFormat,
    output: &OutputArg,
) -> Result<Exit, CliError> {
    let pattern = pattern
        .map(|p| {
            regex::Regex::new(p)
                .map_err(|e| CliError::Usage(format!("--run {p}: not a regular expression: {e}")))
        })
        .transpose()?;
    let mut runs: Vec<FileRun> = Vec::new();
    let mut text = String::new();
    let mut stopped = false;
    for file in files {
        let name = file.display().to_string();
        let tests = match RuleTestFile::load(file) {
            Ok(t) => t,
            Err(e) => {
                runs.push(FileRun {
                    file: name,
                    error: Some(e.to_string()),
                    line: error_line(&e),
                    cases: Vec::new(),
                });
                if format == TestFormat::Text {
                    crate::cli::print_error(&CliError::RuleTest(e));
                }
                continue;
            }
        };
        let mut run = FileRun {
            file: tests.file().to_owned(),
            error: None,
            line: None,
            cases: Vec::new(),
        };
        let mut ran = Vec::new();
        for case in tests.cases() {
            let selected = pattern.as_ref().is_none_or(|p| p.is_match(case.name()));
            if !selected || stopped {
                run.cases.push(CaseRun {
                    name: case.name().to_owned(),
                    line: case.line(),
                    outcome: "not-run",
                    mismatches: Vec::new(),
                });
                continue;
            }
            let result = tests.run_case(case);
            stopped = fail_fast && !result.passed;
            run.cases.push(case_run(&result));
            ran.push(result);
        }
        if !ran.is_empty() {
            let report = crate::rules::testing::RuleTestReport {
                file: tests.file().to_owned(),
                cases: ran,
            };
            text.push_str(&format!("{report}\n"));
        }
        runs.push(run);
    }
    let count = |o: &str| {
        runs.iter()
            .flat_map(|r| &r.cases)
            .filter(|c| c.outcome == o)
            .count()
    };
    let (passed, failed, not_run) = (count("pass"), count("fail"), count("not-run"));
    let invalid = runs.iter().filter(|r| r.error.is_some()).count();
    let mut summary = format!(
        "{} case(s): {passed} passed, {failed} failed",
        passed + failed
    );
    if not_run > 0 {
        let why = match (pattern.is_some(), stopped) {
            (true, true) => "by --run, or after --fail-fast stopped",
            (true, false) => "by --run",
            _ => "after --fail-fast stopped",
        };
        summary.push_str(&format!(", {not_run} not run ({why})"));
    }
    if invalid > 0 {
        summary.push_str(&format!(", {invalid} invalid test file(s)"));
    }
    let none_selected = pattern.is_some() && passed + failed == 0 && invalid == 0;
    let mut buf = Vec::new();
    match format {
        TestFormat::Text => {
            buf.extend_from_slice(text.as_bytes());
            buf.extend_from_slice(format!("{summary}\n").as_bytes());
        }
        TestFormat::Json => {
            #[derive(Serialize)]
            struct Doc<'a> {
                passed: usize,
                failed: usize,
                not_run: usize,
                invalid_files: usize,
                files: &'a [FileRun],
            }
            let doc = Doc {
                passed,
                failed,
                not_run,
                invalid_files: invalid,
                files: &runs,
            };
            buf = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            buf.push(b'\n');
        }
        TestFormat::Junit => buf.extend_from_slice(test_junit(&runs).as_bytes()),
        TestFormat::Github => {
            for r in &runs {
                if let Some(e) = &r.error {
                    let at = r.line.map(|l| Position {
                        line: u32::try_from(l).unwrap_or(u32::MAX),
                        column: 1,
                    });
                    buf.extend_from_slice(
                        render::annotation(Level::Error, Some(&r.file), at, "invalid test file", e)
                            .as_bytes(),
                    );
                }
                for c in r.cases.iter().filter(|c| c.outcome == "fail") {
                    let message: Vec<String> = c
                        .mismatches
                        .iter()
                        .map(|m| format!("{}: expected {}, got {}", m.rule, m.expected, m.actual))
                        .collect();
                    buf.extend_from_slice(
                        render::annotation(
                            Level::Error,
                            Some(&r.file),
                            Some(Position {
                                line: u32::try_from(c.line).unwrap_or(u32::MAX),
                                column: 1,
                            }),
                            &c.name,
                            &message.join("\n"),
                        )
                        .as_bytes(),
                    );
                }
            }
            let level = if failed + invalid > 0 || none_selected {
                Level::Error
            } else {
                Level::Notice
            };
            buf.extend_from_slice(
                render::annotation(level, None, None, "ion-preflight rules test", &summary)
                    .as_bytes(),
            );
        }
    }
    write_output(output, &buf)?;
    if format != TestFormat::Text {
        eprintln!("{summary}");
    }
    if none_selected {
        return Err(CliError::Usage(format!(
            "--run {}: no case's name matches; nothing was tested",
            pattern.map(|p| p.as_str().to_owned()).unwrap_or_default()
        )));
    }
    Ok(if invalid > 0 {
        Exit::Usage
    } else if failed > 0 {
        Exit::Blocked
    } else {
        Exit::Ready
    })
}

/// `rules test --format junit`: one test suite per file, one test case per
/// case (`<skipped>` when not run, `<failure>` with the mismatches).
fn test_junit(runs: &[FileRun]) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ion-preflight rules test\">\n",
    );
    for r in runs {
        let failures = r.cases.iter().filter(|c| c.outcome == "fail").count();
        let skipped = r.cases.iter().filter(|c| c.outcome == "not-run").count();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" skipped=\"{skipped}\">\n",
            xml(&r.file),
            r.cases.len().max(usize::from(r.error.is_some())),
            usize::from(r.error.is_some())
        ));
        let class = format!("ion-preflight.rules-test.{}", r.file);
        if let Some(e) = &r.error {
            x.push_str(&format!(
                "    <testcase name=\"(load)\" classname=\"{}\">\n      <error message=\"{}\"/>\n    </testcase>\n",
                xml(&class),
                xml(e)
            ));
        }
        for c in &r.cases {
            x.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\"",
                xml(&c.name),
                xml(&class)
            ));
            match c.outcome {
                "fail" => {
                    let body: Vec<String> = c
                        .mismatches
                        .iter()
                        .map(|m| format!("{}: expected {}, got {}", m.rule, m.expected, m.actual))
                        .collect();
                    x.push_str(&format!(
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                        xml(&format!(
                            "{} expectation(s) did not hold",
                            c.mismatches.len()
                        )),
                        xml(&body.join("\n"))
                    ));
                }
                "not-run" => {
                    x.push_str(">\n      <skipped message=\"not run\"/>\n    </testcase>\n")
                }
                _ => x.push_str("/>\n"),
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// `rules init`: the starter rule file and its test file, never over an
/// existing file.
fn init(dir: &Path, name: &str) -> Result<Exit, CliError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if !valid {
        return Err(CliError::Usage(format!(
            "--name {name}: use lowercase letters, digits and `-` (it becomes the rule ids' prefix)"
        )));
    }
    let rules_path = dir.join(format!("{name}.yaml"));
    let test_path = dir.join(format!("{name}.test.yaml"));
    for p in [&rules_path, &test_path] {
        if p.exists() {
            return Err(CliError::Usage(format!(
                "{} exists already: nothing was written (choose another --name or --dir)",
                p.display()
            )));
        }
    }
    let io = |path: &Path| {
        let what = path.display().to_string();
        move |source| CliError::Output { what, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let rules_file = format!("{name}.yaml");
    crate::atomic_write::write_atomically(&rules_path, starter_rules(name).as_bytes(), false)
        .map_err(io(&rules_path))?;
    crate::atomic_write::write_atomically(
        &test_path,
        starter_test(name, &rules_file).as_bytes(),
        false,
    )
    .map_err(io(&test_path))?;
    write_stdout(
        format!(
            "wrote {} and {}\nnext: ion-preflight rules lint {}\n      ion-preflight rules test {}\n",
            rules_path.display(),
            test_path.display(),
            rules_path.display(),
            test_path.display()
        )
        .as_bytes(),
    )?;
    Ok(Exit::Ready)
}

/// The starter rule file (`rules init`): one order rule and one customer
/// rule, every key commented.
pub(crate) fn starter_rules(name: &str) -> String {
    STARTER_RULES.replace("NAME", name)
}

/// The starter test file, whose cases pass against [`starter_rules`].
pub(crate) fn starter_test(name: &str, rules_file: &str) -> String {
    STARTER_TEST
        .replace("RULES_FILE", rules_file)
        .replace("NAME", name)
}

const STARTER_RULES: &str = r#"# NAME.yaml: your own pre-flight rules, loaded on top of the built-in set.
#   ion-preflight rules lint NAME.yaml      # check this file
#   ion-preflight rules test NAME.test.yaml # run its tests
#   ion-preflight check --rules NAME.yaml --customer ID --order order.json
# Every key is described in docs/rules.md.

# A name for this set (shown by `rules lint`).
name: NAME

rules:
  # An order rule: it reads only the order, so `check-order` runs it offline too.
  - id: NAME-item-quantity-limit          # unique, kebab-case; reports and --only use it
    title: No order item asks for more than 500 seats
    severity: error                       # error blocks; warning blocks with --fail-on warning; info never
    tags: [NAME, order]                   # select with --tag NAME
    description: >-
      Orders above 500 seats go through our volume desk, not through ION directly.
    # Check every element of the order's item list; `item` names the current one.
    for_each: order.orderItems as item
    # Only items that carry a quantity (the built-in rules report a missing one).
    when: { path: item.quantity, type: number }
    # What must hold for each such item.
    assert: { path: item.quantity, lte: 500 }
    # Shown for every item that fails: {$number} is its 1-based position,
    # {item.referenceId|-} a field with `-` when it is missing.
    message: "item {$number} (ref {item.referenceId|-}) asks for {item.quantity} seats: split it, or send it to the volume desk"

  # A customer rule: it reads ION's customer record, so it runs only in `check`.
  - id: NAME-customer-has-email
    title: The customer has a contact email
    severity: warning
    tags: [NAME, customer]
    # Evaluated only after the built-in customer-exists passed.
    requires: [customer-exists]
    assert: { path: customer.customerEmail, non_empty: true }
    message: "customer {request.customerId} has no contact email in ION: add one before ordering"
"#;

const STARTER_TEST: &str = r#"# NAME.test.yaml: cases for NAME.yaml; `ion-preflight rules test NAME.test.yaml`.
# Each case gives the data a check would see and says what the rules must answer.
# The format is described in docs/rule-tests.md.
name: NAME rules
# The rule files under test, relative to this file, on top of the built-in set.
rules: [builtin:default, RULES_FILE]
# A fixed "now", so date rules give the same answer every day.
now: 2026-01-15T12:00:00Z

cases:
  - name: an item of 600 seats is refused
    given:
      order:
        orderItems:
          - { referenceId: big, action: CREATE, productId: p1, skuId: s1, planId: m, quantity: 600, attributes: [] }
    expect:
      rules:
        NAME-item-quantity-limit: { outcome: fail, items: [1], message_contains: "asks for 600 seats" }

  - name: an item of 20 seats passes
    given:
      order:
        orderItems:
          - { action: CREATE, productId: p1, skuId: s1, planId: m, quantity: 20, attributes: [] }
    expect:
      rules:
        NAME-item-quantity-limit: pass

  - name: a customer without an email gets a warning
    given:
      customer: { id: "2002", customerStatus: ACTIVE, customerEmail: "" }
    expect:
      rules:
        NAME-customer-has-email: fail

  - name: a customer with an email passes
    given:
      customer: { id: "2002", customerStatus: ACTIVE, customerEmail: it@example.com }
    expect:
      rules:
        NAME-customer-has-email: pass
"#;

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

/// Rule-file diagnostics as the GitHub and SARIF renderers take them.
fn file_problems(diagnostics: &[Diagnostic]) -> Vec<render::FileProblem> {
    diagnostics
        .iter()
        .map(Diagnostic::to_file_problem)
        .collect()
}

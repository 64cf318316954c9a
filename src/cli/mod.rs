//! The `ion-preflight` command line: parses arguments, calls the library,
//! renders, and maps the outcome to an exit code — nothing else.
//!
//! The binary's `main` is [`main`]. Exit codes are [`Exit`]; every error a
//! user can cause is a [`CliError`] printed as one readable message on stderr
//! (rule-file diagnostics are rendered with their source snippets).

mod args;
mod commands;
mod exit;
mod input;
mod logging;
mod payload;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

pub use args::Cli;
pub use exit::{
    CliError, EXIT_CODES, Exit, ExitCodeDoc, HelpFor, NO_CREDENTIALS, exit_code, exit_codes_help,
    exit_codes_help_for, exit_codes_markdown,
};

/// Runs the command line with the process's arguments and returns its exit
/// code.
pub fn main() -> ExitCode {
    // The configuration file's values become the flags' defaults, so it is
    // read before the arguments are parsed (flags > environment > file).
    let explicit = config_flag(std::env::args_os());
    let file = match commands::config::find(explicit.as_deref())
        .and_then(|p| p.as_deref().map(commands::config::load).transpose())
    {
        Ok(file) => file,
        Err(e) => {
            print_error(&e);
            return e.exit().into();
        }
    };
    let mut cmd = Cli::command();
    let mut refused = Vec::new();
    if let Some(f) = &file {
        (cmd, refused) = commands::config::apply(cmd, f);
    }
    let parsed = cmd
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(mut e) => {
            // --help and --version print to stdout and exit 0; usage errors
            // print to stderr and exit 2.
            name_the_account_variable(&mut e, std::env::args_os());
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    if let Some(e) = file
        .as_ref()
        .and_then(|f| refused_format(&matches, &refused, f))
    {
        print_error(&e);
        return e.exit().into();
    }
    logging::set_color(cli.color);
    logging::init();
    run(cli).into()
}

/// `--config FILE` or `--config=FILE` among the arguments, before clap
/// parses them.
fn config_flag(args: impl IntoIterator<Item = std::ffi::OsString>) -> Option<std::path::PathBuf> {
    let mut args = args.into_iter().skip(1);
    while let Some(a) = args.next() {
        if a == "--" {
            return None;
        }
        if a == "--config" {
            return args.next().map(Into::into);
        }
        if let Some(v) = a.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Some(v.into());
        }
    }
    None
}

/// The error for running a subcommand whose formats do not include the
/// file's `format`, when `--format` was not given.
fn refused_format(
    matches: &clap::ArgMatches,
    refused: &[String],
    file: &commands::config::ConfigFile,
) -> Option<CliError> {
    let mut path = vec!["ion-preflight".to_owned()];
    let mut m = matches;
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_owned());
        m = sub;
    }
    let name = path.join(" ");
    let from_flag = m.ids().any(|id| id == "format")
        && m.value_source("format") == Some(clap::parser::ValueSource::CommandLine);
    let setting = file.get("format")?;
    (refused.contains(&name) && !from_flag).then(|| {
        CliError::Config(format!(
            "{}: format {:?} is not a format of `{name}`: give --format, or remove it from the file",
            file.place(setting),
            setting.values.join(",")
        ))
    })
}

/// `--account` falls back to `ION_ACCOUNT_ID`, which clap's messages do not
/// say: a missing account names the variable too, and a bad value that came
/// from the variable (no `--account` among the arguments) is reported as the
/// variable's, not as the flag's.
fn name_the_account_variable(
    e: &mut clap::Error,
    args: impl IntoIterator<Item = std::ffi::OsString>,
) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    const FLAG: &str = "--account";
    const VAR: &str = "ION_ACCOUNT_ID";
    let is_flag = |a: &str| a.split_whitespace().next() == Some(FLAG);
    match (e.kind(), e.get(ContextKind::InvalidArg).cloned()) {
        (ErrorKind::MissingRequiredArgument, Some(ContextValue::Strings(missing))) => {
            let named = missing
                .into_iter()
                .map(|a| {
                    if is_flag(&a) {
                        format!("{a} (or set {VAR})")
                    } else {
                        a
                    }
                })
                .collect();
            e.insert(ContextKind::InvalidArg, ContextValue::Strings(named));
        }
        (ErrorKind::ValueValidation, Some(ContextValue::String(arg))) if is_flag(&arg) => {
            let given_as_flag = args.into_iter().any(|a| {
                a.to_str()
                    .is_some_and(|a| a == FLAG || a.starts_with("--account="))
            });
            if !given_as_flag {
                e.insert(
                    ContextKind::InvalidArg,
                    ContextValue::String(format!("{VAR} (the environment variable)")),
                );
            }
        }
        _ => {}
    }
}

/// Runs a parsed command line, printing errors to stderr.
pub fn run(cli: Cli) -> Exit {
    match commands::dispatch(cli) {
        Ok(exit) => exit,
        Err(e) => {
            print_error(&e);
            e.exit()
        }
    }
}

/// Prints `e` on stderr in the one format of every error: an `error:` line.
/// Rule-file problems get one `error: file:line:column: message [code]` line
/// each, followed by the snippet of the author's file that shows the place.
pub(crate) fn print_error(e: &CliError) {
    let mut out = format!("error: {e}\n");
    match e {
        CliError::Rules(crate::rules::RuleLoadError::Invalid { diagnostics }) => {
            for d in diagnostics {
                out.push_str(&format!("error: {} [{}]\n", d.one_line(), d.code()));
                out.push_str(&snippet(d));
            }
        }
        CliError::RuleTest(d) => out.push_str(&snippet(d)),
        _ => {}
    }
    eprint!("{out}");
}

/// The source snippet miette draws for `diag` (the file's lines around the
/// place, with its labels), without miette's header, message and help: the
/// `error:` line says those.
fn snippet(diag: &dyn miette::Diagnostic) -> String {
    if diag.source_code().is_none() {
        return String::new();
    }
    let color = logging::stderr_color();
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .without_cause_chain();
    let mut rendered = String::new();
    if handler
        .render_report(&mut rendered, &SnippetOnly(diag))
        .is_err()
    {
        return String::new();
    }
    // Everything before the snippet's frame is the (empty) header.
    let mut lines = rendered.lines().skip_while(|l| !l.contains('╭')).peekable();
    if lines.peek().is_none() {
        return String::new();
    }
    let mut s: String = lines.map(|l| format!("{l}\n")).collect();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// A diagnostic's source and labels only, for [`snippet`].
struct SnippetOnly<'a>(&'a dyn miette::Diagnostic);

impl std::fmt::Debug for SnippetOnly<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnippetOnly")
    }
}

impl std::fmt::Display for SnippetOnly<'_> {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl std::error::Error for SnippetOnly<'_> {}

impl miette::Diagnostic for SnippetOnly<'_> {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
}

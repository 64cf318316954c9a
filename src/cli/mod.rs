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

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
pub use exit::{
    CliError, EXIT_CODES, Exit, ExitCodeDoc, NO_CREDENTIALS, exit_code, exit_codes_help,
    exit_codes_markdown,
};

/// Runs the command line with the process's arguments and returns its exit
/// code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and exit 0; usage errors
            // print to stderr and exit 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    logging::init();
    run(cli).into()
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

/// Prints `e` on stderr: one line, or miette's rendering (with source
/// snippets) for rule-file and rule-test diagnostics.
pub(crate) fn print_error(e: &CliError) {
    let diag: &dyn miette::Diagnostic = match e {
        CliError::Rules(d) => d,
        CliError::RuleTest(d) => d,
        _ => {
            eprintln!("error: {e}");
            return;
        }
    };
    let color = std::io::stderr().is_terminal() && !logging::no_color();
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, diag).is_ok() {
        eprint!("{out}");
    } else {
        eprintln!("error: {e}");
    }
}

//! One module per subcommand.

mod check;
mod rules;

use std::io::Write;

use clap::CommandFactory;

use super::args::{Cli, Command, RuleArgs};
use super::exit::{CliError, Exit};
use crate::rules::{RuleSet, RuleSetLoader};

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<Exit, CliError> {
    match cli.command {
        Command::Rules(cmd) => rules::run(cmd),
        Command::Completions(args) => {
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut cmd, "ion-preflight", &mut out);
            write_stdout(&out)?;
            Ok(Exit::Ready)
        }
        Command::Check(args) => check::run(args),
        Command::Batch(_) | Command::Snapshot(_) => Err(CliError::Config("not wired yet".into())),
    }
}

/// Loads the rule set the flags select.
pub fn load_rules(args: &RuleArgs) -> Result<RuleSet, CliError> {
    let mut loader = RuleSetLoader::new();
    if args.no_default_rules {
        loader = loader.without_builtin();
    }
    for f in &args.rules {
        loader = loader.file(f);
    }
    Ok(loader.load()?)
}

/// Writes all of `bytes` to stdout and flushes.
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(CliError::stdout)
}

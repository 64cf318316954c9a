//! `check`: one order for one customer.

use super::{load_rules, write_stdout};
use crate::cli::args::{CheckArgs, CheckFormat};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::read_order;
use crate::cli::logging::stdout_color;
use crate::report::Report;
use crate::report::render::{self, TextOptions};

/// Runs `check`.
pub fn run(args: CheckArgs) -> Result<Exit, CliError> {
    let rules = load_rules(&args.rules)?;
    let order = args.order.as_ref().map(read_order).transpose()?;
    let _ = (rules, order);
    Err(CliError::Config("not wired yet".into()))
}

/// Renders one report to stdout in `format` and returns the verdict's exit
/// code.
pub fn emit(report: &Report, format: CheckFormat) -> Result<Exit, CliError> {
    let mut buf = Vec::new();
    let written = match format {
        CheckFormat::Text => render::text(
            report,
            &mut buf,
            TextOptions {
                color: stdout_color(),
            },
        ),
        CheckFormat::Json => render::json(report, &mut buf),
        CheckFormat::Junit => render::junit(report, &mut buf),
    };
    written.map_err(CliError::stdout)?;
    write_stdout(&buf)?;
    Ok(Exit::from_verdict(report.verdict))
}

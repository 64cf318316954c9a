//! `check`: one order for one customer.

use std::sync::Arc;

use super::{CHECK_TIMEOUT, load_rules, runtime, source, write_stdout};
use crate::cli::args::{CheckArgs, CheckFormat};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::read_order;
use crate::cli::logging::stdout_color;
use crate::report::render::{self, TextOptions};
use crate::report::{Report, Verdict};
use crate::rules::EvalOptions;
use crate::{CheckRequest, Preflight};

/// Runs `check`.
pub fn run(args: CheckArgs) -> Result<Exit, CliError> {
    let rules = load_rules(&args.rules)?;
    let order = args.order.as_ref().map(read_order).transpose()?;
    let source = source(args.data.as_deref(), args.ion.base_url.as_deref())?;
    let preflight = Preflight::new(source, rules)
        .with_options(EvalOptions {
            fail_on: args.fail_on.into(),
        })
        .with_check_timeout(CHECK_TIMEOUT);
    let order = order.map(Arc::new);
    let mut req = CheckRequest::new(args.account, args.customer);
    if let Some(order) = &order {
        req = req.with_shared_order(Arc::clone(order));
    }
    let report = runtime()?.block_on(preflight.check(req));
    let exit = emit(&report, args.format)?;
    if report.verdict() == Verdict::Indeterminate {
        eprintln!("error: {}", report.indeterminate_reason());
    }
    // The process ends right after this, and the operating system reclaims
    // the order whole; freeing a large order's value tree node by node would
    // cost more than parsing it did (BENCHMARKS.md, "`check` does not free
    // the order before exiting").
    std::mem::forget(order);
    Ok(exit)
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
    Ok(Exit::from_verdict(report.verdict()))
}

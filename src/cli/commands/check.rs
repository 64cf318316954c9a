//! `check`: one order for one customer.

use std::sync::Arc;

use super::{CHECK_TIMEOUT, load_rules, runtime, source, write_stdout};
use crate::cli::args::{CheckArgs, CheckFormat};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::read_order;
use crate::cli::logging::stdout_color;
use crate::report::render::{self, TextOptions};
use crate::report::{Outcome, Report, Verdict};
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
    if report.verdict == Verdict::Indeterminate {
        eprintln!("error: {}", indeterminate_reason(&report));
    }
    // The process ends right after this, and the operating system reclaims
    // the order whole; freeing a large order's value tree node by node would
    // cost more than parsing it did (BENCHMARKS.md, "`check` does not free
    // the order before exiting").
    std::mem::forget(order);
    Ok(exit)
}

/// One line saying why a report is indeterminate: how many blocking rules
/// could not be evaluated and the first reason.
pub fn indeterminate_reason(report: &Report) -> String {
    let errors: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Error && r.severity >= report.fail_on)
        .collect();
    let first = errors
        .iter()
        .find_map(|r| r.message.as_deref())
        .unwrap_or("the data they need is unavailable");
    let first = first.lines().next().unwrap_or(first);
    format!(
        "{} could not be evaluated, so the verdict is indeterminate: {first}",
        if errors.len() == 1 {
            "1 rule".to_owned()
        } else {
            format!("{} rules", errors.len())
        }
    )
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

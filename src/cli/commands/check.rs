//! `check`: one order for one customer.

use std::sync::Arc;

use super::{CHECK_TIMEOUT, load_selected, runtime, source, text_color, write_output};
use crate::cli::args::{CheckArgs, CheckFormat, DetailArgs, OutputArg};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::{InputPath, read_order_text};
use crate::report::render::{self, OrderFile, TextOptions};
use crate::report::{Report, Verdict};
use crate::rules::EvalOptions;
use crate::{CheckRequest, Preflight};

/// Runs `check`.
pub fn run(args: CheckArgs) -> Result<Exit, CliError> {
    let rules = load_selected(&args.rules, &args.select, false)?;
    let order = args.order.as_ref().map(read_order_text).transpose()?;
    let source = source(args.data.as_deref(), args.ion.base_url.as_deref())?;
    let preflight = Preflight::new(source, rules)
        .with_options(
            EvalOptions::default()
                .with_fail_on(args.fail_on.into())
                .with_explain(args.detail.explain),
        )
        .with_check_timeout(CHECK_TIMEOUT);
    // Positions are needed only to point annotations at lines.
    let located = match (&order, args.format) {
        (Some((_, text)), CheckFormat::Github | CheckFormat::Sarif) => {
            Some(match args.order.as_ref() {
                Some(InputPath::File(p)) => OrderFile::from_text(p.display().to_string(), text),
                _ => OrderFile::stdin(),
            })
        }
        _ => None,
    };
    let order = order.map(|(value, _)| Arc::new(value));
    let mut req = CheckRequest::new(args.account, args.customer);
    if let Some(order) = &order {
        req = req.with_shared_order(Arc::clone(order));
    }
    let report = runtime()?.block_on(preflight.check(req));
    let quiet_ready = args.quiet && report.verdict() == Verdict::Ready;
    let exit = if quiet_ready && args.output.output.is_none() {
        Exit::Ready
    } else {
        emit(
            &report,
            args.format,
            &args.output,
            args.detail,
            located.as_ref(),
        )?
    };
    if report.verdict() == Verdict::Indeterminate && !args.quiet {
        eprintln!("error: {}", report.indeterminate_reason());
    }
    // The process ends right after this, and the operating system reclaims
    // the order whole; freeing a large order's value tree node by node would
    // cost more than parsing it did (BENCHMARKS.md, "`check` does not free
    // the order before exiting").
    std::mem::forget(order);
    Ok(exit)
}

/// Renders one report in `format` to `-o FILE` or stdout and returns the
/// verdict's exit code. `order` locates findings for `github` and `sarif`.
pub fn emit(
    report: &Report,
    format: CheckFormat,
    output: &OutputArg,
    detail: DetailArgs,
    order: Option<&OrderFile>,
) -> Result<Exit, CliError> {
    let mut buf = Vec::new();
    let written = match format {
        CheckFormat::Text => render::text(
            report,
            &mut buf,
            TextOptions::default()
                .with_color(text_color(output))
                .with_verbose(detail.verbose)
                .with_explain(detail.explain),
        ),
        CheckFormat::Json => render::json(report, &mut buf),
        CheckFormat::Junit => render::junit(report, &mut buf),
        CheckFormat::Github => render::github(report, order, &mut buf),
        CheckFormat::Sarif => render::sarif(&[(report, order)], &mut buf),
    };
    written.map_err(CliError::stdout)?;
    write_output(output, &buf)?;
    Ok(Exit::from_verdict(report.verdict()))
}

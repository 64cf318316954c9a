//! `check-order FILE…`: order files without a customer. Only the rules that
//! read nothing but the order are evaluated — offline, no credentials —
//! and every report says the checks of the customer and of ION's data were
//! not run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{load_selected, text_color, write_output};
use crate::cli::args::{CheckOrderArgs, CheckOrderFormat};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::{InputPath, read_order_text};
use crate::context::Context;
use crate::report::render::{self, JunitStream, OrderFile, ReportStream, TextOptions};
use crate::report::{Inputs, OrderOnly, Report};
use crate::rules::EvalOptions;

/// Runs `check-order`.
pub fn run(args: CheckOrderArgs) -> Result<Exit, CliError> {
    let files = order_files(&args.files)?;
    let rules = load_selected(&args.rules, &args.select, true)?;
    let options = EvalOptions::default()
        .with_fail_on(args.fail_on.into())
        .with_explain(args.detail.explain);
    let now = jiff::Timestamp::now();
    let mut reports: Vec<(Report, OrderFile)> = Vec::new();
    let mut bad = 0usize;
    for file in &files {
        let input = if file.as_os_str() == "-" {
            InputPath::Stdin
        } else {
            InputPath::File(file.clone())
        };
        let (order, text) = match read_order_text(&input) {
            Ok(o) => o,
            Err(e) => {
                // Every file is read: one bad template does not hide the
                // others' findings, and the exit code still says 2.
                crate::cli::print_error(&CliError::Order(e));
                bad += 1;
                continue;
            }
        };
        let name = input.display();
        let ctx = Context::new(0, 0, now).with_shared_order(Some(Arc::new(order)));
        let mut report = rules.evaluate_with(&ctx, &options);
        report.order_only = Some(OrderOnly { file: name.clone() });
        report.inputs = Some(Inputs { order: true });
        let located = match input {
            InputPath::Stdin => OrderFile::stdin(),
            InputPath::File(_) => OrderFile::from_text(name, &text),
        };
        reports.push((report, located));
    }
    emit(&args, &reports)?;
    // Several files combine as a batch's checks do (one rule for both).
    let mut stats = crate::batch::BatchStats::default();
    for (r, _) in &reports {
        stats.record(r);
    }
    if bad > 0 {
        return Ok(Exit::Usage);
    }
    Ok(Exit::from_verdict(stats.verdict()))
}

fn emit(args: &CheckOrderArgs, reports: &[(Report, OrderFile)]) -> Result<(), CliError> {
    let mut buf = Vec::new();
    let written = match args.format {
        CheckOrderFormat::Text => {
            let options = TextOptions::default()
                .with_color(text_color(&args.output))
                .with_verbose(args.detail.verbose)
                .with_explain(args.detail.explain);
            reports.iter().enumerate().try_for_each(|(i, (r, _))| {
                if i > 0 {
                    buf.push(b'\n');
                }
                render::text(r, &mut buf, options)
            })
        }
        CheckOrderFormat::Json => {
            let all: Vec<&Report> = reports.iter().map(|(r, _)| r).collect();
            serde_json::to_writer_pretty(&mut buf, &all)
                .map_err(std::io::Error::from)
                .map(|()| buf.push(b'\n'))
        }
        CheckOrderFormat::Ndjson => reports
            .iter()
            .try_for_each(|(r, _)| render::ndjson(r, &mut buf)),
        CheckOrderFormat::Junit => {
            let mut s = JunitStream::new(&mut buf);
            reports
                .iter()
                .try_for_each(|(r, _)| s.report(r))
                .and_then(|()| s.finish())
        }
        CheckOrderFormat::Github => reports
            .iter()
            .try_for_each(|(r, f)| render::github(r, Some(f), &mut buf)),
        CheckOrderFormat::Sarif => {
            let all: Vec<(&Report, Option<&OrderFile>)> =
                reports.iter().map(|(r, f)| (r, Some(f))).collect();
            render::sarif(&all, &mut buf)
        }
    };
    written.map_err(CliError::stdout)?;
    write_output(&args.output, &buf)
}

/// The order files named: files as given, directories walked for `*.json`
/// (recursively, in name order). A directory without one is an error: a
/// check of nothing must not pass.
fn order_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for a in args {
        if a.is_dir() {
            let before = files.len();
            walk(a, &mut files)?;
            if files.len() == before {
                return Err(CliError::Usage(format!(
                    "{} holds no .json file: there is no order to check",
                    a.display()
                )));
            }
        } else {
            files.push(a.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        CliError::Usage(format!("cannot read the directory {}: {e}", dir.display()))
    })?;
    let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        // A linked directory is not entered: a link to a parent would
        // recurse forever (a linked file is read like any other).
        let linked_dir =
            std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) && p.is_dir();
        if linked_dir {
            tracing::warn!(path = %p.display(), "not entering a linked directory");
        } else if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

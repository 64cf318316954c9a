//! `batch`: many customers, bounded concurrency, streamed output.

use std::future::Future;
use std::io::{BufWriter, IsTerminal};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt, future};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{CHECK_TIMEOUT, load_rules, runtime, source};
use crate::batch::{self, Stop};
use crate::cli::args::{BatchArgs, BatchFormat};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::{InputPath, read_customers, read_order};
use crate::cli::logging;
use crate::report::Report;
use crate::report::render::{JsonArrayStream, JunitStream, NdjsonStream, ReportStream};
use crate::rules::EvalOptions;
use crate::source::SourceError;
use crate::{CheckRequest, Preflight};

/// Runs `batch`.
pub fn run(args: BatchArgs) -> Result<Exit, CliError> {
    if args.order == Some(InputPath::Stdin) && args.customers == Some(InputPath::Stdin) {
        return Err(CliError::Usage(
            "--order - and --customers - cannot both read stdin: give one of them a file".into(),
        ));
    }
    let rules = load_rules(&args.rules)?;
    // One copy of the order, shared by every check (an order can be large,
    // and up to `--concurrency` checks are alive at once).
    let order = args
        .order
        .as_ref()
        .map(read_order)
        .transpose()?
        .map(Arc::new);
    let customers = args.customers.as_ref().map(read_customers).transpose()?;
    let source = source(args.data.as_deref(), args.ion.base_url.as_deref())?;
    let preflight = Preflight::new(source, rules)
        .with_options(EvalOptions {
            fail_on: args.fail_on.into(),
        })
        .with_check_timeout(CHECK_TIMEOUT);
    let account = args.account;
    let check = |customer: u64| {
        let mut req = CheckRequest::new(account, customer);
        if let Some(order) = &order {
            req = req.with_shared_order(Arc::clone(order));
        }
        preflight.check(req)
    };
    runtime()?.block_on(async {
        match customers {
            Some(ids) => {
                let total = u64::try_from(ids.len()).ok();
                let ids = futures::stream::iter(ids.into_iter().map(Ok::<u64, SourceError>));
                drive(&args, ids, total, check).await
            }
            None => {
                let ids = preflight
                    .source()
                    .list_customers(account, args.page_size)
                    .filter_map(|listed| {
                        future::ready(match listed {
                            Ok(c) => match c.id() {
                                Some(id) => Some(Ok(id)),
                                None => {
                                    tracing::warn!(
                                        name = c.name.as_deref().unwrap_or(""),
                                        "skipping a listed customer whose name holds no id"
                                    );
                                    None
                                }
                            },
                            Err(e) => Some(Err(e)),
                        })
                    });
                drive(&args, ids, None, check).await
            }
        }
    })
}

/// Runs `check` over `ids`, streaming reports to stdout in the chosen
/// format, and prints the summary on stderr. `total` is the number of ids
/// when known (for the progress bar).
pub async fn drive<Ids, F, Fut>(
    args: &BatchArgs,
    ids: Ids,
    total: Option<u64>,
    check: F,
) -> Result<Exit, CliError>
where
    Ids: Stream<Item = Result<u64, SourceError>>,
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Report>,
{
    let stdout = BufWriter::new(std::io::stdout());
    let mut out: Box<dyn ReportStream> = match args.format {
        BatchFormat::Ndjson => Box::new(NdjsonStream::new(stdout)),
        BatchFormat::Json => Box::new(JsonArrayStream::new(stdout)),
        BatchFormat::Junit => Box::new(JunitStream::new(stdout)),
    };
    let progress = progress_bar(args.quiet, total);
    if !progress.is_hidden() {
        logging::set_progress(Some(progress.clone()));
    }
    let bar = progress.clone();
    let interrupts = interrupts().inspect(move |()| {
        bar.set_message("interrupted: finishing checks in flight");
    });
    let mut out = WithProgress {
        out: out.as_mut(),
        progress: &progress,
    };
    let run = batch::run(
        ids,
        usize::from(args.concurrency),
        check,
        &mut out,
        interrupts,
    )
    .await;
    logging::set_progress(None);
    progress.finish_and_clear();
    if !args.quiet {
        eprintln!("{}", run.stats.summary());
    }
    match run.stop {
        None => Ok(Exit::from_verdict(run.stats.verdict())),
        Some(Stop::Interrupted { aborted }) => {
            eprintln!(
                "interrupted: {} reports written{}; customers not started were not checked",
                run.stats.total(),
                if aborted {
                    ", checks in flight dropped"
                } else {
                    ""
                }
            );
            Ok(Exit::Interrupted)
        }
        Some(Stop::Ids(e)) => Err(CliError::Listing {
            account: args.account,
            written: run.stats.total(),
            source: e,
        }),
        Some(Stop::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(Exit::from_verdict(run.stats.verdict()))
        }
        Some(Stop::Output(e)) => Err(CliError::stdout(e)),
    }
}

/// A report stream that counts on the progress bar, which steps aside while
/// a report is written (stdout may be the same terminal).
struct WithProgress<'a> {
    out: &'a mut dyn ReportStream,
    progress: &'a ProgressBar,
}

impl ReportStream for WithProgress<'_> {
    fn report(&mut self, report: &Report) -> std::io::Result<()> {
        self.progress.inc(1);
        let out = &mut self.out;
        self.progress.suspend(|| out.report(report))
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.finish()
    }
}

fn progress_bar(quiet: bool, total: Option<u64>) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} checked ({per_sec}, eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {pos} checked ({per_sec}) {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Ctrl-C presses, as a stream.
fn interrupts() -> impl Stream<Item = ()> {
    futures::stream::unfold((), |()| async {
        tokio::signal::ctrl_c().await.ok().map(|()| ((), ()))
    })
}

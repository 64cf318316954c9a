//! `batch`: many customers, bounded concurrency, streamed output.

use std::cell::Cell;
use std::future::Future;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt, future};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::{CHECK_TIMEOUT, Sink, commit, load_selected, parallel_runtime, source};
use crate::batch::{self, Stop};
use crate::cli::args::{BatchArgs, BatchFormat};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::{InputPath, read_customers, read_order};
use crate::cli::logging;
use crate::report::Report;
use crate::report::render::{
    JsonArrayStream, JunitStream, NdjsonStream, ReportStream, TableStream,
};
use crate::rules::EvalOptions;
use crate::source::{Source, SourceError};
use crate::{CheckRequest, Preflight};

/// Runs `batch`.
pub fn run(args: BatchArgs) -> Result<Exit, CliError> {
    if args.order == Some(InputPath::Stdin) && args.customers == Some(InputPath::Stdin) {
        return Err(CliError::Usage(
            "--order - and --customers - cannot both read stdin: give one of them a file".into(),
        ));
    }
    let rules = load_selected(&args.rules, &args.select, false)?;
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
        .with_options(
            EvalOptions::default()
                .with_fail_on(args.fail_on.into())
                .with_explain(args.explain),
        )
        .with_check_timeout(CHECK_TIMEOUT);
    let account = args.account;
    let check = |customer: u64| {
        let mut req = CheckRequest::new(account, customer);
        if let Some(order) = &order {
            req = req.with_shared_order(Arc::clone(order));
        }
        preflight.check(req)
    };
    let source = preflight.source();
    let exit = parallel_runtime()?.block_on(async {
        match customers {
            Some(ids) => {
                let total = u64::try_from(ids.len()).ok();
                let ids = futures::stream::iter(ids.into_iter().map(Ok::<u64, SourceError>));
                drive(&args, until_rejected(ids, source), total, check).await
            }
            None => {
                let (listed, skipped) = (Cell::new(0usize), Cell::new(0usize));
                let ids = preflight
                    .source()
                    .list_customers(account, args.page_size)
                    .filter_map(|listed_customer| {
                        future::ready(match listed_customer {
                            Ok(c) => match c.id() {
                                Some(id) => {
                                    listed.set(listed.get() + 1);
                                    Some(Ok(id))
                                }
                                None => {
                                    skipped.set(skipped.get() + 1);
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
                let exit = drive(&args, until_rejected(ids, source), None, check).await?;
                // A listing that yields nothing to check must not pass
                // as a clean run (a CI job would pass having checked
                // nothing); one that ION refused is the rejection below,
                // not an empty account.
                if listed.get() == 0
                    && exit != Exit::Interrupted
                    && source.credentials_rejected().is_none()
                {
                    return Err(CliError::Config(nothing_listed(account, skipped.get())));
                }
                Ok(exit)
            }
        }
    })?;
    match source.credentials_rejected() {
        Some(cause) => Err(CliError::CredentialsRejected {
            cause: cause.to_owned(),
            what: "customer",
        }),
        None => Ok(exit),
    }
}

/// Why a `batch --all` checked nothing.
fn nothing_listed(account: u64, skipped: usize) -> String {
    let why = match skipped {
        0 => "the listing holds no customers".to_owned(),
        n => format!("the {n} listed customer(s) had no valid customer id and were skipped"),
    };
    format!("nothing to check: {why} for account {account} (is the account right?)")
}

/// `ids` until ION has definitely rejected the credentials: every further
/// check would be rejected too, so no new check starts (those in flight
/// finish and are written whole), and the batch ends with that one cause.
pub(super) fn until_rejected<'a, T>(
    ids: impl Stream<Item = T> + 'a,
    source: &'a Source,
) -> impl Stream<Item = T> + 'a {
    ids.take_while(move |_| future::ready(source.credentials_rejected().is_none()))
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
    let mut sink = Sink::open(&args.output)?;
    let stdout = &mut sink;
    let mut out: Box<dyn ReportStream + '_> = match args.format {
        BatchFormat::Ndjson => Box::new(NdjsonStream::new(stdout)),
        BatchFormat::Json => Box::new(JsonArrayStream::new(stdout)),
        BatchFormat::Junit => Box::new(JunitStream::new(stdout)),
        BatchFormat::Text => Box::new(TableStream::new(stdout)),
    };
    let run = streamed(
        out.as_mut(),
        args.quiet,
        args.concurrency,
        total,
        ids,
        check,
    )
    .await;
    drop(out);
    // The document was closed (even when interrupted or the listing
    // failed): -o FILE gets every whole report written.
    if !matches!(run.stop, Some(Stop::Output(_))) {
        commit(Some(sink))?;
    }
    match run.stop {
        None => Ok(Exit::from_verdict(run.stats.verdict())),
        Some(Stop::Interrupted { aborted }) => {
            interrupted(run.stats.total(), aborted, "customers");
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
        Some(Stop::Output(e)) => Err(CliError::Output {
            what: Sink::name(&args.output),
            source: e,
        }),
    }
}

/// Runs `check` over `items` with at most `concurrency` at once, writing
/// each report to `out` as it finishes, with a progress bar (`total` items
/// when known) unless `quiet`, and the summary on stderr at the end unless
/// `quiet`. Ctrl-C stops launching (see [`batch::run`]).
pub(super) async fn streamed<T, E, Items, F, Fut>(
    out: &mut dyn ReportStream,
    quiet: bool,
    concurrency: u16,
    total: Option<u64>,
    items: Items,
    check: F,
) -> batch::BatchRun<E>
where
    Items: Stream<Item = Result<T, E>>,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Report>,
{
    let progress = progress_bar(quiet, total);
    if !progress.is_hidden() {
        logging::set_progress(Some(progress.clone()));
    }
    // Without a total (a listing), the bar counts what has been listed so
    // far, so the spinner shows how far along the listing is too.
    let listed = progress.clone();
    let items = items.inspect(move |_| {
        if total.is_none() {
            listed.inc_length(1);
        }
    });
    let bar = progress.clone();
    let interrupts = interrupts().inspect(move |()| {
        bar.set_message("interrupted: finishing checks in flight");
    });
    let mut out = WithProgress {
        out,
        progress: &progress,
    };
    let run = batch::run(items, usize::from(concurrency), check, &mut out, interrupts).await;
    logging::set_progress(None);
    progress.finish_and_clear();
    if !quiet {
        eprintln!("{}", run.stats.summary());
    }
    run
}

/// Says on stderr that a run was interrupted after `written` reports;
/// `what` were not started.
pub(super) fn interrupted(written: usize, aborted: bool, what: &str) {
    eprintln!(
        "interrupted: {written} reports written{}; {what} not started were not checked",
        if aborted {
            ", checks in flight dropped"
        } else {
            ""
        }
    );
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
    let template = match total {
        Some(_) => "{bar:30} {pos}/{len} checked ({rate}, eta {eta}) {msg}",
        None => "{spinner} {pos} checked of {len} listed so far ({rate}) {msg}",
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate(state.per_sec()));
            },
        );
    let target = ProgressDrawTarget::term_like(Box::new(RoomForEcho(console::Term::stderr())));
    let bar = ProgressBar::with_draw_target(Some(total.unwrap_or(0)), target).with_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Columns left free at the end of the bar's line.
const ECHO_ROOM: u16 = 3;

/// stderr, as a terminal a few columns narrower than it is. indicatif pads
/// the bar's line to the terminal's width, leaving the cursor in the last
/// column; the terminal's echo of Ctrl-C (`^C`) then wraps onto a line of
/// its own, the bar's line is no longer where indicatif thinks, and clearing
/// the bar left it on screen. With room at the end of the line, the echo
/// lands on the bar's line and is cleared with it.
#[derive(Debug)]
struct RoomForEcho(console::Term);

impl indicatif::TermLike for RoomForEcho {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(ECHO_ROOM).max(1)
    }
    fn height(&self) -> u16 {
        self.0.size().0
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Checks per second as the progress bar shows it: one decimal below 10,
/// whole numbers above (`10.2542/s` says more than anyone can read).
fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "0/s".to_owned()
    } else if per_sec < 10.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.0}/s")
    }
}

/// Ctrl-C presses, as a stream.
pub(super) fn interrupts() -> impl Stream<Item = ()> {
    futures::stream::unfold((), |()| async {
        tokio::signal::ctrl_c().await.ok().map(|()| ((), ()))
    })
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn the_rate_is_rounded() {
        assert_eq!(rate(10.2542), "10/s");
        assert_eq!(rate(3.0625), "3.1/s");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(rate(f64::NAN), "0/s");
    }
}

//! `check-new-customer`: one payload (`--payload`) or a list of them
//! (`--payloads`, ndjson, streamed, bounded concurrency).

use std::io::BufWriter;

use super::batch::{interrupted, streamed, until_rejected};
use super::check::emit;
use super::{CHECK_TIMEOUT, runtime, source};
use crate::batch::Stop;
use crate::cli::args::{CheckFormat, NewCustomerArgs, NewCustomerFormat};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::InputPath;
use crate::cli::logging;
use crate::cli::payload::{ListedPayload, payload_lines, read_payload};
use crate::report::Verdict;
use crate::report::render::{self, JsonArrayStream, JunitStream, NdjsonStream, ReportStream};
use crate::rules::{Builtin, EvalOptions, RuleSet, RuleSetLoader};
use crate::{NewCustomerRequest, Preflight};

/// Runs `check-new-customer`.
pub fn run(args: NewCustomerArgs) -> Result<Exit, CliError> {
    let rules = load_rules(&args)?;
    let source = source(args.data.as_deref(), args.ion.base_url.as_deref())?;
    let preflight = Preflight::new(source, rules)
        .with_options(EvalOptions {
            fail_on: args.fail_on.into(),
        })
        .with_check_timeout(CHECK_TIMEOUT);
    match (&args.payload, &args.payloads) {
        (Some(input), _) => one(&args, &preflight, input),
        (None, Some(input)) => list(&args, &preflight, input),
        (None, None) => Err(CliError::Usage(
            "give --payload FILE or --payloads FILE".into(),
        )),
    }
}

/// The rule set: `builtin:new-customer` (unless left out) and the files.
pub fn load_rules(args: &NewCustomerArgs) -> Result<RuleSet, CliError> {
    let mut loader = RuleSetLoader::starting_from(Builtin::NewCustomer);
    if args.no_default_rules {
        loader = loader.without_builtin();
    }
    for f in &args.rules {
        loader = super::add_rules(loader, f);
    }
    Ok(loader.load()?)
}

fn one(args: &NewCustomerArgs, preflight: &Preflight, input: &InputPath) -> Result<Exit, CliError> {
    let payload = read_payload(input)?;
    let req = NewCustomerRequest::new(args.account, payload);
    let report = runtime()?.block_on(preflight.check_new_customer(req));
    let exit = match args.format.unwrap_or(NewCustomerFormat::Text) {
        NewCustomerFormat::Text => emit(&report, CheckFormat::Text)?,
        NewCustomerFormat::Json => emit(&report, CheckFormat::Json)?,
        NewCustomerFormat::Junit => emit(&report, CheckFormat::Junit)?,
        NewCustomerFormat::Ndjson => {
            let mut out = NdjsonStream::new(BufWriter::new(std::io::stdout()));
            match out.report(&report).and_then(|()| out.finish()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(CliError::stdout(e));
                }
                _ => Exit::from_verdict(report.verdict()),
            }
        }
    };
    if report.verdict() == Verdict::Indeterminate {
        eprintln!("error: {}", report.indeterminate_reason());
    }
    Ok(exit)
}

fn list(
    args: &NewCustomerArgs,
    preflight: &Preflight,
    input: &InputPath,
) -> Result<Exit, CliError> {
    let account = args.account;
    let check = |item: ListedPayload| {
        let req = NewCustomerRequest::shared(account, item.payload).in_list(item.position);
        preflight.check_new_customer(req)
    };
    runtime()?.block_on(async {
        let payloads = payload_lines(input)?;
        let stdout = BufWriter::new(std::io::stdout());
        let mut out: Box<dyn ReportStream> = match args.format.unwrap_or(NewCustomerFormat::Ndjson)
        {
            NewCustomerFormat::Ndjson => Box::new(NdjsonStream::new(stdout)),
            NewCustomerFormat::Json => Box::new(JsonArrayStream::new(stdout)),
            NewCustomerFormat::Junit => Box::new(JunitStream::new(stdout)),
            NewCustomerFormat::Text => Box::new(TextStream(stdout)),
        };
        let run = streamed(
            out.as_mut(),
            args.quiet,
            args.concurrency,
            None,
            until_rejected(payloads, preflight.source()),
            check,
        )
        .await;
        if let Some(cause) = preflight.source().credentials_rejected() {
            return Err(CliError::CredentialsRejected {
                cause: cause.to_owned(),
                what: "payload",
            });
        }
        match run.stop {
            None => Ok(Exit::from_verdict(run.stats.verdict())),
            Some(Stop::Interrupted { aborted }) => {
                interrupted(run.stats.total(), aborted, "payloads");
                Ok(Exit::Interrupted)
            }
            Some(Stop::Ids(e)) => {
                if run.stats.total() > 0 {
                    eprintln!(
                        "stopped at a bad payload: {} reports written before it; later lines were not checked",
                        run.stats.total()
                    );
                }
                Err(CliError::from(e))
            }
            Some(Stop::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                Ok(Exit::from_verdict(run.stats.verdict()))
            }
            Some(Stop::Output(e)) => Err(CliError::stdout(e)),
        }
    })
}

/// `--format text` for a list: each report as `check` prints it, one after
/// the other.
struct TextStream<W>(W);

impl<W: std::io::Write> ReportStream for TextStream<W> {
    fn report(&mut self, report: &crate::report::Report) -> std::io::Result<()> {
        let color = logging::stdout_color();
        render::text(report, &mut self.0, render::TextOptions { color })?;
        writeln!(self.0)?;
        self.0.flush()
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

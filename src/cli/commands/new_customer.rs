//! `check-new-customer`: one payload (`--payload`) or a list of them
//! (`--payloads`, ndjson, streamed, bounded concurrency).

use super::batch::{interrupted, streamed, until_rejected};
use super::check::emit;
use super::{CHECK_TIMEOUT, Sink, commit, parallel_runtime, runtime, source};
use crate::batch::Stop;
use crate::cli::args::{CheckFormat, NewCustomerArgs, NewCustomerFormat};
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::InputPath;
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
        .with_options(
            EvalOptions::default()
                .with_fail_on(args.fail_on.into())
                .with_explain(args.detail.explain),
        )
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
    Ok(loader
        .select(super::selection(&args.select, false))
        .load()?)
}

fn one(args: &NewCustomerArgs, preflight: &Preflight, input: &InputPath) -> Result<Exit, CliError> {
    let payload = read_payload(input)?;
    let req = NewCustomerRequest::new(args.account, payload);
    let report = runtime()?.block_on(preflight.check_new_customer(req));
    let (o, d) = (&args.output, args.detail);
    let exit = match args.format.unwrap_or(NewCustomerFormat::Text) {
        NewCustomerFormat::Text => emit(&report, CheckFormat::Text, o, d, None)?,
        NewCustomerFormat::Json => emit(&report, CheckFormat::Json, o, d, None)?,
        NewCustomerFormat::Junit => emit(&report, CheckFormat::Junit, o, d, None)?,
        NewCustomerFormat::Ndjson => {
            let mut line = Vec::new();
            render::ndjson(&report, &mut line).map_err(CliError::stdout)?;
            super::write_output(o, &line)?;
            Exit::from_verdict(report.verdict())
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
    parallel_runtime()?.block_on(async {
        let payloads = payload_lines(input)?;
        let mut sink = Sink::open(&args.output)?;
        let color = super::text_color(&args.output);
        let text = render::TextOptions::default()
            .with_color(color)
            .with_verbose(args.detail.verbose)
            .with_explain(args.detail.explain);
        let stdout = &mut sink;
        let mut out: Box<dyn ReportStream + '_> =
            match args.format.unwrap_or(NewCustomerFormat::Ndjson) {
                NewCustomerFormat::Ndjson => Box::new(NdjsonStream::new(stdout)),
                NewCustomerFormat::Json => Box::new(JsonArrayStream::new(stdout)),
                NewCustomerFormat::Junit => Box::new(JunitStream::new(stdout)),
                NewCustomerFormat::Text => Box::new(TextStream(stdout, text)),
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
        drop(out);
        if !matches!(run.stop, Some(Stop::Output(_))) {
            commit(Some(sink))?;
        }
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
            Some(Stop::Output(e)) => Err(CliError::Output {
                what: Sink::name(&args.output),
                source: e,
            }),
        }
    })
}

/// `--format text` for a list: each report as `check` prints it, one after
/// the other.
struct TextStream<W>(W, render::TextOptions);

impl<W: std::io::Write> ReportStream for TextStream<W> {
    fn report(&mut self, report: &crate::report::Report) -> std::io::Result<()> {
        render::text(report, &mut self.0, self.1)?;
        writeln!(self.0)?;
        self.0.flush()
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

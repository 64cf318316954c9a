//! One module per subcommand.

mod auth;
mod batch;
mod check;
mod check_order;
pub(super) mod config;
mod man;
mod new_customer;
mod rules;
#[cfg(feature = "serve")]
pub(super) mod serve;
mod snapshot;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::CommandFactory;

use super::args::{Cli, Command, OutputArg, RuleArgs, SelectArgs};
use super::exit::{CliError, Exit};
use crate::atomic_write::{AtomicFile, write_atomically};
use crate::ion::{IonClient, IonClientBuilder, TokenFile};
use crate::rules::{Builtin, RuleSet, RuleSetLoader, Selection};
use crate::source::{SnapshotSource, Source};

/// The longest a single check may spend fetching data; what is not obtained
/// by then is unavailable and the rules that need it come out `error`.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

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
        Command::Man(args) => man::run(args),
        Command::Config(_) => config::run(cli.config.as_deref()),
        Command::Check(args) => check::run(args),
        Command::Batch(args) => batch::run(args),
        Command::CheckOrder(args) => check_order::run(args),
        Command::CheckNewCustomer(args) => new_customer::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Auth(cmd) => auth::run(cmd),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run_serve(args),
        #[cfg(feature = "serve")]
        Command::Proxy(args) => serve::run_proxy(args),
    }
}

/// Loads the rule set the flags select.
pub fn load_rules(args: &RuleArgs) -> Result<RuleSet, CliError> {
    load_selected(args, &SelectArgs::default(), false)
}

/// Loads the rule set the flags name, keeping only the rules `--only`,
/// `--skip` and `--tag` (and, with `offline`, `check-order`) choose.
pub fn load_selected(
    args: &RuleArgs,
    select: &SelectArgs,
    offline: bool,
) -> Result<RuleSet, CliError> {
    let mut loader = RuleSetLoader::new();
    if args.no_default_rules {
        loader = loader.without_builtin();
    }
    for f in &args.rules {
        loader = add_rules(loader, f);
    }
    Ok(loader.select(selection(select, offline)).load()?)
}

/// The library's [`Selection`] for the flags.
pub fn selection(select: &SelectArgs, offline: bool) -> Selection {
    let mut s = Selection::default();
    s.only.clone_from(&select.only);
    s.skip.clone_from(&select.skip);
    s.tags.clone_from(&select.tags);
    s.offline = offline;
    s
}

/// Writes `bytes` to `-o FILE` (atomically) or to stdout.
pub fn write_output(output: &OutputArg, bytes: &[u8]) -> Result<(), CliError> {
    match &output.output {
        Some(path) => write_atomically(path, bytes, false).map_err(|source| CliError::Output {
            what: path.display().to_string(),
            source,
        }),
        None => write_stdout(bytes),
    }
}

/// Whether a text report to `output` is coloured (`--color`, the terminal,
/// `NO_COLOR`).
pub fn text_color(output: &OutputArg) -> bool {
    if output.output.is_some() {
        super::logging::file_color()
    } else {
        super::logging::stdout_color()
    }
}

/// Where a streamed document goes: stdout, or `-o FILE`, which appears
/// whole when [`Sink::finish`] is called (an interrupted batch still
/// finishes its document, so its file is complete too).
pub enum Sink {
    /// Standard output.
    Stdout(std::io::BufWriter<std::io::Stdout>),
    /// A file being written atomically.
    File(AtomicFile, PathBuf),
}

impl Sink {
    /// Opens the sink `output` names.
    pub fn open(output: &OutputArg) -> Result<Sink, CliError> {
        match &output.output {
            Some(path) => AtomicFile::create(path, false)
                .map(|f| Sink::File(f, path.clone()))
                .map_err(|source| CliError::Output {
                    what: path.display().to_string(),
                    source,
                }),
            None => Ok(Sink::Stdout(std::io::BufWriter::new(std::io::stdout()))),
        }
    }

    /// The name used in messages.
    pub fn name(output: &OutputArg) -> String {
        output
            .output
            .as_ref()
            .map_or_else(|| "stdout".to_owned(), |p| p.display().to_string())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(w) => w.write(buf),
            Sink::File(f, _) => f.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(w) => w.flush(),
            Sink::File(f, _) => f.flush(),
        }
    }
}

/// Moves a finished `-o FILE` into place (nothing for stdout).
pub fn commit(sink: Option<Sink>) -> Result<(), CliError> {
    if let Some(Sink::File(f, path)) = sink {
        f.commit().map_err(|source| CliError::Output {
            what: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Adds one `--rules` value to `loader`: a rule file, or a built-in set by
/// name (`--rules builtin:new-customer`).
pub fn add_rules(loader: RuleSetLoader, f: &Path) -> RuleSetLoader {
    match f.to_str().and_then(Builtin::from_name) {
        Some(set) => loader.with_builtin(set),
        None => loader.file(f),
    }
}

/// Writes all of `bytes` to stdout and flushes. A closed pipe (`| head`) is
/// not an error: the reader has seen what it wanted.
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::stdout(e)),
        _ => Ok(()),
    }
}

/// An ION client configured from the environment
/// ([`IonClientBuilder::from_env`]) and the flags: `--base-url` (which clap
/// falls back to `ION_BASE_URL` for) wins.
pub fn client(base_url: Option<&str>) -> Result<IonClient, CliError> {
    Ok(client_builder(base_url)?.build()?)
}

/// The builder behind [`client`], for a front end that adds to it. The
/// token file is checked first ([`check_token_file`]).
pub fn client_builder(base_url: Option<&str>) -> Result<IonClientBuilder, CliError> {
    check_token_file()?;
    let mut builder = IonClientBuilder::from_env()?;
    if let Some(url) = base_url.map(str::trim).filter(|u| !u.is_empty()) {
        builder = builder.base_url(url);
    }
    Ok(builder)
}

/// Checks the token file `ION_TOKEN_FILE` names, before any request: a
/// file (or its lock file) that cannot be read or parsed (or opened), or that does not exist while nothing
/// else could seed it (`ION_REFRESH_TOKEN`) or stand in for it
/// (`ION_ACCESS_TOKEN`), is a configuration error (exit 2) naming the path
/// and what is wrong.
pub fn check_token_file() -> Result<(), CliError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(path) = var("ION_TOKEN_FILE") else {
        return Ok(());
    };
    let file = TokenFile::new(PathBuf::from(path.trim()));
    file.check_lock()?;
    if file.read()?.is_none()
        && var("ION_REFRESH_TOKEN").is_none()
        && var("ION_ACCESS_TOKEN").is_none()
    {
        return Err(CliError::Config(format!(
            "the token file {} (ION_TOKEN_FILE) does not exist or is empty: store a refresh token in it with `ion-preflight auth login`, or set ION_REFRESH_TOKEN once to seed it",
            file.path().display()
        )));
    }
    Ok(())
}

/// The data source: a snapshot directory with `--data`, else live ION.
pub fn source(data: Option<&Path>, base_url: Option<&str>) -> Result<Source, CliError> {
    match data {
        Some(dir) => Ok(Source::Snapshot(SnapshotSource::open(dir)?)),
        None => client(base_url).map(Source::Live),
    }
}

/// A tokio runtime for a command that runs one check (or one exchange with
/// ION): on the main thread. Its fetches run concurrently all the same; a
/// pool of worker threads would only add their start-up to the run.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(runtime_error)
}

/// A tokio runtime for a command that runs many checks at once (`batch`,
/// lists of payloads, `serve`, `proxy`): one worker thread per core, so
/// evaluation uses every core.
pub fn parallel_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(runtime_error)
}

fn runtime_error(e: std::io::Error) -> CliError {
    CliError::Config(format!("cannot start the async runtime: {e}"))
}

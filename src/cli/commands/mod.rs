//! One module per subcommand.

mod batch;
mod check;
mod rules;
#[cfg(feature = "serve")]
pub(super) mod serve;
mod snapshot;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::CommandFactory;
use secrecy::SecretString;

use super::args::{Cli, Command, RuleArgs};
use super::exit::{CliError, Exit};
use crate::ion::{FileTokenStore, IonClient, IonClientBuilder};
use crate::rules::{RuleSet, RuleSetLoader};
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
        Command::Check(args) => check::run(args),
        Command::Batch(args) => batch::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Auth(cmd) => crate::cli::auth::run(cmd),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run_serve(args),
        #[cfg(feature = "serve")]
        Command::Proxy(args) => serve::run_proxy(args),
    }
}

/// Loads the rule set the flags select.
pub fn load_rules(args: &RuleArgs) -> Result<RuleSet, CliError> {
    let mut loader = RuleSetLoader::new();
    if args.no_default_rules {
        loader = loader.without_builtin();
    }
    for f in &args.rules {
        loader = loader.file(f);
    }
    Ok(loader.load()?)
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

/// An ION client configured from the flags and the environment. Tokens come
/// only from `ION_ACCESS_TOKEN`, `ION_REFRESH_TOKEN` and `ION_TOKEN_FILE`;
/// the base URL from `--base-url` (which clap falls back to `ION_BASE_URL`
/// for) or the client's default.
pub fn client(base_url: Option<&str>) -> Result<IonClient, CliError> {
    client_builder(base_url)?
        .build()
        .map_err(|e| CliError::Config(e.to_string()))
}

/// The builder behind [`client`].
pub fn client_builder(base_url: Option<&str>) -> Result<IonClientBuilder, CliError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut builder = IonClient::builder();
    if let Some(url) = base_url.map(str::trim).filter(|u| !u.is_empty()) {
        builder = builder.base_url(url);
    }
    if let Some(t) = var("ION_ACCESS_TOKEN") {
        builder = builder.access_token(SecretString::from(t.trim().to_owned()));
    }
    if let Some(t) = var("ION_REFRESH_TOKEN") {
        builder = builder.refresh_token(SecretString::from(t.trim().to_owned()));
    }
    if let Some(path) = var("ION_TOKEN_FILE") {
        builder = builder.token_store(Arc::new(FileTokenStore::new(path)));
    }
    tuning(builder, var)
}

/// Applies the request-tuning variables: `ION_REQUEST_TIMEOUT` (one HTTP
/// request, e.g. `30s`, `500ms`), `ION_MAX_ATTEMPTS` (tries per GET, 1–20)
/// and `ION_RETRY_BACKOFF` (the first pause between tries, e.g. `200ms`;
/// later pauses double, with jitter, up to 25 times it). Unset variables
/// keep the client's defaults; a bad value is a configuration error.
fn tuning(
    mut builder: IonClientBuilder,
    var: impl Fn(&str) -> Option<String>,
) -> Result<IonClientBuilder, CliError> {
    if let Some(v) = var("ION_REQUEST_TIMEOUT") {
        builder = builder.request_timeout(parse_duration("ION_REQUEST_TIMEOUT", &v)?);
    }
    if let Some(v) = var("ION_MAX_ATTEMPTS") {
        let n = v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=20).contains(n))
            .ok_or_else(|| {
                CliError::Config(format!(
                    "ION_MAX_ATTEMPTS must be a whole number from 1 to 20, not {:?}",
                    v.trim()
                ))
            })?;
        builder = builder.max_attempts(n);
    }
    if let Some(v) = var("ION_RETRY_BACKOFF") {
        let min = parse_duration("ION_RETRY_BACKOFF", &v)?;
        builder = builder.backoff(min, min.saturating_mul(25));
    }
    Ok(builder)
}

/// A positive duration such as `30s`, `250ms` or `1m` (jiff's friendly
/// format); `name` is the variable it came from, for the message.
pub(super) fn parse_duration(name: &str, text: &str) -> Result<Duration, CliError> {
    let bad = || {
        CliError::Config(format!(
            "{name} must be a positive duration such as 30s or 250ms, not {:?}",
            text.trim()
        ))
    };
    let d: jiff::SignedDuration = text.trim().parse().map_err(|_| bad())?;
    Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(24 * 3600))
        .ok_or_else(bad)
}

/// The data source: a snapshot directory with `--data`, else live ION.
pub fn source(data: Option<&Path>, base_url: Option<&str>) -> Result<Source, CliError> {
    match data {
        Some(dir) => SnapshotSource::open(dir)
            .map(Source::Snapshot)
            .map_err(|e| CliError::Config(e.to_string())),
        None => client(base_url).map(Source::Live),
    }
}

/// A tokio runtime for the command.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Config(format!("cannot start the async runtime: {e}")))
}

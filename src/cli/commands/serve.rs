//! `serve` and `proxy`: the long-running front ends (feature `serve`).
//! Arguments here, the engine in [`crate::service`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{client_builder, runtime};
use crate::cli::args::{FailOn, IonArgs, RuleArgs};
use crate::cli::exit::{CliError, Exit};
use crate::rules::EvalOptions;
use crate::service::serve::DataSource;
use crate::service::{
    DEFAULT_BODY_LIMIT, Mode, Proxy, ProxyConfig, RuleSpec, ServeConfig, Service, shutdown_signal,
};

const SERVE_HELP: &str = "\
Examples:
  # Offline, against a recorded snapshot:
  ion-preflight serve --listen 127.0.0.1:8080 --data fixtures/demo
  curl -s localhost:8080/v1/check -d '{\"account_id\": 1001, \"customer_id\": 2002}'

  # Live: callers send `Authorization: Bearer <ION access token>`; without it
  # the service's own token file is used:
  ION_TOKEN_FILE=~/.config/ion/refresh-token ion-preflight serve --rules my-rules.yaml

Endpoints: POST /v1/check, GET /healthz, GET /readyz, GET /metrics
(docs/serve.md; the contract: docs/serve-openapi.yaml). SIGHUP reloads the
rules (kept when the new files do not load); SIGTERM or Ctrl-C stops
accepting, finishes the checks in flight and exits 0.

Exit codes: 0 stopped by a signal, 2 usage/config/rule-file error or the
address cannot be listened on.";

const PROXY_HELP: &str = "\
Examples:
  ion-preflight proxy --listen 127.0.0.1:8443 \\
      --upstream https://ion.tdsynnex.com --mode enforce
  # then point the order system's ION base URL at http://127.0.0.1:8443

Every request passes through unchanged; POST .../customers/{c}/orders is
checked first with the caller's bearer token. Blocked: answered with ION's
400 envelope, never forwarded. Indeterminate: 503 with Retry-After. Ready:
forwarded once. --mode audit forwards everything and logs the verdict beside
ION's answer (docs/serve.md, \"proxy\").

Exit codes: 0 stopped by a signal, 2 usage/config/rule-file error or the
address cannot be listened on.";

/// `serve` arguments.
#[derive(Debug, Args)]
#[command(after_help = SERVE_HELP)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Rule selection (reloaded on SIGHUP).
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Read a snapshot directory instead of live ION (no credentials used).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Append one JSON line per decision to FILE, personal data masked.
    #[arg(long, value_name = "FILE")]
    pub decision_log: Option<PathBuf>,
    /// The lowest severity whose failure blocks.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: FailOn,
    /// The largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// The longest one check may spend fetching ION data, e.g. 30s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub check_timeout: Duration,
    /// Where ION is.
    #[command(flatten)]
    pub ion: IonArgs,
}

/// What the proxy does with a checked order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Blocked and indeterminate orders never reach ION.
    Enforce,
    /// Every order reaches ION; the verdict is logged beside ION's answer.
    Audit,
}

/// `proxy` arguments.
#[derive(Debug, Args)]
#[command(after_help = PROXY_HELP)]
pub struct ProxyArgs {
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// The ION base URL requests are forwarded to (https, or http on a
    /// loopback host).
    #[arg(long, value_name = "URL", default_value = crate::ion::DEFAULT_BASE_URL)]
    pub upstream: String,
    /// enforce: blocked orders never reach ION; audit: log only.
    #[arg(long, value_enum)]
    pub mode: ModeArg,
    /// Rule selection (reloaded on SIGHUP).
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Append one JSON line per checked order to FILE (audit lines carry
    /// ION's status and codes), personal data masked.
    #[arg(long, value_name = "FILE")]
    pub decision_log: Option<PathBuf>,
    /// The lowest severity whose failure blocks.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: FailOn,
    /// The largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// How long ION may take to start answering a forwarded request
    /// (then 504), e.g. 30s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub upstream_timeout: Duration,
    /// The longest one check may spend fetching ION data.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub check_timeout: Duration,
    /// The Retry-After of an indeterminate answer, e.g. 5s.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    pub retry_after: Duration,
}

fn duration(text: &str) -> Result<Duration, String> {
    crate::ion::parse_duration("the duration", text).map_err(|e| e.to_string())
}

fn spec(args: &RuleArgs) -> RuleSpec {
    RuleSpec {
        builtin: !args.no_default_rules,
        files: args.rules.clone(),
    }
}

fn config_error(e: impl std::fmt::Display) -> CliError {
    CliError::Config(e.to_string())
}

fn listen(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    what: &str,
) -> Result<tokio::net::TcpListener, CliError> {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| CliError::Config(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(config_error)?;
    // The one line a supervisor or a test reads to learn the port.
    eprintln!("ion-preflight {what} listening on http://{bound}");
    Ok(listener)
}

/// Runs `serve` until SIGTERM or Ctrl-C.
pub fn run_serve(args: ServeArgs) -> Result<Exit, CliError> {
    let data = match &args.data {
        Some(dir) => DataSource::Snapshot(dir.clone()),
        None => {
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
            let own_credentials = ["ION_ACCESS_TOKEN", "ION_REFRESH_TOKEN", "ION_TOKEN_FILE"]
                .iter()
                .any(|name| var(name).is_some());
            DataSource::Live {
                // Callers may bring their own tokens: no credentials of the
                // service's own is not an error here.
                builder: client_builder(args.ion.base_url.as_deref())?.allow_no_credentials(),
                own_credentials,
                token_file: var("ION_TOKEN_FILE").map(PathBuf::from),
            }
        }
    };
    let rules = spec(&args.rules);
    let service = Service::new(ServeConfig {
        rules,
        data,
        options: EvalOptions {
            fail_on: args.fail_on.into(),
        },
        body_limit: args.body_limit,
        check_timeout: args.check_timeout,
        decision_log: args.decision_log,
    })
    .map_err(service_error)?;
    let rt = runtime()?;
    let listener = listen(&rt, args.listen, "serve")?;
    rt.block_on(service.run(listener, shutdown_signal()))
        .map_err(config_error)?;
    Ok(Exit::Ready)
}

/// Runs `proxy` until SIGTERM or Ctrl-C.
pub fn run_proxy(args: ProxyArgs) -> Result<Exit, CliError> {
    let proxy = Proxy::new(ProxyConfig {
        upstream: args.upstream,
        mode: match args.mode {
            ModeArg::Enforce => Mode::Enforce,
            ModeArg::Audit => Mode::Audit,
        },
        rules: spec(&args.rules),
        options: EvalOptions {
            fail_on: args.fail_on.into(),
        },
        body_limit: args.body_limit,
        upstream_timeout: args.upstream_timeout,
        check_timeout: args.check_timeout,
        retry_after: args.retry_after,
        decision_log: args.decision_log,
    })
    .map_err(service_error)?;
    let rt = runtime()?;
    let listener = listen(&rt, args.listen, "proxy")?;
    rt.block_on(proxy.run(listener, shutdown_signal()))
        .map_err(config_error)?;
    Ok(Exit::Ready)
}

/// Rule-file problems keep their rendering (file, line, column); the rest
/// is one line.
fn service_error(e: crate::service::ServiceError) -> CliError {
    match e {
        crate::service::ServiceError::Rules(e) => CliError::Rules(e),
        other => CliError::Config(other.to_string()),
    }
}

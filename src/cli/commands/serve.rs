//! `serve` and `proxy`: the long-running front ends (feature `serve`).
//! Their arguments are in [`crate::cli::args`], the engine in [`crate::service`].

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{client_builder, parallel_runtime};
use crate::cli::args::{ModeArg, NewCustomerRuleArgs, ProxyArgs, RuleArgs, ServeArgs};
use crate::cli::exit::{CliError, Exit};
use crate::rules::EvalOptions;
use crate::service::serve::DataSource;
use crate::service::{Mode, Proxy, ProxyConfig, RuleSpec, ServeConfig, Service, shutdown_signal};

fn spec(args: &RuleArgs, new_customer: &NewCustomerRuleArgs) -> RuleSpec {
    RuleSpec {
        builtin: !args.no_default_rules,
        files: args.rules.clone(),
        new_customer_builtin: !new_customer.no_default_new_customer_rules,
        new_customer_files: new_customer.new_customer_rules.clone(),
    }
}

fn watch(off: bool) -> Option<std::time::Duration> {
    (!off).then_some(crate::service::watch::DEFAULT_DEBOUNCE)
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
    let rules = spec(&args.rules, &args.new_customer_rules);
    let service = Service::new(ServeConfig {
        rules,
        data,
        options: EvalOptions::default().with_fail_on(args.fail_on.into()),
        body_limit: args.body_limit,
        check_timeout: args.check_timeout,
        decision_log: args.decision_log,
        watch: watch(args.no_watch_rules),
    })
    .map_err(service_error)?;
    let rt = parallel_runtime()?;
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
        rules: spec(&args.rules, &args.new_customer_rules),
        options: EvalOptions::default().with_fail_on(args.fail_on.into()),
        body_limit: args.body_limit,
        upstream_timeout: args.upstream_timeout,
        check_timeout: args.check_timeout,
        retry_after: args.retry_after,
        decision_log: args.decision_log,
        watch: watch(args.no_watch_rules),
    })
    .map_err(service_error)?;
    let rt = parallel_runtime()?;
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

//! The long-running front ends, for order systems that are not written in
//! Rust (feature `serve`):
//!
//! - [`serve`]: an HTTP API in the spirit of OPA's REST API. `POST
//!   /v1/check` answers 200 with the report for every verdict, plus
//!   `/healthz`, `/readyz`, Prometheus `/metrics`, rules reloaded on
//!   `SIGHUP`, an optional decision log with personal data masked.
//! - [`proxy`]: a validating gate in front of ION. The order system changes
//!   only its ION base URL; every request passes through, and an order POST
//!   is checked first (blocked: answered in ION's own 400 envelope and never
//!   forwarded).
//!
//! Both run one engine per process: one rule set (swapped atomically on
//! reload), one connection pool, one token cache. `docs/serve.md` is the
//! user's guide, `docs/serve-openapi.yaml` the API's contract.

pub mod decision_log;
pub mod envelope;
mod locks;
pub mod metrics;
pub mod path;
pub mod proxy;
pub mod reload;
pub mod serve;
pub mod watch;

use std::time::Duration;

use axum::body::{Body, Bytes};
use futures::StreamExt;
use secrecy::SecretString;

pub use proxy::{Mode, Proxy, ProxyConfig};
pub use reload::{LiveRules, RuleSpec};
pub use serve::{ServeConfig, Service};

/// The default largest request body (1 MiB): orders are a few kilobytes.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The default bound on one check's data fetching.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The rule files do not load.
    #[error(transparent)]
    Rules(#[from] crate::rules::RuleLoadError),
    /// The ION client could not be set up.
    #[error(transparent)]
    Ion(#[from] crate::ion::IonError),
    /// The snapshot directory cannot be used.
    #[error(transparent)]
    Snapshot(#[from] crate::source::SnapshotError),
    /// The decision log cannot be opened.
    #[error("cannot open the decision log {path}: {source}")]
    DecisionLog {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The proxy's forwarding client could not be set up.
    #[error("cannot set up the proxy's HTTP client: {0}")]
    Http(String),
}

/// Why a request body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Over the limit (413).
    TooLarge(usize),
    /// The connection failed while reading.
    Read(String),
}

/// Reads a whole request body, refusing it as soon as it grows past
/// `limit` bytes (a declared `Content-Length` over it is refused before
/// anything is read).
pub(crate) async fn read_body(
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// The caller's ION access token from `Authorization: Bearer <token>`:
/// `Ok(None)` without the header, `Err` with a reason for any other form.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Result<Option<SecretString>, String> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| "the Authorization header is not visible ASCII".to_owned())?;
    let (scheme, token) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("the Authorization header must be `Bearer <ION access token>`".to_owned());
    }
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err("the Authorization header's bearer token is empty or has spaces".to_owned());
    }
    Ok(Some(SecretString::from(token.to_owned())))
}

/// A new decision id: 128 random bits as 32 hex digits.
pub(crate) fn decision_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Resolves on `SIGTERM` or Ctrl-C (`SIGINT`): when a service should stop
/// accepting connections and finish the requests in flight.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

/// Reloads `rules` on every `SIGHUP` (Unix), counting each result in
/// `metrics` and logging a failed reload's diagnostics.
pub(crate) fn reload_on_sighup(
    rules: std::sync::Arc<LiveRules>,
    metrics: Option<std::sync::Arc<metrics::Metrics>>,
) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: rules will not be reloaded");
            return;
        };
        while hup.recv().await.is_some() {
            let ok = reload_now(&rules);
            if let Some(m) = &metrics {
                m.record_reload(ok);
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (rules, metrics);
}

/// Reloads `rules` once; logs the outcome. `true` when the new set is in.
pub(crate) fn reload_now(rules: &LiveRules) -> bool {
    match rules.reload() {
        Ok(rev) => {
            tracing::warn!(revision = %rev.id, rules = rev.rules.rules().len(), "rules reloaded");
            true
        }
        Err(e) => {
            let diagnostics: Vec<String> = e.diagnostics().iter().map(|d| d.one_line()).collect();
            tracing::error!(
                error = %e,
                diagnostics = ?diagnostics,
                "rule reload failed; still checking with the previous rules"
            );
            false
        }
    }
}

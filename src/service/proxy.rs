//! `proxy`: a validating gate in front of ION. An order system adopts it by
//! changing only its ION base URL.
//!
//! Every request passes through to the upstream unchanged (method, path,
//! query, headers including `Authorization`, body; hop-by-hop headers
//! aside) and the response streams back. `POST
//! /api/v3/accounts/{a}/customers/{c}/orders` (matched on the normalized
//! path, see [`super::path`]) is checked first with the caller's bearer
//! token:
//!
//! - **blocked**: answered by the proxy, never forwarded: HTTP 400 in ION's
//!   order-validation envelope ([`super::envelope::order_blocked`]);
//! - **indeterminate**: 503 in ION's `UNAVAILABLE` shape with
//!   `Retry-After` (nothing reached ION, so a retry is safe);
//! - **ready**: the original body forwarded once, never retried.
//!
//! In [`Mode::Audit`] every order is forwarded and the verdict is logged
//! beside ION's real answer. Checks for the same customer and `referenceId`
//! are serialized. Every answer the proxy makes itself carries
//! [`ANSWERED_HEADER`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header, request};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::decision_log::{DecisionLog, Entry};
use super::envelope;
use super::locks::KeyLocks;
use super::path::{self, Route};
use super::reload::{LiveRules, RuleSpec};
use super::{BodyError, ServiceError, bearer, decision_id, read_body};
use crate::ion::{IonClient, validate_base_url};
use crate::report::{Report, Verdict};
use crate::rules::EvalOptions;
use crate::{CheckRequest, Preflight};

/// The header on every response the proxy made itself (not ION's): what it
/// answered for (`blocked`, `indeterminate`, `refused`, `unauthenticated`,
/// `too-large`, `upstream-timeout`, `upstream-failed`).
pub const ANSWERED_HEADER: &str = "x-ion-preflight";

/// The header carrying the decision id of a checked request (answered or
/// forwarded).
pub const DECISION_HEADER: &str = "x-ion-preflight-decision";

/// The header carrying the verdict of a checked request that was forwarded.
pub const VERDICT_HEADER: &str = "x-ion-preflight-verdict";

/// What the proxy does with a checked order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Blocked and indeterminate orders are answered by the proxy, never
    /// forwarded.
    Enforce,
    /// Every order is forwarded; the verdict is logged beside ION's answer.
    Audit,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }
}

/// How a [`Proxy`] runs.
#[derive(Debug)]
pub struct ProxyConfig {
    /// The ION base URL requests go to (`https`, or `http` on loopback).
    pub upstream: String,
    /// Enforce or audit.
    pub mode: Mode,
    /// The rules, reloaded on `SIGHUP`.
    pub rules: RuleSpec,
    /// Evaluation options.
    pub options: EvalOptions,
    /// The largest request body accepted.
    pub body_limit: usize,
    /// How long the upstream may take to start answering (then 504).
    pub upstream_timeout: Duration,
    /// The bound on one check's data fetching.
    pub check_timeout: Duration,
    /// The `Retry-After` of an indeterminate answer.
    pub retry_after: Duration,
    /// The decision log (audit entries carry ION's answer), if any.
    pub decision_log: Option<PathBuf>,
}

struct Shared {
    upstream: Url,
    mode: Mode,
    rules: Arc<LiveRules>,
    options: EvalOptions,
    body_limit: usize,
    upstream_timeout: Duration,
    check_timeout: Duration,
    retry_after: Duration,
    http: reqwest::Client,
    ion: IonClient,
    locks: KeyLocks,
    log: Option<DecisionLog>,
}

/// A running proxy: build it, then [`Proxy::router`] or [`Proxy::run`].
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.shared.upstream.as_str())
            .field("mode", &self.shared.mode)
            .finish_non_exhaustive()
    }
}

/// Headers that belong to one connection, not to the request (RFC 9110
/// 7.6.1), and are not forwarded either way; `Host` is the upstream's.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<String> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in from {
        if !hop_by_hop(name) && !named.iter().any(|n| n == name.as_str()) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// An answer the proxy makes itself, in ION's envelope.
fn answer(
    status: StatusCode,
    kind: &'static str,
    body: &Value,
    decision: Option<&str>,
) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(ANSWERED_HEADER, HeaderValue::from_static(kind));
    if let Some(id) = decision.and_then(|d| HeaderValue::from_str(d).ok()) {
        r.headers_mut().insert(DECISION_HEADER, id);
    }
    r
}

fn failure(status: StatusCode, kind: &'static str, error: &str, message: &str) -> Response {
    let id = decision_id();
    let body = envelope::status(error, status.as_u16(), message, &id, None);
    answer(status, kind, &body, None)
}

impl Proxy {
    /// Loads the rules and sets up the clients.
    pub fn new(config: ProxyConfig) -> Result<Proxy, ServiceError> {
        let upstream = validate_base_url(&config.upstream)?;
        let rules = Arc::new(LiveRules::load(config.rules)?);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.upstream_timeout.min(Duration::from_secs(10)))
            .read_timeout(config.upstream_timeout)
            .build()
            .map_err(|e| ServiceError::Http(e.to_string()))?;
        let ion = IonClient::builder()
            .base_url(upstream.as_str())
            .request_timeout(config.check_timeout)
            .allow_no_credentials()
            .build()?;
        let log = DecisionLog::open_configured(config.decision_log)?;
        Ok(Proxy {
            shared: Arc::new(Shared {
                upstream,
                mode: config.mode,
                rules,
                options: config.options,
                body_limit: config.body_limit,
                upstream_timeout: config.upstream_timeout,
                check_timeout: config.check_timeout,
                retry_after: config.retry_after,
                http,
                ion,
                locks: KeyLocks::default(),
                log,
            }),
        })
    }

    /// The rules the proxy checks with.
    pub fn rules(&self) -> &LiveRules {
        &self.shared.rules
    }

    /// Reloads the rules now (what `SIGHUP` does).
    pub fn reload(&self) -> bool {
        super::reload_now(&self.shared.rules)
    }

    /// The proxy as a router: everything goes to one handler.
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(handle)
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(Arc::clone(&self.shared))
    }

    /// Serves on `listener` until `shutdown` resolves, reloading the rules
    /// on `SIGHUP`; then finishes the requests in flight.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        super::reload_on_sighup(Arc::clone(&self.shared.rules), None);
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn handle(State(p): State<Arc<Shared>>, req: Request) -> Response {
    let route = match path::route(req.method().as_str(), req.uri().path()) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(method = %req.method(), error = %e, "refused a path that cannot be normalized");
            return failure(
                StatusCode::BAD_REQUEST,
                "refused",
                "INVALID_ARGUMENT",
                &format!(
                    "ion-preflight proxy: the request path cannot be matched safely, so it is not forwarded: {e}"
                ),
            );
        }
    };
    match route {
        Route::PlaceOrder { account, customer } => {
            checked_order(&p, req, account, customer, route).await
        }
        // Customer creation is passed through until the library has the
        // new-customer pre-flight (docs/serve.md, "Known gaps").
        Route::CreateCustomer { .. } | Route::PassThrough => pass_through(&p, req).await,
    }
}

impl Shared {
    /// The upstream URL for `path_and_query` (a raw origin-form target).
    fn url(&self, path_and_query: &str) -> Result<Url, String> {
        let base = self.upstream.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path_and_query}")).map_err(|e| e.to_string())
    }

    async fn send(&self, req: reqwest::Request) -> Result<reqwest::Response, Response> {
        let target = req.url().path().to_owned();
        let timed_out = || {
            tracing::warn!(path = %target, timeout_ms = self.upstream_timeout.as_millis() as u64, "upstream timeout");
            failure(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "DEADLINE_EXCEEDED",
                &format!(
                    "ion-preflight proxy: ION did not answer within {} s; the request may have reached it (look an order up before placing it again)",
                    self.upstream_timeout.as_secs_f64()
                ),
            )
        };
        match tokio::time::timeout(self.upstream_timeout, self.http.execute(req)).await {
            Ok(Ok(r)) => Ok(r),
            Err(_) => Err(timed_out()),
            Ok(Err(e)) if e.is_timeout() => Err(timed_out()),
            Ok(Err(e)) => {
                tracing::warn!(path = %target, error = %e, "upstream request failed");
                Err(failure(
                    StatusCode::BAD_GATEWAY,
                    "upstream-failed",
                    "UNAVAILABLE",
                    &format!(
                        "ion-preflight proxy: the request to ION failed ({}); it may have reached ION",
                        error_chain(&e)
                    ),
                ))
            }
        }
    }
}

/// An error and its causes on one line ("error sending request: connection
/// refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn streamed(resp: reqwest::Response) -> Response {
    let mut out = Response::builder().status(resp.status());
    if let Some(h) = out.headers_mut() {
        copy_headers(resp.headers(), h);
    }
    out.body(Body::from_stream(resp.bytes_stream()))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

async fn pass_through(p: &Shared, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let url = match p.url(target) {
        Ok(u) => u,
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "refused",
                "INVALID_ARGUMENT",
                &format!("ion-preflight proxy: the request target cannot be forwarded: {e}"),
            );
        }
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > p.body_limit as u64) {
        return too_large(p.body_limit);
    }
    // The body streams through, counted: past the limit the upstream
    // request is aborted and the caller told why.
    let over = Arc::new(AtomicBool::new(false));
    let limit = p.body_limit;
    let mut seen = 0usize;
    let flag = Arc::clone(&over);
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len();
        if seen > limit {
            flag.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("request body over the limit"));
        }
        Ok::<Bytes, std::io::Error>(chunk)
    });
    let mut out = reqwest::Request::new(parts.method.clone(), url);
    copy_headers(&parts.headers, out.headers_mut());
    let has_body =
        declared.is_some_and(|n| n > 0) || parts.headers.contains_key(header::TRANSFER_ENCODING);
    if has_body {
        *out.body_mut() = Some(reqwest::Body::wrap_stream(stream));
    }
    match p.send(out).await {
        Ok(resp) => streamed(resp),
        Err(_) if over.load(Ordering::Relaxed) => too_large(limit),
        Err(r) => r,
    }
}

fn too_large(limit: usize) -> Response {
    failure(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "INVALID_ARGUMENT",
        &format!("ion-preflight proxy: the request body is larger than the limit of {limit} bytes"),
    )
}

/// How the verdict compares with ION's answer, in audit mode.
fn assessment(verdict: Verdict, ion_status: u16, ion_codes: &[String]) -> &'static str {
    let accepted = (200..300).contains(&ion_status);
    let rejected = matches!(ion_status, 400 | 404 | 409 | 412 | 422) && !ion_codes.is_empty();
    match (verdict, accepted, rejected) {
        (Verdict::Ready, true, _) | (Verdict::Blocked, _, true) => "agree",
        (Verdict::Blocked, true, _) => "false-block",
        (Verdict::Ready, _, true) => "false-ready",
        _ => "unknown",
    }
}

async fn checked_order(
    p: &Shared,
    req: Request,
    account: u64,
    customer: u64,
    route: Route,
) -> Response {
    let (parts, body) = req.into_parts();
    let id = decision_id();
    // Audit mode forwards what it cannot check (no token, a body that is
    // not JSON) and logs nothing for it; enforce mode refuses it.
    let token = match bearer(&parts.headers) {
        Ok(Some(t)) => Some(t),
        Ok(None) | Err(_) if p.mode == Mode::Audit => None,
        Ok(None) => {
            return failure(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "UNAUTHENTICATED",
                "ion-preflight proxy: an order is checked with the caller's own ION access token: send `Authorization: Bearer <token>`",
            );
        }
        Err(m) => {
            return failure(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "UNAUTHENTICATED",
                &format!("ion-preflight proxy: {m}"),
            );
        }
    };
    let bytes = match read_body(&parts.headers, body, p.body_limit).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(limit)) => return too_large(limit),
        Err(BodyError::Read(e)) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "refused",
                "INVALID_ARGUMENT",
                &format!("ion-preflight proxy: the request body could not be read: {e}"),
            );
        }
    };
    let order = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Some(v),
        Ok(_) | Err(_) if p.mode == Mode::Audit => None,
        Ok(_) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "refused",
                "INVALID_ARGUMENT",
                "ion-preflight proxy: the order body is not a JSON object",
            );
        }
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "refused",
                "INVALID_ARGUMENT",
                &format!("ion-preflight proxy: the order body is not JSON: {e}"),
            );
        }
    };
    let reference = order
        .as_ref()
        .and_then(|o| o["referenceId"].as_str())
        .map(str::to_owned);
    // Held until ION has answered: a concurrent retry of this order is
    // checked only after that.
    let _serialized = p.locks.lock((account, customer, reference)).await;
    let revision = p.rules.current();
    let report = match (&order, token) {
        (Some(order), Some(token)) => {
            let preflight = Preflight::new(p.ion.with_access_token(token), revision.rules.clone())
                .with_options(p.options)
                .with_check_timeout(p.check_timeout);
            let check = CheckRequest::new(account, customer).with_order(order.clone());
            Some(preflight.check(check).await)
        }
        _ => None,
    };
    if p.mode == Mode::Enforce
        && let Some(report) = &report
    {
        match report.verdict() {
            Verdict::Blocked => {
                log_decision(p, &id, &revision.id, report, order.as_ref(), None);
                tracing::info!(decision = %id, account, customer, "order blocked by the pre-flight");
                let body = envelope::order_blocked(report, &id);
                return answer(StatusCode::BAD_REQUEST, "blocked", &body, Some(&id));
            }
            Verdict::Indeterminate => {
                log_decision(p, &id, &revision.id, report, order.as_ref(), None);
                let reason = report.indeterminate_reason();
                let body = envelope::status(
                    "UNAVAILABLE",
                    503,
                    &format!(
                        "ion-preflight proxy: the order was not sent to ION, so retrying is safe: {reason}"
                    ),
                    &id,
                    Some(report),
                );
                let mut r = answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "indeterminate",
                    &body,
                    Some(&id),
                );
                if let Ok(v) = HeaderValue::from_str(&p.retry_after.as_secs().max(1).to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
            Verdict::Ready => {}
        }
    }
    forward_order(
        p,
        &parts,
        bytes,
        route,
        &id,
        &revision.id,
        report.as_ref(),
        order.as_ref(),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn forward_order(
    p: &Shared,
    parts: &request::Parts,
    bytes: Bytes,
    route: Route,
    id: &str,
    revision: &str,
    report: Option<&Report>,
    order: Option<&Value>,
) -> Response {
    // To exactly the resource that was checked, whatever the caller's
    // spelling; the query as it came.
    let mut target = route.canonical_path().unwrap_or_default();
    if let Some(q) = parts.uri.query() {
        target.push('?');
        target.push_str(q);
    }
    let url = match p.url(&target) {
        Ok(u) => u,
        Err(e) => {
            return failure(StatusCode::BAD_REQUEST, "refused", "INVALID_ARGUMENT", &e);
        }
    };
    let mut out = reqwest::Request::new(Method::POST, url);
    copy_headers(&parts.headers, out.headers_mut());
    *out.body_mut() = Some(reqwest::Body::from(bytes));
    let started = Instant::now();
    let resp = match p.send(out).await {
        Ok(r) => r,
        Err(r) => {
            if let Some(report) = report {
                log_decision(p, id, revision, report, order, None);
            }
            return r;
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    // ION's answer to an order is small; it is read whole so the audit can
    // compare its codes, and so the serialization holds until it is in.
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return failure(
                StatusCode::BAD_GATEWAY,
                "upstream-failed",
                "UNAVAILABLE",
                &format!(
                    "ion-preflight proxy: ION's answer was cut off ({e}); the order may have been placed"
                ),
            );
        }
    };
    if let Some(report) = report {
        let codes = envelope::ion_error_codes(&body);
        let judged = assessment(report.verdict(), status.as_u16(), &codes);
        tracing::info!(
            target: "ion_preflight::audit",
            decision = %id,
            mode = p.mode.as_str(),
            account = report.account_id,
            customer = report.customer_id,
            verdict = report.verdict().as_str(),
            ion_status = status.as_u16(),
            ion_codes = ?codes,
            assessment = judged,
            ion_ms = started.elapsed().as_millis() as u64,
            "order forwarded"
        );
        log_decision(
            p,
            id,
            revision,
            report,
            order,
            Some((status.as_u16(), codes, judged)),
        );
    }
    let mut out = Response::builder().status(status);
    if let Some(h) = out.headers_mut() {
        copy_headers(&headers, h);
        if let Ok(v) = HeaderValue::from_str(id) {
            h.insert(DECISION_HEADER, v);
        }
        if let Some(r) = report {
            h.insert(
                VERDICT_HEADER,
                HeaderValue::from_static(r.verdict().as_str()),
            );
        }
    }
    out.body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

fn log_decision(
    p: &Shared,
    id: &str,
    revision: &str,
    report: &Report,
    order: Option<&Value>,
    ion: Option<(u16, Vec<String>, &'static str)>,
) {
    if let Some(log) = &p.log {
        let mut entry = Entry::new(id, revision, report, order);
        entry.mode = Some(p.mode.as_str());
        if let Some((status, codes, judged)) = ion {
            entry.ion_status = Some(status);
            entry.ion_codes = Some(codes);
            entry.assessment = Some(judged);
        }
        log.append(&entry);
    }
}

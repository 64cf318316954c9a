//! `proxy`: a validating gate in front of ION. An order system adopts it by
//! changing only its ION base URL.
//!
//! Every request passes through to the upstream unchanged (method, path,
//! query, headers including `Authorization`, body; hop-by-hop headers
//! aside) and the response streams back. `POST
//! /api/v3/accounts/{a}/customers/{c}/orders` (the order pre-flight) and
//! `POST /api/v3/accounts/{a}/customers` (customer creation: the
//! new-customer pre-flight), matched on the normalized path (see
//! [`super::path`]), are checked first with the caller's bearer token:
//!
//! - **blocked**: answered by the proxy, never forwarded: HTTP 400 in ION's
//!   order-validation envelope ([`super::envelope::order_blocked`]) or its
//!   customer-creation envelope ([`super::envelope::customer_blocked`]);
//! - **indeterminate**: 503 in ION's `UNAVAILABLE` shape with
//!   `Retry-After` (nothing reached ION, so a retry is safe);
//! - **ready**: the original body forwarded once, never retried.
//!
//! In [`Mode::Audit`] every checked request is forwarded and the verdict is
//! logged beside ION's real answer. Checks for the same customer and
//! `referenceId`, and creations with the same e-mail (ignoring case), are
//! serialized. Every answer the proxy makes itself carries
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
use super::locks::{Key, KeyLocks};
use super::path::{self, Route};
use super::reload::{LiveRules, Revision, RuleSpec};
use super::{BodyError, ServiceError, bearer, decision_id, read_body};
use crate::ion::{IonClient, validate_base_url};
use crate::report::{Report, Verdict};
use crate::rules::EvalOptions;
use crate::{CheckRequest, NewCustomerRequest, Preflight};

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
    /// Reload the rules when their files change, after this quiet period;
    /// `None`: on `SIGHUP` only.
    pub watch: Option<Duration>,
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
    watch: Option<Duration>,
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
                watch: config.watch,
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
    /// on `SIGHUP` (and on file change, when configured); then finishes the
    /// requests in flight.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        super::reload_on_sighup(Arc::clone(&self.shared.rules), None);
        if let Some(debounce) = self.shared.watch {
            super::watch::reload_on_change(Arc::clone(&self.shared.rules), None, debounce);
        }
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
            checked(&p, req, route, Checked::Order { account, customer }).await
        }
        Route::CreateCustomer { account } => {
            checked(&p, req, route, Checked::NewCustomer { account }).await
        }
        Route::PassThrough => pass_through(&p, req).await,
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

/// What a checked route is checked as.
#[derive(Clone, Copy, Debug)]
enum Checked {
    /// `POST …/customers/{customer}/orders`: the order pre-flight.
    Order { account: u64, customer: u64 },
    /// `POST …/customers`: the new-customer pre-flight.
    NewCustomer { account: u64 },
}

impl Checked {
    /// What the request carries, in messages.
    fn noun(self) -> &'static str {
        match self {
            Checked::Order { .. } => "order",
            Checked::NewCustomer { .. } => "new customer",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Checked::Order { .. } => "order",
            Checked::NewCustomer { .. } => "new-customer",
        }
    }

    /// What concurrent requests are serialized on: the customer and the
    /// order's `referenceId` (the duplicate-order check), or the new
    /// customer's e-mail ignoring case and surrounding blanks (the
    /// email-in-use check).
    fn lock_key(self, body: Option<&Value>) -> Key {
        let text = |field: &str| {
            body.and_then(|b| b[field].as_str())
                .map(|s| s.trim().to_owned())
        };
        match self {
            Checked::Order { account, customer } => {
                Key::Order(account, customer, text("referenceId"))
            }
            Checked::NewCustomer { account } => {
                Key::NewCustomer(account, text("customerEmail").map(|e| e.to_lowercase()))
            }
        }
    }

    /// The pre-flight of `body` with the rules of `revision`.
    async fn run(
        self,
        p: &Shared,
        revision: &Revision,
        token: secrecy::SecretString,
        body: &Value,
    ) -> Report {
        let rules = match self {
            Checked::Order { .. } => revision.rules.clone(),
            Checked::NewCustomer { .. } => revision.new_customer.clone(),
        };
        let preflight = Preflight::new(p.ion.with_access_token(token), rules)
            .with_options(p.options)
            .with_check_timeout(p.check_timeout);
        match self {
            Checked::Order { account, customer } => {
                let check = CheckRequest::new(account, customer).with_order(body.clone());
                preflight.check(check).await
            }
            Checked::NewCustomer { account } => {
                let check = NewCustomerRequest::new(account, body.clone());
                preflight.check_new_customer(check).await
            }
        }
    }

    /// The 400 the proxy answers a blocked request with, in ION's envelope
    /// for that route.
    fn blocked(self, report: &Report, id: &str) -> Value {
        match self {
            Checked::Order { .. } => envelope::order_blocked(report, id),
            Checked::NewCustomer { .. } => envelope::customer_blocked(report, id),
        }
    }

    /// The codes in ION's answer the audit compares with: for customer
    /// creation a 400 `INVALID_REQUEST` carries no code but its `error`.
    fn ion_codes(self, status: StatusCode, body: &[u8]) -> Vec<String> {
        let codes = envelope::ion_error_codes(body);
        match self {
            Checked::NewCustomer { .. } if codes.is_empty() && status.is_client_error() => {
                envelope::ion_error(body).into_iter().collect()
            }
            _ => codes,
        }
    }
}

/// Checks a request of a checked route, then answers it (enforce mode,
/// blocked or indeterminate) or forwards it.
async fn checked(p: &Shared, req: Request, route: Route, what: Checked) -> Response {
    let (parts, body) = req.into_parts();
    let id = decision_id();
    let noun = what.noun();
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
                &format!(
                    "ion-preflight proxy: a{} {noun} is checked with the caller's own ION access token: send `Authorization: Bearer <token>`",
                    if noun.starts_with('o') { "n" } else { "" }
                ),
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
    let parsed = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Some(v),
        Ok(_) | Err(_) if p.mode == Mode::Audit => None,
        Ok(_) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "refused",
                "INVALID_ARGUMENT",
                &format!("ion-preflight proxy: the {noun} body is not a JSON object"),
            );
        }
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "refused",
                "INVALID_ARGUMENT",
                &format!("ion-preflight proxy: the {noun} body is not JSON: {e}"),
            );
        }
    };
    // Held until ION has answered: a concurrent retry (or a second creation
    // with the same e-mail) is checked only after that.
    let _serialized = p.locks.lock(what.lock_key(parsed.as_ref())).await;
    let revision = p.rules.current();
    let report = match (&parsed, token) {
        (Some(body), Some(token)) => Some(what.run(p, &revision, token, body).await),
        _ => None,
    };
    let decided = Decided {
        what,
        id: &id,
        revision: &revision.id,
        body: parsed.as_ref(),
    };
    if p.mode == Mode::Enforce
        && let Some(report) = &report
    {
        match report.verdict() {
            Verdict::Blocked => {
                decided.log(p, report, None);
                tracing::info!(decision = %id, check = what.as_str(), account = report.account_id, customer = report.customer_id, "{noun} blocked by the pre-flight");
                let body = what.blocked(report, &id);
                return answer(StatusCode::BAD_REQUEST, "blocked", &body, Some(&id));
            }
            Verdict::Indeterminate => {
                decided.log(p, report, None);
                let reason = report.indeterminate_reason();
                let body = envelope::status(
                    "UNAVAILABLE",
                    503,
                    &format!(
                        "ion-preflight proxy: the {noun} was not sent to ION, so retrying is safe: {reason}"
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
    forward_checked(p, &parts, bytes, route, &decided, report.as_ref()).await
}

/// A checked request's decision, for the decision log.
struct Decided<'a> {
    what: Checked,
    id: &'a str,
    revision: &'a str,
    body: Option<&'a Value>,
}

impl Decided<'_> {
    fn log(&self, p: &Shared, report: &Report, ion: Option<(u16, Vec<String>, &'static str)>) {
        let Some(log) = &p.log else { return };
        let mut entry = match (self.what, self.body) {
            (Checked::NewCustomer { .. }, Some(payload)) => {
                Entry::new_customer(self.id, self.revision, report, payload)
            }
            _ => Entry::new(self.id, self.revision, report, self.body),
        };
        entry.mode = Some(p.mode.as_str());
        if let Some((status, codes, judged)) = ion {
            entry.ion_status = Some(status);
            entry.ion_codes = Some(codes);
            entry.assessment = Some(judged);
        }
        log.append(&entry);
    }
}

async fn forward_checked(
    p: &Shared,
    parts: &request::Parts,
    bytes: Bytes,
    route: Route,
    decided: &Decided<'_>,
    report: Option<&Report>,
) -> Response {
    let id = decided.id;
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
                decided.log(p, report, None);
            }
            return r;
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    // ION's answer to an order or a new customer is small; it is read whole
    // so the audit can compare its codes, and so the serialization holds
    // until it is in.
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return failure(
                StatusCode::BAD_GATEWAY,
                "upstream-failed",
                "UNAVAILABLE",
                &format!(
                    "ion-preflight proxy: ION's answer was cut off ({e}); the {} may have been created",
                    decided.what.noun()
                ),
            );
        }
    };
    if let Some(report) = report {
        let codes = decided.what.ion_codes(status, &body);
        let judged = assessment(report.verdict(), status.as_u16(), &codes);
        tracing::info!(
            target: "ion_preflight::audit",
            decision = %id,
            mode = p.mode.as_str(),
            check = decided.what.as_str(),
            account = report.account_id,
            customer = report.customer_id,
            verdict = report.verdict().as_str(),
            ion_status = status.as_u16(),
            ion_codes = ?codes,
            assessment = judged,
            ion_ms = started.elapsed().as_millis() as u64,
            "checked request forwarded"
        );
        decided.log(p, report, Some((status.as_u16(), codes, judged)));
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

//! `serve`: the pre-flight as an HTTP API (OPA's REST API is the model).
//!
//! - `POST /v1/check` `{"account_id", "customer_id", "order"?}` → 200 with
//!   the report (the JSON of `check --format json`) and a `decision_id`,
//!   for every verdict; 400 for a malformed request, 413 above the body
//!   limit, 401 when no ION credentials are at hand.
//! - `POST /v1/check-new-customer` `{"account_id", "payload"}` → 200 with
//!   the new-customer report (the JSON of `check-new-customer --format
//!   json`) and a `decision_id`, with the same errors.
//! - `GET /healthz`, `GET /readyz`, `GET /metrics`.
//!
//! A caller's `Authorization: Bearer <ION access token>` is used for that
//! check's fetches (replicas stay stateless, the caller's ION permissions
//! apply); without it the service's own credentials are.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::decision_log::{DecisionLog, Entry};
use super::metrics::{CheckKind, Metrics};
use super::reload::{LiveRules, RuleSpec};
use super::{BodyError, ServiceError, bearer, decision_id, read_body};
use crate::ion::{CredentialCheck, IonClient, IonClientBuilder, TokenFile};
use crate::report::Report;
use crate::rules::EvalOptions;
use crate::source::{SnapshotSource, Source};
use crate::{CheckRequest, NewCustomerRequest, Preflight};

/// The response header naming the rule-set revision that decided.
pub const REVISION_HEADER: &str = "x-ion-preflight-rules-revision";

/// What `/readyz` found: ready (with a note when the service's own
/// credentials could not be confirmed), or not ready and why.
type Readiness = Result<Option<String>, String>;

/// How long a `/readyz` answer about the service's own credentials is
/// reused, so that probes do not turn into a stream of ION calls.
const READY_CACHE: Duration = Duration::from_secs(30);

/// Where a service's checks read ION data.
#[derive(Debug)]
pub enum DataSource {
    /// Live ION, through a client built from this builder (the service adds
    /// its metrics observer). `own_credentials`: whether the builder holds
    /// credentials of the service's own; `token_file`: the token file among
    /// them, for the refresh token's remaining lifetime.
    Live {
        /// The client's configuration.
        builder: IonClientBuilder,
        /// Whether the service has credentials of its own.
        own_credentials: bool,
        /// The service's token file, if any.
        token_file: Option<PathBuf>,
    },
    /// A snapshot directory (no network; a caller's token is not used).
    Snapshot(PathBuf),
}

/// How a [`Service`] runs.
#[derive(Debug)]
pub struct ServeConfig {
    /// The rules (orders and new customers), reloaded on `SIGHUP`.
    pub rules: RuleSpec,
    /// Where ION data comes from.
    pub data: DataSource,
    /// Evaluation options (`fail_on`).
    pub options: EvalOptions,
    /// The largest request body accepted.
    pub body_limit: usize,
    /// The bound on one check's data fetching.
    pub check_timeout: Duration,
    /// The decision log file, if any.
    pub decision_log: Option<PathBuf>,
    /// Reload the rules when their files change, after this quiet period
    /// ([`super::watch::DEFAULT_DEBOUNCE`]); `None`: on `SIGHUP` only.
    pub watch: Option<Duration>,
}

enum Backend {
    Live {
        client: IonClient,
        own_credentials: bool,
        token_file: Option<TokenFile>,
    },
    Snapshot(SnapshotSource),
}

struct Shared {
    rules: Arc<LiveRules>,
    backend: Backend,
    options: EvalOptions,
    body_limit: usize,
    check_timeout: Duration,
    metrics: Arc<Metrics>,
    log: Option<DecisionLog>,
    ready: Mutex<Option<(Instant, Readiness)>>,
    watch: Option<Duration>,
}

/// A running `serve` engine: build it, then [`Service::router`] or
/// [`Service::run`].
#[derive(Clone)]
pub struct Service {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

/// A JSON error answer of the service's own API.
#[derive(Debug, Serialize)]
struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    /// A stable code: `malformed_request`, `payload_too_large`, ….
    error: &'static str,
    /// What is wrong, in a sentence.
    message: String,
    /// Where in the body, for JSON errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(&self)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge(limit) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than the limit of {limit} bytes"),
            ),
            BodyError::Read(e) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_request",
                format!("the request body could not be read: {e}"),
            ),
        }
    }
}

/// The body of `POST /v1/check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    #[serde(deserialize_with = "account_id")]
    account_id: u64,
    #[serde(deserialize_with = "customer_id")]
    customer_id: u64,
    #[serde(default, deserialize_with = "order_object")]
    order: Option<Value>,
}

/// The body of `POST /v1/check-new-customer`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCustomerBody {
    #[serde(deserialize_with = "account_id")]
    account_id: u64,
    #[serde(deserialize_with = "payload_object")]
    payload: Value,
}

/// An ION id field: a whole number from 0 (refused later with its own
/// message) to [`u64::MAX`]; anything else says what it is, never serde's
/// "invalid type: floating point `1e+20`".
fn ion_id<'de, D: Deserializer<'de>>(d: D, name: &str) -> Result<u64, D::Error> {
    use serde::de::Error;
    let value = Value::deserialize(d)?;
    let problem = match &value {
        Value::Number(n) => {
            if let Some(id) = n.as_u64() {
                return Ok(id);
            }
            match (n.as_i64(), n.as_f64()) {
                (Some(_), _) => "is negative: ids start at 1".to_owned(),
                (None, Some(f)) if f.fract() == 0.0 && f >= 0.0 => {
                    format!("is too large for an id (the largest is {})", u64::MAX)
                }
                (None, Some(f)) if f.fract() == 0.0 => "is negative: ids start at 1".to_owned(),
                _ => "must be a whole number".to_owned(),
            }
        }
        Value::String(_) => "must be a number, not a string".to_owned(),
        Value::Null => "must be a number, not null".to_owned(),
        Value::Bool(_) => "must be a number, not a boolean".to_owned(),
        Value::Array(_) => "must be a number, not an array".to_owned(),
        Value::Object(_) => "must be a number, not an object".to_owned(),
    };
    Err(D::Error::custom(format!("`{name}` {problem}")))
}

fn account_id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    ion_id(d, "account_id")
}

fn customer_id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    ion_id(d, "customer_id")
}

/// `value` when it is a JSON object, else an error naming what it is.
fn object<E: serde::de::Error>(value: Value, what: &str) -> Result<Value, E> {
    let found = match value {
        v @ Value::Object(_) => return Ok(v),
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
    };
    Err(E::custom(format!("{what}, not {found}")))
}

fn order_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    object(
        Value::deserialize(d)?,
        "`order` must be the JSON object you are about to POST to ION",
    )
    .map(Some)
}

fn payload_object<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    object(
        Value::deserialize(d)?,
        "`payload` must be the JSON object you are about to POST to ION's customers endpoint",
    )
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", message)
}

/// Parses a request body of type `T` (`what` names it in errors), with
/// the line and column of a JSON error.
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError {
        line: Some(e.line()),
        column: Some(e.column()),
        ..malformed(format!("the request body is not {what}: {e}"))
    })
}

fn positive(name: &str, id: u64) -> Result<(), ApiError> {
    if id == 0 {
        return Err(malformed(format!(
            "`{name}` must be a positive ION id; ids start at 1"
        )));
    }
    Ok(())
}

fn parse_check(bytes: &[u8]) -> Result<CheckBody, ApiError> {
    let body: CheckBody = parse_json(bytes, "a check request")?;
    positive("account_id", body.account_id)?;
    positive("customer_id", body.customer_id)?;
    Ok(body)
}

fn parse_new_customer(bytes: &[u8]) -> Result<NewCustomerBody, ApiError> {
    let body: NewCustomerBody = parse_json(bytes, "a new-customer check request")?;
    positive("account_id", body.account_id)?;
    Ok(body)
}

impl Service {
    /// Loads the rules, opens the decision log and sets up the ION client.
    pub fn new(config: ServeConfig) -> Result<Service, ServiceError> {
        let rules = Arc::new(LiveRules::load(config.rules)?);
        let metrics = Arc::new(Metrics::default());
        let backend = match config.data {
            DataSource::Snapshot(dir) => Backend::Snapshot(SnapshotSource::open(dir)?),
            DataSource::Live {
                builder,
                own_credentials,
                token_file,
            } => Backend::Live {
                client: builder.observer(metrics.ion_observer()).build()?,
                own_credentials,
                token_file: token_file.map(TokenFile::new),
            },
        };
        let log = DecisionLog::open_configured(config.decision_log)?;
        Ok(Service {
            shared: Arc::new(Shared {
                rules,
                backend,
                options: config.options,
                body_limit: config.body_limit,
                check_timeout: config.check_timeout,
                metrics,
                log,
                ready: Mutex::new(None),
                watch: config.watch,
            }),
        })
    }

    /// The rules the service checks with.
    pub fn rules(&self) -> &LiveRules {
        &self.shared.rules
    }

    /// Reloads the rules now (what `SIGHUP` does); `true` when the new set
    /// loaded and is in use.
    pub fn reload(&self) -> bool {
        let ok = super::reload_now(&self.shared.rules);
        self.shared.metrics.record_reload(ok);
        ok
    }

    /// The HTTP API.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/check", post(check))
            .route("/v1/check-new-customer", post(check_new_customer))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(Arc::clone(&self.shared))
    }

    /// Serves on `listener` until `shutdown` resolves, reloading the rules
    /// on `SIGHUP` (and on file change, when configured); then stops
    /// accepting and returns once the requests in flight are answered.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        super::reload_on_sighup(
            Arc::clone(&self.shared.rules),
            Some(Arc::clone(&self.shared.metrics)),
        );
        if let Some(debounce) = self.shared.watch {
            super::watch::reload_on_change(
                Arc::clone(&self.shared.rules),
                Some(Arc::clone(&self.shared.metrics)),
                debounce,
            );
        }
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

impl Shared {
    /// What every check request starts with: the caller's token (a
    /// malformed `Authorization` is 401) and the body within the limit.
    async fn request(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<(Option<secrecy::SecretString>, Bytes), ApiError> {
        let token = bearer(headers)
            .map_err(|m| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m))?;
        Ok((token, read_body(headers, body, self.body_limit).await?))
    }

    fn preflight(&self, source: Source, rules: crate::rules::RuleSet) -> Preflight {
        Preflight::new(source, rules)
            .with_options(self.options)
            .with_check_timeout(self.check_timeout)
    }

    fn source(&self, token: Option<secrecy::SecretString>) -> Result<Source, ApiError> {
        match (&self.backend, token) {
            (Backend::Snapshot(s), _) => Ok(Source::Snapshot(s.clone())),
            (Backend::Live { client, .. }, Some(token)) => {
                Ok(Source::Live(client.with_access_token(token)))
            }
            (
                Backend::Live {
                    client,
                    own_credentials: true,
                    ..
                },
                None,
            ) => Ok(Source::Live(client.clone())),
            (Backend::Live { .. }, None) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this service has no ION credentials of its own: send `Authorization: Bearer <ION access token>`",
            )),
        }
    }

    async fn readiness(&self) -> Readiness {
        let Backend::Live {
            client,
            own_credentials: true,
            ..
        } = &self.backend
        else {
            return Ok(None);
        };
        let mut cached = self.ready.lock().await;
        if let Some((at, result)) = &*cached
            && at.elapsed() < READY_CACHE
        {
            return result.clone();
        }
        // Only what makes checks fail for certain makes the service not
        // ready; a validation ION did not answer says nothing.
        let result = match client.check_credentials().await {
            CredentialCheck::Valid(_) => Ok(None),
            CredentialCheck::Unconfirmed(e) => Ok(Some(format!(
                "could not confirm the service's own ION credentials: {e}"
            ))),
            CredentialCheck::Unusable(e) => Err(format!(
                "the service's own ION credentials are not usable: {e}"
            )),
        };
        *cached = Some((Instant::now(), result.clone()));
        result
    }

    fn refresh_seconds_left(&self) -> Option<i64> {
        let Backend::Live {
            token_file: Some(file),
            ..
        } = &self.backend
        else {
            return None;
        };
        let (at, _) = file.read().ok()??.refresh_expiry()?;
        Some(at.as_second() - jiff::Timestamp::now().as_second())
    }
}

async fn check(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    match run_check(&s, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run_check(s: &Shared, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let (token, bytes) = s.request(headers, body).await?;
    let req = parse_check(&bytes)?;
    let source = s.source(token)?;
    let id = decision_id();
    let revision = s.rules.current();
    let preflight = s.preflight(source, revision.rules.clone());
    let order = req.order.map(Arc::new);
    let mut check = CheckRequest::new(req.account_id, req.customer_id);
    if let Some(order) = &order {
        check = check.with_shared_order(Arc::clone(order));
    }
    let started = Instant::now();
    let report = preflight.check(check).await;
    s.metrics
        .record_check(CheckKind::Order, &report, started.elapsed());
    if let Some(log) = &s.log {
        log.append(&Entry::new(&id, &revision.id, &report, order.as_deref()));
    }
    Ok(decision(&id, &revision.id, &report))
}

async fn check_new_customer(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run_new_customer(&s, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run_new_customer(
    s: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (token, bytes) = s.request(headers, body).await?;
    let req = parse_new_customer(&bytes)?;
    let source = s.source(token)?;
    let id = decision_id();
    let revision = s.rules.current();
    let preflight = s.preflight(source, revision.new_customer.clone());
    let payload = Arc::new(req.payload);
    let started = Instant::now();
    let report = preflight
        .check_new_customer(NewCustomerRequest::shared(
            req.account_id,
            Arc::clone(&payload),
        ))
        .await;
    s.metrics
        .record_check(CheckKind::NewCustomer, &report, started.elapsed());
    if let Some(log) = &s.log {
        log.append(&Entry::new_customer(&id, &revision.id, &report, &payload));
    }
    Ok(decision(&id, &revision.id, &report))
}

/// The 200 answer: the report with its decision id, and the revision that
/// decided in a header.
fn decision(id: &str, revision: &str, report: &Report) -> Response {
    let body = match decision_json(id, report) {
        Ok(body) => body,
        // Unreachable (a report is plain data), but never a half-written
        // answer.
        Err(e) => {
            tracing::error!(error = %e, "the report could not be serialized");
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the report could not be serialized",
            )
            .into_response();
        }
    };
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(revision) {
        response.headers_mut().insert(REVISION_HEADER, v);
    }
    response
}

/// The report as `check --format json` writes it (compact), with
/// `decision_id` as its first field.
///
/// Written as the report's own JSON with the id spliced in after its `{`,
/// rather than through `#[serde(flatten)]`, which sends the report field by
/// field through serde's map adapter; and into a buffer sized for the
/// report, which would otherwise grow by doubling from a few bytes
/// (BENCHMARKS.md, "serve and proxy").
fn decision_json(id: &str, report: &Report) -> Result<Bytes, serde_json::Error> {
    let mut buf = Vec::with_capacity(256 + 256 * report.results().len());
    buf.extend_from_slice(b"{\"decision_id\":");
    serde_json::to_writer(&mut buf, id)?;
    let start = buf.len();
    serde_json::to_writer(&mut buf, report)?;
    if buf.len() > start + 2 {
        // `{"account_id":…` becomes `,"account_id":…`.
        buf[start] = b',';
    } else {
        // `{}`: nothing follows the id.
        buf.truncate(start);
        buf.push(b'}');
    }
    Ok(Bytes::from(buf))
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "alive"})).into_response()
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let revision = s.rules.current();
    let own = matches!(
        s.backend,
        Backend::Live {
            own_credentials: true,
            ..
        }
    );
    match s.readiness().await {
        Ok(note) => {
            let mut body = serde_json::json!({
                "status": "ready",
                "rules_revision": revision.id,
                "rules": revision.rules.rules().len(),
                "new_customer_rules": revision.new_customer.rules().len(),
                "own_credentials": own,
            });
            if let Some(note) = note {
                body["credentials_note"] = serde_json::Value::String(note);
            }
            axum::Json(body).into_response()
        }
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "not_ready",
                "reason": reason,
                "rules_revision": revision.id,
                "rules": revision.rules.rules().len(),
                "new_customer_rules": revision.new_customer.rules().len(),
                "own_credentials": own,
            })),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        s.metrics.render(s.refresh_seconds_left()),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: see docs/serve-openapi.yaml",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method: see docs/serve-openapi.yaml",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, RuleResult, Severity};

    /// What the answer was before it was spliced: the report flattened
    /// into a struct after the id.
    #[derive(Serialize)]
    struct Flattened<'a> {
        decision_id: &'a str,
        #[serde(flatten)]
        report: &'a Report,
    }

    fn result(rule: &str, outcome: Outcome) -> RuleResult {
        RuleResult {
            rule: rule.into(),
            title: "A \"quoted\" title, \u{e9}t\u{e9}".into(),
            severity: Severity::Error,
            outcome,
            message: (outcome != Outcome::Pass).then(|| "line\nbreak".into()),
            preempts: Some("COMM-VL-001".into()),
            docs: None,
            evidence: vec![],
            items: vec![],
            checked_items: Some(3),
            explain: None,
        }
    }

    #[test]
    fn the_spliced_answer_is_the_flattened_report() {
        let at = jiff::Timestamp::from_second(1_700_000_000).expect("valid");
        let reports = [
            Report::from_results(1001, 2002, at, Severity::Error, vec![]),
            Report::from_results(
                1001,
                2002,
                at,
                Severity::Warning,
                vec![result("a", Outcome::Pass), result("b", Outcome::Fail)],
            ),
            // A new customer's report has no customer id in its JSON.
            Report::from_results(
                1001,
                0,
                at,
                Severity::Error,
                vec![result("c", Outcome::Error)],
            ),
        ];
        for report in &reports {
            let id = "0123456789abcdef0123456789abcdef";
            let spliced = decision_json(id, report).expect("serializes");
            let flattened = serde_json::to_vec(&Flattened {
                decision_id: id,
                report,
            })
            .expect("serializes");
            assert_eq!(
                String::from_utf8_lossy(&spliced),
                String::from_utf8_lossy(&flattened)
            );
        }
    }
}

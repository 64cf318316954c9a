//! ION's OAuth endpoints: `POST /oauth/token` (refresh) and
//! `POST /oauth/validateAccess`. One request each, no state: the token
//! lifecycle around them is `auth`'s.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use tracing::Instrument;

use super::error::{Endpoint, IonError, message_from_body, transport_error};
use super::types::{AccessValidity, TokenResponse};

/// What a refresh needs from the client.
pub(crate) struct RefreshTarget<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) url: &'a url::Url,
    pub(crate) validate_url: &'a url::Url,
    pub(crate) timeout: Duration,
}

/// What one `POST /oauth/token` returned.
pub(crate) struct Refreshed {
    pub(crate) access: SecretString,
    pub(crate) expires_in: Duration,
    pub(crate) refresh: Option<SecretString>,
}

/// One `POST /oauth/token`. Never retried: the refresh token is
/// single-use, and a retry after a lost answer would present it twice.
pub(crate) async fn refresh(
    refresh: &SecretString,
    target: &RefreshTarget<'_>,
) -> Result<Refreshed, IonError> {
    let endpoint = Endpoint {
        method: "POST",
        path: target.url.path().to_owned(),
    };
    let span = tracing::debug_span!(
        "ion.refresh",
        method = endpoint.method,
        path = %endpoint.path,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    async {
        let started = Instant::now();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose_secret()),
        ];
        let result = target
            .http
            .post(target.url.clone())
            .form(&form)
            .send()
            .await;
        let span = tracing::Span::current();
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        let response = result.map_err(|e| failed(&endpoint, &e, target.timeout))?;
        let status = response.status();
        span.record("status", status.as_u16());
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(&endpoint, &e, target.timeout))?;
        if !status.is_success() {
            let message = message_from_body(&body, true);
            tracing::debug!(status = status.as_u16(), "ION refused the token refresh");
            return Err(if status.is_server_error() {
                IonError::Server {
                    endpoint,
                    status: status.as_u16(),
                    message,
                    attempts: 1,
                }
            } else if status.as_u16() == 429 {
                IonError::RateLimited {
                    endpoint,
                    attempts: 1,
                    retry_after: None,
                }
            } else {
                refusal(endpoint, status.as_u16(), message)
            });
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| IonError::MalformedResponse {
                endpoint: endpoint.clone(),
                excerpt: format!(
                    "the token answer is not valid JSON of the expected shape ({e}); body withheld"
                ),
            })?;
        let access = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| IonError::MalformedResponse {
                endpoint: endpoint.clone(),
                excerpt: "the token answer has no access_token".to_owned(),
            })?;
        let expires_in = Duration::from_secs(parsed.expires_in.unwrap_or(7200));
        let new_refresh = parsed.refresh_token.filter(|t| !t.is_empty());
        if new_refresh.is_none() {
            tracing::warn!(
                "ION's token answer carries no new refresh token; keeping the current one"
            );
        }
        tracing::debug!(
            expires_in_s = expires_in.as_secs(),
            "obtained a new access token"
        );
        Ok(Refreshed {
            access: SecretString::from(access),
            expires_in,
            refresh: new_refresh.map(SecretString::from),
        })
    }
    .instrument(span)
    .await
    .map_err(|e| e.redact(refresh.expose_secret()))
}

/// `POST /oauth/validateAccess` for `token`: how long it and its refresh
/// token remain valid.
pub(crate) async fn validate(
    target: &RefreshTarget<'_>,
    token: &SecretString,
) -> Result<AccessValidity, IonError> {
    let endpoint = Endpoint {
        method: "POST",
        path: target.validate_url.path().to_owned(),
    };
    let span = tracing::debug_span!(
        "ion.request",
        method = "POST",
        path = %endpoint.path,
        attempt = 1u32,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    async {
        let started = Instant::now();
        let response = target
            .http
            .post(target.validate_url.clone())
            .form(&[("access_token", token.expose_secret())])
            .send()
            .await;
        let span = tracing::Span::current();
        let response = response.map_err(|e| {
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            failed(&endpoint, &e, target.timeout)
        })?;
        let status = response.status();
        span.record("status", status.as_u16());
        let body = response.bytes().await.map_err(|e| {
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            failed(&endpoint, &e, target.timeout)
        })?;
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        tracing::debug!(status = status.as_u16(), bytes = body.len(), "ION answered");
        if status.is_success() {
            serde_json::from_slice(&body).map_err(|e| IonError::MalformedResponse {
                endpoint: endpoint.clone(),
                excerpt: format!("not the expected JSON ({e}); body withheld"),
            })
        } else if status.is_server_error() {
            Err(IonError::Server {
                endpoint: endpoint.clone(),
                status: status.as_u16(),
                message: message_from_body(&body, true),
                attempts: 1,
            })
        } else {
            Err(refusal(
                endpoint.clone(),
                status.as_u16(),
                message_from_body(&body, true),
            ))
        }
    }
    .instrument(span)
    .await
    .map_err(|e| e.redact(token.expose_secret()))
}

/// A request that got no (whole) answer, logged like the GETs' failures.
fn failed(endpoint: &Endpoint, e: &reqwest::Error, timeout: Duration) -> IonError {
    let error = transport_error(endpoint, e, timeout);
    tracing::debug!(error = %error, "request failed");
    error
}

/// A 4xx from an OAuth endpoint. Only 400 and 401 are ION's answer about the
/// token itself (OAuth's `invalid_grant` / `invalid_token`): a definite
/// rejection. Anything else (a 404 from a proxy or a moved endpoint, a 403,
/// a 405) says nothing about the token, and must not be reported as if it
/// did — a user told the token is rejected may throw a working one away.
fn refusal(endpoint: Endpoint, status: u16, message: String) -> IonError {
    match status {
        400 | 401 => IonError::TokenRejected { endpoint, message },
        _ => IonError::Rejected {
            endpoint,
            status,
            message,
        },
    }
}

//! What can go wrong talking to ION, in words a user can act on.
//!
//! Every message names the endpoint (method and path — never a token, never
//! a query string) and, when ION sent its error envelope
//! `{error, message, code, details}`, ION's own message.

use std::fmt;
use std::time::Duration;

use super::store::TokenStoreError;
use super::types::ErrorEnvelope;

/// An ION endpoint as shown in messages: `GET /api/v3/accounts/1/customers/2`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The HTTP method.
    pub method: &'static str,
    /// The URL path (no query string, no host).
    pub path: String,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// An error from the ION client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IonError {
    /// ION said the resource does not exist (HTTP 404). Single-resource
    /// fetches turn this into `Ok(None)`; listing an unknown account does not.
    #[error("ION has no such resource ({endpoint}): {message}")]
    NotFound {
        /// The endpoint.
        endpoint: Endpoint,
        /// ION's message.
        message: String,
    },
    /// The credentials are valid but may not see this resource (HTTP 403
    /// `PERMISSION_DENIED` about a resource).
    #[error(
        "ION denied access to {endpoint}: {message} (check the account id and that these credentials may see it)"
    )]
    PermissionDenied {
        /// The endpoint.
        endpoint: Endpoint,
        /// ION's message.
        message: String,
    },
    /// ION rejected the access or refresh token (expired, revoked, invalid).
    #[error(
        "ION rejected the credentials at {endpoint}: {message} (new API credentials come from the ION portal)"
    )]
    TokenRejected {
        /// The endpoint.
        endpoint: Endpoint,
        /// ION's message.
        message: String,
    },
    /// ION kept answering HTTP 429.
    #[error(
        "ION rate-limited {endpoint} (HTTP 429) and still did after {attempts} attempt(s); try again later or lower the concurrency"
    )]
    RateLimited {
        /// The endpoint.
        endpoint: Endpoint,
        /// How many attempts were made.
        attempts: u32,
        /// The last `Retry-After` ION sent, if any.
        retry_after: Option<Duration>,
    },
    /// ION answered with a server error (HTTP 5xx).
    #[error("ION failed on {endpoint} with HTTP {status} after {attempts} attempt(s): {message}")]
    Server {
        /// The endpoint.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// ION's message, or a short excerpt of a non-JSON body.
        message: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// ION refused the request (an HTTP 4xx other than 401/403/404/429).
    #[error("ION refused {endpoint} with HTTP {status}: {message}")]
    Rejected {
        /// The endpoint.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
        /// ION's message.
        message: String,
    },
    /// No answer within the request timeout.
    #[error(
        "ION did not answer {endpoint} within {}s ({attempts} attempt(s)); ION may be slow or unreachable",
        timeout.as_secs_f64()
    )]
    Timeout {
        /// The endpoint.
        endpoint: Endpoint,
        /// The per-request timeout.
        timeout: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The connection failed (DNS, refused, reset, TLS).
    #[error(
        "could not reach ION for {endpoint} ({attempts} attempt(s)): {detail} (check ION_BASE_URL and the network)"
    )]
    Unreachable {
        /// The endpoint.
        endpoint: Endpoint,
        /// What failed.
        detail: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// ION's answer was not in the expected shape (not JSON, wrong types, an
    /// HTML page from a proxy, …).
    #[error("ION's answer to {endpoint} is not what was expected: {excerpt}")]
    MalformedResponse {
        /// The endpoint.
        endpoint: Endpoint,
        /// What was wrong, with a short excerpt of the body (never for
        /// `/oauth` endpoints, whose bodies carry tokens).
        excerpt: String,
    },
    /// The base URL is not usable.
    #[error("invalid ION base URL {url}: {reason}")]
    InvalidBaseUrl {
        /// The URL (credentials removed).
        url: String,
        /// Why.
        reason: String,
    },
    /// The client was given no credentials at all: no access token, no
    /// refresh token, no token store (or the store is empty).
    #[error("no ION credentials: no access token, refresh token or stored token was given")]
    NoCredentials,
    /// A refresh was asked for, but the client has no refresh token and no
    /// token store to refresh with.
    #[error("no refresh token to refresh with: the client has only an access token")]
    NoRefreshToken,
    /// The client is not configured well enough to call ION.
    #[error("{0}")]
    Config(String),
    /// An id that cannot be sent as a path segment (`.` or `..`, which a
    /// server resolves to another resource, or the empty id, which names
    /// the listing); nothing was requested.
    #[error(
        "{what} id {id:?} cannot be looked up in ION: as a URL path segment it would name another resource"
    )]
    InvalidId {
        /// What the id names ("product").
        what: &'static str,
        /// The id.
        id: String,
    },
    /// The refresh token could not be loaded from or saved to its store.
    #[error(transparent)]
    TokenStore(#[from] TokenStoreError),
}

impl IonError {
    /// `true` when a caller can reasonably try again later (rate limits,
    /// server errors, timeouts, connection failures).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            IonError::RateLimited { .. }
                | IonError::Server { .. }
                | IonError::Timeout { .. }
                | IonError::Unreachable { .. }
        )
    }

    /// `true` for credential problems the user must fix (token rejected,
    /// token store unusable, no credentials).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            IonError::TokenRejected { .. }
                | IonError::TokenStore(_)
                | IonError::Config(_)
                | IonError::NoCredentials
                | IonError::NoRefreshToken
        )
    }

    /// The endpoint the error is about, when there is one.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            IonError::NotFound { endpoint, .. }
            | IonError::PermissionDenied { endpoint, .. }
            | IonError::TokenRejected { endpoint, .. }
            | IonError::RateLimited { endpoint, .. }
            | IonError::Server { endpoint, .. }
            | IonError::Rejected { endpoint, .. }
            | IonError::Timeout { endpoint, .. }
            | IonError::Unreachable { endpoint, .. }
            | IonError::MalformedResponse { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// Replaces every occurrence of `secret` in the error's texts (ION's
    /// messages, body excerpts) with `[redacted]`: a server that echoes a
    /// token back must not put it into a message.
    pub(crate) fn redact(mut self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        match &mut self {
            IonError::NotFound { message, .. }
            | IonError::PermissionDenied { message, .. }
            | IonError::TokenRejected { message, .. }
            | IonError::Server { message, .. }
            | IonError::Rejected { message, .. } => redact_in(message, secret),
            IonError::MalformedResponse { excerpt, .. } => redact_in(excerpt, secret),
            IonError::Unreachable { detail, .. } => redact_in(detail, secret),
            _ => {}
        }
        self
    }

    /// The same error again, for every caller waiting on one failed
    /// refresh. Variants holding an I/O error (the token store's) become
    /// [`IonError::Config`] with the same text.
    pub(crate) fn duplicate(&self) -> IonError {
        match self {
            IonError::NotFound { endpoint, message } => IonError::NotFound {
                endpoint: endpoint.clone(),
                message: message.clone(),
            },
            IonError::PermissionDenied { endpoint, message } => IonError::PermissionDenied {
                endpoint: endpoint.clone(),
                message: message.clone(),
            },
            IonError::TokenRejected { endpoint, message } => IonError::TokenRejected {
                endpoint: endpoint.clone(),
                message: message.clone(),
            },
            IonError::RateLimited {
                endpoint,
                attempts,
                retry_after,
            } => IonError::RateLimited {
                endpoint: endpoint.clone(),
                attempts: *attempts,
                retry_after: *retry_after,
            },
            IonError::Server {
                endpoint,
                status,
                message,
                attempts,
            } => IonError::Server {
                endpoint: endpoint.clone(),
                status: *status,
                message: message.clone(),
                attempts: *attempts,
            },
            IonError::Rejected {
                endpoint,
                status,
                message,
            } => IonError::Rejected {
                endpoint: endpoint.clone(),
                status: *status,
                message: message.clone(),
            },
            IonError::Timeout {
                endpoint,
                timeout,
                attempts,
            } => IonError::Timeout {
                endpoint: endpoint.clone(),
                timeout: *timeout,
                attempts: *attempts,
            },
            IonError::Unreachable {
                endpoint,
                detail,
                attempts,
            } => IonError::Unreachable {
                endpoint: endpoint.clone(),
                detail: detail.clone(),
                attempts: *attempts,
            },
            IonError::MalformedResponse { endpoint, excerpt } => IonError::MalformedResponse {
                endpoint: endpoint.clone(),
                excerpt: excerpt.clone(),
            },
            IonError::InvalidBaseUrl { url, reason } => IonError::InvalidBaseUrl {
                url: url.clone(),
                reason: reason.clone(),
            },
            IonError::NoCredentials => IonError::NoCredentials,
            IonError::NoRefreshToken => IonError::NoRefreshToken,
            other => IonError::Config(other.to_string()),
        }
    }

    /// Sets the attempt count on the variants that carry one.
    pub(crate) fn with_attempts(mut self, n: u32) -> Self {
        match &mut self {
            IonError::RateLimited { attempts, .. }
            | IonError::Server { attempts, .. }
            | IonError::Timeout { attempts, .. }
            | IonError::Unreachable { attempts, .. } => *attempts = n,
            _ => {}
        }
        self
    }
}

fn redact_in(text: &mut String, secret: &str) {
    if text.contains(secret) {
        *text = text.replace(secret, "[redacted]");
    }
}

/// The longest excerpt of a response body shown in a message.
const EXCERPT_CHARS: usize = 160;

/// A short, single-line excerpt of a body for messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut out: String = collapsed.chars().take(EXCERPT_CHARS).collect();
    if collapsed.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    format!("`{out}`")
}

/// ION's message from an error body: the envelope's `message` (or its
/// `error` when that is the only text), else a short excerpt of the body.
/// `withhold_body` keeps non-envelope bodies out of messages (`/oauth`).
pub(crate) fn message_from_body(body: &[u8], withhold_body: bool) -> String {
    if let Ok(env) = serde_json::from_slice::<ErrorEnvelope>(body) {
        if let Some(m) = env.message_str() {
            return m.to_owned();
        }
        if let Some(e) = env.error_str() {
            return e.to_owned();
        }
    }
    if withhold_body || body.iter().all(u8::is_ascii_whitespace) {
        "no error message in the answer".to_owned()
    } else {
        format!("non-JSON answer {}", excerpt(body))
    }
}

/// Whether a 403 (or 401) body says the token itself is the problem rather
/// than the caller's permissions on a resource.
pub(crate) fn body_says_token_invalid(body: &[u8]) -> bool {
    let Ok(env) = serde_json::from_slice::<ErrorEnvelope>(body) else {
        return false;
    };
    if matches!(env.error_str(), Some("UNAUTHENTICATED")) {
        return true;
    }
    let text = format!(
        "{} {}",
        env.error_str().unwrap_or_default(),
        env.message_str().unwrap_or_default()
    )
    .to_ascii_lowercase();
    text.contains("token")
        && [
            "invalid",
            "expired",
            "revoked",
            "malformed",
            "unauthenticated",
            "not valid",
        ]
        .iter()
        .any(|w| text.contains(w))
}

/// Maps a transport-level error (connect, timeout, body read).
pub(crate) fn transport_error(
    endpoint: &Endpoint,
    e: &reqwest::Error,
    timeout: Duration,
) -> IonError {
    if e.is_timeout() {
        return IonError::Timeout {
            endpoint: endpoint.clone(),
            timeout,
            attempts: 1,
        };
    }
    // The chain of causes without reqwest's own text (which repeats the
    // URL) and hyper's generic wrapper (`client error (Connect)`, which
    // says nothing the kind does not): "tcp connect error: Connection
    // refused (os error 111)", "connection reset", …
    let mut detail = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !detail.contains(&text) && !text.starts_with("client error (") {
            detail.push(text);
        }
        source = s.source();
    }
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the request failed"
    };
    let detail = if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", detail.join(": "))
    };
    IonError::Unreachable {
        endpoint: endpoint.clone(),
        detail,
        attempts: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> Endpoint {
        Endpoint {
            method: "GET",
            path: "/api/v3/accounts/1/customers/2".into(),
        }
    }

    #[test]
    fn messages_name_the_endpoint_and_ion_message() {
        let e = IonError::PermissionDenied {
            endpoint: ep(),
            message: "permission denied to access accounts/1".into(),
        };
        let s = e.to_string();
        assert!(s.contains("GET /api/v3/accounts/1/customers/2"), "{s}");
        assert!(s.contains("permission denied to access accounts/1"), "{s}");
    }

    #[test]
    fn envelope_message_is_preferred() {
        let body = br#"{"error":"NOT_FOUND","message":"resource 'accounts/1/customers/2' not found","code":404,"details":[]}"#;
        assert_eq!(
            message_from_body(body, false),
            "resource 'accounts/1/customers/2' not found"
        );
        assert_eq!(
            message_from_body(br#"{"error":"cannot validate token: redis: nil"}"#, true),
            "cannot validate token: redis: nil"
        );
    }

    #[test]
    fn html_bodies_become_short_excerpts() {
        let html = format!(
            "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>{}</body></html>",
            "x".repeat(500)
        );
        let m = message_from_body(html.as_bytes(), false);
        assert!(
            m.starts_with("non-JSON answer `<html> <head><title>502"),
            "{m}"
        );
        assert!(m.chars().count() < 200, "{m}");
        assert_eq!(
            message_from_body(b"access_token=abc", true),
            "no error message in the answer"
        );
    }

    #[test]
    fn token_invalid_is_told_apart_from_permission_denied() {
        assert!(body_says_token_invalid(
            br#"{"error":"PERMISSION_DENIED","message":"access token is expired","code":403}"#
        ));
        assert!(body_says_token_invalid(
            br#"{"error":"UNAUTHENTICATED","message":"x"}"#
        ));
        assert!(!body_says_token_invalid(
            br#"{"error":"PERMISSION_DENIED","message":"permission denied to access accounts/10001","code":403}"#
        ));
        assert!(!body_says_token_invalid(b"<html>token expired</html>"));
    }
}

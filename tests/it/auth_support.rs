//! Helpers for the token-file tests: a fake ION token endpoint that rotates
//! single-use refresh tokens and refuses any presented twice, and token
//! files seeded in the documented format.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::ion_support::{
    ACCOUNT, CUSTOMER, customer_body, customer_path, profiles_body, profiles_path, token_answer,
};

/// What the fake token endpoint has seen.
#[derive(Debug, Default)]
pub struct Rotation {
    /// The refresh token ION currently accepts.
    pub current: String,
    /// How many refreshes succeeded.
    pub issued: u32,
    /// Every refresh token presented, in order (not the hung request).
    pub presented: Vec<String>,
    /// Whether the hung request arrived.
    pub hung: bool,
}

/// `POST /oauth/token` like ION: `rt-N` is accepted once and answered with
/// `at-(N+1)` / `rt-(N+1)`; anything else (a spent token) is a 400.
///
/// With `hang_first`, the first request is answered only after a minute and
/// is not processed (the token is not spent): a refresh that never
/// completed, to kill the process waiting for it.
#[derive(Clone)]
pub struct RotatingIon {
    pub state: Arc<Mutex<Rotation>>,
    pub delay: Duration,
    pub expires_in: u64,
    pub hang_first: bool,
}

impl RotatingIon {
    pub fn new(first: &str, delay: Duration) -> Self {
        RotatingIon {
            state: Arc::new(Mutex::new(Rotation {
                current: first.to_owned(),
                ..Rotation::default()
            })),
            delay,
            expires_in: 7200,
            hang_first: false,
        }
    }

    pub fn issued(&self) -> u32 {
        self.state.lock().expect("state").issued
    }

    pub fn presented(&self) -> Vec<String> {
        self.state.lock().expect("state").presented.clone()
    }
}

impl Respond for RotatingIon {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let presented = url::form_urlencoded::parse(&request.body)
            .find(|(k, _)| k == "refresh_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let mut state = self.state.lock().expect("state");
        if self.hang_first && !state.hung {
            state.hung = true;
            return ResponseTemplate::new(200)
                .set_body_json(token_answer("at-never", "rt-never", 7200))
                .set_delay(Duration::from_secs(60));
        }
        state.presented.push(presented.clone());
        if presented != state.current {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": "cannot validate token: redis: nil"}));
        }
        state.issued += 1;
        let n = state.issued;
        state.current = format!("rt-{n}");
        ResponseTemplate::new(200)
            .set_body_json(token_answer(
                &format!("at-{n}"),
                &state.current,
                self.expires_in,
            ))
            .set_delay(self.delay)
    }
}

/// A server with the rotating token endpoint, `validateAccess` answering
/// `refresh_expires_in` (when given) and the customer for any GET.
pub async fn ion_server(rotation: &RotatingIon, refresh_expires_in: Option<i64>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(rotation.clone())
        .mount(&server)
        .await;
    if let Some(secs) = refresh_expires_in {
        Mock::given(method("POST"))
            .and(path("/oauth/validateAccess"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_expires_in": 7000, "refresh_expires_in": secs})),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(profiles_path(ACCOUNT, CUSTOMER)))
        .respond_with(ResponseTemplate::new(200).set_body_json(profiles_body(CUSTOMER)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(customer_path(ACCOUNT, CUSTOMER)))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_body(ACCOUNT, CUSTOMER)))
        .mount(&server)
        .await;
    server
}

/// How many requests reached `path`.
pub async fn hits(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

/// The `Authorization` headers of every GET.
pub async fn bearers(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// `now` shifted by `secs` seconds, as RFC 3339.
pub fn at(secs: i64) -> String {
    Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .expect("in range")
        .to_string()
}

/// Writes a token file in the documented JSON format, mode 0600.
pub fn seed(file: &Path, body: Value) {
    let text = serde_json::to_string_pretty(&body).expect("json");
    std::fs::write(file, text).expect("seed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

/// The token file as JSON.
pub fn read_json(file: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("json")
}

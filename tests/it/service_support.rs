//! Helpers for the `serve` and `proxy` tests: each runs in-process on a
//! loopback port and is talked to over real HTTP.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use ion_preflight::rules::EvalOptions;
use ion_preflight::service::serve::DataSource;
use ion_preflight::service::{Mode, Proxy, ProxyConfig, RuleSpec, ServeConfig, Service};
use serde_json::Value;

use crate::cli_support::fixture;

/// A service configuration over the demo snapshot with the built-in rules.
pub fn snapshot_config() -> ServeConfig {
    ServeConfig {
        rules: RuleSpec::default(),
        data: DataSource::Snapshot(fixture("demo")),
        options: EvalOptions::default(),
        body_limit: 64 * 1024,
        check_timeout: Duration::from_secs(10),
        decision_log: None,
        watch: None,
    }
}

/// A service configuration against a (fake) ION at `base`, with no
/// credentials of its own.
pub fn live_config(base: &str) -> ServeConfig {
    ServeConfig {
        data: DataSource::Live {
            builder: ion_preflight::ion::IonClient::builder()
                .base_url(base)
                .max_attempts(1)
                .request_timeout(Duration::from_secs(5))
                .allow_no_credentials(),
            own_credentials: false,
            token_file: None,
        },
        ..snapshot_config()
    }
}

/// Starts `service` on a free loopback port; its base URL.
pub async fn start_service(service: &Service) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = service.clone();
    tokio::spawn(service.run(listener, std::future::pending()));
    format!("http://{addr}")
}

/// A proxy configuration in front of `upstream`.
pub fn proxy_config(upstream: &str, mode: Mode) -> ProxyConfig {
    ProxyConfig {
        upstream: upstream.to_owned(),
        mode,
        rules: RuleSpec::default(),
        options: EvalOptions::default(),
        body_limit: 64 * 1024,
        upstream_timeout: Duration::from_secs(5),
        check_timeout: Duration::from_secs(5),
        retry_after: Duration::from_secs(7),
        decision_log: None,
        watch: None,
    }
}

/// Starts a proxy on a free loopback port; its base URL.
pub async fn start_proxy(config: ProxyConfig) -> String {
    let proxy = Proxy::new(config).expect("proxy starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(proxy.run(listener, std::future::pending()));
    format!("http://{addr}")
}

/// A plain HTTP client (no retries, no redirects).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// POSTs `body` (as JSON text) to `url`; status, headers, parsed body.
pub async fn post_json(
    url: &str,
    body: &str,
    bearer: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = http().post(url).body(body.to_owned());
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request answered");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, value)
}

/// The demo NCE order.
pub fn nce_order() -> Value {
    let text = std::fs::read_to_string(fixture("orders/nce-order.json")).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A temp dir with a rule file `name` holding `text`.
pub fn rule_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write rule file");
    p
}

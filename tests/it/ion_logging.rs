//! Every log line at TRACE, over success and failure paths, free of tokens.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use ion_preflight::context::Needs;
use ion_preflight::ion::TokenFile;
use ion_preflight::rules::RuleSet;
use ion_preflight::source::Source;
use ion_preflight::{CheckRequest, Preflight};
use secrecy::SecretString;
use wiremock::matchers::{header, path, path_regex};
use wiremock::{MockServer, ResponseTemplate};

use crate::ion_support::*;

#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once for the test binary, a global TRACE subscriber writing
/// into a buffer (it also bridges the `log` records of the HTTP stack).
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        use tracing_subscriber::filter::{LevelFilter, Targets};
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Buffer(buf.clone());
        // Everything at TRACE except the test servers' own logs (wiremock
        // prints whole unexpected requests, headers and bodies included).
        let filter = Targets::new()
            .with_default(LevelFilter::TRACE)
            .with_target("wiremock", LevelFilter::OFF);
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
                    .with_writer(move || writer.clone()),
            )
            .with(filter)
            .try_init()
            .expect("no other global subscriber in the test binary");
        buf
    })
}

const ACCESS: &str = "at-LOGTEST-5f0c2e7a9b";
const REFRESH_1: &str = "rt-LOGTEST-1-c8d41f";
const REFRESH_2: &str = "rt-LOGTEST-2-77aa09";
const ACCESS_2: &str = "at-LOGTEST-2-e3b0c4";

#[tokio::test]
async fn no_token_appears_in_trace_logs() {
    let buf = captured();
    let server = MockServer::start().await;
    mount_token(&server, ACCESS_2, REFRESH_2, None).await;
    // The first access token is expired: 403 saying so, then refresh.
    mount_get(
        &server,
        header("authorization", format!("Bearer {ACCESS}").as_str()),
        ion_error(
            403,
            "PERMISSION_DENIED",
            &format!("access token {ACCESS} is expired"),
        ),
        None,
    )
    .await;
    mount_customer_record(&server, CUSTOMER).await;
    mount_get(
        &server,
        path(profiles_path(ACCOUNT, CUSTOMER)),
        ResponseTemplate::new(500).set_body_string(format!("<html>upstream saw {ACCESS_2}</html>")),
        None,
    )
    .await;
    mount_get(
        &server,
        path_regex("/products/"),
        ion_error(
            403,
            "PERMISSION_DENIED",
            "User does not have access to this resource.",
        ),
        None,
    )
    .await;

    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{REFRESH_1}\n")).expect("seed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let client = builder(&server)
        .access_token(SecretString::from(ACCESS))
        .token_store(Arc::new(TokenFile::new(&token_file)))
        .build()
        .expect("client");
    let debug = format!("{client:?}");
    let req = CheckRequest::new(ACCOUNT, CUSTOMER).with_order(order(&["P1"]));
    let ctx = Source::from(client.clone())
        .fetch(
            &req,
            Needs {
                customer: true,
                cloud_profiles: true,
                products: true,
                order: true,
            },
        )
        .await;
    let report = Preflight::new(client.clone(), RuleSet::builtin())
        .check(req.clone())
        .await;
    let _ = client.validate_access().await;

    let logs = String::from_utf8_lossy(&buf.lock().expect("buffer").clone()).into_owned();
    let reasons = serde_json::to_string(&ctx).expect("context serializes");
    let report = serde_json::to_string(&report).expect("report serializes");

    // The capture works and covers the paths exercised.
    for expected in [
        "ion.request",
        "ion.refresh",
        "/oauth/token",
        "status=500",
        "status=403",
        "attempt=4",
        "retrying",
        "check",
        "readable by other users",
    ] {
        assert!(
            logs.contains(expected),
            "missing {expected:?} in the captured logs"
        );
    }
    for secret in [ACCESS, ACCESS_2, REFRESH_1, REFRESH_2] {
        let all: Vec<&str> = logs.lines().collect();
        let leaks: Vec<String> = all
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains(secret))
            .map(|(i, _)| all[i.saturating_sub(8)..=i].join("\n"))
            .collect();
        assert!(
            leaks.is_empty(),
            "{secret} leaked into the logs: {leaks:#?}"
        );
        assert!(
            !reasons.contains(secret),
            "{secret} leaked into the context: {reasons}"
        );
        assert!(!report.contains(secret), "{secret} leaked into the report");
        assert!(!debug.contains(secret), "{secret} leaked into Debug");
    }
    assert!(reasons.contains("[redacted]"), "{reasons}");
}

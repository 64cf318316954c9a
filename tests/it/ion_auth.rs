//! Token lifecycle: single-flight refresh, rotation persisted before use.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ion_preflight::CheckRequest;
use ion_preflight::context::{Fetched, Needs};
use ion_preflight::ion::{MemoryTokenStore, TokenFile, TokenStore, TokenStoreError};
use ion_preflight::source::Source;
use secrecy::{ExposeSecret, SecretString};
use wiremock::matchers::{any, body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ion_support::*;

fn customer_only() -> Needs {
    Needs {
        customer: true,
        ..Needs::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_checks_cause_exactly_one_refresh() {
    let server = MockServer::start().await;
    // Slow enough that every check is waiting for the token meanwhile.
    mount_slow_refresh(&server).await;
    mount_get(
        &server,
        header("authorization", "Bearer at-new"),
        ok_json(customer_body(ACCOUNT, CUSTOMER)),
        100,
    )
    .await;
    let store = Arc::new(MemoryTokenStore::new());
    let client = builder(&server)
        .refresh_token(SecretString::from("rt-1"))
        .token_store(store.clone())
        .build()
        .expect("client");
    let source = Source::from(client);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let source = source.clone();
            tokio::spawn(async move {
                source
                    .fetch(&CheckRequest::new(ACCOUNT, 3000 + i), customer_only())
                    .await
            })
        })
        .collect();
    for t in tasks {
        let ctx = t.await.expect("task");
        assert!(
            matches!(ctx.customer, Fetched::Present { .. }),
            "{:?}",
            ctx.customer
        );
    }
    assert_eq!(
        store.load().expect("load").expect("saved").expose_secret(),
        "rt-2"
    );
    // `expect(1)` on the token endpoint is verified when the server drops.
}

#[cfg(unix)]
#[tokio::test]
async fn rotated_refresh_tokens_are_persisted_to_the_token_file() {
    use std::os::unix::fs::PermissionsExt;
    let server = MockServer::start().await;
    // expires_in 0: every fetch needs a new access token, so the chain of
    // rotations is visible: rt-1 -> rt-2 -> rt-3, each presented once.
    for (old, access, new) in [("rt-1", "at-1", "rt-2"), ("rt-2", "at-2", "rt-3")] {
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(body_string(format!(
                "grant_type=refresh_token&refresh_token={old}"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_answer(access, new, 0)))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_get(&server, any(), ok_json(customer_body(ACCOUNT, CUSTOMER)), 2).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ion-token");
    std::fs::write(&file, "rt-1\n").expect("seed");
    let client = builder(&server)
        .token_store(Arc::new(TokenFile::new(&file)))
        .build()
        .expect("client");
    let source = Source::from(client);
    let req = CheckRequest::new(ACCOUNT, CUSTOMER);
    let first = source.fetch(&req, customer_only()).await;
    assert!(
        matches!(first.customer, Fetched::Present { .. }),
        "{:?}",
        first.customer
    );
    assert_eq!(stored_refresh(&file), "rt-2");
    let second = source.fetch(&req, customer_only()).await;
    assert!(
        matches!(second.customer, Fetched::Present { .. }),
        "{:?}",
        second.customer
    );
    assert_eq!(stored_refresh(&file), "rt-3");
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// The refresh token in a token file (JSON since the first write).
fn stored_refresh(file: &std::path::Path) -> String {
    TokenFile::new(file)
        .load()
        .expect("load")
        .expect("a token")
        .expose_secret()
        .to_owned()
}

/// A store whose writes can be made to fail, standing in for a full disk.
#[derive(Debug, Default)]
struct FlakyStore {
    inner: MemoryTokenStore,
    failing: AtomicBool,
}

impl TokenStore for FlakyStore {
    fn load(&self) -> Result<Option<SecretString>, TokenStoreError> {
        self.inner.load()
    }
    fn save(&self, token: &SecretString) -> Result<(), TokenStoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(TokenStoreError::Other("disk full".into()))
        } else {
            self.inner.save(token)
        }
    }
}

#[tokio::test]
async fn the_new_refresh_token_is_saved_before_the_access_token_is_used() {
    let server = MockServer::start().await;
    mount_token(&server, "at-new", "rt-2", 1).await;
    let customer = Mock::given(method("GET"))
        .and(header("authorization", "Bearer at-new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_body(ACCOUNT, CUSTOMER)))
        .named("customer")
        .mount_as_scoped(&server)
        .await;
    let store = Arc::new(FlakyStore::default());
    store.inner.save(&SecretString::from("rt-1")).expect("seed");
    store.failing.store(true, Ordering::SeqCst);
    let client = builder(&server)
        .token_store(store.clone())
        .build()
        .expect("client");
    let source = Source::from(client);
    let req = CheckRequest::new(ACCOUNT, CUSTOMER);

    let ctx = source.fetch(&req, customer_only()).await;
    match &ctx.customer {
        Fetched::Unavailable { reason } => assert!(reason.contains("disk full"), "{reason}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert!(
        customer.received_requests().await.is_empty(),
        "the access token was used before its refresh token was saved"
    );

    // Once the store works again, the pending token is saved first and the
    // access token that came with it is used: no second refresh.
    store.failing.store(false, Ordering::SeqCst);
    let ctx = source.fetch(&req, customer_only()).await;
    assert!(
        matches!(ctx.customer, Fetched::Present { .. }),
        "{:?}",
        ctx.customer
    );
    assert_eq!(customer.received_requests().await.len(), 1);
    assert_eq!(
        store.load().expect("load").expect("saved").expose_secret(),
        "rt-2"
    );
}

#[tokio::test]
async fn a_rejected_refresh_token_makes_the_data_unavailable_with_ions_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            serde_json::json!({"error": "cannot validate token rt-spent-1: redis: nil"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_get(&server, any(), ok_json(customer_body(ACCOUNT, CUSTOMER)), 0).await;
    let client = builder(&server)
        .refresh_token(SecretString::from("rt-spent-1"))
        .build()
        .expect("client");
    let ctx = Source::from(client)
        .fetch(&CheckRequest::new(ACCOUNT, CUSTOMER), customer_only())
        .await;
    let Fetched::Unavailable { reason } = &ctx.customer else {
        panic!("expected unavailable, got {:?}", ctx.customer);
    };
    assert_eq!(
        reason,
        "ION rejected the credentials at POST /oauth/token: cannot validate token [redacted]: redis: nil (new API credentials come from the ION portal)"
    );
}

//! The ION client against wiremock on loopback: request shapes, answers,
//! errors, retries, pagination.

use std::time::Duration;

use futures::StreamExt;
use ion_preflight::ion::{IonClient, IonError};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{
    any, body_string, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ion_support::*;

#[tokio::test]
async fn customer_is_fetched_with_the_bearer_token_and_kept_whole() {
    let server = MockServer::start().await;
    let body = customer_body(ACCOUNT, CUSTOMER);
    Mock::given(method("GET"))
        .and(path(customer_path(ACCOUNT, CUSTOMER)))
        .and(header("authorization", "Bearer at-1"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&body))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_with_access(&server, "at-1");
    let customer = client
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("fetch succeeds")
        .expect("customer exists");
    assert_eq!(customer.id(), Some(CUSTOMER));
    assert_eq!(customer.customer_status.as_deref(), Some("ACTIVE"));
    assert_eq!(
        customer
            .customer_address
            .as_ref()
            .and_then(|a| a.country.as_deref()),
        Some("US")
    );
    // Unknown fields survive: re-serializing gives back what ION sent.
    assert_eq!(serde_json::to_value(&customer).expect("serializes"), body);
}

#[tokio::test]
async fn unknown_customer_is_none() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        path(customer_path(ACCOUNT, 9999)),
        ion_error(
            404,
            "NOT_FOUND",
            "resource 'accounts/1001/customers/9999' not found",
        ),
        1,
    )
    .await;
    let client = client_with_access(&server, "at-1");
    assert_eq!(
        client
            .customer(ACCOUNT, 9999)
            .await
            .expect("a 404 is not an error"),
        None
    );
}

#[tokio::test]
async fn an_html_404_is_not_taken_for_a_missing_customer() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ResponseTemplate::new(404).set_body_string("<html><body><h1>Not Found</h1></body></html>"),
        1,
    )
    .await;
    let e = customer_error(&server).await;
    assert!(matches!(e, IonError::MalformedResponse { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("base URL"), "{msg}");
    assert!(msg.contains(&customer_path(ACCOUNT, CUSTOMER)), "{msg}");
}

#[tokio::test]
async fn malformed_json_is_reported_with_endpoint_and_excerpt_and_not_retried() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ResponseTemplate::new(200)
            .set_body_string(r#"{"name": "accounts/1001/customers/2002", "customerStat"#),
        1,
    )
    .await;
    let e = customer_error(&server).await;
    let msg = e.to_string();
    assert!(matches!(e, IonError::MalformedResponse { .. }), "{e:?}");
    assert!(
        msg.starts_with("ION's answer to GET /api/v3/accounts/1001/customers/2002 is not what was expected: not JSON"),
        "{msg}"
    );
    assert!(msg.contains("customerStat"), "{msg}");
}

#[tokio::test]
async fn a_wrong_type_is_malformed_with_line_and_column() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ResponseTemplate::new(200).set_body_string(
            "{\n  \"customerId\": \"2002\",\n  \"customerCloudProfiles\": [{\"enabled\": \"yes\"}]\n}",
        ),
        None,
    )
    .await;
    let client = client_with_access(&server, "at-1");
    let e = client
        .cloud_profiles(ACCOUNT, CUSTOMER)
        .await
        .expect_err("wrong shape");
    let msg = e.to_string();
    assert!(msg.contains("expected a boolean"), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
}

#[tokio::test]
async fn an_html_error_page_is_a_server_error_retried_to_the_bound() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ResponseTemplate::new(502).set_body_string(
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body>\r\n</html>",
        ),
        4,
    )
    .await;
    let e = customer_error(&server).await;
    match &e {
        IonError::Server {
            status,
            attempts,
            message,
            ..
        } => {
            assert_eq!((*status, *attempts), (502, 4));
            assert!(
                message.starts_with("non-JSON answer `<html> <head><title>502 Bad Gateway"),
                "{message}"
            );
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    assert!(e.is_transient());
}

#[tokio::test]
async fn permission_denied_is_reported_as_such_without_a_refresh() {
    let server = MockServer::start().await;
    mount_get(&server, any(), account_denied(), 1).await;
    mount_token(&server, "at-2", "rt-2", 0).await;
    let client = builder(&server)
        .access_token(SecretString::from("at-1"))
        .refresh_token(SecretString::from("rt-1"))
        .build()
        .expect("client");
    let e = client
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect_err("denied");
    assert!(matches!(e, IonError::PermissionDenied { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "ION denied access to GET /api/v3/accounts/1001/customers/2002: permission denied to access accounts/1001 (check the account id and that these credentials may see it)"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let server = MockServer::start().await;
    fails_then_customer(
        &server,
        ion_error(500, "INTERNAL_ERROR", "Internal Server Error"),
        2,
    )
    .await;
    let client = client_with_access(&server, "at-1");
    let c = client
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("third attempt succeeds");
    assert!(c.is_some());
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::start().await;
    fails_then_customer(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
        1,
    )
    .await;
    let client = client_with_access(&server, "at-1");
    let started = std::time::Instant::now();
    client
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect("second attempt succeeds");
    // The backoff is 1-5 ms: only the Retry-After makes the client wait a
    // second (a lower bound, not a performance measurement).
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_huge_retry_after_is_capped() {
    let server = MockServer::start().await;
    fails_then_customer(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "86400"),
        1,
    )
    .await;
    let client = builder(&server)
        .access_token(SecretString::from("at-1"))
        .max_retry_after(ms(20))
        .build()
        .expect("client");
    let result =
        tokio::time::timeout(Duration::from_secs(20), client.customer(ACCOUNT, CUSTOMER)).await;
    assert!(
        result
            .expect("does not wait a day")
            .expect("succeeds")
            .is_some()
    );
}

#[tokio::test]
async fn persistent_rate_limiting_gives_up_after_the_bound() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ResponseTemplate::new(429).insert_header("Retry-After", "0"),
        3,
    )
    .await;
    let client = builder(&server)
        .access_token(SecretString::from("at-1"))
        .max_attempts(3)
        .build()
        .expect("client");
    let e = client
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect_err("rate limited");
    assert!(
        matches!(e, IonError::RateLimited { attempts: 3, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("after 3 attempt(s)"), "{e}");
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ion_error(
            400,
            "INVALID_REQUEST",
            "At least one of page_size and page_token must be present",
        ),
        1,
    )
    .await;
    let e = customer_error(&server).await;
    assert!(matches!(e, IonError::Rejected { status: 400, .. }), "{e:?}");
    assert!(e.to_string().contains("At least one of page_size"), "{e}");
}

#[tokio::test]
async fn a_closed_port_is_unreachable_after_the_bound() {
    let client = IonClient::builder()
        .base_url(&closed_port_url())
        .access_token(SecretString::from("at-1"))
        .backoff(ms(1), ms(2))
        .max_attempts(2)
        .build()
        .expect("client");
    let e = client
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect_err("refused");
    assert!(
        matches!(e, IonError::Unreachable { attempts: 2, .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("could not reach ION for GET /api/v3/accounts/1001/customers/2002"),
        "{msg}"
    );
    assert!(msg.contains("ION_BASE_URL"), "{msg}");
}

#[tokio::test]
async fn slow_answers_time_out_per_request() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ok_json(customer_body(ACCOUNT, CUSTOMER)).set_delay(Duration::from_secs(3)),
        2,
    )
    .await;
    let client = builder(&server)
        .access_token(SecretString::from("at-1"))
        .request_timeout(ms(150))
        .max_attempts(2)
        .build()
        .expect("client");
    let e = client
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect_err("timeout");
    assert!(matches!(e, IonError::Timeout { attempts: 2, .. }), "{e:?}");
}

#[tokio::test]
async fn customers_are_listed_over_three_pages() {
    let server = MockServer::start().await;
    let listed = |ids: &[u64]| {
        ids.iter()
            .map(|c| json!({"name": format!("accounts/1001/customers/{c}"), "customerStatus": "ACTIVE"}))
            .collect::<Vec<_>>()
    };
    mount_listing(
        &server,
        "at-1",
        2,
        &[
            (
                None,
                json!({"customers": listed(&[1, 2]), "nextPageToken": "p2"}),
            ),
            (
                Some("p2"),
                json!({"customers": listed(&[3, 4]), "nextPageToken": "p3"}),
            ),
            (
                Some("p3"),
                json!({"customers": listed(&[5]), "nextPageToken": ""}),
            ),
        ],
    )
    .await;
    let client = client_with_access(&server, "at-1");
    let ids: Vec<u64> = client
        .customers(ACCOUNT, 2)
        .map(|r| r.expect("page fetched").id().expect("id from name"))
        .collect()
        .await;
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_failing_page_ends_the_listing_with_the_error() {
    let server = MockServer::start().await;
    let list = format!("/api/v3/accounts/{ACCOUNT}/customers");
    Mock::given(method("GET"))
        .and(path(list.clone()))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"customers": [{"name": "accounts/1001/customers/1"}], "nextPageToken": "p2"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(list.clone()))
        .and(query_param("pageToken", "p2"))
        .respond_with(ion_error(
            403,
            "PERMISSION_DENIED",
            "User does not have access to this resource.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_with_access(&server, "at-1");
    let items: Vec<_> = client.customers(ACCOUNT, 50).collect().await;
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert!(
        matches!(items[1], Err(IonError::PermissionDenied { .. })),
        "{:?}",
        items[1]
    );
}

#[tokio::test]
async fn validate_access_posts_the_access_token_as_a_form() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/validateAccess"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("access_token=at-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_expires_in": 6673, "refresh_expires_in": 2764273})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_with_access(&server, "at-1");
    let v = client.validate_access().await.expect("valid");
    assert_eq!(v.access_expires_in, Some(6673));
    assert_eq!(v.refresh_expires_in, Some(2764273));
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_request_retried() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        header("authorization", "Bearer at-stale"),
        ion_error(403, "PERMISSION_DENIED", "access token is expired"),
        1,
    )
    .await;
    mount_get(
        &server,
        header("authorization", "Bearer at-fresh"),
        ok_json(customer_body(ACCOUNT, CUSTOMER)),
        1,
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string("grant_type=refresh_token&refresh_token=rt-1"))
        .respond_with(ok_json(token_answer("at-fresh", "rt-2", 7200)))
        .expect(1)
        .mount(&server)
        .await;
    let client = builder(&server)
        .access_token(SecretString::from("at-stale"))
        .refresh_token(SecretString::from("rt-1"))
        .build()
        .expect("client");
    assert!(
        client
            .customer(ACCOUNT, CUSTOMER)
            .await
            .expect("retried")
            .is_some()
    );
}

#[tokio::test]
async fn a_token_rejected_after_the_refresh_is_not_refreshed_again() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ion_error(401, "UNAUTHENTICATED", "invalid token"),
        2,
    )
    .await;
    mount_token(&server, "at-2", "rt-2", 2).await;
    let client = builder(&server)
        .refresh_token(SecretString::from("rt-1"))
        .build()
        .expect("client");
    // The first refresh obtains the first access token; its rejection
    // triggers exactly one more refresh and one retry, then the client
    // gives up: two refreshes, two GETs, never a loop.
    let e = client
        .customer(ACCOUNT, CUSTOMER)
        .await
        .expect_err("rejected");
    assert!(matches!(e, IonError::TokenRejected { .. }), "{e:?}");
}

#[tokio::test]
async fn a_static_access_token_rejected_is_reported_without_retry() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        any(),
        ResponseTemplate::new(401).set_body_string(""),
        1,
    )
    .await;
    let e = customer_error(&server).await;
    assert!(matches!(e, IonError::TokenRejected { .. }), "{e:?}");
    // Advice a library caller can follow: no CLI variable names.
    assert!(e.to_string().contains("ION portal"), "{e}");
    assert!(!e.to_string().contains("ION_REFRESH_TOKEN"), "{e}");
}

#[tokio::test]
async fn plain_http_is_refused_for_remote_hosts() {
    let e = IonClient::builder()
        .base_url("http://ion.tdsynnex.com")
        .access_token(SecretString::from("at-1"))
        .build()
        .expect_err("http");
    assert!(matches!(e, IonError::InvalidBaseUrl { .. }), "{e:?}");
    assert!(e.to_string().contains("use https"), "{e}");
}

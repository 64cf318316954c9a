//! `proxy`: customer creation (`POST /api/v3/accounts/{a}/customers`) goes
//! through the new-customer pre-flight, over real loopback HTTP, in front of
//! a fake ION (wiremock) that records what reached it and remembers the
//! customers it created.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ion_preflight::service::{Mode, ProxyConfig};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::cli_support::fixture;
use crate::ion_support::ion_error;
use crate::service_support::{http, post_json, proxy_config, start_proxy};

const CUSTOMERS: &str = "/api/v3/accounts/1001/customers";

/// The e-mails (lower case) of the customers the fake ION has: the demo's
/// customer 2002, and every one created through it.
#[derive(Clone)]
struct Directory {
    emails: Arc<Mutex<Vec<String>>>,
}

impl Directory {
    fn new() -> Self {
        Directory {
            emails: Arc::new(Mutex::new(vec!["megan.bowen@contoso.com".into()])),
        }
    }
}

/// `GET …/customers?filter.customerEmail=…&filter.customerStatus=ACTIVE`:
/// the customers with that e-mail (ignoring case); nobody for INACTIVE or
/// an organization lookup.
struct Lookup(Directory);

impl Respond for Lookup {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q = |name: &str| {
            req.url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let mut customers = Vec::new();
        if q("filter.customerStatus").as_deref() == Some("ACTIVE")
            && let Some(email) = q("filter.customerEmail")
        {
            let known = self.0.emails.lock().expect("lock");
            for (i, e) in known.iter().enumerate() {
                if e.eq_ignore_ascii_case(&email) {
                    customers.push(json!({
                        "name": format!("accounts/1001/customers/{}", 2002 + i),
                        "customerOrganization": "Somebody",
                        "customerEmail": e,
                        "customerStatus": "ACTIVE",
                    }));
                }
            }
        }
        ResponseTemplate::new(200).set_body_json(json!({ "customers": customers }))
    }
}

/// `POST …/customers`: answers 200 after `delay`; the new customer is
/// listed from half-way through it (a lookup made before then does not see
/// it, as with a real ION still creating it).
struct Create(Directory, Duration);

impl Respond for Create {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        if let Some(e) = body["customerEmail"].as_str() {
            let (emails, email, after) = (Arc::clone(&self.0.emails), e.to_lowercase(), self.1 / 2);
            std::thread::spawn(move || {
                std::thread::sleep(after);
                emails.lock().expect("lock").push(email);
            });
        }
        ResponseTemplate::new(200)
            .insert_header("x-ion-request", "c-1")
            .set_body_json(
                json!({"name": "accounts/1001/customers/3001", "customerStatus": "ACTIVE"}),
            )
            .set_delay(self.1)
    }
}

async fn fake_ion(post_delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    let directory = Directory::new();
    Mock::given(method("GET"))
        .and(path(CUSTOMERS))
        .respond_with(Lookup(directory.clone()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CUSTOMERS))
        .respond_with(Create(directory, post_delay))
        .mount(&server)
        .await;
    server
}

async fn posts(ion: &MockServer) -> Vec<Request> {
    ion.received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect()
}

fn payload(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("new-customers/{name}"))).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_new_customer_is_forwarded_once_byte_for_byte() {
    let ion = fake_ion(Duration::ZERO).await;
    let base = start_proxy(proxy_config(&ion.uri(), Mode::Enforce)).await;
    let body = format!(
        "{}\n\n",
        serde_json::to_string_pretty(&payload("acme.json")).expect("json")
    );
    let resp = http()
        .post(format!("{base}/API/v3/accounts/01001/Customers/?tag=x"))
        .bearer_auth("caller-nc")
        .header("x-correlation-id", "c-9")
        .body(body.clone())
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(resp.headers(), "x-ion-request"), Some("c-1"));
    assert_eq!(
        header(resp.headers(), "x-ion-preflight-verdict"),
        Some("ready")
    );
    assert!(resp.headers().get("x-ion-preflight").is_none());

    let posts = posts(&ion).await;
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(p.url.path(), CUSTOMERS, "to the resource that was checked");
    assert_eq!(p.url.query(), Some("tag=x"));
    assert_eq!(p.body, body.as_bytes());
    assert_eq!(
        p.headers
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok()),
        Some("c-9")
    );
    // Every lookup and the POST carried the caller's token.
    let all = ion.received_requests().await.expect("recorded");
    assert_eq!(all.len(), 5, "four lookups, one POST");
    assert!(all.iter().all(
        |r| r.headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some("Bearer caller-nc")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_new_customer_is_answered_in_ions_envelope_and_never_forwarded() {
    let ion = fake_ion(Duration::ZERO).await;
    let base = start_proxy(proxy_config(&ion.uri(), Mode::Enforce)).await;
    let body = payload("contoso-again.json").to_string();
    for spelling in [
        CUSTOMERS,
        "//api/V3/accounts/1001/customers//",
        "/api/v3/accounts/1001/customers/2002/..",
        "/api/v3/accounts/1001/%63ustomers",
        "/api/v3/./accounts/001001/x/../customers",
    ] {
        let (status, headers, got) =
            post_json(&format!("{base}{spelling}"), &body, Some("caller-nc")).await;
        assert_eq!(status, 400, "{spelling}: {got}");
        assert_eq!(header(&headers, "x-ion-preflight"), Some("blocked"));
        assert_eq!(got["error"], "INVALID_REQUEST");
        assert_eq!(got["code"], 400);
        let details = got["details"].as_array().expect("details");
        let codes: Vec<(&str, &str)> = details
            .iter()
            .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.RequestInfo")
            .map(|d| {
                (
                    d["code"].as_str().unwrap_or_default(),
                    d["sourceName"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            [
                ("CUS-CR-001", "new-customer-email-not-in-use"),
                ("CUS-CR-002", "new-customer-language-code-valid"),
                ("PREFLIGHT-RULE", "new-customer-state-code"),
            ],
            "{spelling}"
        );
        assert_eq!(
            details[0]["requestId"].as_str(),
            header(&headers, "x-ion-preflight-decision")
        );
        assert_eq!(got["message"], details[0]["detail"]);
        let report = &details.last().expect("report")["report"];
        assert_eq!(report["verdict"], "blocked");
        assert_eq!(report["new_customer"]["email"], "Megan.Bowen@Contoso.com");
    }
    assert!(
        posts(&ion).await.is_empty(),
        "a blocked customer never reaches ION"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indeterminate_new_customer_is_503_with_retry_after_and_not_forwarded() {
    let ion = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ion_error(500, "INTERNAL_ERROR", "Internal Server Error"))
        .mount(&ion)
        .await;
    let base = start_proxy(ProxyConfig {
        check_timeout: Duration::from_secs(3),
        ..proxy_config(&ion.uri(), Mode::Enforce)
    })
    .await;
    let (status, headers, got) = post_json(
        &format!("{base}{CUSTOMERS}"),
        &payload("acme.json").to_string(),
        Some("caller-nc"),
    )
    .await;
    assert_eq!(status, 503, "{got}");
    assert_eq!(header(&headers, "retry-after"), Some("7"));
    assert_eq!(header(&headers, "x-ion-preflight"), Some("indeterminate"));
    assert_eq!(got["error"], "UNAVAILABLE");
    assert!(
        got["message"].as_str().is_some_and(
            |m| m.contains("the new customer was not sent to ION, so retrying is safe")
        ),
        "{got}"
    );
    assert!(posts(&ion).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creation_without_a_token_or_json_or_with_an_unmatchable_path_is_refused() {
    let ion = fake_ion(Duration::ZERO).await;
    let base = start_proxy(proxy_config(&ion.uri(), Mode::Enforce)).await;
    let body = payload("acme.json").to_string();
    let (status, headers, got) = post_json(&format!("{base}{CUSTOMERS}"), &body, None).await;
    assert_eq!(status, 401, "{got}");
    assert_eq!(header(&headers, "x-ion-preflight"), Some("unauthenticated"));
    assert!(
        got["message"]
            .as_str()
            .is_some_and(|m| m.contains("a new customer is checked")),
        "{got}"
    );
    for (body, says) in [("[1, 2]", "not a JSON object"), ("{\"x\"", "not JSON")] {
        let (status, headers, got) =
            post_json(&format!("{base}{CUSTOMERS}"), body, Some("caller-nc")).await;
        assert_eq!(status, 400, "{got}");
        assert_eq!(header(&headers, "x-ion-preflight"), Some("refused"));
        assert!(
            got["message"].as_str().is_some_and(|m| m.contains(says)),
            "{got}"
        );
    }
    for spelling in [
        "/api/v3/accounts/1001%2Fcustomers",
        "/api/v3/accounts/1001/customers;x=1",
        "/api/v3/accounts/1001/customers:batchCreate",
        "/api/v3;v=2/accounts/1001/customers",
        "/api/v3/accounts/1001/%2563ustomers",
        "/api/v3/accounts/1e3/customers",
    ] {
        let (status, headers, got) =
            post_json(&format!("{base}{spelling}"), &body, Some("caller-nc")).await;
        assert_eq!(status, 400, "{spelling}: {got}");
        assert_eq!(
            header(&headers, "x-ion-preflight"),
            Some("refused"),
            "{spelling}"
        );
    }
    assert!(ion.received_requests().await.expect("recorded").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_with_one_email_are_checked_one_after_the_other() {
    // ION takes 300 ms to create; the second creation (same e-mail in
    // another case) is checked only after the first was answered, so its
    // lookup sees the new customer.
    let ion = fake_ion(Duration::from_millis(300)).await;
    let base = start_proxy(proxy_config(&ion.uri(), Mode::Enforce)).await;
    let url = format!("{base}{CUSTOMERS}");
    let first = payload("acme.json");
    let mut second = first.clone();
    second["customerEmail"] = json!("John.DOE@acme.com");
    // One client, built before: both requests leave at once.
    let client = http();
    let send = |body: String| {
        let req = client.post(&url).bearer_auth("caller-nc").body(body);
        async move {
            let resp = req.send().await.expect("answered");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("json"))
        }
    };
    let (a, b) = tokio::join!(send(first.to_string()), send(second.to_string()));
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{:?} / {:?}", a.1, b.1);
    let blocked = if a.0 == 400 { &a.1 } else { &b.1 };
    assert_eq!(blocked["details"][0]["code"], "CUS-CR-001", "{blocked}");
    assert_eq!(posts(&ion).await.len(), 1, "one customer created");

    // Another e-mail is not held up by them.
    let mut other = first.clone();
    other["customerEmail"] = json!("jane@acme.com");
    let (status, _, got) = post_json(&url, &other.to_string(), Some("caller-nc")).await;
    assert_eq!(status, 200, "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_mode_forwards_a_blocked_customer_and_logs_it_beside_ions_answer() {
    let ion = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CUSTOMERS))
        .respond_with(Lookup(Directory::new()))
        .mount(&ion)
        .await;
    // ION refuses the e-mail as it documents (412 CUS-CR-001).
    Mock::given(method("POST"))
        .and(path(CUSTOMERS))
        .respond_with(ResponseTemplate::new(412).set_body_json(json!({
            "error": "FAILED_PRECONDITION",
            "message": "The provided primaryContactEmail is already in use, please provide a different email.",
            "code": 412,
            "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "r", "referenceEntity": "primaryContactEmail", "code": "CUS-CR-001", "detail": "in use"}],
        })))
        .mount(&ion)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.ndjson");
    let base = start_proxy(ProxyConfig {
        decision_log: Some(log.clone()),
        ..proxy_config(&ion.uri(), Mode::Audit)
    })
    .await;
    let (status, headers, got) = post_json(
        &format!("{base}{CUSTOMERS}"),
        &payload("contoso-again.json").to_string(),
        Some("caller-nc"),
    )
    .await;
    assert_eq!(status, 412, "ION's answer comes back: {got}");
    assert_eq!(got["details"][0]["code"], "CUS-CR-001");
    assert_eq!(header(&headers, "x-ion-preflight-verdict"), Some("blocked"));
    assert!(headers.get("x-ion-preflight").is_none());
    assert_eq!(posts(&ion).await.len(), 1);

    // Without a token, audit mode forwards unchecked and logs nothing.
    let (status, headers, _) = post_json(
        &format!("{base}{CUSTOMERS}"),
        &payload("contoso-again.json").to_string(),
        None,
    )
    .await;
    assert_eq!(status, 412);
    assert!(headers.get("x-ion-preflight-verdict").is_none());
    assert_eq!(posts(&ion).await.len(), 2);

    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let entry: Value = serde_json::from_str(lines[0]).expect("json");
    assert_eq!(entry["check"], "new-customer");
    assert_eq!(entry["mode"], "audit");
    assert_eq!(entry["verdict"], "blocked");
    assert_eq!(entry["ion_status"], 412);
    assert_eq!(entry["ion_codes"], json!(["CUS-CR-001"]));
    assert_eq!(entry["assessment"], "agree");
    assert!(entry.get("customer_id").is_none(), "{entry}");
    for secret in ["Megan", "megan", "Bowen", "425 555 0100", "Microsoft Way"] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_reads_an_invalid_request_without_codes_as_ions_error() {
    let ion = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CUSTOMERS))
        .respond_with(Lookup(Directory::new()))
        .mount(&ion)
        .await;
    Mock::given(method("POST"))
        .and(path(CUSTOMERS))
        .respond_with(ion_error(
            400,
            "INVALID_REQUEST",
            "must have required property 'orgName'",
        ))
        .mount(&ion)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.ndjson");
    let base = start_proxy(ProxyConfig {
        decision_log: Some(log.clone()),
        ..proxy_config(&ion.uri(), Mode::Audit)
    })
    .await;
    let mut p = payload("acme.json");
    p.as_object_mut()
        .expect("object")
        .remove("customerOrganization");
    let (status, _, _) = post_json(
        &format!("{base}{CUSTOMERS}"),
        &p.to_string(),
        Some("caller-nc"),
    )
    .await;
    assert_eq!(status, 400);
    let entry: Value =
        serde_json::from_str(std::fs::read_to_string(&log).expect("log").trim()).expect("json");
    assert_eq!(entry["verdict"], "blocked");
    assert_eq!(entry["ion_codes"], json!(["INVALID_REQUEST"]));
    assert_eq!(entry["assessment"], "agree");
}

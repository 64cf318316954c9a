//! docs/serve-openapi.yaml against real responses of a running `serve`:
//! every answer's status must be documented for its endpoint, and its body
//! must validate against the documented schema.

use serde_json::{Value, json};

use ion_preflight::service::{ServeConfig, Service};

use crate::cli_support::{fixture, root};
use crate::service_support::{http, nce_order, snapshot_config, start_service};

fn document() -> Value {
    let text = std::fs::read_to_string(root().join("docs/serve-openapi.yaml")).expect("doc");
    serde_saphyr::from_str(&text).expect("the OpenAPI file is YAML")
}

/// Validates `body` against what the document says `method path` answers
/// with `status`.
fn assert_documented(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} answering {status} is not documented"
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status}: no JSON schema documented"
    );
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::new(&root).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{body}"
    );
}

fn new_customer(file: &str) -> Value {
    let path = fixture(&format!("new-customers/{file}"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

async fn call(base: &str, method: &str, path: &str, body: Option<String>) -> (u16, Value) {
    let url = format!("{base}{path}");
    let req = match method {
        "post" => http().post(url).body(body.unwrap_or_default()),
        _ => http().get(url),
    };
    let resp = req.send().await.expect("answered");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_responses_match_the_openapi_document() {
    let doc = document();
    let service = Service::new(ServeConfig {
        body_limit: 8 * 1024,
        ..snapshot_config()
    })
    .expect("starts");
    let base = start_service(&service).await;
    let mut broken = nce_order();
    broken["orderItems"][0]["quantity"] = json!(0);
    broken["orderItems"][0]["action"] = json!("UPDATE");
    let cases: Vec<(&str, &str, Option<String>, u16)> = vec![
        (
            "post",
            "/v1/check",
            Some(
                json!({"account_id": 1001, "customer_id": 2002, "order": nce_order()}).to_string(),
            ),
            200,
        ),
        (
            "post",
            "/v1/check",
            Some(json!({"account_id": 1001, "customer_id": 2002, "order": broken}).to_string()),
            200,
        ),
        (
            "post",
            "/v1/check",
            Some(r#"{"account_id": 1001, "customer_id": 2003}"#.into()),
            200,
        ),
        (
            "post",
            "/v1/check",
            Some(r#"{"account_id": 1001, "customer_id": 9999}"#.into()),
            200,
        ),
        (
            "post",
            "/v1/check",
            Some(r#"{"account_id": 1001, "customer_id": "2002"}"#.into()),
            400,
        ),
        (
            "post",
            "/v1/check",
            Some(
                json!({"account_id": 1, "customer_id": 2, "order": {"x": "y".repeat(9000)}})
                    .to_string(),
            ),
            413,
        ),
        (
            "post",
            "/v1/check-new-customer",
            Some(json!({"account_id": 1001, "payload": new_customer("acme.json")}).to_string()),
            200,
        ),
        (
            "post",
            "/v1/check-new-customer",
            Some(
                json!({"account_id": 1001, "payload": new_customer("contoso-again.json")})
                    .to_string(),
            ),
            200,
        ),
        (
            "post",
            "/v1/check-new-customer",
            Some(json!({"account_id": 1001, "payload": {}}).to_string()),
            200,
        ),
        (
            "post",
            "/v1/check-new-customer",
            Some(r#"{"account_id": 1001, "payload": "x"}"#.into()),
            400,
        ),
        (
            "post",
            "/v1/check-new-customer",
            Some(
                json!({"account_id": 1, "payload": {"customerName": "y".repeat(9000)}}).to_string(),
            ),
            413,
        ),
        ("get", "/healthz", None, 200),
        ("get", "/readyz", None, 200),
    ];
    for (method, path, body, want) in cases {
        let (status, got) = call(&base, method, path, body).await;
        assert_eq!(status, want, "{method} {path}: {got}");
        assert_documented(&doc, method, path, status, &got);
    }
    // The blocked report really has items and evidence to validate.
    let (_, got) = call(&base, "post", "/v1/check", Some(json!({"account_id": 1001, "customer_id": 2002, "order": {"orderItems": [{"action": "UPDATE", "quantity": 0}]}}).to_string())).await;
    assert_eq!(got["verdict"], "blocked");
    assert!(
        got["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|r| r["items"].is_array())
    );
    assert_documented(&doc, "post", "/v1/check", 200, &got);
}

#[test]
fn every_documented_path_is_served_and_the_schemas_are_strict() {
    let doc = document();
    let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    assert_eq!(
        paths,
        [
            "/healthz",
            "/metrics",
            "/readyz",
            "/v1/check",
            "/v1/check-new-customer"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .iter()
        .collect::<Vec<_>>()
    );
    // A report field the schema does not know fails validation: the
    // schemas cannot drift silently from the real shape.
    let mut root = json!({"$ref": "#/components/schemas/Decision"});
    root["components"] = doc["components"].clone();
    let v = jsonschema::draft202012::new(&root).expect("valid");
    let decision = json!({"decision_id": "0".repeat(32), "account_id": 1, "customer_id": 2, "verdict": "ready", "fail_on": "error", "checked_at": "2026-01-01T00:00:00Z", "summary": {"total": 0, "pass": 0, "fail": 0, "skip": 0, "error": 0, "blocking": 0, "warnings": 0}, "results": []});
    assert!(v.is_valid(&decision));
    let mut extra = decision.clone();
    extra["surprise"] = json!(1);
    assert!(!v.is_valid(&extra));
    // A new-customer decision has no customer id, and names its payload.
    let mut root = json!({"$ref": "#/components/schemas/NewCustomerDecision"});
    root["components"] = doc["components"].clone();
    let v = jsonschema::draft202012::new(&root).expect("valid");
    let mut fresh = decision.clone();
    fresh.as_object_mut().expect("object").remove("customer_id");
    fresh["new_customer"] = json!({"organization": "Acme Corp", "email": "a@b.example"});
    assert!(v.is_valid(&fresh));
    assert!(
        !v.is_valid(&decision),
        "a customer_id is not a new customer's"
    );
}

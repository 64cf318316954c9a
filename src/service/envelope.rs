//! The bodies the proxy answers with, in ION's own error shapes (see the
//! ION v3 OpenAPI examples): an order system already parses them.

use serde_json::{Value, json};

use crate::report::{Outcome, Report};

/// The `errors[].code` of a blocking rule that pre-empts no ION code.
pub const RULE_CODE: &str = "PREFLIGHT-RULE";

/// The `@type` of the detail entry that carries the pre-flight report.
pub const REPORT_TYPE: &str = "type.googleapis.com/ionpreflight.v1.Report";

/// ION's order-validation envelope (HTTP 400, `code: 3`): one
/// `errors[{code, detail, sourceName}]` entry per blocking failure, the
/// rule's `pre-empts` code or [`RULE_CODE`], the rule id in `sourceName`;
/// the whole report in a second detail entry.
pub fn order_blocked(report: &Report, request_id: &str) -> Value {
    let errors: Vec<Value> = blocking_failures(report)
        .map(|(code, detail, rule)| json!({"code": code, "detail": detail, "sourceName": rule}))
        .collect();
    let error = "BAD_REQUEST: Invalid provisioning data";
    json!({
        "error": error,
        "message": error,
        "code": 3,
        "details": [
            {
                "@type": "type.googleapis.com/v3orberrors.ErrorBody",
                "requestId": request_id,
                "errors": errors,
            },
            { "@type": REPORT_TYPE, "report": report },
        ],
    })
}

/// ION's answer to a customer it will not create, as in its
/// `OrgNameNotPresentError` and `PrimaryContactEmailExistsError` examples,
/// with HTTP 400: `{error: "INVALID_REQUEST", message, code: 400, details}`,
/// one `RequestInfo` detail per blocking failure carrying `code` (the
/// rule's `pre-empts` code, e.g. `CUS-CR-001`, or [`RULE_CODE`]), `detail`
/// and `sourceName` (the rule id); the whole report in a last detail entry.
/// `message` is the first failure's detail, as ION's is.
pub fn customer_blocked(report: &Report, request_id: &str) -> Value {
    let mut details: Vec<Value> = blocking_failures(report)
        .map(|(code, detail, rule)| {
            json!({
                "@type": "type.googleapis.com/google.rpc.RequestInfo",
                "requestId": request_id,
                "code": code,
                "detail": detail,
                "sourceName": rule,
            })
        })
        .collect();
    let message = details
        .first()
        .and_then(|d| d["detail"].as_str())
        .unwrap_or("the new customer was refused by the pre-flight")
        .to_owned();
    details.push(json!({ "@type": REPORT_TYPE, "report": report }));
    json!({ "error": "INVALID_REQUEST", "message": message, "code": 400, "details": details })
}

/// `(code, detail, rule id)` of every blocking failure of `report`: one per
/// failing element of a `for_each` rule.
fn blocking_failures(report: &Report) -> impl Iterator<Item = (&str, &str, &str)> {
    report
        .results()
        .iter()
        .filter(|r| r.outcome == Outcome::Fail && r.severity >= report.fail_on())
        .flat_map(|r| {
            let code = r
                .preempts
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .unwrap_or(RULE_CODE);
            let details: Vec<&str> = if r.items.is_empty() {
                vec![r.message.as_deref().unwrap_or(&r.title)]
            } else {
                r.items
                    .iter()
                    .filter(|i| i.outcome == Outcome::Fail)
                    .map(|i| i.message.as_str())
                    .collect()
            };
            details
                .into_iter()
                .map(move |detail| (code, detail, r.rule.as_str()))
        })
}

/// The `error` of an ION answer (`INVALID_REQUEST`), if it is an envelope.
pub fn ion_error(body: &[u8]) -> Option<String> {
    let value = serde_json::from_slice::<Value>(body).ok()?;
    value["error"].as_str().map(|e| e.trim().to_owned())
}

/// ION's general error envelope: `{error, message, code, details:
/// [RequestInfo]}` (as in its `UNAVAILABLE`, `NOT_FOUND` examples), with a
/// report detail when there is one.
pub fn status(
    error: &str,
    code: u16,
    message: &str,
    request_id: &str,
    report: Option<&Report>,
) -> Value {
    let mut details = vec![json!({
        "@type": "type.googleapis.com/google.rpc.RequestInfo",
        "requestId": request_id,
    })];
    if let Some(report) = report {
        details.push(json!({ "@type": REPORT_TYPE, "report": report }));
    }
    json!({ "error": error, "message": message, "code": code, "details": details })
}

/// The error codes in an ION answer, trimmed (`details[].errors[].code` of
/// an order rejection, `details[].code` of others); empty when the body is
/// not an ION envelope.
pub fn ion_error_codes(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut codes = Vec::new();
    for detail in value["details"].as_array().into_iter().flatten() {
        if let Some(code) = detail["code"].as_str() {
            codes.push(code.trim().to_owned());
        }
        for e in detail["errors"].as_array().into_iter().flatten() {
            if let Some(code) = e["code"].as_str() {
                codes.push(code.trim().to_owned());
            }
        }
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_both_shapes_and_trimmed() {
        let order = br#"{"error":"BAD_REQUEST: Invalid provisioning data","code":3,"details":[{"@type":"type.googleapis.com/v3orberrors.ErrorBody","errors":[{"code":"COMM-VL-001 ","detail":"x"},{"code":"COMM-VL-004","detail":"y"}]}]}"#;
        assert_eq!(ion_error_codes(order), ["COMM-VL-001", "COMM-VL-004"]);
        let customer = br#"{"error":"FAILED_PRECONDITION","code":412,"details":[{"code":"CUS-CR-001","referenceEntity":"e"}]}"#;
        assert_eq!(ion_error_codes(customer), ["CUS-CR-001"]);
        assert!(ion_error_codes(b"<html>").is_empty());
    }
}

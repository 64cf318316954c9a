//! Order bodies: any bytes that parse as JSON are evaluated by the built-in
//! rules against a ready customer without panicking, and the verdict is
//! never `ready` while an error-severity rule is in error.

#![no_main]

use ion_preflight::context::{Context, Fetched};
use ion_preflight::report::{Outcome, Verdict};
use ion_preflight::rules::RuleSet;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(order) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let ctx = Context::new(1001, 2002, jiff::Timestamp::UNIX_EPOCH)
        .with_customer(Fetched::present(json!({
            "name": "accounts/1001/customers/2002",
            "customerStatus": "ACTIVE",
            "customerEmail": "a@example.com",
            "customerAddress": {"street": "1 Way", "city": "Redmond", "zip": "98052", "country": "US"}
        })))
        .with_cloud_profiles(Fetched::present(json!([{
            "providerId": "3", "shortName": "MICROSOFT", "displayName": "Microsoft",
            "enabled": true, "customerTenantId": "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f"
        }])))
        .with_order(Some(order));
    let report = RuleSet::builtin().evaluate(&ctx);
    if report.verdict == Verdict::Ready {
        assert!(
            !report
                .results
                .iter()
                .any(|r| r.outcome == Outcome::Error && r.severity >= report.fail_on)
        );
    }
    let _ = serde_json::to_string(&report).expect("a report serializes");
});

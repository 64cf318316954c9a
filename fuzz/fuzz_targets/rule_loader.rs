//! Rule files: any text either loads into a rule set that evaluates
//! without panicking, or is refused with diagnostics.

#![no_main]

use ion_preflight::context::{Context, Fetched};
use ion_preflight::rules::RuleSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RuleSet::from_yaml("fuzz.yaml", text) {
        Ok(set) => {
            let ctx = Context::new(1, 2, jiff::Timestamp::UNIX_EPOCH)
                .with_customer(Fetched::present(serde_json::json!({
                    "customerStatus": "ACTIVE",
                    "attributes": [{"name": "x", "value": "y"}]
                })))
                .with_cloud_profiles(Fetched::present(serde_json::json!([])))
                .with_order(Some(
                    serde_json::json!({"orderItems": [{"productId": "p"}]}),
                ));
            let report = set.evaluate(&ctx);
            assert_eq!(report.results.len(), set.rules().len());
        }
        Err(e) => {
            // Refusals carry at least one diagnostic and render.
            assert!(!e.to_string().is_empty());
        }
    }
});

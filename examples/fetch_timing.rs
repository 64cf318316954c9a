//! Wall time of fetching one check's data from a (slow) ION: the library's
//! concurrent fetch plan vs the same resources fetched one after another.
//! Part of the end-to-end benchmarks (`benches/e2e.py`, BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --example fetch_timing -- http://127.0.0.1:PORT [RUNS]
//! ```
//!
//! Uses the built-in rule set's needs and `fixtures/orders/nce-order.json`;
//! one client (one connection pool, a ready access token) for all runs.
//! Prints one JSON line: `{"runs": N, "requests_per_check": R,
//! "concurrent_ms": median, "sequential_ms": median}`.

use std::time::{Duration, Instant};

use ion_preflight::CheckRequest;
use ion_preflight::context::Context;
use ion_preflight::ion::IonClient;
use ion_preflight::rules::RuleSet;
use ion_preflight::source::Source;

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args.next().ok_or("usage: fetch_timing BASE_URL [RUNS]")?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(21);
    let order: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("fixtures/orders/nce-order.json")?)?;
    let client = IonClient::builder()
        .base_url(&base)
        .access_token("bench-access".to_owned().into())
        .build()?;
    let source = Source::Live(client.clone());
    let needs = RuleSet::builtin().needs();
    let products = if needs.products {
        Context::new(1001, 2002, jiff::Timestamp::now())
            .with_order(Some(order.clone()))
            .order_product_ids()
    } else {
        Vec::new()
    };
    let req = CheckRequest::new(1001, 2002).with_order(order);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Warm up: connections open, TLS-free loopback.
        let _ = source.fetch(&req, needs).await;
        let mut concurrent = Vec::new();
        let mut sequential = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let ctx = source.fetch(&req, needs).await;
            concurrent.push(t.elapsed());
            if ctx.customer.value().is_none() {
                return Err("the server did not return the customer".into());
            }
            let t = Instant::now();
            if needs.customer {
                client.customer(1001, 2002).await?;
            }
            if needs.cloud_profiles {
                client.cloud_profiles(1001, 2002).await?;
            }
            for p in &products {
                client.product(1001, p).await?;
            }
            sequential.push(t.elapsed());
        }
        let requests = usize::from(needs.customer) + usize::from(needs.cloud_profiles) + products.len();
        println!(
            r#"{{"runs":{runs},"requests_per_check":{requests},"concurrent_ms":{:.1},"sequential_ms":{:.1}}}"#,
            median_ms(concurrent),
            median_ms(sequential)
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

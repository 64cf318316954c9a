//! A data source the caller defines (`DataSource`): a store of recorded
//! answers and a cache in front of a snapshot, checked against the snapshot
//! source over the same files; a source that cannot tell fails closed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::stream;
use ion_preflight::batch::{self, Stop};
use ion_preflight::report::render::NdjsonStream;
use ion_preflight::source::{DataSource, Source, SourceError};
use ion_preflight::{
    CheckRequest, Fetched, Outcome, Preflight, Report, RuleSet, SnapshotSource, Verdict,
};
use serde_json::Value;

const ACCOUNT: u64 = 1001;

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture file")).expect("JSON")
}

fn nce_order() -> Value {
    read_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/orders/nce-order.json"))
}

/// Recorded answers held in memory, keyed the caller's own way; what was
/// never recorded is unavailable, not absent.
#[derive(Debug, Default)]
struct RecordedAnswers {
    customers: HashMap<u64, Value>,
    profiles: HashMap<u64, Value>,
    products: HashMap<String, Value>,
    /// The `customerSubscriptions` and `placedOrders` roots, per customer.
    subscriptions: HashMap<u64, Value>,
    orders: HashMap<u64, Value>,
    /// Customers the store knows ION has no record of.
    unknown: Vec<u64>,
}

impl RecordedAnswers {
    /// Loads the demo account's files into memory.
    fn demo() -> Self {
        let dir = demo_dir().join("accounts/1001");
        let mut answers = RecordedAnswers::default();
        for id in [2002u64, 2003, 2004] {
            let customers = dir.join("customers");
            answers
                .customers
                .insert(id, read_json(&customers.join(format!("{id}.json"))));
            let body = read_json(&customers.join(id.to_string()).join("cloudProfiles.json"));
            answers
                .profiles
                .insert(id, body["customerCloudProfiles"].clone());
            // The scans as the roots rules read: what was read, how much, and
            // whether it was all of it.
            let subs = read_json(&customers.join(id.to_string()).join("subscriptions.json"));
            let items = subs["items"].as_array().cloned().unwrap_or_default();
            let total: usize = subs["totalCount"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            answers.subscriptions.insert(
                id,
                serde_json::json!({"subscriptions": items, "scanned": items.len(), "limit": 500,
                                   "complete": total <= items.len()}),
            );
            let placed = read_json(&customers.join(id.to_string()).join("orders.json"));
            let orders = placed["orders"].as_array().cloned().unwrap_or_default();
            answers.orders.insert(
                id,
                serde_json::json!({"orders": orders, "scanned": orders.len(), "limit": 300,
                                   "complete": placed.get("nextPageToken").is_none()}),
            );
        }
        for entry in std::fs::read_dir(dir.join("products")).expect("products") {
            let path = entry.expect("entry").path();
            let id = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            answers.products.insert(id, read_json(&path));
        }
        answers.unknown.push(9999);
        answers
    }
}

impl DataSource for RecordedAnswers {
    async fn customer(&self, _account: u64, customer: u64) -> Fetched {
        match self.customers.get(&customer) {
            Some(v) => Fetched::present(v.clone()),
            None if self.unknown.contains(&customer) => Fetched::Absent,
            None => Fetched::unavailable(format!("customer {customer} was never recorded")),
        }
    }

    async fn cloud_profiles(&self, _account: u64, customer: u64) -> Fetched {
        match self.profiles.get(&customer) {
            Some(v) => Fetched::present(v.clone()),
            None => Fetched::unavailable("no cloud profiles recorded"),
        }
    }

    async fn product(&self, _account: u64, product_id: &str) -> Fetched {
        match self.products.get(product_id) {
            Some(v) => Fetched::present(v.clone()),
            None => Fetched::unavailable(format!("product {product_id} was never recorded")),
        }
    }

    async fn customer_subscriptions(&self, _account: u64, customer: u64) -> Fetched {
        match self.subscriptions.get(&customer) {
            Some(v) => Fetched::present(v.clone()),
            None if self.unknown.contains(&customer) => Fetched::Absent,
            None => Fetched::unavailable("no subscriptions recorded"),
        }
    }

    async fn placed_orders(&self, _account: u64, customer: u64) -> Fetched {
        match self.orders.get(&customer) {
            Some(v) => Fetched::present(v.clone()),
            None if self.unknown.contains(&customer) => Fetched::Absent,
            None => Fetched::unavailable("no orders recorded"),
        }
    }
}

/// Outcome per rule id, for comparing two reports of the same data.
fn outcomes(report: &Report) -> Vec<(String, Outcome)> {
    report
        .results()
        .iter()
        .map(|r| (r.rule.clone(), r.outcome))
        .collect()
}

#[tokio::test]
async fn a_caller_defined_source_gives_the_reports_the_snapshot_gives() {
    let mine = Preflight::new(Source::custom(RecordedAnswers::demo()), RuleSet::builtin());
    let snapshot = Preflight::new(
        SnapshotSource::open(demo_dir()).expect("demo"),
        RuleSet::builtin(),
    );
    let mut verdicts = Vec::new();
    for customer in [2002, 2003, 2004, 9999] {
        let req = CheckRequest::new(ACCOUNT, customer).with_order(nce_order());
        let a = mine.check(req.clone()).await;
        let b = snapshot.check(req).await;
        assert_eq!(a.verdict(), b.verdict(), "customer {customer}");
        assert_eq!(outcomes(&a), outcomes(&b), "customer {customer}");
        verdicts.push(a.verdict());
    }
    // The demo's customers: active, inactive, no tenant yet, unknown.
    assert_eq!(
        verdicts,
        [
            Verdict::Ready,
            Verdict::Blocked,
            Verdict::Ready,
            Verdict::Blocked
        ]
    );
}

/// A cache in front of any source: each resource is asked of the inner
/// source once.
struct Cache {
    inner: Source,
    seen: Mutex<HashMap<String, Fetched>>,
    misses: Mutex<Vec<String>>,
}

impl Cache {
    async fn get(&self, key: String, fetch: impl Future<Output = Fetched>) -> Fetched {
        if let Some(hit) = self.seen.lock().expect("lock").get(&key) {
            return hit.clone();
        }
        let value = fetch.await;
        self.misses.lock().expect("lock").push(key.clone());
        self.seen.lock().expect("lock").insert(key, value.clone());
        value
    }
}

impl DataSource for Cache {
    async fn customer(&self, account: u64, customer: u64) -> Fetched {
        let key = format!("customer {customer}");
        self.get(key, self.inner.customer(account, customer)).await
    }

    async fn cloud_profiles(&self, account: u64, customer: u64) -> Fetched {
        let key = format!("profiles {customer}");
        self.get(key, self.inner.cloud_profiles(account, customer))
            .await
    }

    async fn product(&self, account: u64, product_id: &str) -> Fetched {
        let key = format!("product {product_id}");
        self.get(key, self.inner.product(account, product_id)).await
    }

    async fn subscriptions_with_id(&self, account: u64, id: &str) -> Fetched {
        let key = format!("subscription {id}");
        self.get(key, self.inner.subscriptions_with_id(account, id))
            .await
    }

    async fn customer_subscriptions(&self, account: u64, customer: u64) -> Fetched {
        let key = format!("subscriptions {customer}");
        self.get(key, self.inner.customer_subscriptions(account, customer))
            .await
    }

    async fn placed_orders(&self, account: u64, customer: u64) -> Fetched {
        let key = format!("orders {customer}");
        self.get(key, self.inner.placed_orders(account, customer))
            .await
    }
}

#[tokio::test]
async fn a_cache_in_front_of_a_snapshot_asks_it_once_per_resource() {
    let cache = std::sync::Arc::new(Cache {
        inner: SnapshotSource::open(demo_dir()).expect("demo").into(),
        seen: Mutex::new(HashMap::new()),
        misses: Mutex::new(Vec::new()),
    });
    // The preflight holds the cache; the test keeps a handle on its misses.
    struct Shared(std::sync::Arc<Cache>);
    impl DataSource for Shared {
        async fn customer(&self, a: u64, c: u64) -> Fetched {
            self.0.customer(a, c).await
        }
        async fn cloud_profiles(&self, a: u64, c: u64) -> Fetched {
            self.0.cloud_profiles(a, c).await
        }
        async fn product(&self, a: u64, p: &str) -> Fetched {
            self.0.product(a, p).await
        }
        async fn subscriptions_with_id(&self, a: u64, id: &str) -> Fetched {
            self.0.subscriptions_with_id(a, id).await
        }
        async fn customer_subscriptions(&self, a: u64, c: u64) -> Fetched {
            self.0.customer_subscriptions(a, c).await
        }
        async fn placed_orders(&self, a: u64, c: u64) -> Fetched {
            self.0.placed_orders(a, c).await
        }
    }
    let preflight = Preflight::new(
        Source::custom(Shared(std::sync::Arc::clone(&cache))),
        RuleSet::builtin(),
    );
    let req = CheckRequest::new(ACCOUNT, 2002).with_order(nce_order());
    let first = preflight.check(req.clone()).await;
    let misses_after_first = cache.misses.lock().expect("lock").len();
    let second = preflight.check(req).await;
    assert_eq!(first.verdict(), Verdict::Ready);
    assert_eq!(outcomes(&first), outcomes(&second));
    let mut misses = cache.misses.lock().expect("lock").clone();
    assert_eq!(
        misses.len(),
        misses_after_first,
        "the second check was served from the cache"
    );
    // What the rules read, once each: the customer, its cloud profiles, its
    // subscription and order scans (the order has CREATEs and no UPDATE, so
    // no subscription is looked up by id), and the details of the order's
    // products.
    let needs = RuleSet::builtin().needs();
    let mut expected = vec![
        "customer 2002".to_owned(),
        "profiles 2002".to_owned(),
        "subscriptions 2002".to_owned(),
        "orders 2002".to_owned(),
    ];
    if needs.products {
        expected.extend(
            ion_preflight::Context::new(ACCOUNT, 2002, jiff::Timestamp::now())
                .with_order(Some(nce_order()))
                .order_product_ids()
                .into_iter()
                .map(|p| format!("product {p}")),
        );
    }
    misses.sort();
    expected.sort();
    assert_eq!(misses, expected);
}

/// Knows nothing.
struct Blind;

impl DataSource for Blind {
    async fn customer(&self, _: u64, _: u64) -> Fetched {
        Fetched::unavailable("the store is offline")
    }
    async fn cloud_profiles(&self, _: u64, _: u64) -> Fetched {
        Fetched::unavailable("the store is offline")
    }
    async fn product(&self, _: u64, _: &str) -> Fetched {
        Fetched::unavailable("the store is offline")
    }
}

#[tokio::test]
async fn a_source_that_cannot_tell_makes_the_check_indeterminate() {
    let preflight = Preflight::new(Source::custom(Blind), RuleSet::builtin());
    let report = preflight
        .check(CheckRequest::new(ACCOUNT, 2002).with_order(nce_order()))
        .await;
    assert_eq!(report.verdict(), Verdict::Indeterminate);
    let errors: Vec<_> = report
        .results()
        .iter()
        .filter(|r| r.outcome == Outcome::Error)
        .collect();
    assert!(!errors.is_empty());
    assert!(
        errors.iter().any(|r| r
            .message
            .as_deref()
            .unwrap_or("")
            .contains("the store is offline")),
        "{errors:#?}"
    );
}

#[tokio::test]
async fn a_batch_over_a_source_that_cannot_list_stops_with_the_reason() {
    let preflight = Preflight::new(Source::custom(Blind), RuleSet::builtin());
    let ids = preflight.source().list_customers(ACCOUNT, 100);
    let ids = futures::StreamExt::map(ids, |c| c.map(|c| c.id().unwrap_or(0)));
    let mut out = NdjsonStream::new(Vec::new());
    let run = batch::run(
        ids,
        4,
        |c| preflight.check(CheckRequest::new(ACCOUNT, c)),
        &mut out,
        stream::pending(),
    )
    .await;
    assert!(
        matches!(run.stop, Some(Stop::Ids(SourceError::CannotList))),
        "{:?}",
        run.stop
    );
    assert_eq!(run.stats.total(), 0);
}

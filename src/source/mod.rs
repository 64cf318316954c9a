//! Where a check's data comes from: live ION, or a snapshot directory of
//! recorded ION responses.
//!
//! [`Source::fetch`] turns a [`CheckRequest`] into a [`Context`], fetching
//! only what the rule set [`Needs`] and fetching independent resources
//! concurrently: the customer, its cloud profiles and the details of every
//! distinct product of the order all at once. It never fails: a resource
//! that could not be obtained becomes [`Fetched::Unavailable`] with the
//! reason, and a resource ION says does not exist becomes
//! [`Fetched::Absent`].

mod new_customer;
pub mod snapshot;

use std::future::Future;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use tokio::time::Instant;

use crate::context::{Context, Fetched, Needs, order_product_ids};
use crate::ion::{IonClient, IonError, ListedCustomer};
use crate::preflight::CheckRequest;

pub use new_customer::{CustomerLookup, LOOKUP_STATUSES, record_new_customer};
pub use snapshot::{SnapshotError, SnapshotSource};

/// How many product-detail requests of one check run at once.
const PRODUCT_CONCURRENCY: usize = 16;

/// A check's data source.
#[derive(Clone, Debug)]
pub enum Source {
    /// The live ION API.
    Live(IonClient),
    /// A directory of recorded ION responses.
    Snapshot(SnapshotSource),
}

impl From<IonClient> for Source {
    fn from(client: IonClient) -> Self {
        Source::Live(client)
    }
}

impl From<SnapshotSource> for Source {
    fn from(snapshot: SnapshotSource) -> Self {
        Source::Snapshot(snapshot)
    }
}

/// Why listing customers failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// From live ION.
    #[error(transparent)]
    Ion(#[from] IonError),
    /// From a snapshot directory.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

impl Source {
    /// Fetches what `needs` says for `req` into a [`Context`]. Never fails;
    /// see the module documentation.
    pub async fn fetch(&self, req: &CheckRequest, needs: Needs) -> Context {
        self.fetch_within(req, needs, None).await
    }

    /// Like [`Source::fetch`], but every resource not obtained within
    /// `timeout` is [`Fetched::Unavailable`] ("did not answer within the
    /// check timeout"); resources already obtained are kept. The context
    /// shares `req`'s order body (an `Arc`), it does not copy it.
    pub async fn fetch_within(
        &self,
        req: &CheckRequest,
        needs: Needs,
        timeout: Option<Duration>,
    ) -> Context {
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        match self {
            Source::Live(client) => fetch_plan(&Live(client), req, needs, deadline).await,
            Source::Snapshot(snapshot) => fetch_plan(snapshot, req, needs, deadline).await,
        }
    }

    /// Every customer of `account`: from ION page by page (`page_size` per
    /// page), or from the snapshot's `accounts/{account}/customers.json`.
    pub fn list_customers(
        &self,
        account: u64,
        page_size: u32,
    ) -> BoxStream<'static, Result<ListedCustomer, SourceError>> {
        match self {
            Source::Live(client) => client
                .customers(account, page_size)
                .map_err(SourceError::from)
                .boxed(),
            Source::Snapshot(snapshot) => snapshot
                .customers(account)
                .map_err(SourceError::from)
                .boxed(),
        }
    }
}

/// One way of obtaining each resource (live or snapshot). Implementations
/// never fail: errors become [`Fetched::Unavailable`].
pub(crate) trait Backend: Sync {
    fn customer(&self, account: u64, customer: u64) -> impl Future<Output = Fetched> + Send;
    fn cloud_profiles(&self, account: u64, customer: u64) -> impl Future<Output = Fetched> + Send;
    fn product(&self, account: u64, product_id: &str) -> impl Future<Output = Fetched> + Send;
}

struct Live<'a>(&'a IonClient);

impl Backend for Live<'_> {
    async fn customer(&self, account: u64, customer: u64) -> Fetched {
        fetched(self.0.customer_json(account, customer).await, |v| v)
    }

    async fn cloud_profiles(&self, account: u64, customer: u64) -> Fetched {
        fetched(
            self.0.cloud_profiles_json(account, customer).await,
            profiles_array,
        )
    }

    async fn product(&self, account: u64, product_id: &str) -> Fetched {
        fetched(self.0.product_json(account, product_id).await, |v| v)
    }
}

fn fetched<T>(
    result: Result<Option<(T, Value)>, IonError>,
    map: impl FnOnce(Value) -> Value,
) -> Fetched {
    match result {
        Ok(Some((_, value))) => Fetched::present(map(value)),
        Ok(None) => Fetched::Absent,
        Err(e) => Fetched::unavailable(e.to_string()),
    }
}

/// The `customerCloudProfiles` array of a cloud-profiles body. ION omits
/// empty arrays, so a missing or null field is an empty array.
pub(crate) fn profiles_array(mut body: Value) -> Value {
    match body.get_mut("customerCloudProfiles").map(Value::take) {
        Some(Value::Null) | None => Value::Array(Vec::new()),
        Some(v) => v,
    }
}

async fn bounded(
    what: &str,
    deadline: Option<(Instant, Duration)>,
    fut: impl Future<Output = Fetched>,
) -> Fetched {
    match deadline {
        None => fut.await,
        Some((at, timeout)) => match tokio::time::timeout_at(at, fut).await {
            Ok(f) => f,
            Err(_) => {
                tracing::debug!(resource = what, "check timeout reached");
                Fetched::unavailable(format!(
                    "the {what} could not be obtained within the check timeout of {}s",
                    timeout.as_secs_f64()
                ))
            }
        },
    }
}

/// Fetches for `req`'s ids and time; the context shares `req`'s order body.
async fn fetch_plan<B: Backend>(
    backend: &B,
    req: &CheckRequest,
    needs: Needs,
    deadline: Option<(Instant, Duration)>,
) -> Context {
    let (account, customer) = (req.account_id, req.customer_id);
    let now = req.now.unwrap_or_else(jiff::Timestamp::now);
    let order = req.order.clone();
    let product_ids = if needs.products {
        order_product_ids(order.as_deref())
    } else {
        Vec::new()
    };
    let mut ctx = Context::new(account, customer, now).with_shared_order(order);

    let customer_fut = async {
        if needs.customer {
            Some(bounded("customer", deadline, backend.customer(account, customer)).await)
        } else {
            None
        }
    };
    let profiles_fut = async {
        if needs.cloud_profiles {
            Some(
                bounded(
                    "cloud profiles",
                    deadline,
                    backend.cloud_profiles(account, customer),
                )
                .await,
            )
        } else {
            None
        }
    };
    let products_fut = futures::stream::iter(product_ids)
        .map(move |id: String| async move {
            let what = format!("details of product {id}");
            let f = bounded(&what, deadline, backend.product(account, &id)).await;
            (id, f)
        })
        .buffer_unordered(PRODUCT_CONCURRENCY)
        .collect::<Vec<_>>();

    let (c, p, products) = tokio::join!(customer_fut, profiles_fut, products_fut);
    if let Some(c) = c {
        ctx = ctx.with_customer(c);
    }
    if let Some(p) = p {
        ctx = ctx.with_cloud_profiles(p);
    }
    for (id, f) in products {
        ctx = ctx.with_product(id, f);
    }
    ctx
}

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
//!
//! A caller plugs in a source of its own (a cache, a store of recorded
//! answers) by implementing [`DataSource`] and wrapping it with
//! [`Source::custom`].

mod cache;
mod lists;
mod new_customer;
mod snapshot;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use serde_json::Value;
use tokio::time::Instant;

use crate::context::{
    CheckRequest, Context, Fetched, Needs, order_product_ids, order_update_resource_ids,
};
use crate::ion::{IonClient, IonError, ListedCustomer};

pub use cache::{PRODUCT_CACHE_CAPACITY, PRODUCT_CACHE_TTL, ProductCache};
pub use lists::{
    CUSTOMER_SUBSCRIPTION_SCAN_LIMIT, ORDER_PAGE_SIZE, PLACED_ORDER_SCAN_LIMIT,
    SUBSCRIPTION_PAGE_SIZE,
};

pub use new_customer::{CustomerLookup, LOOKUP_STATUSES, record_new_customer};
pub use snapshot::{SnapshotError, SnapshotSource, record as record_snapshot};

/// How many product-detail (and subscription) requests of one check run
/// at once.
const PRODUCT_CONCURRENCY: usize = 16;

/// A check's data source.
#[derive(Clone)]
#[non_exhaustive]
pub enum Source {
    /// The live ION API.
    Live(IonClient),
    /// A directory of recorded ION responses.
    Snapshot(SnapshotSource),
    /// A caller's own [`DataSource`] (see [`Source::custom`]).
    Custom(CustomSource),
}

/// A caller's [`DataSource`], held by [`Source::Custom`].
#[derive(Clone)]
pub struct CustomSource(Arc<dyn ErasedSource>);

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Live(c) => f.debug_tuple("Live").field(c).finish(),
            Source::Snapshot(s) => f.debug_tuple("Snapshot").field(s).finish(),
            Source::Custom(s) => f.debug_tuple("Custom").field(&s.0.name()).finish(),
        }
    }
}

/// Where a check's ION resources come from, for callers with a source of
/// their own (a cache in front of ION, a store of recorded answers).
///
/// Each method returns the resource as [`Fetched`]: `Present` with the value
/// in ION's JSON shape, `Absent` when the source knows it does not exist,
/// `Unavailable` with a reason when it could not be obtained. Methods never
/// fail: a source that cannot tell must say `Unavailable`, so the rules that
/// read the resource come out `error` (fail closed), never `pass`.
///
/// ```
/// use ion_preflight::context::{CheckRequest, Fetched};
/// use ion_preflight::source::{DataSource, Source};
/// use ion_preflight::{Preflight, RuleSet, Verdict};
/// use serde_json::json;
///
/// /// Knows one active customer and nothing else.
/// #[derive(Debug)]
/// struct OneCustomer;
///
/// impl DataSource for OneCustomer {
///     async fn customer(&self, _account: u64, customer: u64) -> Fetched {
///         if customer == 2002 {
///             Fetched::present(json!({"id": "2002", "customerStatus": "ACTIVE"}))
///         } else {
///             Fetched::Absent
///         }
///     }
///     async fn cloud_profiles(&self, _account: u64, _customer: u64) -> Fetched {
///         Fetched::unavailable("this source keeps no cloud profiles")
///     }
///     async fn product(&self, _account: u64, _product_id: &str) -> Fetched {
///         Fetched::unavailable("this source keeps no catalog")
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let preflight = Preflight::new(Source::custom(OneCustomer), RuleSet::builtin());
/// let report = preflight.check(CheckRequest::new(1001, 9999)).await;
/// assert_eq!(report.verdict(), Verdict::Blocked); // ION's word: no such customer
/// # });
/// ```
pub trait DataSource: Send + Sync {
    /// The customer resource (`GET .../customers/{customer}`).
    fn customer(&self, account: u64, customer: u64) -> impl Future<Output = Fetched> + Send;
    /// The `customerCloudProfiles` array of the customer's cloud profiles
    /// (`GET .../customers/{customer}/cloudProfiles`).
    fn cloud_profiles(&self, account: u64, customer: u64) -> impl Future<Output = Fetched> + Send;
    /// One product's catalog details (`GET .../products/{product_id}`).
    fn product(&self, account: u64, product_id: &str) -> impl Future<Output = Fetched> + Send;
    /// The account's subscriptions whose provider id is `subscription_id`,
    /// as a JSON array (`items` of `GET .../subscriptions?subscriptionId=…`).
    /// The default says the source keeps none (unavailable: fail closed).
    fn subscriptions_with_id(
        &self,
        account: u64,
        subscription_id: &str,
    ) -> impl Future<Output = Fetched> + Send {
        let _ = (account, subscription_id);
        async { Fetched::unavailable("this data source keeps no subscriptions") }
    }
    /// The customer's subscriptions, `{subscriptions, scanned, limit,
    /// complete}` (the `customerSubscriptions` root). The default says the
    /// source keeps none.
    fn customer_subscriptions(
        &self,
        account: u64,
        customer: u64,
    ) -> impl Future<Output = Fetched> + Send {
        let _ = (account, customer);
        async { Fetched::unavailable("this data source keeps no subscriptions") }
    }
    /// The customer's orders already placed, newest first, `{orders,
    /// scanned, limit, complete}` (the `placedOrders` root). The default
    /// says the source keeps none.
    fn placed_orders(&self, account: u64, customer: u64) -> impl Future<Output = Fetched> + Send {
        let _ = (account, customer);
        async { Fetched::unavailable("this data source keeps no orders") }
    }
    /// Every customer of `account` (for batch checks). The default says the
    /// source cannot list them.
    fn list_customers(
        &self,
        account: u64,
        page_size: u32,
    ) -> BoxStream<'static, Result<ListedCustomer, SourceError>> {
        let _ = (account, page_size);
        futures::stream::once(async { Err(SourceError::CannotList) }).boxed()
    }
    /// A name for logs and `Debug` (the type's name by default).
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// [`DataSource`] with boxed futures, so a [`Source`] can hold any of them.
trait ErasedSource: Send + Sync {
    fn customer(&self, account: u64, customer: u64) -> BoxFuture<'_, Fetched>;
    fn cloud_profiles(&self, account: u64, customer: u64) -> BoxFuture<'_, Fetched>;
    fn product<'a>(&'a self, account: u64, product_id: &'a str) -> BoxFuture<'a, Fetched>;
    fn subscriptions_with_id<'a>(&'a self, account: u64, id: &'a str) -> BoxFuture<'a, Fetched>;
    fn customer_subscriptions(&self, account: u64, customer: u64) -> BoxFuture<'_, Fetched>;
    fn placed_orders(&self, account: u64, customer: u64) -> BoxFuture<'_, Fetched>;
    fn list_customers(
        &self,
        account: u64,
        page_size: u32,
    ) -> BoxStream<'static, Result<ListedCustomer, SourceError>>;
    fn name(&self) -> &str;
}

impl<T: DataSource> ErasedSource for T {
    fn customer(&self, account: u64, customer: u64) -> BoxFuture<'_, Fetched> {
        DataSource::customer(self, account, customer).boxed()
    }
    fn cloud_profiles(&self, account: u64, customer: u64) -> BoxFuture<'_, Fetched> {
        DataSource::cloud_profiles(self, account, customer).boxed()
    }
    fn product<'a>(&'a self, account: u64, product_id: &'a str) -> BoxFuture<'a, Fetched> {
        DataSource::product(self, account, product_id).boxed()
    }
    fn subscriptions_with_id<'a>(&'a self, account: u64, id: &'a str) -> BoxFuture<'a, Fetched> {
        DataSource::subscriptions_with_id(self, account, id).boxed()
    }
    fn customer_subscriptions(&self, account: u64, customer: u64) -> BoxFuture<'_, Fetched> {
        DataSource::customer_subscriptions(self, account, customer).boxed()
    }
    fn placed_orders(&self, account: u64, customer: u64) -> BoxFuture<'_, Fetched> {
        DataSource::placed_orders(self, account, customer).boxed()
    }
    fn list_customers(
        &self,
        account: u64,
        page_size: u32,
    ) -> BoxStream<'static, Result<ListedCustomer, SourceError>> {
        DataSource::list_customers(self, account, page_size)
    }
    fn name(&self) -> &str {
        DataSource::name(self)
    }
}

impl Source {
    /// A source backed by the caller's own [`DataSource`] (see its example).
    pub fn custom(source: impl DataSource + 'static) -> Self {
        Source::Custom(CustomSource(Arc::new(source)))
    }

    /// Why live ION definitely rejected the credentials, once it has
    /// ([`IonClient::credentials_rejected`]); `None` for other sources.
    pub fn credentials_rejected(&self) -> Option<&str> {
        match self {
            Source::Live(client) => client.credentials_rejected(),
            _ => None,
        }
    }
}

/// A `Source` is a data source too, so a caller's source can wrap live ION
/// or a snapshot (a cache in front of either).
impl DataSource for Source {
    async fn customer(&self, account: u64, customer: u64) -> Fetched {
        match self {
            Source::Live(client) => DataSource::customer(&Live(client), account, customer).await,
            Source::Snapshot(s) => DataSource::customer(s, account, customer).await,
            Source::Custom(c) => c.0.customer(account, customer).await,
        }
    }

    async fn cloud_profiles(&self, account: u64, customer: u64) -> Fetched {
        match self {
            Source::Live(client) => {
                DataSource::cloud_profiles(&Live(client), account, customer).await
            }
            Source::Snapshot(s) => DataSource::cloud_profiles(s, account, customer).await,
            Source::Custom(c) => c.0.cloud_profiles(account, customer).await,
        }
    }

    async fn product(&self, account: u64, product_id: &str) -> Fetched {
        match self {
            Source::Live(client) => DataSource::product(&Live(client), account, product_id).await,
            Source::Snapshot(s) => DataSource::product(s, account, product_id).await,
            Source::Custom(c) => c.0.product(account, product_id).await,
        }
    }

    async fn subscriptions_with_id(&self, account: u64, id: &str) -> Fetched {
        match self {
            Source::Live(client) => {
                DataSource::subscriptions_with_id(&Live(client), account, id).await
            }
            Source::Snapshot(s) => DataSource::subscriptions_with_id(s, account, id).await,
            Source::Custom(c) => c.0.subscriptions_with_id(account, id).await,
        }
    }

    async fn customer_subscriptions(&self, account: u64, customer: u64) -> Fetched {
        match self {
            Source::Live(client) => {
                DataSource::customer_subscriptions(&Live(client), account, customer).await
            }
            Source::Snapshot(s) => DataSource::customer_subscriptions(s, account, customer).await,
            Source::Custom(c) => c.0.customer_subscriptions(account, customer).await,
        }
    }

    async fn placed_orders(&self, account: u64, customer: u64) -> Fetched {
        match self {
            Source::Live(client) => {
                DataSource::placed_orders(&Live(client), account, customer).await
            }
            Source::Snapshot(s) => DataSource::placed_orders(s, account, customer).await,
            Source::Custom(c) => c.0.placed_orders(account, customer).await,
        }
    }

    fn list_customers(
        &self,
        account: u64,
        page_size: u32,
    ) -> BoxStream<'static, Result<ListedCustomer, SourceError>> {
        Source::list_customers(self, account, page_size)
    }

    fn name(&self) -> &str {
        match self {
            Source::Live(_) => "live ION",
            Source::Snapshot(_) => "snapshot",
            Source::Custom(c) => c.0.name(),
        }
    }
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
    /// A caller's [`DataSource`] that cannot list customers.
    #[error("this data source cannot list customers")]
    CannotList,
    /// From a caller's [`DataSource`].
    #[error("{0}")]
    Other(String),
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
        self.fetch_with(req, needs, timeout, None).await
    }

    /// Like [`Source::fetch_within`], with catalog products taken from (and
    /// kept in) `cache`, shared by every check that uses it (see
    /// [`ProductCache`] for what is kept and how long).
    pub async fn fetch_cached(
        &self,
        req: &CheckRequest,
        needs: Needs,
        timeout: Option<Duration>,
        cache: &ProductCache,
    ) -> Context {
        self.fetch_with(req, needs, timeout, Some(cache)).await
    }

    async fn fetch_with(
        &self,
        req: &CheckRequest,
        needs: Needs,
        timeout: Option<Duration>,
        cache: Option<&ProductCache>,
    ) -> Context {
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        let cached = cache.map(|c| (c, self));
        match self {
            Source::Live(client) => fetch_plan(&Live(client), req, needs, deadline, cached).await,
            Source::Snapshot(snapshot) => fetch_plan(snapshot, req, needs, deadline, cached).await,
            Source::Custom(custom) => {
                fetch_plan(&Erased(&*custom.0), req, needs, deadline, cached).await
            }
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
            Source::Custom(custom) => custom.0.list_customers(account, page_size),
        }
    }
}

struct Live<'a>(&'a IonClient);

struct Erased<'a>(&'a dyn ErasedSource);

impl DataSource for Erased<'_> {
    async fn customer(&self, account: u64, customer: u64) -> Fetched {
        self.0.customer(account, customer).await
    }
    async fn cloud_profiles(&self, account: u64, customer: u64) -> Fetched {
        self.0.cloud_profiles(account, customer).await
    }
    async fn product(&self, account: u64, product_id: &str) -> Fetched {
        self.0.product(account, product_id).await
    }
    async fn subscriptions_with_id(&self, account: u64, id: &str) -> Fetched {
        self.0.subscriptions_with_id(account, id).await
    }
    async fn customer_subscriptions(&self, account: u64, customer: u64) -> Fetched {
        self.0.customer_subscriptions(account, customer).await
    }
    async fn placed_orders(&self, account: u64, customer: u64) -> Fetched {
        self.0.placed_orders(account, customer).await
    }
}

impl DataSource for Live<'_> {
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

    async fn subscriptions_with_id(&self, account: u64, id: &str) -> Fetched {
        let body = lists::subscriptions_with_id(self.0, account, id).await;
        fetched(body.map(|b| b.map(|b| ((), b))), |b| {
            lists::subscription_items(&b)
        })
    }

    async fn customer_subscriptions(&self, account: u64, customer: u64) -> Fetched {
        match lists::scan_customer_subscriptions(self.0, account, customer).await {
            Ok(Some(body)) => lists::subscription_scan(&body),
            Ok(None) => Fetched::Absent,
            Err(e) => Fetched::unavailable(e.to_string()),
        }
    }

    async fn placed_orders(&self, account: u64, customer: u64) -> Fetched {
        match lists::scan_placed_orders(self.0, account, customer).await {
            Ok(Some(body)) => lists::order_scan(&body),
            Ok(None) => Fetched::Absent,
            Err(e) => Fetched::unavailable(e.to_string()),
        }
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
/// Everything is requested at once: the customer, its profiles, every
/// distinct product, every distinct subscription an UPDATE names, and the
/// customer's subscription and order scans. With `cached`, products come
/// through the cache (an owned clone of the source does the fetching, so
/// the request can outlive this check for the others waiting on it).
async fn fetch_plan<B: DataSource>(
    backend: &B,
    req: &CheckRequest,
    needs: Needs,
    deadline: Option<(Instant, Duration)>,
    cached: Option<(&ProductCache, &Source)>,
) -> Context {
    let (account, customer) = (req.account_id, req.customer_id);
    let now = req.now.unwrap_or_else(jiff::Timestamp::now);
    let order = req.order.clone();
    let has_order = order.is_some();
    let product_ids = if needs.products {
        order_product_ids(order.as_deref())
    } else {
        Vec::new()
    };
    let subscription_ids = if needs.subscriptions {
        order_update_resource_ids(order.as_deref())
    } else {
        Vec::new()
    };
    let mut ctx = Context::new(account, customer, now).with_shared_order(order);

    let optional = |wanted: bool, what: &'static str, fut| async move {
        if wanted {
            Some(bounded(what, deadline, fut).await)
        } else {
            None
        }
    };
    let customer_fut = optional(
        needs.customer,
        "customer",
        backend.customer(account, customer).boxed(),
    );
    let profiles_fut = optional(
        needs.cloud_profiles,
        "cloud profiles",
        backend.cloud_profiles(account, customer).boxed(),
    );
    // The scans are for an order: a check without one reads none of them.
    let subs_scan_fut = optional(
        needs.customer_subscriptions && has_order,
        "customer's subscriptions",
        backend.customer_subscriptions(account, customer).boxed(),
    );
    let orders_fut = optional(
        needs.placed_orders && has_order,
        "customer's placed orders",
        backend.placed_orders(account, customer).boxed(),
    );
    let products_fut = futures::stream::iter(product_ids)
        .map(move |id: String| async move {
            let what = format!("details of product {id}");
            let fut = match cached {
                Some((cache, source)) => {
                    let source = source.clone();
                    let owned = id.clone();
                    cache
                        .get_or_fetch(account, &id, move || {
                            async move { DataSource::product(&source, account, &owned).await }
                                .boxed()
                        })
                        .boxed()
                }
                None => backend.product(account, &id).boxed(),
            };
            let f = bounded(&what, deadline, fut).await;
            (id, f)
        })
        .buffer_unordered(PRODUCT_CONCURRENCY)
        .collect::<Vec<_>>();
    let subscriptions_fut = futures::stream::iter(subscription_ids)
        .map(move |id: String| async move {
            let what = format!("subscriptions with id {id}");
            let f = bounded(&what, deadline, backend.subscriptions_with_id(account, &id)).await;
            (id, f)
        })
        .buffer_unordered(PRODUCT_CONCURRENCY)
        .collect::<Vec<_>>();

    let (c, p, s, o, products, subscriptions) = tokio::join!(
        customer_fut,
        profiles_fut,
        subs_scan_fut,
        orders_fut,
        products_fut,
        subscriptions_fut
    );
    if let Some(c) = c {
        ctx = ctx.with_customer(c);
    }
    if let Some(p) = p {
        ctx = ctx.with_cloud_profiles(p);
    }
    if let Some(s) = s {
        ctx = ctx.with_customer_subscriptions(s);
    }
    if let Some(o) = o {
        ctx = ctx.with_placed_orders(o);
    }
    for (id, f) in products {
        ctx = ctx.with_product(id, f);
    }
    for (id, f) in subscriptions {
        ctx = ctx.with_subscription(id, f);
    }
    ctx
}

//! Snapshot directories: recorded ION responses, replayed offline.
//!
//! The layout mirrors ION's API paths (documented in `docs/snapshot.md`):
//!
//! ```text
//! DIR/snapshot.json                                                  marks the directory
//! DIR/accounts/{accountId}/customers/{customerId}.json               GET customer body
//! DIR/accounts/{accountId}/customers/{customerId}/cloudProfiles.json GET cloudProfiles body
//! DIR/accounts/{accountId}/products/{productId}.json                 GET product body
//! DIR/accounts/{accountId}/customers.json                            ListCustomers body (optional)
//! DIR/accounts/{accountId}/subscriptions/{subscriptionId}.json       GET subscriptions?subscriptionId= body
//! DIR/accounts/{accountId}/customers/{customerId}/subscriptions.json the customer's subscriptions, as one ListSubscriptions body
//! DIR/accounts/{accountId}/customers/{customerId}/orders.json        the customer's orders, as one ListOrdersResponse body
//! ```
//!
//! Every resource has two possible records: `NAME.json`, the body ION
//! returned, or `NAME.404.json`, ION's 404 (the resource does not exist),
//! with when it was recorded. A resource with neither was not recorded: it
//! is unavailable, never taken for absent (offline, nothing answered). A
//! file that is not JSON, or not in the resource's shape, makes that
//! resource unavailable, with the file and the line and column.

use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{DataSource, lists, profiles_array};
use crate::context::{CheckRequest, Fetched, Needs, order_product_ids, order_update_resource_ids};
use crate::ion::{
    Customer, CustomerCloudProfiles, CustomerPage, IonClient, IonError, ListedCustomer, OrderPage,
    Product, SubscriptionPage,
};

/// A snapshot directory opened for reading.
#[derive(Clone, Debug)]
pub struct SnapshotSource {
    root: PathBuf,
}

/// The file that marks a directory as a snapshot, written by every
/// recording.
pub const MARKER_FILE: &str = "snapshot.json";

/// A snapshot problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot directory does not exist or is not a directory.
    #[error("snapshot directory {} does not exist or is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The directory exists but holds no snapshot: no `snapshot.json` and
    /// no `accounts/` directory.
    #[error(
        "{} is not a snapshot directory (it has no {MARKER_FILE} and no accounts/ directory); record one with `ion-preflight snapshot --out DIR`",
        path.display()
    )]
    NotASnapshot {
        /// The path.
        path: PathBuf,
    },
    /// The directory's `snapshot.json` is not one this release reads.
    #[error(
        "{} is not a snapshot marker this release reads: {reason}",
        path.display()
    )]
    Marker {
        /// The marker file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Both records of one resource exist: its body and ION's 404.
    #[error(
        "the snapshot contradicts itself: both {} (a body) and {} (ION's 404) are recorded for one resource; remove the wrong one or re-record it with `ion-preflight snapshot`",
        body.display(),
        not_found.display()
    )]
    Contradictory {
        /// The body record.
        body: PathBuf,
        /// The 404 record.
        not_found: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read snapshot file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not JSON, or not in the expected shape.
    #[error("snapshot file {}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The snapshot has no customer listing for the account.
    #[error(
        "snapshot has no customer listing {} (record one, or list customer ids in a file instead)",
        path.display()
    )]
    NoListing {
        /// The expected file.
        path: PathBuf,
    },
    /// A file could not be written while recording.
    #[error("cannot write snapshot file {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Recording failed because ION could not be read.
    #[error("cannot record the snapshot: {0}")]
    Ion(#[from] IonError),
}

impl SnapshotSource {
    /// Opens the snapshot directory `dir` (nothing is read until a fetch).
    /// A directory that is not a snapshot (no `snapshot.json`, no
    /// `accounts/`) is refused: every read from it would be "not recorded".
    ///
    /// ```
    /// use ion_preflight::{CheckRequest, Preflight, RuleSet, SnapshotSource, Verdict};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let preflight = Preflight::new(SnapshotSource::open("fixtures/demo")?, RuleSet::builtin());
    /// let report = preflight.check(CheckRequest::new(1001, 2003)).await;
    /// assert_eq!(report.verdict(), Verdict::Blocked); // customer 2003 is inactive
    /// assert!(SnapshotSource::open("no/such/dir").is_err());
    /// assert!(SnapshotSource::open("docs").is_err()); // a directory, not a snapshot
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn open(dir: impl Into<PathBuf>) -> Result<SnapshotSource, SnapshotError> {
        let root = dir.into();
        if !root.is_dir() {
            return Err(SnapshotError::NotADirectory { path: root });
        }
        let marker = root.join(MARKER_FILE);
        if !marker.is_file() && !root.join("accounts").is_dir() {
            return Err(SnapshotError::NotASnapshot { path: root });
        }
        if marker.exists() {
            check_marker(&marker)?;
        }
        Ok(SnapshotSource { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every customer in `accounts/{account}/customers.json`.
    pub fn customers(
        &self,
        account: u64,
    ) -> impl Stream<Item = Result<ListedCustomer, SnapshotError>> + Send + 'static {
        let path = listing_path(&self.root, account);
        futures::stream::once(async move {
            let items: Vec<Result<ListedCustomer, SnapshotError>> =
                match read_resource::<CustomerPage>(&path).await {
                    Ok(Some((page, _))) => page
                        .customers
                        .unwrap_or_default()
                        .into_iter()
                        .map(Ok)
                        .collect(),
                    Ok(None) => vec![Err(SnapshotError::NoListing { path })],
                    Err(e) => vec![Err(e)],
                };
            futures::stream::iter(items)
        })
        .flatten()
    }
}

/// The format version of the snapshots this release writes and reads.
pub const SNAPSHOT_VERSION: u64 = 1;

/// Checks the `snapshot.json`: a JSON object whose `ion_preflight_snapshot`
/// is [`SNAPSHOT_VERSION`]. Anything else (not JSON, another version) is
/// refused rather than read as if it were this format.
fn check_marker(path: &Path) -> Result<(), SnapshotError> {
    let marker_error = |reason: String| SnapshotError::Marker {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let value: Value = serde_json::from_str(text).map_err(|e| {
        marker_error(format!(
            "not JSON (line {}, column {}: {})",
            e.line(),
            e.column(),
            strip_location(&e.to_string())
        ))
    })?;
    let Some(object) = value.as_object() else {
        return Err(marker_error(
            "it is not a JSON object (expected {\"ion_preflight_snapshot\": 1, …})".to_owned(),
        ));
    };
    match object.get("ion_preflight_snapshot") {
        Some(Value::Number(n)) if n.as_u64() == Some(SNAPSHOT_VERSION) => Ok(()),
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v > SNAPSHOT_VERSION) => {
            Err(marker_error(format!(
                "snapshot format version {n}; this release reads version {SNAPSHOT_VERSION} (upgrade ion-preflight)"
            )))
        }
        Some(Value::Number(n)) => Err(marker_error(format!(
            "unknown snapshot format version {n} (this release reads version {SNAPSHOT_VERSION})"
        ))),
        Some(_) => Err(marker_error(format!(
            "\"ion_preflight_snapshot\" must be the number {SNAPSHOT_VERSION}"
        ))),
        None => Err(marker_error(
            "it has no \"ion_preflight_snapshot\" version".to_owned(),
        )),
    }
}

pub(crate) fn account_dir(root: &Path, account: u64) -> PathBuf {
    root.join("accounts").join(account.to_string())
}

/// `DIR/accounts/{a}/customers/{c}.json`.
pub(crate) fn customer_path(root: &Path, account: u64, customer: u64) -> PathBuf {
    account_dir(root, account)
        .join("customers")
        .join(format!("{customer}.json"))
}

/// `DIR/accounts/{a}/customers/{c}/cloudProfiles.json`.
pub(crate) fn cloud_profiles_path(root: &Path, account: u64, customer: u64) -> PathBuf {
    account_dir(root, account)
        .join("customers")
        .join(customer.to_string())
        .join("cloudProfiles.json")
}

/// `DIR/accounts/{a}/products/{productId}.json`, with the product id made
/// safe as a file name: every byte outside `A-Z a-z 0-9 - _ .` is
/// percent-encoded, and so is a leading dot.
pub(crate) fn product_path(root: &Path, account: u64, product_id: &str) -> PathBuf {
    account_dir(root, account)
        .join("products")
        .join(format!("{}.json", file_name_for(product_id)))
}

/// `DIR/accounts/{a}/subscriptions/{subscriptionId}.json` (the id made safe
/// as a file name, as product ids are).
pub(crate) fn subscription_path(root: &Path, account: u64, subscription_id: &str) -> PathBuf {
    account_dir(root, account)
        .join("subscriptions")
        .join(format!("{}.json", file_name_for(subscription_id)))
}

/// `DIR/accounts/{a}/customers/{c}/subscriptions.json`.
pub(crate) fn customer_subscriptions_path(root: &Path, account: u64, customer: u64) -> PathBuf {
    account_dir(root, account)
        .join("customers")
        .join(customer.to_string())
        .join("subscriptions.json")
}

/// `DIR/accounts/{a}/customers/{c}/orders.json`.
pub(crate) fn placed_orders_path(root: &Path, account: u64, customer: u64) -> PathBuf {
    account_dir(root, account)
        .join("customers")
        .join(customer.to_string())
        .join("orders.json")
}

/// `DIR/accounts/{a}/customers.json`.
pub(crate) fn listing_path(root: &Path, account: u64) -> PathBuf {
    account_dir(root, account).join("customers.json")
}

pub(crate) fn file_name_for(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for (i, b) in id.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    // `X.404` would collide with the 404 record of `X` (`X.404.json`).
    if let Some(stem) = out.strip_suffix(".404") {
        out = format!("{stem}%2E404");
    }
    out
}

/// Where ION's 404 for the resource recorded at `path` (`NAME.json`) is
/// recorded: `NAME.404.json`. Generic, so every resource (and any recorded
/// later) has one.
pub(crate) fn not_found_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.404.json"))
}

/// What a snapshot recorded for one resource.
#[derive(Debug)]
pub(crate) enum Recorded<T> {
    /// ION's body, typed and as it came.
    Body(T, Value),
    /// ION answered 404 when the snapshot was recorded.
    NotFound,
    /// Nothing was recorded for this resource.
    Nothing,
}

/// Reads what the snapshot recorded for the resource at `path`: its body,
/// ION's 404 (`NAME.404.json`), or nothing.
pub(crate) async fn read_recorded<T: DeserializeOwned + Send + 'static>(
    path: &Path,
) -> Result<Recorded<T>, SnapshotError> {
    off_the_runtime(path, read_recorded_now).await
}

fn read_recorded_now<T: DeserializeOwned>(path: &Path) -> Result<Recorded<T>, SnapshotError> {
    let not_found = not_found_path(path);
    if let Some(text) = read_text(path)? {
        // Both records for one resource: neither can be trusted.
        if not_found.try_exists().unwrap_or(false) {
            return Err(SnapshotError::Contradictory {
                body: path.to_owned(),
                not_found,
            });
        }
        let (typed, value) = parse_resource::<T>(path, &text)?;
        return Ok(Recorded::Body(typed, value));
    }
    let Some(text) = read_text(&not_found)? else {
        return Ok(Recorded::Nothing);
    };
    match parse_resource::<NotFoundRecord>(&not_found, &text)? {
        (record, _) if record.status == 404 => Ok(Recorded::NotFound),
        (record, _) => Err(SnapshotError::Parse {
            path: not_found,
            line: 1,
            column: 1,
            message: format!(
                "a 404 record must say \"status\": 404, not {}",
                record.status
            ),
        }),
    }
}

/// Runs `read` of the snapshot file at `path` where it costs least: inline
/// on a current-thread runtime (a one-check command: the read takes
/// microseconds, and a blocking thread for it would take longer to start),
/// on the blocking pool of a multi-thread runtime (a worker serving other
/// checks must not wait on a disk).
async fn off_the_runtime<R: Send + 'static>(
    path: &Path,
    read: fn(&Path) -> Result<R, SnapshotError>,
) -> Result<R, SnapshotError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let on_pool =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() != RuntimeFlavor::CurrentThread);
    if !on_pool {
        return read(path);
    }
    let owned = path.to_owned();
    match tokio::task::spawn_blocking(move || read(&owned)).await {
        Ok(result) => result,
        Err(e) => Err(SnapshotError::Read {
            path: path.to_owned(),
            source: std::io::Error::other(format!("the read did not finish: {e}")),
        }),
    }
}

/// The content of a `NAME.404.json` record.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct NotFoundRecord {
    /// Always 404.
    status: u16,
    /// When ION answered (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recorded_at: Option<String>,
}

/// Reads a recorded resource: `Ok(None)` when the file does not exist.
pub(crate) async fn read_resource<T: DeserializeOwned + Send + 'static>(
    path: &Path,
) -> Result<Option<(T, Value)>, SnapshotError> {
    off_the_runtime(path, |path| match read_text(path)? {
        Some(text) => parse_resource(path, &text).map(Some),
        None => Ok(None),
    })
    .await
}

/// A snapshot file's text: `Ok(None)` when the file does not exist.
///
/// Only a regular file is read: opening a named pipe would wait for a
/// writer, and on a current-thread runtime (where the read runs inline) no
/// timeout could end that wait.
fn read_text(path: &Path) -> Result<Option<String>, SnapshotError> {
    let read_error = |source| SnapshotError::Read {
        path: path.to_owned(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(read_error(std::io::Error::other("not a regular file"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    }
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_error(e)),
    }
}

/// A recorded resource, typed and as it came.
fn parse_resource<T: DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<(T, Value), SnapshotError> {
    let parse_error = |e: serde_json::Error| SnapshotError::Parse {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_location(&e.to_string()),
    };
    let value: Value = serde_json::from_str(text).map_err(parse_error)?;
    let typed: T = serde_json::from_str(text).map_err(parse_error)?;
    Ok((typed, value))
}

/// serde_json appends " at line L column C"; the error shows them already.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The fetched value of a recorded resource: present, absent (a recorded
/// 404), or unavailable (not recorded, or a broken file). `what` names the
/// resource ("customer 2002 of account 1001") for the message.
fn snapshot_fetched<T>(
    result: Result<Recorded<T>, SnapshotError>,
    what: &str,
    path: &Path,
    map: impl FnOnce(Value) -> Value,
) -> Fetched {
    match result {
        Ok(Recorded::Body(_, v)) => Fetched::present(map(v)),
        Ok(Recorded::NotFound) => Fetched::Absent,
        Ok(Recorded::Nothing) => Fetched::unavailable(format!(
            "the snapshot holds no {what} (no {}, and no 404 recorded for it; `ion-preflight snapshot` records both)",
            path.display()
        )),
        Err(e) => Fetched::unavailable(e.to_string()),
    }
}

impl DataSource for SnapshotSource {
    async fn customer(&self, account: u64, customer: u64) -> Fetched {
        let path = customer_path(&self.root, account, customer);
        let what = format!("customer {customer} of account {account}");
        snapshot_fetched(read_recorded::<Customer>(&path).await, &what, &path, |v| v)
    }

    async fn cloud_profiles(&self, account: u64, customer: u64) -> Fetched {
        let path = cloud_profiles_path(&self.root, account, customer);
        let what = format!("cloud profiles of customer {customer} of account {account}");
        snapshot_fetched(
            read_recorded::<CustomerCloudProfiles>(&path).await,
            &what,
            &path,
            profiles_array,
        )
    }

    async fn product(&self, account: u64, product_id: &str) -> Fetched {
        // Refused as the live client refuses it: the same answer offline.
        if let Err(e) = crate::ion::check_product_id(product_id) {
            return Fetched::unavailable(e.to_string());
        }
        let path = product_path(&self.root, account, product_id);
        let what = format!("product {product_id} of account {account}");
        snapshot_fetched(read_recorded::<Product>(&path).await, &what, &path, |v| v)
    }

    async fn subscriptions_with_id(&self, account: u64, id: &str) -> Fetched {
        let path = subscription_path(&self.root, account, id);
        let what = format!("subscriptions with id {id} of account {account}");
        snapshot_fetched(
            read_recorded::<SubscriptionPage>(&path).await,
            &what,
            &path,
            |v| lists::subscription_items(&v),
        )
    }

    async fn customer_subscriptions(&self, account: u64, customer: u64) -> Fetched {
        let path = customer_subscriptions_path(&self.root, account, customer);
        let what = format!("subscriptions of customer {customer} of account {account}");
        match snapshot_fetched(
            read_recorded::<SubscriptionPage>(&path).await,
            &what,
            &path,
            |v| v,
        ) {
            Fetched::Present { value } => lists::subscription_scan(&value),
            other => other,
        }
    }

    async fn placed_orders(&self, account: u64, customer: u64) -> Fetched {
        let path = placed_orders_path(&self.root, account, customer);
        let what = format!("orders of customer {customer} of account {account}");
        match snapshot_fetched(read_recorded::<OrderPage>(&path).await, &what, &path, |v| v) {
            Fetched::Present { value } => lists::order_scan(&value),
            other => other,
        }
    }

    fn list_customers(
        &self,
        account: u64,
        _page_size: u32,
    ) -> futures::stream::BoxStream<'static, Result<ListedCustomer, super::SourceError>> {
        self.customers(account)
            .map(|r| r.map_err(super::SourceError::from))
            .boxed()
    }

    fn name(&self) -> &str {
        "snapshot"
    }
}

/// Records, from live ION, the responses a check of `req` reads (per
/// `needs`) into the snapshot directory `dir`, creating it if needed.
/// Returns the files written. A resource ION says does not exist is
/// recorded as such (`NAME.404.json`, with the time), replacing a body
/// recorded earlier; any other failure aborts the recording. Every
/// recording (re)writes the directory's `snapshot.json`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use ion_preflight::{CheckRequest, IonClient, RuleSet, source::record_snapshot};
/// let client = IonClient::from_env()?;
/// let req = CheckRequest::new(1001, 2002);
/// let written = record_snapshot(&client, &req, RuleSet::builtin().needs(), "case-4711").await?;
/// println!("{} files recorded", written.len());
/// # Ok(()) }
/// ```
pub async fn record(
    client: &IonClient,
    req: &CheckRequest,
    needs: Needs,
    dir: impl AsRef<Path>,
) -> Result<Vec<PathBuf>, SnapshotError> {
    let root = dir.as_ref();
    let (a, c) = (req.account_id, req.customer_id);
    let product_ids = if needs.products {
        order_product_ids(req.order.as_deref())
    } else {
        Vec::new()
    };
    let customer = async {
        if needs.customer {
            client
                .customer_json(a, c)
                .await
                .map(|r| Some((customer_path(root, a, c), r.map(|(_, v)| v))))
        } else {
            Ok(None)
        }
    };
    let profiles = async {
        if needs.cloud_profiles {
            client
                .cloud_profiles_json(a, c)
                .await
                .map(|r| Some((cloud_profiles_path(root, a, c), r.map(|(_, v)| v))))
        } else {
            Ok(None)
        }
    };
    let products = futures::future::try_join_all(product_ids.iter().map(|id| async move {
        client
            .product_json(a, id)
            .await
            .map(|r| (product_path(root, a, id), r.map(|(_, v)| v)))
    }));
    let subscription_ids = if needs.subscriptions {
        order_update_resource_ids(req.order.as_deref())
    } else {
        Vec::new()
    };
    let subscriptions =
        futures::future::try_join_all(subscription_ids.iter().map(|id| async move {
            lists::subscriptions_with_id(client, a, id)
                .await
                .map(|r| (subscription_path(root, a, id), r))
        }));
    // The scans are recorded for an order, as a check reads them.
    let has_order = req.order.is_some();
    let customer_subscriptions = async {
        if needs.customer_subscriptions && has_order {
            lists::scan_customer_subscriptions(client, a, c)
                .await
                .map(|r| Some((customer_subscriptions_path(root, a, c), r)))
        } else {
            Ok(None)
        }
    };
    let placed_orders = async {
        if needs.placed_orders && has_order {
            lists::scan_placed_orders(client, a, c)
                .await
                .map(|r| Some((placed_orders_path(root, a, c), r)))
        } else {
            Ok(None)
        }
    };
    let (customer, profiles, products, subscriptions, customer_subscriptions, placed_orders) = futures::try_join!(
        customer,
        profiles,
        products,
        subscriptions,
        customer_subscriptions,
        placed_orders
    )?;

    let recorded_at = jiff::Timestamp::now().to_string();
    let mut written = Vec::new();
    for (path, body) in customer
        .into_iter()
        .chain(profiles)
        .chain(products)
        .chain(subscriptions)
        .chain(customer_subscriptions)
        .chain(placed_orders)
    {
        written.push(write_recorded(&path, body.as_ref(), &recorded_at).await?);
    }
    write_marker(root, &recorded_at).await?;
    Ok(written)
}

/// Records ION's answer for the resource at `path`: the body into
/// `NAME.json`, or a 404 (`body` is `None`) into `NAME.404.json`; the other
/// record is removed, so re-recording into a directory stays truthful.
/// Returns the file written.
pub(crate) async fn write_recorded(
    path: &Path,
    body: Option<&Value>,
    recorded_at: &str,
) -> Result<PathBuf, SnapshotError> {
    let not_found = not_found_path(path);
    let (target, stale, content) = match body {
        Some(body) => (path.to_owned(), not_found, body.clone()),
        None => {
            let record = NotFoundRecord {
                status: 404,
                recorded_at: Some(recorded_at.to_owned()),
            };
            let value = serde_json::to_value(record).map_err(|e| SnapshotError::Write {
                path: not_found.clone(),
                source: std::io::Error::other(e),
            })?;
            (not_found, path.to_owned(), value)
        }
    };
    write_json(&target, &content).await?;
    // The other record goes only when it is older than the one just
    // written: two recordings racing (one saw the body, the other the 404)
    // can then never both remove the other's file and leave neither. (Equal
    // times leave both: the reader calls that a contradiction, truthfully.)
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let older = match (modified(&target), modified(&stale)) {
        (Some(ours), Some(theirs)) => theirs < ours,
        (_, None) => false,
        (None, Some(_)) => true,
    };
    if older {
        match tokio::fs::remove_file(&stale).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SnapshotError::Write {
                    path: stale,
                    source,
                });
            }
        }
    }
    Ok(target)
}

/// Writes the `snapshot.json` that makes `root` a snapshot, with the time
/// of the latest recording.
pub(crate) async fn write_marker(root: &Path, recorded_at: &str) -> Result<(), SnapshotError> {
    let marker = serde_json::json!({
        "ion_preflight_snapshot": 1,
        "last_recorded_at": recorded_at,
    });
    write_json(&root.join(MARKER_FILE), &marker).await
}

pub(crate) async fn write_json(path: &Path, body: &Value) -> Result<(), SnapshotError> {
    let err = |source| SnapshotError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(err)?;
    }
    let mut text = serde_json::to_string_pretty(body).map_err(|e| err(std::io::Error::other(e)))?;
    text.push('\n');
    let target = path.to_owned();
    tokio::task::spawn_blocking(move || {
        crate::atomic_write::write_atomically(&target, text.as_bytes(), false)
    })
    .await
    .map_err(|e| err(std::io::Error::other(e)))?
    .map_err(err)
}

#[cfg(test)]
mod tests {

    /// A named pipe where a record should be is an error at once, not a
    /// wait for a writer that never comes (a check on a current-thread
    /// runtime reads inline, where its timeout could not end the wait).
    #[cfg(unix)]
    #[test]
    fn a_named_pipe_is_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("2002.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(super::read_text(&fifo).map(|t| t.is_some()));
        });
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("read_text waited for a writer to the pipe");
        let Err(super::SnapshotError::Read { source, .. }) = got else {
            panic!("expected a read error, got {got:?}");
        };
        assert_eq!(source.to_string(), "not a regular file");
    }
    use super::*;

    #[test]
    fn product_ids_become_safe_file_names() {
        assert_eq!(file_name_for("CFQ7TTC0LH18"), "CFQ7TTC0LH18");
        assert_eq!(file_name_for("microsoft-365_e3.v2"), "microsoft-365_e3.v2");
        assert_eq!(file_name_for("../etc/passwd"), "%2E.%2Fetc%2Fpasswd");
        assert_eq!(file_name_for("a b:c"), "a%20b%3Ac");
        assert_eq!(file_name_for(""), "%00");
        assert_eq!(file_name_for("X.404"), "X%2E404");
    }

    /// Sets `path`'s modification time `secs` from now (negative: past).
    fn touch(path: &Path, secs: i64) {
        let now = std::time::SystemTime::now();
        let at = if secs >= 0 {
            now + std::time::Duration::from_secs(secs.unsigned_abs())
        } else {
            now - std::time::Duration::from_secs(secs.unsigned_abs())
        };
        std::fs::File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(at))
            .expect("set mtime");
    }

    #[tokio::test]
    async fn a_racing_recording_never_leaves_neither_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let body = dir.path().join("customers/2002.json");
        let gone = not_found_path(&body);
        let value = serde_json::json!({"name": "accounts/1001/customers/2002"});

        // Re-recording over an older record replaces it.
        write_recorded(&body, Some(&value), "t0")
            .await
            .expect("body");
        touch(&body, -60);
        write_recorded(&body, None, "t1").await.expect("404");
        assert!(gone.exists() && !body.exists());

        // The other recording's record is newer (it finished after this
        // one wrote): it stays, whichever of the two this one is.
        for ours in [Some(&value), None] {
            let theirs = if ours.is_some() { &gone } else { &body };
            std::fs::write(theirs, "{}").expect("theirs");
            touch(theirs, 60);
            let written = write_recorded(&body, ours, "t2").await.expect("written");
            assert!(written.exists() && theirs.exists(), "{}", written.display());
            std::fs::remove_file(theirs).expect("clean");
        }
    }

    #[test]
    fn a_404_is_recorded_beside_the_body_file() {
        assert_eq!(
            not_found_path(Path::new("d/customers/2002.json")),
            Path::new("d/customers/2002.404.json")
        );
        assert_eq!(
            not_found_path(Path::new("d/products/a.b.json")),
            Path::new("d/products/a.b.404.json")
        );
    }

    #[test]
    fn locations_are_not_repeated() {
        assert_eq!(
            strip_location("expected value at line 1 column 2"),
            "expected value"
        );
        assert_eq!(strip_location("plain"), "plain");
    }
}

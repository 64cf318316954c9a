//! Fetching for a new-customer check: the account's customers that share
//! the payload's email or organization name.
//!
//! ION's list filters need a status (the Customer tag of the OpenAPI file),
//! so every lookup asks for `ACTIVE` and for `INACTIVE` at once, page by
//! page, and keeps only the customers whose field equals the payload's
//! ignoring case: a customer the filter returns with another value is
//! never reported. A lookup that fails makes its root
//! [`Fetched::Unavailable`]; nothing is assumed absent.
//!
//! In a snapshot directory each lookup is one file per status:
//!
//! ```text
//! DIR/accounts/{a}/customers-filtered/customerEmail/{email}/ACTIVE.json
//! DIR/accounts/{a}/customers-filtered/customerEmail/{email}/INACTIVE.json
//! DIR/accounts/{a}/customers-filtered/customerName/{organization}/ACTIVE.json
//! DIR/accounts/{a}/customers-filtered/customerName/{organization}/INACTIVE.json
//! ```
//!
//! each a ListCustomers body (`{"customers": [...]}`, every page in one),
//! with the value trimmed, in lower case and made safe as a file name as
//! product ids are. A missing file is a lookup that was not recorded:
//! unavailable, not "no such customer".

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::snapshot::{account_dir, file_name_for, read_resource, write_json, write_marker};
use super::{Source, bounded};
use crate::context::NewCustomerRequest;
use crate::context::shape::PayloadListRoot;
use crate::context::{Context, Fetched, Needs};
use crate::ion::{CustomerPage, Endpoint, IonClient, IonError};
use crate::source::{SnapshotError, SnapshotSource};

/// The statuses every lookup asks for, concurrently: ION answers a filter
/// without a status as if it asked for `CUSTOMER_STATUS_UNSPECIFIED`.
pub const LOOKUP_STATUSES: [&str; 2] = ["ACTIVE", "INACTIVE"];

/// Customers per page of a lookup.
const LOOKUP_PAGE_SIZE: u32 = 100;

/// A lookup that needs more pages than this is refused rather than
/// followed forever (a filter matching thousands is not a duplicate check).
const MAX_LOOKUP_PAGES: usize = 50;

/// Which customers a lookup finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustomerLookup {
    /// `filter.customerEmail`, compared with `customerEmail`.
    Email,
    /// `filter.customerName`, compared with `customerOrganization`.
    Organization,
}

impl CustomerLookup {
    /// The query parameter without `filter.` (also the snapshot folder).
    pub fn parameter(self) -> &'static str {
        match self {
            CustomerLookup::Email => "customerEmail",
            CustomerLookup::Organization => "customerName",
        }
    }

    /// The field of a listed customer compared with the payload's.
    pub fn field(self) -> &'static str {
        match self {
            CustomerLookup::Email => "customerEmail",
            CustomerLookup::Organization => "customerOrganization",
        }
    }

    fn what(self) -> &'static str {
        match self {
            CustomerLookup::Email => "customers with this email",
            CustomerLookup::Organization => "customers with this organization name",
        }
    }

    fn value(self, req: &NewCustomerRequest) -> Option<&str> {
        match self {
            CustomerLookup::Email => req.email(),
            CustomerLookup::Organization => req.organization(),
        }
    }
}

/// `DIR/accounts/{a}/customers-filtered/{parameter}/{value}/{status}.json`.
pub fn lookup_path(
    root: &Path,
    account: u64,
    lookup: CustomerLookup,
    value: &str,
    status: &str,
) -> PathBuf {
    account_dir(root, account)
        .join("customers-filtered")
        .join(lookup.parameter())
        .join(file_name_for(&value.trim().to_lowercase()))
        .join(format!("{status}.json"))
}

/// One way of answering a lookup for one status: every listed customer the
/// filter returned, as ION sent them, or why not.
trait LookupBackend: Sync {
    fn listed(
        &self,
        account: u64,
        lookup: CustomerLookup,
        value: &str,
        status: &'static str,
    ) -> impl Future<Output = Result<Vec<Value>, String>> + Send;
}

impl LookupBackend for IonClient {
    async fn listed(
        &self,
        account: u64,
        lookup: CustomerLookup,
        value: &str,
        status: &'static str,
    ) -> Result<Vec<Value>, String> {
        list_live(self, account, lookup, value, status)
            .await
            .map_err(|e| e.to_string())
    }
}

impl LookupBackend for SnapshotSource {
    async fn listed(
        &self,
        account: u64,
        lookup: CustomerLookup,
        value: &str,
        status: &'static str,
    ) -> Result<Vec<Value>, String> {
        let path = lookup_path(self.root(), account, lookup, value, status);
        match read_resource::<CustomerPage>(&path).await {
            Ok(Some((_, body))) => Ok(customers_of(body)),
            Ok(None) => Err(format!(
                "the snapshot has no recorded answer to filter.{}={value:?} with status {status} ({} is missing; record it with `ion-preflight snapshot --payload FILE`)",
                lookup.parameter(),
                path.display()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A caller's own [`DataSource`](super::DataSource) answers no customer
/// lookups (the trait has no method for them yet): every lookup is
/// unavailable, so the rules that need one are `error`, never `pass`.
struct NoLookups;

impl LookupBackend for NoLookups {
    async fn listed(
        &self,
        _account: u64,
        lookup: CustomerLookup,
        _value: &str,
        _status: &'static str,
    ) -> Result<Vec<Value>, String> {
        Err(format!(
            "a custom data source cannot list customers by filter.{}",
            lookup.parameter()
        ))
    }
}

/// The `customers` array of a ListCustomers body (ION omits it when empty).
fn customers_of(mut body: Value) -> Vec<Value> {
    match body.get_mut("customers").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// Every customer of `account` the filter returns for `status`, page by
/// page until ION sends no `nextPageToken`.
async fn list_live(
    client: &IonClient,
    account: u64,
    lookup: CustomerLookup,
    value: &str,
    status: &'static str,
) -> Result<Vec<Value>, IonError> {
    let filters = [
        (
            match lookup {
                CustomerLookup::Email => "filter.customerEmail",
                CustomerLookup::Organization => "filter.customerName",
            },
            value.to_owned(),
        ),
        ("filter.customerStatus", status.to_owned()),
    ];
    let malformed = |excerpt: String| IonError::MalformedResponse {
        endpoint: Endpoint {
            method: "GET",
            path: format!("/api/v3/accounts/{account}/customers"),
        },
        excerpt,
    };
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_LOOKUP_PAGES {
        let (page, body) = client
            .customer_page_json(account, LOOKUP_PAGE_SIZE, token.as_deref(), &filters)
            .await?;
        out.extend(customers_of(body));
        match page.next_page_token.filter(|t| !t.is_empty()) {
            None => return Ok(out),
            Some(t) if Some(&t) == token.as_ref() => {
                return Err(malformed(
                    "the next page token repeats the current one".into(),
                ));
            }
            Some(t) => token = Some(t),
        }
    }
    Err(malformed(format!(
        "the lookup by filter.{} did not end within {MAX_LOOKUP_PAGES} pages of {LOOKUP_PAGE_SIZE}",
        lookup.parameter()
    )))
}

/// The customers both statuses return whose field equals `value` ignoring
/// case and surrounding blanks, in the order ION listed them, each once.
fn matching(lookup: CustomerLookup, value: &str, lists: [Vec<Value>; 2]) -> Vec<Value> {
    let wanted = value.trim().to_lowercase();
    let mut seen = std::collections::HashSet::new();
    lists
        .into_iter()
        .flatten()
        .filter(|c| {
            c.get(lookup.field())
                .and_then(Value::as_str)
                .is_some_and(|v| v.trim().to_lowercase() == wanted)
        })
        .filter(|c| match c.get("name").and_then(Value::as_str) {
            Some(name) => seen.insert(name.to_owned()),
            None => true,
        })
        .collect()
}

async fn look_up<B: LookupBackend>(
    backend: &B,
    account: u64,
    lookup: CustomerLookup,
    value: Option<&str>,
) -> Fetched {
    let Some(value) = value else {
        return Fetched::unavailable(format!(
            "the payload has no {} to look up",
            match lookup {
                CustomerLookup::Email => "customerEmail",
                CustomerLookup::Organization => "customerOrganization",
            }
        ));
    };
    let [first, second] = LOOKUP_STATUSES;
    let (a, b) = tokio::join!(
        backend.listed(account, lookup, value, first),
        backend.listed(account, lookup, value, second),
    );
    match (a, b) {
        (Ok(a), Ok(b)) => Fetched::present(Value::Array(matching(lookup, value, [a, b]))),
        (Err(e), _) | (_, Err(e)) => {
            Fetched::unavailable(format!("the {} could not be listed: {e}", lookup.what()))
        }
    }
}

async fn fetch<B: LookupBackend>(
    backend: &B,
    req: &NewCustomerRequest,
    needs: Needs,
    deadline: Option<(Instant, Duration)>,
) -> Context {
    let account = req.account_id;
    let now = req.now.unwrap_or_else(jiff::Timestamp::now);
    let list = req.list.as_ref().map(|l| {
        serde_json::to_value(PayloadListRoot {
            line: l.line,
            same_email_lines: l.same_email_lines.clone(),
        })
        .unwrap_or(Value::Null)
    });
    let ctx =
        Context::for_new_customer(account, Arc::clone(&req.payload), now).with_payload_list(list);
    let lookup = |which: CustomerLookup, needed: bool| async move {
        if needed {
            Some(
                bounded(
                    which.what(),
                    deadline,
                    look_up(backend, account, which, which.value(req)),
                )
                .await,
            )
        } else {
            None
        }
    };
    let (email, org) = tokio::join!(
        lookup(CustomerLookup::Email, needs.customers_with_email),
        lookup(
            CustomerLookup::Organization,
            needs.customers_with_organization
        ),
    );
    let mut ctx = ctx;
    if let Some(f) = email {
        ctx = ctx.with_customers_with_email(f);
    }
    if let Some(f) = org {
        ctx = ctx.with_customers_with_organization(f);
    }
    ctx
}

impl Source {
    /// Looks up what `needs` says for a new customer's payload into a
    /// [`Context`] (its `newCustomer` root is the payload). Never fails;
    /// every lookup not made within `timeout` is unavailable. See the
    /// module documentation.
    pub async fn fetch_new_customer(
        &self,
        req: &NewCustomerRequest,
        needs: Needs,
        timeout: Option<Duration>,
    ) -> Context {
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        match self {
            Source::Live(client) => fetch(client, req, needs, deadline).await,
            Source::Snapshot(snapshot) => fetch(snapshot, req, needs, deadline).await,
            Source::Custom(_) => fetch(&NoLookups, req, needs, deadline).await,
        }
    }
}

/// Records, from live ION, the lookups a new-customer check of `req` makes
/// (per `needs`) into the snapshot directory `dir`: one file per lookup and
/// status, as in the module documentation. Returns the files written. Any
/// failure aborts the recording (a missing file would later read as "not
/// recorded").
pub async fn record_new_customer(
    client: &IonClient,
    req: &NewCustomerRequest,
    needs: Needs,
    dir: impl AsRef<Path>,
) -> Result<Vec<PathBuf>, SnapshotError> {
    let root = dir.as_ref();
    let account = req.account_id;
    let mut wanted = Vec::new();
    for (lookup, needed) in [
        (CustomerLookup::Email, needs.customers_with_email),
        (
            CustomerLookup::Organization,
            needs.customers_with_organization,
        ),
    ] {
        if let (true, Some(value)) = (needed, lookup.value(req)) {
            for status in LOOKUP_STATUSES {
                wanted.push((lookup, value.to_owned(), status));
            }
        }
    }
    let bodies =
        futures::future::try_join_all(wanted.iter().map(|(lookup, value, status)| async move {
            list_live(client, account, *lookup, value, status)
                .await
                .map(|customers| {
                    let path = lookup_path(root, account, *lookup, value, status);
                    (path, serde_json::json!({ "customers": customers }))
                })
        }))
        .await?;
    let mut written = Vec::new();
    for (path, body) in bodies {
        write_json(&path, &body).await?;
        written.push(path);
    }
    write_marker(root, &jiff::Timestamp::now().to_string()).await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_customers_whose_field_equals_ignoring_case_are_kept() {
        let active = vec![
            json!({"name": "accounts/1/customers/7", "customerEmail": "John.Doe@Acme.com"}),
            json!({"name": "accounts/1/customers/8", "customerEmail": "john.doe@acme.com.au"}),
            json!({"name": "accounts/1/customers/9"}),
        ];
        let inactive = vec![
            json!({"name": "accounts/1/customers/7", "customerEmail": "john.doe@acme.com"}),
            json!({"name": "accounts/1/customers/10", "customerEmail": " JOHN.DOE@ACME.COM "}),
        ];
        let kept = matching(
            CustomerLookup::Email,
            " john.doe@acme.com",
            [active, inactive],
        );
        let names: Vec<&str> = kept.iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, ["accounts/1/customers/7", "accounts/1/customers/10"]);
    }

    #[test]
    fn organizations_compare_with_customer_organization() {
        let listed = vec![
            json!({"name": "a/1/customers/1", "customerOrganization": "ACME corp", "customerName": "x"}),
            json!({"name": "a/1/customers/2", "customerOrganization": "Acme Corporation"}),
        ];
        let kept = matching(
            CustomerLookup::Organization,
            "Acme Corp",
            [listed, Vec::new()],
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0]["name"], "a/1/customers/1");
    }

    #[test]
    fn lookup_files_are_keyed_by_the_lower_case_value() {
        let p = lookup_path(
            Path::new("/s"),
            1001,
            CustomerLookup::Email,
            " John.Doe@Acme.com ",
            "ACTIVE",
        );
        assert_eq!(
            p,
            Path::new(
                "/s/accounts/1001/customers-filtered/customerEmail/john.doe%40acme.com/ACTIVE.json"
            )
        );
    }
}

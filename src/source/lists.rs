//! ION's list endpoints a check reads: the subscriptions an UPDATE names,
//! the customer's subscriptions, and the customer's orders already placed.
//!
//! The customer-wide lists are read in bounded scans: at most
//! [`CUSTOMER_SUBSCRIPTION_SCAN_LIMIT`] subscriptions and
//! [`PLACED_ORDER_SCAN_LIMIT`] orders (newest first), each page a request.
//! What a scan read is kept as one ION-shaped page (every item read, and
//! `totalCount` / `nextPageToken` saying whether there was more), which is
//! also what a snapshot records; [`subscription_scan`] and [`order_scan`]
//! turn it into the root rules read, `{…, scanned, limit, complete}`.

use serde_json::{Value, json};

use crate::context::Fetched;
use crate::context::shape::{OrderScan, SubscriptionScan};
use crate::ion::{IonClient, IonError, OrderPage, SubscriptionPage};

/// Subscriptions read per request (`pagination.limit`; ION's default too).
pub const SUBSCRIPTION_PAGE_SIZE: u64 = 100;
/// The most of a customer's subscriptions a check reads.
pub const CUSTOMER_SUBSCRIPTION_SCAN_LIMIT: u64 = 500;
/// Orders read per request (`pageSize`).
pub const ORDER_PAGE_SIZE: u64 = 100;
/// The most of a customer's orders a check reads, newest first.
pub const PLACED_ORDER_SCAN_LIMIT: u64 = 300;

/// `GET .../subscriptions?subscriptionId=ID`: the account's subscriptions
/// with that provider id (the customer is deliberately not in the query:
/// a subscription of another customer must be found to be reported).
pub(crate) async fn subscriptions_with_id(
    client: &IonClient,
    account: u64,
    subscription_id: &str,
) -> Result<Option<Value>, IonError> {
    let query = [
        ("subscriptionId", subscription_id.to_owned()),
        ("pagination.limit", SUBSCRIPTION_PAGE_SIZE.to_string()),
    ];
    Ok(client
        .subscription_page_json(account, &query)
        .await?
        .map(|(_, body)| body))
}

/// The items of a `ListSubscriptions` body (missing: none).
pub(crate) fn subscription_items(body: &Value) -> Value {
    match body.get("items") {
        Some(Value::Array(items)) => Value::Array(items.clone()),
        _ => Value::Array(Vec::new()),
    }
}

/// Reads the customer's subscriptions, page by page, up to the limit; the
/// result is one `ListSubscriptions` body holding every item read, with
/// `totalCount` when known. `Ok(None)`: ION answered 404.
pub(crate) async fn scan_customer_subscriptions(
    client: &IonClient,
    account: u64,
    customer: u64,
) -> Result<Option<Value>, IonError> {
    let mut items: Vec<Value> = Vec::new();
    let mut total: Option<u64> = None;
    let max_pages = CUSTOMER_SUBSCRIPTION_SCAN_LIMIT.div_ceil(SUBSCRIPTION_PAGE_SIZE);
    for page in 0..max_pages {
        let query = [
            ("customerId", customer.to_string()),
            ("pagination.limit", SUBSCRIPTION_PAGE_SIZE.to_string()),
            (
                "pagination.offset",
                (page * SUBSCRIPTION_PAGE_SIZE).to_string(),
            ),
        ];
        let Some((typed, _)) = client.subscription_page_json(account, &query).await? else {
            if page == 0 {
                return Ok(None);
            }
            break;
        };
        let SubscriptionPage {
            total_count,
            items: got,
            ..
        } = typed;
        total = total_count.and_then(|t| t.trim().parse().ok()).or(total);
        let got = got.unwrap_or_default();
        let n = got.len() as u64;
        for s in got {
            items.push(serde_json::to_value(s).unwrap_or(Value::Null));
        }
        let read = items.len() as u64;
        if n < SUBSCRIPTION_PAGE_SIZE || total.is_some_and(|t| read >= t) {
            // A short page is the last: everything was read.
            total = Some(total.unwrap_or(read).max(read));
            break;
        }
    }
    let mut body = json!({ "items": items });
    if let Some(t) = total {
        body["totalCount"] = Value::String(t.to_string());
    }
    Ok(Some(body))
}

/// The `customerSubscriptions` root from a scan's `ListSubscriptions` body.
pub(crate) fn subscription_scan(body: &Value) -> Fetched {
    let page: SubscriptionPage = match serde_json::from_value(body.clone()) {
        Ok(p) => p,
        Err(e) => return Fetched::unavailable(format!("the subscription list is malformed: {e}")),
    };
    let subscriptions = page.items.unwrap_or_default();
    let scanned = subscriptions.len() as u64;
    let complete = page
        .total_count
        .and_then(|t| t.trim().parse::<u64>().ok())
        .is_some_and(|t| t <= scanned);
    let scan = SubscriptionScan {
        subscriptions,
        scanned,
        limit: CUSTOMER_SUBSCRIPTION_SCAN_LIMIT,
        complete,
    };
    to_fetched(&scan)
}

/// Reads the customer's orders newest first (`sortBy=createTime`,
/// `sortOrder=DESC`), page by page, up to the limit; the result is one
/// `ListOrdersResponse` body holding every order read, with the
/// `nextPageToken` of the page not read when the scan stopped early.
pub(crate) async fn scan_placed_orders(
    client: &IonClient,
    account: u64,
    customer: u64,
) -> Result<Option<Value>, IonError> {
    let mut orders: Vec<Value> = Vec::new();
    let mut token: Option<String> = None;
    let max_pages = PLACED_ORDER_SCAN_LIMIT.div_ceil(ORDER_PAGE_SIZE);
    for page in 0..max_pages {
        let mut query = vec![
            ("filter.customerIdList", customer.to_string()),
            ("pageSize", ORDER_PAGE_SIZE.to_string()),
            ("sortBy", "createTime".to_owned()),
            ("sortOrder", "DESC".to_owned()),
        ];
        if let Some(t) = &token {
            query.push(("pageToken", t.clone()));
        }
        let Some((typed, _)) = client.order_page_json(account, &query).await? else {
            if page == 0 {
                return Ok(None);
            }
            break;
        };
        let OrderPage {
            orders: got,
            next_page_token,
            ..
        } = typed;
        for o in got.unwrap_or_default() {
            orders.push(serde_json::to_value(o).unwrap_or(Value::Null));
        }
        // A token equal to the one just used would read the same page again.
        token = next_page_token.filter(|t| !t.is_empty() && Some(t) != token.as_ref());
        if token.is_none() {
            break;
        }
    }
    let mut body = json!({ "orders": orders });
    if let Some(t) = token {
        body["nextPageToken"] = Value::String(t);
    }
    Ok(Some(body))
}

/// The `placedOrders` root from a scan's `ListOrdersResponse` body.
pub(crate) fn order_scan(body: &Value) -> Fetched {
    let page: OrderPage = match serde_json::from_value(body.clone()) {
        Ok(p) => p,
        Err(e) => return Fetched::unavailable(format!("the order list is malformed: {e}")),
    };
    let orders = page.orders.unwrap_or_default();
    let scan = OrderScan {
        scanned: orders.len() as u64,
        orders,
        limit: PLACED_ORDER_SCAN_LIMIT,
        complete: page.next_page_token.is_none_or(|t| t.is_empty()),
    };
    to_fetched(&scan)
}

fn to_fetched(v: &impl serde::Serialize) -> Fetched {
    match serde_json::to_value(v) {
        Ok(v) => Fetched::present(v),
        Err(e) => Fetched::unavailable(format!("cannot represent the list: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_is_complete_only_when_it_read_everything() {
        let full = json!({"items": [{"subscriptionId": "s1"}], "totalCount": "1"});
        let Fetched::Present { value } = subscription_scan(&full) else {
            panic!()
        };
        assert_eq!(value["complete"], true);
        assert_eq!(value["scanned"], 1);
        let partial = json!({"items": [{"subscriptionId": "s1"}], "totalCount": "900"});
        let Fetched::Present { value } = subscription_scan(&partial) else {
            panic!()
        };
        assert_eq!(value["complete"], false);
        let unknown = json!({"items": []});
        let Fetched::Present { value } = subscription_scan(&unknown) else {
            panic!()
        };
        assert_eq!(
            value["complete"], false,
            "no totalCount: not known to be all"
        );

        let more = json!({"orders": [{"referenceId": "r"}], "nextPageToken": "t2"});
        let Fetched::Present { value } = order_scan(&more) else {
            panic!()
        };
        assert_eq!(value["complete"], false);
        assert_eq!(value["orders"][0]["referenceId"], "r");
        let last = json!({"orders": [], "nextPageToken": ""});
        let Fetched::Present { value } = order_scan(&last) else {
            panic!()
        };
        assert_eq!(value["complete"], true);
        assert!(matches!(
            order_scan(&json!({"orders": "x"})),
            Fetched::Unavailable { .. }
        ));
    }
}

//! Contexts shared by the benches: ION-shaped customers, cloud profiles and
//! orders, built in code so every bench sees the same data.
//!
//! The realistic context is the one the issue names: a customer, three cloud
//! profiles (AWS, Google, Microsoft) and an order of 20 items mixing Microsoft
//! NCE CREATE and UPDATE lines with AWS, Google (with an add-on) and Adobe
//! lines, every one complete, so the default rule set passes it. With it
//! come what a live check fetches for that order (`with_ion_data`): the
//! catalog product of every productId, the subscriptions every UPDATE's
//! resourceId names, the customer's subscription scan and its placed-order
//! scan, in the shapes `ion_preflight::source` gives them.

#![allow(dead_code)]

use ion_preflight::context::{Context, Fetched};
use serde_json::{Value, json};

/// The account and customer ids of every bench context.
pub const ACCOUNT: u64 = 1001;
/// The customer id.
pub const CUSTOMER: u64 = 2002;

/// Another customer of the account.
pub const OTHER_CUSTOMER: u64 = 3003;

/// The fixed "now" of every bench context.
pub fn now() -> jiff::Timestamp {
    "2026-03-01T12:00:00Z".parse().expect("a valid timestamp")
}

/// A customer resource with `status`.
pub fn customer(status: &str) -> Value {
    json!({
        "name": format!("accounts/{ACCOUNT}/customers/{CUSTOMER}"),
        "customerOrganization": "Contoso Ltd",
        "customerAddress": {
            "street": "1 Microsoft Way", "suite": "Suite 100", "city": "Redmond",
            "state": "WA", "zip": "98052", "country": "US"
        },
        "customerName": "Dana Fox",
        "customerEmail": "dana.fox@contoso.com",
        "customerTitle": "IT Manager",
        "customerPhone": "+1 425 555 0100",
        "createTime": "2024-05-14T09:12:44Z",
        "updateTime": "2025-11-02T16:40:03Z",
        "languageCode": "en-US",
        "uid": "c7f7b8d2-6a1e-4a7e-9a55-0d3e8f7c2b11",
        "customerStatus": status
    })
}

/// Three cloud profiles: AWS, Google, and Microsoft (last) with `tenant` as
/// its `customerTenantId` and `enabled` as given.
pub fn cloud_profiles(tenant: &str, enabled: bool) -> Value {
    json!([
        {
            "providerId": "3", "displayName": "Amazon Web Services", "shortName": "AWS",
            "enabled": true, "customerTenantId": "123456789012",
            "passRiOptimization": false, "discountedRiOptimization": false
        },
        {
            "providerId": "5", "displayName": "Google Cloud", "shortName": "GCP",
            "enabled": true, "customerTenantId": "C01abc23d", "customerDomain": "contoso.com"
        },
        {
            "providerId": "7", "displayName": "Microsoft Azure", "shortName": "AZURE",
            "enabled": enabled, "customerTenantId": tenant,
            "customerDomain": "contoso.onmicrosoft.com", "allowDelegatedAccess": false,
            "gdapStatus": "ACTIVE", "gdapLevel": "STANDARD",
            "gdapRoles": ["Directory Readers", "License Administrator", "User Administrator"],
            "agreementStatus": "ACCEPTED"
        }
    ])
}

/// The tenant id of a well-linked Microsoft profile.
pub const TENANT: &str = "3f2b8c1e-9d4a-4e6b-8f0c-1a2b3c4d5e6f";

fn mca_attributes() -> Value {
    json!([
        { "name": "domainName", "value": "contoso.onmicrosoft.com" },
        { "name": "agreementFirstName", "value": "Dana" },
        { "name": "agreementLastName", "value": "Fox" },
        { "name": "agreementEmail", "value": "dana.fox@contoso.com" },
        { "name": "agreementPhoneNumber", "value": "+1 425 555 0100" },
        { "name": "agreementDateAgreed", "value": "2026-02-27T15:04:05Z" },
        { "name": "agreementUserId", "value": "dana.fox@contoso.com" }
    ])
}

/// Order item `i` (0-based). Items cycle through five kinds, so Microsoft NCE
/// lines are items 4, 5, 9, 10, … (1-based) and the first three are not.
pub fn order_item(i: usize) -> Value {
    let reference = format!("line-{}", i + 1);
    match i % 5 {
        0 => json!({
            "referenceId": reference, "action": "CREATE",
            "productId": "aws-business-support", "skuId": "AWS-SUP-BIZ",
            "planId": "monthly", "quantity": 1, "providerName": "AWS",
            "attributes": [], "addOns": []
        }),
        1 => json!({
            "referenceId": reference, "action": "UPDATE",
            "resourceId": format!("sub-gws-{i}"),
            "productId": "google-workspace-business-standard", "skuId": "GWS-BS",
            "planId": "annual", "quantity": 40, "providerName": "GOOGLE",
            "attributes": [],
            "addOns": [{
                "id": format!("addon-{i}"), "addOnId": "gws-vault", "planId": "annual",
                "action": "CREATE", "quantity": 40
            }]
        }),
        2 => json!({
            "referenceId": reference, "action": "CREATE",
            "productId": "adobe-creative-cloud-teams", "skuId": "65304479CA01A12",
            "planId": "annual", "quantity": 5, "providerName": "ADOBE",
            "attributes": [{ "name": "adobeCustomerId", "value": "AC-1234567" }],
            "addOns": []
        }),
        3 => json!({
            "referenceId": reference, "action": "CREATE",
            "productId": "microsoft-365-business-premium-nce", "skuId": "CFQ7TTC0LCHC:0002",
            "planId": "P1Y-monthly", "quantity": 25, "providerName": "AZURE",
            "attributes": mca_attributes(), "addOns": []
        }),
        _ => json!({
            "referenceId": reference, "action": "UPDATE",
            "resourceId": format!("sub-m365-{i}"),
            "productId": "microsoft-teams-rooms-pro-nce", "skuId": "CFQ7TTC0QW7C:0001",
            "planId": "P1Y-annual", "quantity": 3, "providerName": "AZURE",
            "attributes": [], "addOns": []
        }),
    }
}

/// An order of `n` items.
pub fn order(n: usize) -> Value {
    json!({
        "referenceId": "PO-2026-0042",
        "displayName": "Contoso March licences",
        "orderItems": (0..n).map(order_item).collect::<Vec<_>>()
    })
}

/// A context from the three resources.
pub fn context(customer: Value, profiles: Value, order: Value) -> Context {
    Context::new(ACCOUNT, CUSTOMER, now())
        .with_customer(Fetched::present(customer))
        .with_cloud_profiles(Fetched::present(profiles))
        .with_order(Some(order))
}

/// The realistic passing context: an active customer, three profiles with a
/// linked Microsoft tenant, 20 complete items, each of a catalog product,
/// SKU and plan, every UPDATE of an active subscription of the customer, and
/// no earlier order with the order's referenceId.
pub fn realistic() -> Context {
    with_ion_data(
        context(customer("ACTIVE"), cloud_profiles(TENANT, true), order(20)),
        placed_orders(false),
        &[],
    )
}

/// A catalog SKU: `id`, its plans, the add-ons it offers.
fn sku(id: &str, display: &str, plans: &[&str], add_ons: &[&str]) -> Value {
    let mut sku = json!({
        "id": id, "displayName": display, "disabled": false, "productAvailability": true,
        "plans": plans.iter().map(|p| json!({ "id": p })).collect::<Vec<_>>()
    });
    if !add_ons.is_empty() {
        sku["availableAddOns"] = json!(add_ons);
    }
    sku
}

/// The catalog's details of product `id` (GET .../products/{id}), as ION
/// answers them; `None` for a product the catalog does not have (ION's 404).
pub fn product(id: &str) -> Option<Value> {
    let (display, skus, add_ons) = match id {
        "aws-business-support" => (
            "AWS Business Support",
            vec![
                sku("AWS-SUP-DEV", "Developer", &["monthly"], &[]),
                sku("AWS-SUP-BIZ", "Business", &["monthly"], &[]),
            ],
            json!([]),
        ),
        "google-workspace-business-standard" => (
            "Google Workspace Business Standard",
            vec![sku(
                "GWS-BS",
                "Google Workspace Business Standard",
                &["annual", "flexible"],
                &["gws-vault"],
            )],
            json!([{
                "id": "gws-vault", "displayName": "Google Vault", "allowMultiple": true,
                "plans": [{ "id": "annual" }, { "id": "flexible" }]
            }]),
        ),
        "adobe-creative-cloud-teams" => (
            "Adobe Creative Cloud for teams",
            vec![
                sku("65304479CA01A12", "All Apps, level 1", &["annual"], &[]),
                sku("65304479CA02A12", "All Apps, level 2", &["annual"], &[]),
            ],
            json!([]),
        ),
        "microsoft-365-business-premium-nce" => (
            "Microsoft 365 Business Premium",
            vec![sku(
                "CFQ7TTC0LCHC:0002",
                "Microsoft 365 Business Premium",
                &["P1Y-monthly", "P1M-monthly"],
                &["defender-for-office-p1"],
            )],
            json!([{
                "id": "defender-for-office-p1",
                "displayName": "Microsoft Defender for Office 365 (Plan 1)",
                "allowMultiple": true, "plans": [{ "id": "P1Y-monthly" }]
            }]),
        ),
        "microsoft-teams-rooms-pro-nce" => (
            "Microsoft Teams Rooms Pro",
            vec![sku(
                "CFQ7TTC0QW7C:0001",
                "Microsoft Teams Rooms Pro",
                &["P1Y-annual"],
                &[],
            )],
            json!([]),
        ),
        _ => return None,
    };
    let mut definition = json!({ "skus": skus });
    if add_ons.as_array().is_some_and(|a| !a.is_empty()) {
        definition["addOns"] = add_ons;
    }
    Some(json!({
        "name": format!("accounts/{ACCOUNT}/products/{id}"),
        "id": id, "type": "SUBSCRIPTION_PRODUCTS", "disabled": false,
        "marketing": { "displayName": display },
        "definition": definition
    }))
}

/// The subscription line ION lists for provider subscription id `id` of
/// `customer` (the `sub-gws-…` and `sub-m365-…` ids of the order's UPDATEs).
pub fn subscription(id: &str, customer: u64) -> Value {
    let (product, sku, plan, name) = if id.starts_with("sub-gws-") {
        (
            "google-workspace-business-standard",
            "GWS-BS",
            "annual",
            "Google Workspace Business Standard",
        )
    } else {
        (
            "microsoft-teams-rooms-pro-nce",
            "CFQ7TTC0QW7C:0001",
            "P1Y-annual",
            "Microsoft Teams Rooms Pro",
        )
    };
    let n: u64 = id
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    json!({
        "id": (77000 + n).to_string(), "customerId": customer.to_string(),
        "subscriptionId": id, "subscriptionName": name,
        "resourceType": if product.starts_with("google") { "GSUITE::Entitlement" } else { "AZURE::Subscription" },
        "ccpProductId": product, "ccpSkuId": sku, "ccpPlanId": plan,
        "subscriptionTotalLicenses": "40", "subscriptionStatus": "ACTIVE"
    })
}

/// The `placedOrders` scan: the customer's five latest orders (one of them
/// canceled), and with `duplicate` the order itself placed already.
pub fn placed_orders(duplicate: bool) -> Value {
    let mut orders: Vec<Value> = (37..42)
        .rev()
        .map(|n| {
            json!({
                "name": format!("accounts/{ACCOUNT}/customers/{CUSTOMER}/orders/5500{n}"),
                "customerId": CUSTOMER.to_string(), "orderId": format!("5500{n}"),
                "referenceId": format!("PO-2026-00{n}"),
                "displayName": "Contoso licences",
                "status": if n == 40 { "CANCELED" } else { "COMPLETED" }
            })
        })
        .collect();
    if duplicate {
        orders.insert(
            0,
            json!({
                "name": format!("accounts/{ACCOUNT}/customers/{CUSTOMER}/orders/550042"),
                "customerId": CUSTOMER.to_string(), "orderId": "550042",
                "referenceId": "PO-2026-0042", "displayName": "Contoso March licences",
                "status": "IN_PROGRESS"
            }),
        );
    }
    let scanned = orders.len();
    json!({ "orders": orders, "scanned": scanned, "limit": 300, "complete": true })
}

/// Adds to `ctx` what a live check fetches for its order: every distinct
/// productId's product (absent when the catalog does not have it), the
/// subscriptions of every distinct UPDATE resourceId (the customer's own),
/// the customer's subscription scan (those same subscriptions) and
/// `placed` as its placed-order scan. The resourceIds in `foreign` name a
/// subscription of another customer of the account (3003), which the
/// customer's scan does not list.
pub fn with_ion_data(mut ctx: Context, placed: Value, foreign: &[&str]) -> Context {
    let items: Vec<Value> = ctx
        .order
        .as_ref()
        .and_then(|o| o.get("orderItems"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |i: &Value, f: &str| {
        i.get(f)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let mut products: Vec<String> = items.iter().filter_map(|i| text(i, "productId")).collect();
    products.sort();
    products.dedup();
    let mut updates: Vec<String> = items
        .iter()
        .filter(|i| i.get("action").and_then(Value::as_str) == Some("UPDATE"))
        .filter_map(|i| text(i, "resourceId"))
        .collect();
    updates.sort();
    updates.dedup();
    for id in products {
        let found = product(&id).map_or(Fetched::Absent, Fetched::present);
        ctx = ctx.with_product(id, found);
    }
    let mut mine = Vec::new();
    for id in updates {
        let other = foreign.contains(&id.as_str());
        let s = subscription(&id, if other { OTHER_CUSTOMER } else { CUSTOMER });
        ctx = ctx.with_subscription(id, Fetched::present(json!([s.clone()])));
        if !other {
            mine.push(s);
        }
    }
    let scanned = mine.len();
    ctx.with_customer_subscriptions(Fetched::present(json!({
        "subscriptions": mine, "scanned": scanned, "limit": 500, "complete": true
    })))
    .with_placed_orders(Fetched::present(placed))
}

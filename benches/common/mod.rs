//! Contexts shared by the benches: ION-shaped customers, cloud profiles and
//! orders, built in code so every bench sees the same data.
//!
//! The realistic context is the one the issue names: a customer, three cloud
//! profiles (AWS, Google, Microsoft) and an order of 20 items mixing Microsoft
//! NCE CREATE and UPDATE lines with AWS, Google (with an add-on) and Adobe
//! lines, every one complete, so the default rule set passes it.

#![allow(dead_code)]

use ion_preflight::context::{Context, Fetched};
use serde_json::{Value, json};

/// The account and customer ids of every bench context.
pub const ACCOUNT: u64 = 1001;
/// The customer id.
pub const CUSTOMER: u64 = 2002;

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
/// linked Microsoft tenant, 20 complete items.
pub fn realistic() -> Context {
    context(customer("ACTIVE"), cloud_profiles(TENANT, true), order(20))
}

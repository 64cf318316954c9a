//! Typed ION v3 resources, in the shapes of ION's OpenAPI file.
//!
//! ION adds fields over time and omits empty ones, so every field is
//! optional and every type keeps the fields it does not know in `extra`:
//! serializing a value gives back everything ION sent. Enumerations such as
//! `customerStatus` stay strings, because ION may add values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields a type does not name, kept as ION sent them.
pub type Extra = Map<String, Value>;

/// A customer (`GET /api/v3/accounts/{accountId}/customers/{customerId}`,
/// schema `GetCustomerResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// Resource name, `accounts/{accountId}/customers/{customerId}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Name of the customer organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_organization: Option<String>,
    /// Postal address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_address: Option<CustomerAddress>,
    /// Primary contact name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// Primary contact email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// Primary contact title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_title: Option<String>,
    /// Primary contact phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_phone: Option<String>,
    /// When the customer was created (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// When the customer was last updated (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    /// Preferred language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    /// The customer's user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// `CUSTOMER_STATUS_UNSPECIFIED`, `ACTIVE`, `INACTIVE` (or a value ION
    /// added later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_status: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Customer {
    /// The customer id: the last segment of [`Customer::name`]
    /// (`accounts/{a}/customers/{c}`), when it is a number.
    pub fn id(&self) -> Option<u64> {
        id_from_name(self.name.as_deref())
    }
}

/// A customer as listed by `GET .../customers` (schema `ListCustomer`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedCustomer {
    /// Resource name, `accounts/{accountId}/customers/{customerId}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Name of the customer organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_organization: Option<String>,
    /// Primary contact email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// `CUSTOMER_STATUS_UNSPECIFIED`, `ACTIVE`, `INACTIVE`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_status: Option<String>,
    /// Fields not named above (address, phone, times, …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl ListedCustomer {
    /// The customer id: the last segment of [`ListedCustomer::name`].
    pub fn id(&self) -> Option<u64> {
        id_from_name(self.name.as_deref())
    }
}

/// One page of `GET .../customers?pageSize=&pageToken=` (schema
/// `ListCustomers`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPage {
    /// The customers on this page (ION omits the field when there are none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<Vec<ListedCustomer>>,
    /// The token of the next page; absent or empty on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A customer's postal address (schema `CustomerAdressResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerAddress {
    /// Street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// Suite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State or region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    /// Country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET .../customers/{customerId}/cloudProfiles` (schema
/// `CustomerCloudProfiles`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerCloudProfiles {
    /// The customer id (a string in this response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The customer organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_organization: Option<String>,
    /// One profile per cloud provider (ION omits the field when empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_cloud_profiles: Option<Vec<CloudProfile>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl CustomerCloudProfiles {
    /// The profiles, empty when ION sent none.
    pub fn profiles(&self) -> &[CloudProfile] {
        self.customer_cloud_profiles.as_deref().unwrap_or_default()
    }
}

/// A customer's profile with one cloud provider (schema `CloudProfiles`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudProfile {
    /// The provider's id (providers are numeric ids plus names, no enum).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The provider's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The provider's short name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
    /// Whether the profile is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// AWS only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_ri_optimization: Option<bool>,
    /// AWS only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discounted_ri_optimization: Option<bool>,
    /// The customer's tenant with the provider (the Microsoft tenant id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_tenant_id: Option<String>,
    /// Google only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_accounts: Option<String>,
    /// Azure and Google: the provisioned customer domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_domain: Option<String>,
    /// Azure only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_delegated_access: Option<bool>,
    /// Azure GDAP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gdap_status: Option<String>,
    /// Azure GDAP level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gdap_level: Option<String>,
    /// Azure GDAP roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gdap_roles: Option<Vec<String>>,
    /// Azure agreement status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement_status: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A catalog product (`GET /api/v3/accounts/{accountId}/products/{productId}`,
/// schema `CatalogProductResponse`). Only the parts a pre-flight check is
/// likely to read are typed; the rest stays in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// Resource name, `accounts/{accountId}/products/{productName}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The product id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `PRODUCT_TYPE_UNSPECIFIED`, `SUBSCRIPTION_PRODUCTS`,
    /// `CLOUD_REBILLING_PRODUCT`, …
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// Whether the product is disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Categories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Marketing data (display name, description, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketing: Option<ProductMarketing>,
    /// Pricing structure: SKUs, plans, add-ons, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<ProductDefinition>,
    /// Consumption-only products: the cloud provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_consumption: Option<ProductCloudConsumption>,
    /// When the product was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// When the product was last updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A product's marketing data (schema `ProductMarketing`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductMarketing {
    /// The product's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The product's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A product's definition (schema `ProductDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductDefinition {
    /// The SKUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skus: Option<Vec<Sku>>,
    /// Every add-on of the product (a SKU lists which it offers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_ons: Option<Vec<CatalogAddOn>>,
    /// Fields not named above (price lists, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A product SKU (schema `Sku`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    /// The SKU id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The SKU's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The product id the SKU belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// The cloud provider's name for the product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_cloud_provider_name: Option<String>,
    /// Whether the SKU is disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// `false` when the SKU's `productId` is not found in the pricebook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_availability: Option<bool>,
    /// The SKU's plans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plans: Option<Vec<Plan>>,
    /// Ids of the product's add-ons included with this SKU (not charged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included_add_ons: Option<Vec<String>>,
    /// Ids of the product's add-ons that can be bought with this SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_add_ons: Option<Vec<String>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A plan of a SKU or add-on (schema `Plan`): how it is bought and billed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The plan id (unique within the product).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The plan's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `MONTHLY`, `YEARLY`, … (schema `BillingPeriod`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_period: Option<String>,
    /// The pricebook's id for the plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// `false` when the plan's `productId` is not found in the pricebook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_availability: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An add-on of a catalog product (schema `AddOn`; not the order's add-on
/// request, [`crate::ion::AddOn`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogAddOn {
    /// The add-on id (unique within the product).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The add-on's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether more than one of this add-on may be added to a subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_multiple: Option<bool>,
    /// The add-on's plans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plans: Option<Vec<Plan>>,
    /// The pricebook's id for the add-on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// `false` when the add-on's `productId` is not found in the pricebook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_availability: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A subscription as ION lists it (`GET /api/v3/accounts/{a}/subscriptions`,
/// schema `ListSubscription`). ION writes its int64 ids as strings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// ION's internal id of the subscription line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The customer it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The provider's subscription id (what an UPDATE's `resourceId` names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// The subscription's product name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_name: Option<String>,
    /// `AZURE::Subscription`, `GSUITE::Entitlement`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// The ION catalog product id (an order item's `productId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ccp_product_id: Option<String>,
    /// The ION catalog SKU id (an order item's `skuId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ccp_sku_id: Option<String>,
    /// The ION catalog plan id (an order item's `planId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ccp_plan_id: Option<String>,
    /// The provider's product id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_product_id: Option<String>,
    /// The provider's SKU id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_sku_id: Option<String>,
    /// The licence quantity (an int64 as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_total_licenses: Option<String>,
    /// `ACTIVE`, `SUSPENDED`, `CANCELLED`, … (ION does not enumerate them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_status: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One page of `GET /api/v3/accounts/{a}/subscriptions` (schema
/// `ListSubscriptions`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPage {
    /// How many subscriptions match in all (an int64 as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<String>,
    /// This page's subscriptions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Subscription>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An order ION has already been sent (schema `Order`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    /// Resource name, `accounts/*/customers/*/orders/*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The customer (an int64 as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// ION's order id (an int64 as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// The caller's reference, as sent in the order body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// The caller's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `NEW`, `CONFIRMED`, `ON_HOLD`, `COMPLETED`, `CANCELED`, `ERROR`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Fields not named above (items, totals, errors, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One page of `GET /api/v3/accounts/{a}/orders` (schema
/// `ListOrdersResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    /// This page's orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders: Option<Vec<PlacedOrder>>,
    /// The token of the next page; missing or empty on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A consumption product's cloud data (schema `ProductCloudConsumption`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductCloudConsumption {
    /// The cloud provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<String>,
    /// Whether consumption is billed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_consumption_billing: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /oauth/validateAccess`: how long the credentials remain valid.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccessValidity {
    /// Seconds the access token remains valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_expires_in: Option<i64>,
    /// Seconds the refresh token remains valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expires_in: Option<i64>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// ION's error envelope `{error, message, code, details}`, parsed loosely.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorEnvelope {
    /// `NOT_FOUND`, `PERMISSION_DENIED`, … or, on `/oauth`, a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// The HTTP status, or a gRPC code such as `3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Value>,
    /// Details (request ids, nested validation errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorEnvelope {
    /// The `error` field when it is a string.
    pub fn error_str(&self) -> Option<&str> {
        self.error.as_ref().and_then(Value::as_str)
    }

    /// The `message` field when it is a non-empty string.
    pub fn message_str(&self) -> Option<&str> {
        self.message
            .as_ref()
            .and_then(Value::as_str)
            .filter(|m| !m.trim().is_empty())
    }
}

/// `POST /oauth/token`'s answer.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: Option<String>,
    pub(crate) expires_in: Option<u64>,
    pub(crate) refresh_token: Option<String>,
}

fn id_from_name(name: Option<&str>) -> Option<u64> {
    // Digits only (`+5` parses as a u64 too), and never 0: ids start at 1.
    let last = name?.trim_end_matches('/').rsplit('/').next()?;
    if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    last.parse().ok().filter(|&id| id != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn customer_id_comes_from_the_name() {
        let c: Customer = serde_json::from_value(json!({"name": "accounts/1001/customers/2002"}))
            .expect("valid customer");
        assert_eq!(c.id(), Some(2002));
        let c = Customer {
            name: Some("accounts/1001/customers/abc".into()),
            ..Customer::default()
        };
        assert_eq!(c.id(), None);
        assert_eq!(Customer::default().id(), None);
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let body = json!({
            "name": "accounts/1001/customers/2002",
            "customerStatus": "SUSPENDED_BY_A_NEW_ENUM_VALUE",
            "customerAddress": {"city": "Redmond", "plusFour": "1234"},
            "brandNewField": {"nested": [1, 2, 3]}
        });
        let c: Customer = serde_json::from_value(body.clone()).expect("valid customer");
        assert_eq!(
            c.customer_status.as_deref(),
            Some("SUSPENDED_BY_A_NEW_ENUM_VALUE")
        );
        assert_eq!(serde_json::to_value(&c).expect("serializes"), body);
    }

    #[test]
    fn a_wrong_type_is_rejected() {
        let err = serde_json::from_value::<CloudProfile>(json!({"enabled": "yes"}));
        assert!(err.is_err());
    }

    #[test]
    fn product_type_maps_to_the_type_field() {
        let body = json!({"id": "P1", "type": "SUBSCRIPTION_PRODUCTS", "definition": {"skus": [{"id": "S1", "x": 1}]}});
        let p: Product = serde_json::from_value(body.clone()).expect("valid product");
        assert_eq!(p.product_type.as_deref(), Some("SUBSCRIPTION_PRODUCTS"));
        assert_eq!(serde_json::to_value(&p).expect("serializes"), body);
    }
}

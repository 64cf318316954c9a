//! The order body a check judges: ION's `OrderRequest` (the body of
//! `POST /api/v3/accounts/{accountId}/customers/{customerId}/orders`), in the
//! shapes of the OpenAPI schemas `OrderRequest`, `OrderItemRequest`,
//! `Attribute` and `ReqAddOn`.
//!
//! Like the resources in [`crate::ion::types`], every field is optional (a
//! check must be able to judge an incomplete order) and unknown fields are
//! kept in `extra`. Enumerations such as `action` stay strings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::Extra;

/// An order about to be placed (schema `OrderRequest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    /// A caller-defined id for the order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// A display name for the order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The items to order (required by ION).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_items: Option<Vec<OrderItem>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One line of an order (schema `OrderItemRequest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    /// A caller-defined id for the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// `CREATE` or `UPDATE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The provider's subscription id; required for `UPDATE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// The ION product id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// The SKU id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
    /// The plan id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// How many (an int32 in ION's spec).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// The end customer's purchase order reference.
    #[serde(rename = "endCustomerPO", skip_serializing_if = "Option::is_none")]
    pub end_customer_po: Option<String>,
    /// The reseller's purchase order reference.
    #[serde(rename = "resellerPO", skip_serializing_if = "Option::is_none")]
    pub reseller_po: Option<String>,
    /// The provider the item is for, e.g. `AZURE`. Not in ION's OpenAPI
    /// file, but sent (and used by ION's validation) for Microsoft items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_name: Option<String>,
    /// Optional features (schema `ReqAddOn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_ons: Option<Vec<AddOn>>,
    /// Provisioning data as name/value pairs (required by ION; may be empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<Attribute>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A name/value pair of an order item (schema `Attribute`). Values are
/// strings, whatever they hold (dates, emails, domains).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    /// The attribute's name, e.g. `domainName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The attribute's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An add-on of an order item (schema `ReqAddOn`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddOn {
    /// The add-on id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The add-on id (ION's spec names both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_on_id: Option<String>,
    /// The add-on's plan id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// `CREATE` or `UPDATE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// How many (an int32 in ION's spec).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_order_round_trips_with_unknown_fields() {
        let body = json!({
            "referenceId": "PO-1",
            "orderItems": [{
                "action": "CREATE", "productId": "P1", "skuId": "S1", "planId": "PL1",
                "quantity": 3, "providerName": "AZURE", "endCustomerPO": "E1",
                "attributes": [{"name": "domainName", "value": "contoso.onmicrosoft.com"}],
                "addOns": [{"id": "A", "addOnId": "A", "planId": "P", "action": "CREATE", "quantity": 1}],
                "somethingNew": true
            }]
        });
        let order: OrderRequest = serde_json::from_value(body.clone()).expect("valid order");
        let item = &order.order_items.as_deref().expect("items")[0];
        assert_eq!(item.quantity, Some(3));
        assert_eq!(item.end_customer_po.as_deref(), Some("E1"));
        assert_eq!(item.extra.get("somethingNew"), Some(&json!(true)));
        assert_eq!(serde_json::to_value(&order).expect("serializes"), body);
    }
}

//! The body a new-customer check judges: ION's `CreateCustomerRequest` (the
//! body of `POST /api/v3/accounts/{accountId}/customers`).
//!
//! Like the order body ([`crate::ion::order`]), every field is optional — a
//! check must be able to judge an incomplete payload, and the missing
//! required fields are exactly what it reports — and unknown fields are
//! kept in `extra`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{CustomerAddress, Extra};

/// A customer about to be created (schema `CreateCustomerRequest`; ION
/// requires `customerOrganization`, `customerAddress`, `customerName`,
/// `customerEmail` and `languageCode`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCustomerRequest {
    /// Name of the customer organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_organization: Option<String>,
    /// Postal address: ION requires `street`, `city`, `state`, `zip` and
    /// `country`, the state and the country in short form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_address: Option<CustomerAddress>,
    /// Primary contact name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// Primary contact email; ION refuses one already in use (`CUS-CR-001`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// Primary contact title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_title: Option<String>,
    /// Primary contact phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_phone: Option<String>,
    /// Preferred language; ION refuses an invalid one (`CUS-CR-002`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

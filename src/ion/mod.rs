//! The ION v3 client: tokens, the fetches a check needs, retries, typed
//! resources and errors.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ion_preflight::ion::IonError> {
//! use ion_preflight::ion::IonClient;
//! let client = IonClient::from_env()?;
//! if let Some(customer) = client.customer(1001, 2002).await? {
//!     println!("{:?} is {:?}", customer.customer_organization, customer.customer_status);
//! }
//! # Ok(()) }
//! ```

//!
//! Every public item is re-exported here, and this is its one path. Inside,
//! `store` (token stores), `token_file` (one store), `oauth` (the token
//! endpoints) and `auth` (the token lifecycle) point one way:
//! `auth → oauth`, `auth → store ← token_file`.

mod auth;
mod client;
mod error;
mod new_customer;
mod oauth;
mod order;
mod store;
mod token_file;
mod types;

pub use auth::{ACCESS_TOKEN_MARGIN, REFRESH_EXPIRY_WARNING};
pub(crate) use client::check_product_id;
#[cfg(feature = "serve")]
pub(crate) use client::parse_duration;
pub use client::{
    CredentialCheck, DEFAULT_BASE_URL, IonClient, IonClientBuilder, RequestObserver,
    validate_base_url,
};
pub use error::{Endpoint, IonError};
pub use new_customer::CreateCustomerRequest;
pub use order::{AddOn, Attribute, OrderItem, OrderRequest};
pub use store::{
    ASSUMED_REFRESH_LIFETIME, MemoryTokenStore, RefreshLock, StoredTokens, TokenStore,
    TokenStoreError,
};
pub use token_file::{LOCK_WAIT, TOKEN_FILE_VERSION, TokenFile};
pub use types::{
    AccessValidity, CatalogAddOn, CloudProfile, Customer, CustomerAddress, CustomerCloudProfiles,
    CustomerPage, ErrorEnvelope, Extra, ListedCustomer, OrderPage, PlacedOrder, Plan, Product,
    ProductCloudConsumption, ProductDefinition, ProductMarketing, Sku, Subscription,
    SubscriptionPage,
};

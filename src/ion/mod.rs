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

pub mod auth;
mod client;
mod error;
pub mod order;
pub mod token_file;
pub mod types;

pub use auth::{
    ACCESS_TOKEN_MARGIN, FileTokenStore, MemoryTokenStore, REFRESH_EXPIRY_WARNING, RefreshLock,
    TokenStore, TokenStoreError,
};
pub use client::{
    DEFAULT_BASE_URL, IonClient, IonClientBuilder, RequestObserver, validate_base_url,
};
pub use error::{Endpoint, IonError};
pub use order::{AddOn, Attribute, OrderItem, OrderRequest};
pub use token_file::{StoredTokens, TokenFile};
pub use types::{
    AccessValidity, CloudProfile, Customer, CustomerAddress, CustomerCloudProfiles, CustomerPage,
    ErrorEnvelope, ListedCustomer, Product,
};

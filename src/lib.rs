//! # ion-preflight
//!
//! Checks an order *before* it is placed through TD SYNNEX StreamOne ION v3.
//! A [`RuleSet`] (YAML rule files, the built-in set by default) says what
//! must hold; a [`Source`] (live ION, a recorded snapshot, or a
//! [`DataSource`] of the caller's) fetches exactly the data those rules read
//! into a [`Context`]; the rule set evaluates into a [`Report`] with a
//! [`Verdict`] and the evidence behind every result.
//!
//! The same engine checks a new customer's payload before
//! `POST .../customers` ([`NewCustomerRequest`],
//! [`Preflight::check_new_customer`], the `builtin:new-customer` rule set).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ion_preflight::{CheckRequest, IonClient, Preflight, RuleSet};
//! let order: serde_json::Value = serde_json::from_str(r#"{"orderItems": []}"#)?;
//! let preflight = Preflight::new(IonClient::from_env()?, RuleSet::builtin());
//! let report = preflight.check(CheckRequest::new(1001, 2002).with_order(order)).await;
//! if !report.verdict().is_ready() {
//!     // do not POST the order
//! }
//! # Ok(()) }
//! ```
//!
//! What a caller needs is re-exported here; each item also has one home
//! module (`ion`, `rules`, `context`, `source`, `report`, `batch`), and the
//! modules depend one way: `rules → source → context → evaluate → report →
//! render`, with `ion` below `source` and `batch` (many checks) on top.
//!
//! ## Features
//!
//! - `cli` (default): the command line ([`cli`] and the `ion-preflight`
//!   binary), with clap, clap_complete, indicatif, rpassword and
//!   tracing-subscriber. A service embedding the library turns it off
//!   (`default-features = false`) and compiles none of them. Service modes
//!   get features of their own beside it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod atomic_write;
pub mod batch;
#[cfg(feature = "cli")]
pub mod cli;
pub mod context;
mod did_you_mean;
pub mod ion;
mod preflight;
pub mod reference;
pub mod report;
pub mod rules;
#[cfg(feature = "serve")]
pub mod service;
pub mod source;

pub use context::{CheckRequest, Context, Fetched, ListPosition, NewCustomerRequest};
pub use ion::{IonClient, IonError, TokenFile};
pub use preflight::Preflight;
pub use report::{Outcome, Report, Verdict};
pub use rules::{EvalOptions, RuleLoadError, RuleSet, RuleSetLoader};
pub use source::{DataSource, SnapshotSource, Source, SourceError};

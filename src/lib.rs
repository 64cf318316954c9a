//! # ion-preflight
//!
//! Checks an order *before* it is placed through TD SYNNEX StreamOne ION v3.
//! A [`rules::RuleSet`] (YAML rule files, the built-in set by default) says
//! what must hold; a [`source::Source`] (live ION or a recorded snapshot)
//! fetches exactly the data those rules read into a [`context::Context`]; the
//! rule set evaluates into a [`report::Report`] with a verdict and the
//! evidence behind every result.
//!
//! The same engine checks a new customer's payload before
//! `POST .../customers` ([`NewCustomerRequest`],
//! [`Preflight::check_new_customer`], the `builtin:new-customer` rule set).
//!
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod context;
pub mod ion;
pub mod preflight;
pub mod reference;
pub mod report;
pub mod rules;
pub mod source;

pub use preflight::{CheckRequest, ListPosition, NewCustomerRequest, Preflight};

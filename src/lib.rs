//! # ion-preflight
//!
//! Checks an order *before* it is placed through TD SYNNEX StreamOne ION v3.
//! A [`rules::RuleSet`] (YAML rule files, the built-in set by default) says
//! what must hold; a [`source::Source`] (live ION or a recorded snapshot)
//! fetches exactly the data those rules read into a [`context::Context`]; the
//! rule set evaluates into a [`report::Report`] with a verdict and the
//! evidence behind every result.
//!
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod context;
pub mod ion;
pub mod preflight;
pub mod report;
pub mod rules;
#[cfg(feature = "serve")]
pub mod service;
pub mod source;

pub use preflight::{CheckRequest, Preflight};

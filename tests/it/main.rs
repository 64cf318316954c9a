//! The integration tests: one binary, one module per area.

mod auth_support;
mod auth_token_file;
mod broken_rules;
mod default_rules;
mod ion_auth;
mod ion_check;
mod ion_client;
mod ion_fetch_plan;
mod ion_logging;
mod ion_support;
mod rule_tests;
mod snapshot_source;

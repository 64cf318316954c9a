//! The integration tests: one binary, one module per area.

mod broken_rules;
mod default_rules;
mod ion_auth;
mod ion_check;
mod ion_client;
mod ion_fetch_plan;
mod ion_logging;
mod ion_support;
mod rule_schema;
mod rule_tests;
mod rule_types;
mod snapshot_source;

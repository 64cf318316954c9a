//! The integration tests: one binary, one module per area.

mod broken_rules;
mod default_rules;
mod rule_tests;

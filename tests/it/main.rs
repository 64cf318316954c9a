//! The integration tests: one binary, one module per area.

mod default_rules;
mod rule_tests;

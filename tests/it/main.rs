//! The integration tests: one binary, one module per area.

mod broken_rules;
mod cli_basics;
mod cli_interrupt;
mod cli_live;
mod cli_rules;
mod cli_support;
mod render_formats;

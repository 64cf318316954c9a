//! The integration tests: one binary, one module per area.

mod auth_cli;
mod auth_support;
mod auth_token_file;
mod broken_rules;
mod cli_adversarial;
mod cli_basics;
mod cli_check_order;
mod cli_config;
mod cli_formats;
mod cli_interrupt;
mod cli_live;
mod cli_rules;
mod cli_rules_init;
mod cli_select;
mod cli_support;
mod cli_truthful;
mod custom_source;
mod default_rules;
mod doc_examples;
mod fault_server;
mod faults;
mod hostile_input;
mod ion_auth;
mod ion_catalog_fetch;
mod ion_check;
mod ion_client;
mod ion_fetch_plan;
mod ion_logging;
mod ion_support;
mod layering;
mod new_customer;
#[cfg(feature = "serve")]
mod proxy_customers;
#[cfg(feature = "serve")]
mod proxy_gate;
mod render_formats;
mod rule_composition;
mod rule_schema;
mod rule_tests;
mod rule_traps;
mod rule_traps_more;
mod rule_types;
mod secrets;
#[cfg(feature = "serve")]
mod serve_api;
#[cfg(feature = "serve")]
mod serve_new_customer;
#[cfg(feature = "serve")]
mod serve_openapi;
#[cfg(all(feature = "serve", target_os = "linux"))]
mod serve_watch;
#[cfg(feature = "serve")]
mod service_support;
mod snapshot_source;

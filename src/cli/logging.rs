//! Logging: `tracing` to stderr (never stdout, which carries reports),
//! filtered by `RUST_LOG`, `warn` by default.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Installs the global subscriber. An invalid `RUST_LOG` directive is
/// ignored (the rest still applies) rather than failing the command.
pub fn init() {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::WARN.into())
        .from_env_lossy();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !no_color())
        .with_target(true)
        .try_init();
}

/// `true` when `NO_COLOR` is set to a non-empty value.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Colour for stdout: only on a terminal and without `NO_COLOR`.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && !no_color()
}

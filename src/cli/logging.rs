//! Logging: `tracing` to stderr (never stdout, which carries reports),
//! filtered by `RUST_LOG`, `warn` by default.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};

use indicatif::ProgressBar;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The progress bar on stderr, if one is drawn: log lines are written with
/// the bar hidden, so they never land in the middle of it.
static PROGRESS: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Registers (or with `None`, removes) the progress bar log lines must not
/// collide with.
pub fn set_progress(bar: Option<ProgressBar>) {
    if let Ok(mut slot) = PROGRESS.lock() {
        *slot = bar;
    }
}

/// stderr, writing around the progress bar.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = PROGRESS.lock().ok().and_then(|slot| slot.clone());
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf).map(|()| buf.len())),
            None => std::io::stderr().write_all(buf).map(|()| buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Installs the global subscriber. An invalid `RUST_LOG` directive is
/// ignored (the rest still applies) rather than failing the command.
pub fn init() {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::WARN.into())
        .from_env_lossy();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Stderr)
        .with_ansi(stderr_color())
        .with_target(true)
        .try_init();
}

/// `--color`, set once when the command line is parsed.
static COLOR: OnceLock<crate::cli::args::ColorChoice> = OnceLock::new();

/// Records `--color` for [`stdout_color`] and [`stderr_color`].
pub fn set_color(choice: crate::cli::args::ColorChoice) {
    let _ = COLOR.set(choice);
}

fn color_for(terminal: bool) -> bool {
    use crate::cli::args::ColorChoice;
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color(),
    }
}

/// Colour for stderr (diagnostic snippets, logs).
pub fn stderr_color() -> bool {
    color_for(std::io::stderr().is_terminal())
}

/// `true` when `NO_COLOR` is set to a non-empty value.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Colour for a report on stdout: `--color always|never`, else only on a
/// terminal and without `NO_COLOR`.
pub fn stdout_color() -> bool {
    color_for(std::io::stdout().is_terminal())
}

/// Colour for a report written to `-o FILE`: only with `--color always` (a
/// file is no terminal).
pub fn file_color() -> bool {
    color_for(false)
}

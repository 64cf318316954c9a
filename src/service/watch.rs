//! Reloading the rules when their files change on disk (Linux, through the
//! kernel's inotify; elsewhere `SIGHUP` only).
//!
//! The watcher watches the *directories* of the rule files, not the files:
//! editors that save by writing a new file and renaming it over the old one,
//! and Kubernetes ConfigMap volumes (which swap a `..data` symlink), replace
//! the inode a file watch would be on. Every event starts (or extends) a
//! quiet period; once nothing has happened for the debounce time the files
//! are read, and only when their bytes differ from the current revision's
//! (and from the last bytes that failed) is the whole set loaded and, when
//! it loads cleanly, swapped in, exactly as on `SIGHUP`.

use std::sync::Arc;
use std::time::Duration;

use super::metrics::Metrics;
use super::reload::LiveRules;

/// The default quiet period after the last change before reloading.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);

/// Starts watching the rule files of `rules`, reloading after `debounce`
/// of quiet following a change, counting each reload in `metrics`. Does
/// nothing when the rules come from built-in sets only.
pub(crate) fn reload_on_change(
    rules: Arc<LiveRules>,
    metrics: Option<Arc<Metrics>>,
    debounce: Duration,
) {
    if rules.spec().paths().next().is_none() {
        return;
    }
    imp::spawn(rules, metrics, debounce);
}

/// Reads the files; reloads when they changed. Logs and counts the result.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn reload_if_changed(rules: &LiveRules, metrics: Option<&Metrics>) {
    use super::reload::Reloaded;
    let ok = match rules.reload_if_changed() {
        Ok(Reloaded::Unchanged) => return,
        Ok(Reloaded::Swapped(rev)) => {
            tracing::warn!(revision = %rev.id, rules = rev.rules.rules().len(), new_customer_rules = rev.new_customer.rules().len(), "rule files changed: rules reloaded");
            true
        }
        Err(e) => {
            let diagnostics: Vec<String> = e.diagnostics().iter().map(|d| d.one_line()).collect();
            tracing::error!(
                error = %e,
                diagnostics = ?diagnostics,
                "rule files changed but do not load; still checking with the previous rules"
            );
            false
        }
    };
    if let Some(m) = metrics {
        m.record_reload(ok);
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::Duration;

    use futures::StreamExt;
    use inotify::{Inotify, WatchMask};

    use super::super::metrics::Metrics;
    use super::super::reload::LiveRules;

    /// The directories to watch: each rule file's (`.` for a bare name).
    fn directories(rules: &LiveRules) -> BTreeSet<PathBuf> {
        rules
            .spec()
            .paths()
            .map(|p| match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => Path::new(".").to_owned(),
            })
            .collect()
    }

    pub(super) fn spawn(rules: Arc<LiveRules>, metrics: Option<Arc<Metrics>>, debounce: Duration) {
        let inotify = match Inotify::init() {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the rule files; reload with SIGHUP");
                return;
            }
        };
        let mask = WatchMask::CLOSE_WRITE
            | WatchMask::MODIFY
            | WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_TO
            | WatchMask::MOVED_FROM
            | WatchMask::ATTRIB;
        for dir in directories(&rules) {
            if let Err(e) = inotify.watches().add(&dir, mask) {
                tracing::warn!(directory = %dir.display(), error = %e, "cannot watch this rule directory; reload with SIGHUP after changing its files");
            }
        }
        let mut events = match inotify.into_event_stream([0u8; 4096]) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the rule files; reload with SIGHUP");
                return;
            }
        };
        tokio::spawn(async move {
            loop {
                // The first event of a burst…
                match events.next().await {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "the rule-file watch failed; reload with SIGHUP");
                        return;
                    }
                    None => return,
                }
                // …then quiet for `debounce`.
                loop {
                    match tokio::time::timeout(debounce, events.next()).await {
                        Ok(Some(Ok(_))) => {}
                        Ok(Some(Err(e))) => {
                            tracing::warn!(error = %e, "the rule-file watch failed; reload with SIGHUP");
                            return;
                        }
                        Ok(None) => return,
                        Err(_quiet) => break,
                    }
                }
                super::reload_if_changed(&rules, metrics.as_deref());
            }
        });
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::metrics::Metrics;
    use super::super::reload::LiveRules;

    pub(super) fn spawn(_: Arc<LiveRules>, _: Option<Arc<Metrics>>, _: Duration) {
        tracing::warn!(
            "reloading the rules on file change needs Linux (inotify); reload with SIGHUP"
        );
    }
}

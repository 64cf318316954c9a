//! The token file: a small credential store that several processes (a cron
//! job, a person at a terminal, an order service embedding the library)
//! share safely.
//!
//! It holds the refresh token and, once obtained, the current access token
//! with its expiry, so a run whose access token is still valid refreshes
//! nothing. The format is documented in `docs/credentials.md`:
//!
//! ```json
//! {
//!   "version": 1,
//!   "refresh_token": "…",
//!   "refresh_obtained_at": "2026-04-01T08:00:00Z",
//!   "refresh_expires_at": "2026-05-03T08:00:00Z",
//!   "access_token": "…",
//!   "access_expires_at": "2026-04-01T10:00:00Z"
//! }
//! ```
//!
//! A file holding only a bare refresh token (as pasted from the ION portal,
//! with or without a trailing newline) is accepted, and rewritten in this
//! format by the first write.
//!
//! Writes are atomic (a temporary file in the same directory, created 0600,
//! fsynced, renamed over the file, the directory fsynced), so a crash at any
//! point leaves the old or the new complete file. A refresh holds an
//! exclusive advisory lock on the sibling file `<token file>.lock` (never
//! renamed or deleted, so every process locks the same inode) while it
//! re-reads the file, refreshes and writes the result.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::store::{RefreshLock, StoredTokens, TokenStore, TokenStoreError};

/// The token file format's version written by this library.
pub const TOKEN_FILE_VERSION: u32 = 1;

/// How long a refresh waits for another process's lock before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

/// The JSON shape on disk.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    version: u32,
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_obtained_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_expires_at: Option<Timestamp>,
}

/// The token file: the refresh token, the cached access token and their
/// expiry, shared by every process that names the same path.
///
/// Implements [`TokenStore`] with access-token caching
/// ([`TokenStore::load_tokens`], [`TokenStore::save_tokens`]) and a
/// cross-process lock ([`TokenStore::lock_for_refresh`]), so an
/// [`IonClient`](super::IonClient) built with it reuses a still-valid access
/// token from an earlier run and never refreshes at the same time as another
/// process.
///
/// ```no_run
/// # fn demo() -> Result<(), ion_preflight::ion::IonError> {
/// use std::sync::Arc;
/// use ion_preflight::ion::{IonClient, TokenFile};
/// let client = IonClient::builder()
///     .token_store(Arc::new(TokenFile::new("/etc/ion-preflight/token.json")))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    lock_path: PathBuf,
    lock_wait: Duration,
    warned_mode: AtomicBool,
}

impl Clone for TokenFile {
    fn clone(&self) -> Self {
        TokenFile::new(self.path.clone()).with_lock_wait(self.lock_wait)
    }
}

impl TokenFile {
    /// The token file at `path` (which need not exist yet). Its lock file is
    /// `path` with `.lock` appended.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        TokenFile {
            path,
            lock_path: PathBuf::from(lock),
            lock_wait: LOCK_WAIT,
            warned_mode: AtomicBool::new(false),
        }
    }

    /// How long a refresh waits for another process holding the lock
    /// before failing (default [`LOCK_WAIT`]).
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sibling lock file a refresh locks.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Reads and parses the file; `Ok(None)` when it does not exist or is
    /// empty.
    pub fn read(&self) -> Result<Option<StoredTokens>, TokenStoreError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(TokenStoreError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        if let Ok(meta) = fs::metadata(&self.path) {
            self.warn_if_exposed(&meta);
        }
        parse(&text).map_err(|reason| TokenStoreError::Malformed {
            path: self.path.clone(),
            reason,
        })
    }

    /// Checks that a refresh could take the lock: the lock file, when it
    /// exists, must open for reading and writing (a directory or a file
    /// without write permission in its place would fail every refresh).
    /// Nothing is created; a missing lock file is created by the refresh.
    pub fn check_lock(&self) -> Result<(), TokenStoreError> {
        match fs::symlink_metadata(&self.lock_path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(TokenStoreError::Lock {
                path: self.lock_path.clone(),
                source,
            }),
            Ok(meta) if meta.is_dir() => Err(TokenStoreError::Lock {
                path: self.lock_path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "it is a directory; the lock must be a file (remove the directory)",
                ),
            }),
            Ok(_) => OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.lock_path)
                .map(drop)
                .map_err(|source| TokenStoreError::Lock {
                    path: self.lock_path.clone(),
                    source,
                }),
        }
    }

    /// Writes `tokens` atomically with mode 0600 (creating the directory,
    /// mode 0700, when it is missing).
    pub fn write(&self, tokens: &StoredTokens) -> Result<(), TokenStoreError> {
        let on_disk = OnDisk {
            version: TOKEN_FILE_VERSION,
            refresh_token: tokens.refresh_token.expose_secret().to_owned(),
            refresh_obtained_at: tokens.refresh_obtained_at,
            refresh_expires_at: tokens.refresh_expires_at,
            access_token: tokens
                .access_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            access_expires_at: tokens.access_expires_at,
        };
        let mut bytes = serde_json::to_vec_pretty(&on_disk)
            .map_err(|e| TokenStoreError::Other(format!("cannot encode the token file: {e}")))?;
        bytes.push(b'\n');
        let write_error = |source| TokenStoreError::Write {
            path: self.path.clone(),
            source,
        };
        ensure_parent(&self.path).map_err(write_error)?;
        crate::atomic_write::write_atomically(&self.path, &bytes, true).map_err(write_error)
    }

    #[cfg(unix)]
    fn warn_if_exposed(&self, meta: &fs::Metadata) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 && !self.warned_mode.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                path = %self.path.display(),
                mode = format_args!("{:o}", mode & 0o777),
                "the token file is readable by other users; restrict it with `chmod 600`"
            );
        }
    }

    #[cfg(not(unix))]
    fn warn_if_exposed(&self, _meta: &fs::Metadata) {
        let _ = &self.warned_mode;
    }
}

impl TokenStore for TokenFile {
    fn load(&self) -> Result<Option<SecretString>, TokenStoreError> {
        Ok(self.read()?.map(|t| t.refresh_token))
    }

    /// Replaces the whole file with `refresh_token` alone (obtained now):
    /// what `auth login` does with a token from the portal.
    fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError> {
        self.write(&StoredTokens::new(refresh_token.clone()).obtained_at(Timestamp::now()))
    }

    fn load_tokens(&self) -> Result<Option<StoredTokens>, TokenStoreError> {
        self.read()
    }

    fn save_tokens(&self, tokens: &StoredTokens) -> Result<(), TokenStoreError> {
        self.write(tokens)
    }

    fn lock_for_refresh(&self) -> Result<RefreshLock, TokenStoreError> {
        let lock_error = |source| TokenStoreError::Lock {
            path: self.lock_path.clone(),
            source,
        };
        ensure_parent(&self.lock_path).map_err(lock_error)?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&self.lock_path).map_err(lock_error)?;
        // flock(2) on Unix, LockFileEx on Windows; released when the file
        // is closed, including when the process dies. Polled, so that a
        // holder that hangs (a stopped process) costs a clear error after
        // `LOCK_WAIT` rather than a run that never ends.
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(RefreshLock::holding(file)),
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(lock_error(e)),
            }
            if started.elapsed() >= self.lock_wait {
                return Err(lock_error(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "another process has held it for {} s (a refresh takes one round trip to ION; is a process stuck?)",
                        self.lock_wait.as_secs()
                    ),
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// Parses the file's text: the JSON format, or a bare refresh token.
/// The keys of the JSON token file, for "did you mean".
const KEYS: [&str; 6] = [
    "version",
    "refresh_token",
    "refresh_obtained_at",
    "refresh_expires_at",
    "access_token",
    "access_expires_at",
];

/// A misspelled or missing key, in words: keys are no secrets, so they may
/// be named (values never are). `None` for any other error.
fn key_problem(e: &serde_json::Error) -> Option<String> {
    let message = e.to_string();
    let quoted = |prefix: &str| {
        let rest = message.strip_prefix(prefix)?;
        let name = &rest[..rest.find('`')?];
        // A key that looks like anything but a key name is not repeated.
        let plain = name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        Some(if plain {
            format!("`{name}`")
        } else {
            "a key".to_owned()
        })
    };
    if let Some(name) = quoted("unknown field `") {
        let raw = name.trim_matches('`');
        let hint = crate::did_you_mean::did_you_mean(raw, KEYS)
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        return Some(format!(
            "unknown key {name} in the JSON token file{hint} (its keys: {})",
            KEYS.join(", ")
        ));
    }
    if let Some(name) = quoted("duplicate field `") {
        return Some(format!(
            "the key {name} appears twice in the JSON token file"
        ));
    }
    quoted("missing field `").map(|name| format!("the JSON token file has no {name}"))
}

/// What kind of JSON value `v` is, in words (never the value: it may be a
/// token).
fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Every key of the JSON token file, each as written (a duplicate key or
/// an unknown one is refused by serde before any value is looked at).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOnDisk {
    version: Option<serde_json::Value>,
    refresh_token: Option<serde_json::Value>,
    refresh_obtained_at: Option<serde_json::Value>,
    refresh_expires_at: Option<serde_json::Value>,
    access_token: Option<serde_json::Value>,
    access_expires_at: Option<serde_json::Value>,
}

/// A string field's value, or what is wrong with it (named, never quoted).
fn string_field(name: &str, v: Option<serde_json::Value>) -> Result<Option<String>, String> {
    match v {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "the token file's \"{name}\" must be a string, not {}",
            kind(&other)
        )),
    }
}

/// A time field's value, or what is wrong with it.
fn time_field(name: &str, v: Option<serde_json::Value>) -> Result<Option<Timestamp>, String> {
    let Some(text) = string_field(name, v)? else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| {
        format!("the token file's \"{name}\" is not an RFC 3339 time (like 2026-04-01T10:00:00Z)")
    })
}

fn parse(text: &str) -> Result<Option<StoredTokens>, String> {
    // Editors on Windows start files with a byte-order mark: not part of
    // the token.
    let trimmed = text.trim().trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    // Anything JSON is meant as the JSON format, never sent as a token.
    let json = serde_json::from_str::<serde_json::Value>(trimmed).ok();
    if !trimmed.starts_with(['{', '[', '"']) && json.is_none() {
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                "it is neither the JSON token format nor a single bare refresh token".to_owned(),
            );
        }
        return Ok(Some(StoredTokens::new(SecretString::from(
            trimmed.to_owned(),
        ))));
    }
    if !trimmed.starts_with('{') {
        let what = json.as_ref().map_or("text that is not valid JSON", kind);
        return Err(format!(
            "it holds JSON ({what}), not the JSON token format (an object: {{\"version\": 1, \"refresh_token\": \"…\"}}) nor a bare refresh token"
        ));
    }
    // serde_json's messages can quote a value ("invalid type: string …"),
    // which may be a token: only the position and the kind are shown.
    let located = |e: serde_json::Error| match key_problem(&e) {
        Some(problem) => format!("{problem} (line {}, column {})", e.line(), e.column()),
        None => format!(
            "invalid JSON token file ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    };
    let raw: RawOnDisk = serde_json::from_str(trimmed).map_err(located)?;
    match &raw.version {
        None => return Err("the JSON token file has no \"version\"".to_owned()),
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(v) if v == u64::from(TOKEN_FILE_VERSION) => {}
            Some(v) if v > u64::from(TOKEN_FILE_VERSION) => {
                return Err(format!(
                    "token file format version {v} is not supported (this release reads version {TOKEN_FILE_VERSION}); upgrade ion-preflight"
                ));
            }
            _ => {
                return Err(format!(
                    "the token file's \"version\" must be {TOKEN_FILE_VERSION}"
                ));
            }
        },
        Some(other) => {
            return Err(format!(
                "the token file's \"version\" must be the number {TOKEN_FILE_VERSION}, not {}",
                kind(other)
            ));
        }
    }
    let refresh_token = string_field("refresh_token", raw.refresh_token)?
        .ok_or_else(|| "the JSON token file has no `refresh_token`".to_owned())?;
    if refresh_token.trim().is_empty() {
        return Err("the token file's \"refresh_token\" is empty".to_owned());
    }
    Ok(Some(StoredTokens {
        refresh_token: SecretString::from(refresh_token),
        refresh_obtained_at: time_field("refresh_obtained_at", raw.refresh_obtained_at)?,
        refresh_expires_at: time_field("refresh_expires_at", raw.refresh_expires_at)?,
        access_token: string_field("access_token", raw.access_token)?
            .filter(|t| !t.is_empty())
            .map(SecretString::from),
        access_expires_at: time_field("access_expires_at", raw.access_expires_at)?,
    }))
}

fn ensure_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn a_bare_token_is_accepted_with_or_without_a_newline() {
        for text in [
            "rt-portal",
            "rt-portal\n",
            "  rt-portal\r\n",
            "\u{feff}rt-portal\n",
            " \u{feff} rt-portal",
        ] {
            let t = parse(text).expect("parses").expect("some");
            assert_eq!(t.refresh_token.expose_secret(), "rt-portal");
            assert!(t.access_token.is_none());
            assert!(t.refresh_obtained_at.is_none());
        }
        assert!(parse("").expect("parses").is_none());
        assert!(parse("\n \n").expect("parses").is_none());
        let e = parse("two words").expect_err("fails");
        assert!(!e.contains("two"), "{e}");
    }

    #[test]
    fn the_json_format_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = TokenFile::new(dir.path().join("sub/token.json"));
        let mut t =
            StoredTokens::new(SecretString::from("rt-1")).obtained_at(ts("2026-04-01T08:00:00Z"));
        t.access_token = Some(SecretString::from("at-1"));
        t.access_expires_at = Some(ts("2026-04-01T10:00:00Z"));
        t.refresh_expires_at = Some(ts("2026-05-03T08:00:00Z"));
        file.write(&t).expect("write");
        let back = file.read().expect("read").expect("some");
        assert_eq!(back.refresh_token.expose_secret(), "rt-1");
        assert_eq!(
            back.access_token.as_ref().map(|s| s.expose_secret()),
            Some("at-1")
        );
        assert_eq!(back.access_expires_at, t.access_expires_at);
        assert_eq!(back.refresh_expires_at, t.refresh_expires_at);
        assert_eq!(back.refresh_obtained_at, t.refresh_obtained_at);
        let text = fs::read_to_string(file.path()).expect("text");
        assert!(text.starts_with("{\n  \"version\": 1,"), "{text}");
        assert!(!format!("{back:?}").contains("rt-1"));
        assert!(!format!("{back:?}").contains("at-1"));
    }

    #[test]
    fn malformed_files_are_refused_without_quoting_them() {
        for text in [
            r#"{"version": 1, "refresh_token": 5}"#,
            r#"{"version": 1}"#,
            r#"{"version": "secret-ish"}"#,
            r#"{"refresh_token": "secret-ish"}"#,
            r#"{"version": 1, "refresh_token": "secret-ish", "extra": "x"}"#,
            r#"{"version": 1, "refresh_token": "secret-ish""#,
        ] {
            let e = parse(text).err().unwrap_or_else(|| panic!("{text} parsed"));
            assert!(!e.contains("secret-ish"), "{e}");
        }
        let e = parse(r#"{"version": 2, "refresh_token": "x"}"#).expect_err("fails");
        assert!(e.contains("version 2"), "{e}");
    }

    #[test]
    fn access_tokens_are_usable_until_the_margin() {
        let mut t = StoredTokens::new(SecretString::from("rt"));
        let now = ts("2026-04-01T09:00:00Z");
        let margin = Duration::from_secs(60);
        assert!(t.usable_access_token(now, margin).is_none());
        t.access_token = Some(SecretString::from("at"));
        assert!(t.usable_access_token(now, margin).is_none(), "no expiry");
        t.access_expires_at = Some(ts("2026-04-01T09:01:01Z"));
        assert!(t.usable_access_token(now, margin).is_some());
        t.access_expires_at = Some(ts("2026-04-01T09:01:00Z"));
        assert!(t.usable_access_token(now, margin).is_none());
    }

    #[test]
    fn refresh_expiry_prefers_ions_word_over_the_estimate() {
        let t = StoredTokens::new(SecretString::from("rt"));
        assert!(t.refresh_expiry().is_none());
        let t = t.obtained_at(ts("2026-04-01T00:00:00Z"));
        assert_eq!(t.refresh_expiry(), Some((ts("2026-05-01T00:00:00Z"), true)));
        let mut t = t;
        t.refresh_expires_at = Some(ts("2026-05-03T00:00:00Z"));
        assert_eq!(
            t.refresh_expiry(),
            Some((ts("2026-05-03T00:00:00Z"), false))
        );
    }

    #[cfg(unix)]
    #[test]
    fn writes_are_0600_and_leave_no_temporary_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        fs::write(&path, "rt-bare\n").expect("seed");
        let file = TokenFile::new(&path);
        assert_eq!(
            file.load().expect("load").expect("some").expose_secret(),
            "rt-bare"
        );
        file.save(&SecretString::from("rt-2")).expect("save");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let t = file.read().expect("read").expect("some");
        assert_eq!(t.refresh_token.expose_secret(), "rt-2");
        assert!(t.refresh_obtained_at.is_some());
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn unwritable_directories_are_reported_without_the_token() {
        let file = TokenFile::new("/proc/ion-preflight-nowhere/token");
        let e = file
            .save(&SecretString::from("secret-value"))
            .expect_err("fails");
        let msg = e.to_string();
        assert!(msg.contains("/proc/ion-preflight-nowhere/token"), "{msg}");
        assert!(!msg.contains("secret-value"), "{msg}");
    }

    #[test]
    fn the_lock_excludes_other_holders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = TokenFile::new(dir.path().join("token"));
        let b = TokenFile::new(dir.path().join("token"));
        let held = a.lock_for_refresh().expect("lock");
        // A second open file description cannot take it meanwhile.
        let probe = fs::OpenOptions::new()
            .write(true)
            .open(b.lock_path())
            .expect("open");
        assert!(matches!(
            probe.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        // A waiter gives up after its bound, with a message saying why.
        let e = b
            .clone()
            .with_lock_wait(Duration::from_millis(100))
            .lock_for_refresh()
            .expect_err("held elsewhere");
        assert!(e.to_string().contains("another process has held it"), "{e}");
        drop(held);
        probe.try_lock().expect("free after release");
    }
}

//! Tokens: where the refresh token lives, and how access tokens are obtained.
//!
//! ION's refresh tokens are single-use: every refresh (`POST /oauth/token`)
//! returns a new one and the old one stops working. So the new refresh token
//! is handed to the [`TokenStore`] *before* the new access token is used, and
//! refreshes are single-flight: however many requests need a token at once,
//! one refresh happens and everybody waits for it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::Instrument;

use super::error::{Endpoint, IonError, message_from_body};
use super::types::TokenResponse;

/// Where the refresh token is kept between refreshes.
///
/// `save` is called with every new refresh token before the access token
/// that came with it is used: if it fails, the check fails rather than going
/// on with a token that would be lost at exit.
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The current refresh token, if the store has one.
    fn load(&self) -> Result<Option<SecretString>, TokenStoreError>;
    /// Replaces the refresh token.
    fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError>;
}

/// A token store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenStoreError {
    /// The token file could not be read.
    #[error("cannot read the token file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The token file could not be written.
    #[error(
        "cannot write the new refresh token to {}: {source} (ION has already rotated it: fix the file's directory and run again before the access token expires)",
        path.display()
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another store failed.
    #[error("token store: {0}")]
    Other(String),
}

/// Keeps the refresh token in memory only (the library's default).
#[derive(Default)]
pub struct MemoryTokenStore {
    token: StdMutex<Option<SecretString>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `refresh_token`.
    pub fn with_token(refresh_token: SecretString) -> Self {
        MemoryTokenStore {
            token: StdMutex::new(Some(refresh_token)),
        }
    }
}

impl std::fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryTokenStore")
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> Result<Option<SecretString>, TokenStoreError> {
        let guard = self
            .token
            .lock()
            .map_err(|_| TokenStoreError::Other("the in-memory token store was poisoned".into()))?;
        Ok(guard.clone())
    }

    fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError> {
        let mut guard = self
            .token
            .lock()
            .map_err(|_| TokenStoreError::Other("the in-memory token store was poisoned".into()))?;
        *guard = Some(refresh_token.clone());
        Ok(())
    }
}

/// Keeps the refresh token in a file holding just the token.
///
/// Writes are atomic: a temporary file in the same directory, created with
/// mode 0600, written, fsynced, then renamed over the file (and the directory
/// fsynced), so a crash leaves the old or the new token, never neither.
/// Loading warns (through `tracing`) when the file is readable by group or
/// others.
#[derive(Clone, Debug)]
pub struct FileTokenStore {
    path: PathBuf,
}

impl FileTokenStore {
    /// A store backed by the file at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileTokenStore { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(unix)]
    fn warn_if_exposed(&self, meta: &fs::Metadata) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %self.path.display(),
                mode = format_args!("{:o}", mode & 0o777),
                "the token file is readable by other users; restrict it with `chmod 600`"
            );
        }
    }

    #[cfg(not(unix))]
    fn warn_if_exposed(&self, _meta: &fs::Metadata) {}
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> Result<Option<SecretString>, TokenStoreError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => {
                if let Ok(meta) = fs::metadata(&self.path) {
                    self.warn_if_exposed(&meta);
                }
                let token = text.trim();
                if token.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(SecretString::from(token.to_owned())))
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(TokenStoreError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError> {
        write_atomically(&self.path, refresh_token.expose_secret().as_bytes()).map_err(|source| {
            TokenStoreError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }
}

fn write_atomically(path: &Path, token: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token".to_owned());
    let tmp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(token)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform
        // can open a directory).
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// An access token and when to stop using it.
struct Cached {
    token: SecretString,
    /// `None`: a token given by the caller, used until ION rejects it.
    use_until: Option<Instant>,
}

struct State {
    access: Option<Cached>,
    /// A refresh token received from ION that the store has not accepted
    /// yet (its `save` failed): kept so it is not lost, saved again first.
    unsaved: Option<SecretString>,
    /// The access token that came with `unsaved`.
    unsaved_access: Option<Cached>,
}

/// The token lifecycle: cached access token, single-flight refresh.
pub(crate) struct Auth {
    state: Mutex<State>,
    store: Option<std::sync::Arc<dyn TokenStore>>,
    /// The refresh token given to the builder: used when the store is empty.
    initial_refresh: Option<SecretString>,
    /// How long before expiry an access token stops being used.
    margin: Duration,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// What a refresh needs from the client.
pub(crate) struct RefreshTarget<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) url: url::Url,
    pub(crate) timeout: Duration,
}

impl Auth {
    pub(crate) fn new(
        access: Option<SecretString>,
        initial_refresh: Option<SecretString>,
        store: Option<std::sync::Arc<dyn TokenStore>>,
    ) -> Self {
        Auth {
            state: Mutex::new(State {
                access: access.map(|token| Cached {
                    token,
                    use_until: None,
                }),
                unsaved: None,
                unsaved_access: None,
            }),
            store,
            initial_refresh,
            margin: Duration::from_secs(60),
        }
    }

    /// Whether a rejected access token can be replaced by refreshing.
    pub(crate) fn can_refresh(&self) -> bool {
        self.store.is_some() || self.initial_refresh.is_some()
    }

    /// A usable access token: the cached one, or a fresh one from a single
    /// refresh shared by every concurrent caller.
    pub(crate) async fn access_token(
        &self,
        target: RefreshTarget<'_>,
    ) -> Result<SecretString, IonError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = &state.access
            && cached.use_until.is_none_or(|t| Instant::now() < t)
        {
            return Ok(cached.token.clone());
        }
        // A previous refresh succeeded but its refresh token could not be
        // saved: save it now, before using its access token.
        if let Some(pending) = state.unsaved.clone() {
            self.save(&pending)?;
            state.unsaved = None;
            state.access = state.unsaved_access.take();
            if let Some(cached) = &state.access
                && cached.use_until.is_none_or(|t| Instant::now() < t)
            {
                return Ok(cached.token.clone());
            }
        }
        let refresh = self.current_refresh_token()?.ok_or_else(|| {
            IonError::Config(
                "no ION credentials: set ION_ACCESS_TOKEN, or ION_REFRESH_TOKEN / ION_TOKEN_FILE for a refresh token"
                    .to_owned(),
            )
        })?;
        let (access, new_refresh) = self.refresh(&refresh, target).await?;
        if let Some(new_refresh) = new_refresh
            && let Err(e) = self.save(&new_refresh)
        {
            state.unsaved = Some(new_refresh);
            state.unsaved_access = Some(access);
            state.access = None;
            return Err(e);
        }
        let token = access.token.clone();
        state.access = Some(access);
        Ok(token)
    }

    /// Forgets `rejected` (ION refused it) so the next caller refreshes; a
    /// token already replaced by a concurrent refresh is left alone.
    pub(crate) async fn invalidate(&self, rejected: &SecretString) {
        let mut state = self.state.lock().await;
        if state
            .access
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == rejected.expose_secret())
        {
            state.access = None;
        }
    }

    fn current_refresh_token(&self) -> Result<Option<SecretString>, IonError> {
        if let Some(store) = &self.store
            && let Some(t) = store.load()?
        {
            return Ok(Some(t));
        }
        Ok(self.initial_refresh.clone())
    }

    fn save(&self, token: &SecretString) -> Result<(), IonError> {
        match &self.store {
            Some(store) => store.save(token).map_err(IonError::from),
            None => Ok(()),
        }
    }

    /// One `POST /oauth/token`. Never retried: the refresh token is
    /// single-use, and a retry after a lost answer would present it twice.
    async fn refresh(
        &self,
        refresh: &SecretString,
        target: RefreshTarget<'_>,
    ) -> Result<(Cached, Option<SecretString>), IonError> {
        let endpoint = Endpoint {
            method: "POST",
            path: target.url.path().to_owned(),
        };
        let span = tracing::debug_span!(
            "ion.refresh",
            method = endpoint.method,
            path = %endpoint.path,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose_secret()),
            ];
            let result = target
                .http
                .post(target.url.clone())
                .form(&form)
                .send()
                .await;
            let span = tracing::Span::current();
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            let response = result.map_err(|e| super::client::transport_error(&endpoint, &e, target.timeout))?;
            let status = response.status();
            span.record("status", status.as_u16());
            let body = response
                .bytes()
                .await
                .map_err(|e| super::client::transport_error(&endpoint, &e, target.timeout))?;
            if !status.is_success() {
                let message = message_from_body(&body, true);
                tracing::debug!(status = status.as_u16(), "ION refused the token refresh");
                return Err(if status.is_server_error() {
                    IonError::Server {
                        endpoint,
                        status: status.as_u16(),
                        message,
                        attempts: 1,
                    }
                } else if status.as_u16() == 429 {
                    IonError::RateLimited {
                        endpoint,
                        attempts: 1,
                        retry_after: None,
                    }
                } else {
                    IonError::TokenRejected { endpoint, message }
                });
            }
            let parsed: TokenResponse =
                serde_json::from_slice(&body).map_err(|e| IonError::MalformedResponse {
                    endpoint: endpoint.clone(),
                    excerpt: format!("the token answer is not valid JSON of the expected shape ({e}); body withheld"),
                })?;
            let access = parsed
                .access_token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| IonError::MalformedResponse {
                    endpoint: endpoint.clone(),
                    excerpt: "the token answer has no access_token".to_owned(),
                })?;
            let expires_in = Duration::from_secs(parsed.expires_in.unwrap_or(7200));
            let margin = self.margin.min(expires_in / 2);
            let new_refresh = parsed.refresh_token.filter(|t| !t.is_empty());
            if new_refresh.is_none() {
                tracing::warn!("ION's token answer carries no new refresh token; keeping the current one");
            }
            tracing::debug!(expires_in_s = expires_in.as_secs(), "obtained a new access token");
            Ok((
                Cached {
                    token: SecretString::from(access),
                    use_until: Some(Instant::now() + expires_in - margin),
                },
                new_refresh.map(SecretString::from),
            ))
        }
        .instrument(span)
        .await
        .map_err(|e| e.redact(refresh.expose_secret()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trips() {
        let s = MemoryTokenStore::new();
        assert!(s.load().expect("load").is_none());
        s.save(&SecretString::from("r1")).expect("save");
        assert_eq!(s.load().expect("load").expect("some").expose_secret(), "r1");
        assert_eq!(format!("{s:?}"), "MemoryTokenStore");
    }

    #[cfg(unix)]
    #[test]
    fn file_store_writes_atomically_with_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        let s = FileTokenStore::new(&path);
        assert!(s.load().expect("load").is_none());
        s.save(&SecretString::from("first")).expect("save");
        s.save(&SecretString::from("second")).expect("save");
        assert_eq!(fs::read_to_string(&path).expect("read"), "second\n");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            s.load().expect("load").expect("some").expose_secret(),
            "second"
        );
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn file_store_reports_unwritable_directories() {
        let s = FileTokenStore::new("/nonexistent-dir-for-ion-preflight/token");
        let e = s
            .save(&SecretString::from("secret-value"))
            .expect_err("fails");
        let msg = e.to_string();
        assert!(
            msg.contains("/nonexistent-dir-for-ion-preflight/token"),
            "{msg}"
        );
        assert!(!msg.contains("secret-value"), "{msg}");
    }
}

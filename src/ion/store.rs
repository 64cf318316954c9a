//! Where tokens are kept: the [`TokenStore`] trait, what a store holds
//! ([`StoredTokens`]), the cross-process [`RefreshLock`], store errors, and
//! the in-memory store. The token file is one store among others
//! (`token_file`).

use std::path::PathBuf;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

/// How long a refresh token lasts when ION has not said (the lower bound of
/// the 30–32 days ION's refresh tokens live); used only for estimates.
pub const ASSUMED_REFRESH_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// Everything a token store holds: the refresh token and, when known, the
/// current access token and the times that say how long each stays usable.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoredTokens {
    /// The refresh token (single-use: each refresh returns a new one).
    pub refresh_token: SecretString,
    /// When this refresh token was received (from ION or `auth login`).
    pub refresh_obtained_at: Option<Timestamp>,
    /// When the refresh token expires, as ION last reported it
    /// (`POST /oauth/validateAccess`).
    pub refresh_expires_at: Option<Timestamp>,
    /// The current access token.
    pub access_token: Option<SecretString>,
    /// When the access token expires.
    pub access_expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("refresh_token", &"[redacted]")
            .field("refresh_obtained_at", &self.refresh_obtained_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("access_expires_at", &self.access_expires_at)
            .finish()
    }
}

impl StoredTokens {
    /// A record holding only `refresh_token`, with nothing known about it.
    pub fn new(refresh_token: SecretString) -> Self {
        StoredTokens {
            refresh_token,
            refresh_obtained_at: None,
            refresh_expires_at: None,
            access_token: None,
            access_expires_at: None,
        }
    }

    /// Sets when the refresh token was received.
    pub fn obtained_at(mut self, at: Timestamp) -> Self {
        self.refresh_obtained_at = Some(at);
        self
    }

    /// The access token, if it is still usable at `now` with `margin` to
    /// spare (an access token without a known expiry is not usable).
    pub fn usable_access_token(&self, now: Timestamp, margin: Duration) -> Option<&SecretString> {
        let expires = self.access_expires_at?;
        let margin = jiff::SignedDuration::try_from(margin).ok()?;
        let until = expires.checked_sub(margin).ok()?;
        (now < until).then_some(())?;
        self.access_token
            .as_ref()
            .filter(|t| !t.expose_secret().is_empty())
    }

    /// When the refresh token expires: ION's word when it was recorded
    /// (`false`), else an estimate from when it was obtained and
    /// [`ASSUMED_REFRESH_LIFETIME`] (`true`); `None` when neither is known.
    pub fn refresh_expiry(&self) -> Option<(Timestamp, bool)> {
        if let Some(at) = self.refresh_expires_at {
            return Some((at, false));
        }
        let obtained = self.refresh_obtained_at?;
        let life = jiff::SignedDuration::try_from(ASSUMED_REFRESH_LIFETIME).ok()?;
        Some((obtained.checked_add(life).ok()?, true))
    }
}

/// Where the refresh token (and, for stores that can, the current access
/// token) is kept between refreshes and between runs.
///
/// `save` / `save_tokens` is called with every new refresh token before the
/// access token that came with it is used: if it fails, the check fails
/// rather than going on with a token that would be lost at exit.
///
/// Only `load` and `save` are required. A store shared by several processes
/// (like [`TokenFile`](super::TokenFile)) also implements
/// [`load_tokens`](TokenStore::load_tokens) and
/// [`save_tokens`](TokenStore::save_tokens) to cache the access token
/// between runs, and [`lock_for_refresh`](TokenStore::lock_for_refresh) so
/// that only one process refreshes at a time.
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The current refresh token, if the store has one.
    fn load(&self) -> Result<Option<SecretString>, TokenStoreError>;
    /// Replaces the refresh token.
    fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError>;

    /// Everything the store holds. The default wraps
    /// [`load`](TokenStore::load): no cached access token.
    fn load_tokens(&self) -> Result<Option<StoredTokens>, TokenStoreError> {
        Ok(self.load()?.map(StoredTokens::new))
    }

    /// Replaces everything the store holds. The default keeps only the
    /// refresh token, through [`save`](TokenStore::save).
    fn save_tokens(&self, tokens: &StoredTokens) -> Result<(), TokenStoreError> {
        self.save(&tokens.refresh_token)
    }

    /// Blocks until this process may refresh, and keeps others from doing
    /// so until the returned guard is dropped. The client holds it while it
    /// re-reads the store, refreshes and saves the result. The default locks
    /// nothing (for a store only this process uses).
    fn lock_for_refresh(&self) -> Result<RefreshLock, TokenStoreError> {
        Ok(RefreshLock::none())
    }
}

/// Held while a refresh is in progress (see
/// [`TokenStore::lock_for_refresh`]); dropping it releases the lock.
#[must_use = "the lock is released when this is dropped"]
pub struct RefreshLock {
    _guard: Option<Box<dyn Send>>,
}

impl RefreshLock {
    /// A lock that holds nothing.
    pub fn none() -> Self {
        RefreshLock { _guard: None }
    }

    /// A lock released when `guard` is dropped (an open, locked file; a
    /// lease; …).
    pub fn holding(guard: impl Send + 'static) -> Self {
        RefreshLock {
            _guard: Some(Box::new(guard)),
        }
    }
}

impl std::fmt::Debug for RefreshLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshLock")
    }
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
    /// The token file holds something that is not a token file.
    #[error("the token file {} cannot be used: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the file's content).
        reason: String,
    },
    /// The lock file next to the token file could not be opened or locked.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another store failed.
    #[error("token store: {0}")]
    Other(String),
}

/// Keeps the tokens in memory only (the library's default).
#[derive(Default)]
pub struct MemoryTokenStore {
    tokens: StdMutex<Option<StoredTokens>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `refresh_token`.
    pub fn with_token(refresh_token: SecretString) -> Self {
        MemoryTokenStore {
            tokens: StdMutex::new(Some(StoredTokens::new(refresh_token))),
        }
    }

    fn guard(&self) -> Result<std::sync::MutexGuard<'_, Option<StoredTokens>>, TokenStoreError> {
        self.tokens
            .lock()
            .map_err(|_| TokenStoreError::Other("the in-memory token store was poisoned".into()))
    }
}

impl std::fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryTokenStore")
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> Result<Option<SecretString>, TokenStoreError> {
        Ok(self.guard()?.as_ref().map(|t| t.refresh_token.clone()))
    }

    fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError> {
        *self.guard()? = Some(StoredTokens::new(refresh_token.clone()));
        Ok(())
    }

    fn load_tokens(&self) -> Result<Option<StoredTokens>, TokenStoreError> {
        Ok(self.guard()?.clone())
    }

    fn save_tokens(&self, tokens: &StoredTokens) -> Result<(), TokenStoreError> {
        *self.guard()? = Some(tokens.clone());
        Ok(())
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
        let mut t = StoredTokens::new(SecretString::from("r2"));
        t.access_token = Some(SecretString::from("a2"));
        s.save_tokens(&t).expect("save");
        let back = s.load_tokens().expect("load").expect("some");
        assert_eq!(back.access_token.expect("access").expose_secret(), "a2");
        assert_eq!(s.load().expect("load").expect("some").expose_secret(), "r2");
    }
}

//! Tokens: where the refresh token lives, and how access tokens are obtained.
//!
//! ION's refresh tokens are single-use: every refresh (`POST /oauth/token`)
//! returns a new one and the old one stops working. So the new refresh token
//! is handed to the [`TokenStore`] *before* the new access token is used, and
//! refreshes are single-flight: however many requests need a token at once,
//! one refresh happens and everybody waits for it.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::IonError;
use super::oauth::{self, RefreshTarget};
use super::store::{StoredTokens, TokenStore, TokenStoreError};
use super::types::AccessValidity;

/// How long before its expiry an access token stops being used.
pub const ACCESS_TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Checks warn (through `tracing`) when the refresh token has less than this
/// left.
pub const REFRESH_EXPIRY_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// After a refresh, ION is asked how long the refresh token lasts when this
/// is not known or is less than this away (so the warning above is based on
/// ION's word, at the cost of one `POST /oauth/validateAccess` per refresh
/// at most, and usually once per credential). It is sent alongside the
/// request that needed the token, not before it: it costs no round trip.
const REFRESH_EXPIRY_RECHECK: Duration = Duration::from_secs(8 * 24 * 3600);

/// An access token and when to stop using it.
struct Cached {
    token: SecretString,
    /// `None`: a token given by the caller, used until ION rejects it.
    use_until: Option<Instant>,
    /// Which access token of this process it is (see [`Grant::generation`]).
    generation: u64,
}

/// An access token handed to a request.
pub(crate) struct Grant {
    pub(crate) token: SecretString,
    /// Counts the access tokens this process used, in the order it adopted
    /// them: a rejection of a token older than one ION accepted is the
    /// token's age, not a verdict on the credentials.
    pub(crate) generation: u64,
    /// The `POST /oauth/validateAccess` a refresh left to do, if any.
    pub(crate) owed: Option<PendingValidation>,
}

struct State {
    access: Option<Cached>,
    /// Tokens received from ION that the store has not accepted yet (its
    /// save failed): kept so the refresh token is not lost, saved first.
    unsaved: Option<StoredTokens>,
    /// The last access token ION rejected: never taken from the store again.
    rejected: Option<SecretString>,
    /// Whether the near-expiry warning was given.
    warned: bool,
    /// A refresh token whose `POST /oauth/token` failed in this process, and
    /// how: it is never presented again (it is single-use, and ION may have
    /// spent it on a request whose answer was lost), every later caller
    /// gets the same failure.
    failed: Option<(SecretString, IonError)>,
    /// The generation the next adopted access token gets.
    next_generation: u64,
}

/// The token lifecycle: cached access token, single-flight refresh within
/// the process, the store's lock across processes.
pub(crate) struct Auth {
    state: Mutex<State>,
    store: Option<Arc<dyn TokenStore>>,
    /// The refresh token given to the builder: used when the store is empty.
    initial_refresh: Option<SecretString>,
    /// How long before expiry an access token stops being used.
    margin: Duration,
    /// The first failed refresh of this process, as a message (see
    /// [`Auth::refresh_failure`]).
    refresh_failure: std::sync::OnceLock<String>,
    /// The newest generation of access token ION has accepted (0: none).
    accepted: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A `POST /oauth/validateAccess` owed after a refresh (see
/// [`Auth::access_token`]); holds the new access token.
#[must_use = "run it with Auth::finish_validation, alongside the request"]
pub(crate) struct PendingValidation {
    access: SecretString,
}

fn plus(at: Timestamp, d: Duration) -> Option<Timestamp> {
    at.checked_add(SignedDuration::try_from(d).ok()?).ok()
}

/// When the refresh token expires, from ION's `refresh_expires_in` at
/// `now`.
fn refresh_expires_at(validity: &AccessValidity, now: Timestamp) -> Option<Timestamp> {
    let secs = u64::try_from(validity.refresh_expires_in?).ok()?;
    plus(now, Duration::from_secs(secs))
}

fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

impl Auth {
    pub(crate) fn new(
        access: Option<SecretString>,
        initial_refresh: Option<SecretString>,
        store: Option<Arc<dyn TokenStore>>,
    ) -> Self {
        Auth {
            state: Mutex::new(State {
                access: access.map(|token| Cached {
                    token,
                    use_until: None,
                    generation: 1,
                }),
                unsaved: None,
                rejected: None,
                warned: false,
                failed: None,
                next_generation: 2,
            }),
            store,
            initial_refresh,
            margin: ACCESS_TOKEN_MARGIN,
            refresh_failure: std::sync::OnceLock::new(),
            accepted: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The first refresh of this process that failed, as a message: every
    /// later request needing a refresh fails the same way (the refresh token
    /// is not presented twice), so a caller checking many customers stops.
    pub(crate) fn refresh_failure(&self) -> Option<&str> {
        self.refresh_failure.get().map(String::as_str)
    }

    /// Records that ION accepted the access token of `generation` (it
    /// answered a request made with it other than by rejecting it).
    pub(crate) fn accepted(&self, generation: u64) {
        self.accepted
            .fetch_max(generation, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether ION accepted the access token of `generation` or a newer one:
    /// then a rejection of it means it expired or was superseded, and
    /// another refresh is worth it.
    pub(crate) fn was_accepted(&self, generation: u64) -> bool {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed) >= generation
    }

    /// Whether a rejected access token can be replaced by refreshing.
    pub(crate) fn can_refresh(&self) -> bool {
        self.store.is_some() || self.initial_refresh.is_some()
    }

    /// A usable access token: the cached one, one a previous run (or another
    /// process) left in the store, or a fresh one from a single refresh
    /// shared by every concurrent caller and, through the store's lock, by
    /// every process sharing the store.
    ///
    /// When this call refreshed and ION's word on the refresh token's expiry
    /// is wanted, it also returns that `POST /oauth/validateAccess` as a
    /// [`PendingValidation`]: the caller runs it with
    /// [`finish_validation`](Auth::finish_validation) *concurrently* with
    /// the request it needed the token for (the validation does not gate
    /// any request, so a refreshing check costs two round trips, not three).
    pub(crate) async fn access_token(&self, target: &RefreshTarget<'_>) -> Result<Grant, IonError> {
        self.obtain(target, false).await
    }

    /// Refreshes now, whatever the cached access token (`auth refresh`),
    /// and asks ION how long the new refresh token lasts when that is due.
    pub(crate) async fn force_refresh(&self, target: &RefreshTarget<'_>) -> Result<(), IonError> {
        if let Some(pending) = self.obtain(target, true).await?.owed {
            self.finish_validation(pending, target).await;
        }
        Ok(())
    }

    async fn obtain(&self, target: &RefreshTarget<'_>, force: bool) -> Result<Grant, IonError> {
        let mut state = self.state.lock().await;
        if !force
            && let Some(cached) = &state.access
            && cached.use_until.is_none_or(|t| Instant::now() < t)
        {
            return Ok(Grant {
                token: cached.token.clone(),
                generation: cached.generation,
                owed: None,
            });
        }
        // A previous refresh succeeded but its tokens could not be saved:
        // save them now, before using the access token.
        if let Some(pending) = state.unsaved.clone() {
            self.save(&pending)?;
            state.unsaved = None;
            if !force && let Some(token) = self.usable(&pending, &state) {
                let generation = self.adopt(&mut state, &pending, token.clone(), self.margin);
                return Ok(Grant {
                    token,
                    generation,
                    owed: None,
                });
            }
        }
        let Some(store) = self.store.clone() else {
            return Err(IonError::NoCredentials);
        };
        // An access token a previous run or another process obtained. The
        // store is read without the lock: writes are atomic replacements.
        if !force
            && let Some(tokens) = store.load_tokens()?
            && let Some(token) = self.usable(&tokens, &state)
        {
            tracing::debug!("using the access token from the token store");
            let generation = self.adopt(&mut state, &tokens, token.clone(), self.margin);
            return Ok(Grant {
                token,
                generation,
                owed: None,
            });
        }
        let lock = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.lock_for_refresh())
                .await
                .map_err(|e| {
                    IonError::TokenStore(TokenStoreError::Other(format!(
                        "waiting for the token lock failed: {e}"
                    )))
                })??
        };
        // Under the lock, read again: the process that held it before may
        // have refreshed already (and spent the refresh token read above).
        let current = store.load_tokens()?;
        if !force
            && let Some(tokens) = &current
            && let Some(token) = self.usable(tokens, &state)
        {
            tracing::debug!("another process refreshed meanwhile; using its access token");
            drop(lock);
            let generation = self.adopt(&mut state, tokens, token.clone(), self.margin);
            return Ok(Grant {
                token,
                generation,
                owed: None,
            });
        }
        let refresh_token = current
            .as_ref()
            .map(|t| t.refresh_token.clone())
            .or_else(|| self.initial_refresh.clone())
            .ok_or(IonError::NoCredentials)?;
        // Single flight for failures too: a refresh token whose refresh
        // failed is not presented a second time by this process.
        if let Some((spent, error)) = &state.failed
            && same(spent, &refresh_token)
        {
            tracing::debug!(
                "the token refresh failed earlier in this run; not presenting the refresh token again"
            );
            return Err(error.duplicate());
        }
        let got = match oauth::refresh(&refresh_token, target).await {
            Ok(got) => got,
            Err(e) => {
                let _ = self.refresh_failure.set(format!(
                    "{e} (the refresh token is single-use, so this run does not present it again)"
                ));
                state.failed = Some((refresh_token, e.duplicate()));
                return Err(e);
            }
        };
        let now = Timestamp::now();
        let tokens = StoredTokens {
            refresh_obtained_at: if got.refresh.is_some() {
                Some(now)
            } else {
                current.as_ref().and_then(|t| t.refresh_obtained_at)
            },
            refresh_token: got.refresh.clone().unwrap_or(refresh_token),
            refresh_expires_at: current.as_ref().and_then(|t| t.refresh_expires_at),
            access_token: Some(got.access.clone()),
            access_expires_at: plus(now, got.expires_in),
        };
        // The rotated refresh token is in the store before the access token
        // is used (by the caller's request or by validateAccess below); if
        // it cannot be saved, the check fails.
        if let Err(e) = store.save_tokens(&tokens) {
            state.unsaved = Some(tokens);
            state.access = None;
            return Err(e.into());
        }
        drop(lock);
        let pending = tokens
            .refresh_expires_at
            .is_none_or(|at| plus(now, REFRESH_EXPIRY_RECHECK).is_none_or(|soon| at < soon))
            .then(|| PendingValidation {
                access: got.access.clone(),
            });
        let margin = self.margin.min(got.expires_in / 2);
        let generation = self.adopt(&mut state, &tokens, got.access.clone(), margin);
        Ok(Grant {
            token: got.access,
            generation,
            owed: pending,
        })
    }

    /// Runs the `POST /oauth/validateAccess` a refresh left to do: records
    /// the refresh token's expiry in the store (under its lock, when the
    /// store still holds the access token that was validated) and warns
    /// (once per process) when it is near. Never fails: without ION's
    /// answer the check goes on, and the next refresh asks again.
    pub(crate) async fn finish_validation(
        &self,
        pending: PendingValidation,
        target: &RefreshTarget<'_>,
    ) {
        match oauth::validate(target, &pending.access).await {
            Ok(validity) => self.record(&pending.access, &validity, false).await,
            Err(e) => {
                tracing::debug!(error = %e, "could not ask ION how long the refresh token lasts");
            }
        }
    }

    /// The store's access token, if it is still valid and not one ION has
    /// rejected.
    fn usable(&self, tokens: &StoredTokens, state: &State) -> Option<SecretString> {
        let token = tokens.usable_access_token(Timestamp::now(), self.margin)?;
        if state.rejected.as_ref().is_some_and(|r| same(r, token)) {
            return None;
        }
        Some(token.clone())
    }

    /// Caches `token` (valid until `tokens.access_expires_at` less `margin`)
    /// and warns once when the refresh token expires soon.
    fn adopt(
        &self,
        state: &mut State,
        tokens: &StoredTokens,
        token: SecretString,
        margin: Duration,
    ) -> u64 {
        let now = Timestamp::now();
        let left = tokens
            .access_expires_at
            .and_then(|at| Duration::try_from(at.duration_since(now)).ok())
            .unwrap_or_default();
        let generation = state.next_generation;
        state.next_generation += 1;
        state.access = Some(Cached {
            token,
            use_until: Some(Instant::now() + left.saturating_sub(margin)),
            generation,
        });
        warn_if_expiring(&mut state.warned, tokens.refresh_expires_at, now);
        generation
    }

    /// Records what `POST /oauth/validateAccess` said about `access`'s
    /// refresh token in the store, when the store's access token is
    /// `access` (so the refresh token is the one ION described); warns when
    /// it expires soon.
    pub(crate) async fn record_validity(&self, access: &SecretString, validity: &AccessValidity) {
        self.record(access, validity, true).await;
    }

    /// [`record_validity`](Auth::record_validity); `explicit`: asked for by
    /// the caller (the warning is given again, and only when the store
    /// holds `access`) rather than after a refresh (the warning follows
    /// ION's answer, at most once per process).
    async fn record(&self, access: &SecretString, validity: &AccessValidity, explicit: bool) {
        let now = Timestamp::now();
        let Some(at) = refresh_expires_at(validity, now) else {
            return;
        };
        // The state lock keeps this load-modify-save from interleaving with
        // a refresh in this process (a store without a cross-process lock
        // has nothing else to order them).
        let mut state = self.state.lock().await;
        if !explicit {
            warn_if_expiring(&mut state.warned, Some(at), now);
        }
        let Some(store) = self.store.clone() else {
            return;
        };
        let lock = tokio::task::spawn_blocking({
            let store = store.clone();
            move || store.lock_for_refresh()
        })
        .await;
        let Ok(Ok(lock)) = lock else {
            tracing::debug!("could not lock the token store to record the refresh token's expiry");
            return;
        };
        if let Ok(Some(mut tokens)) = store.load_tokens()
            && tokens
                .access_token
                .as_ref()
                .is_some_and(|t| same(t, access))
        {
            if tokens.refresh_expires_at != Some(at) {
                tokens.refresh_expires_at = Some(at);
                if let Err(e) = store.save_tokens(&tokens) {
                    tracing::debug!(error = %e, "could not record the refresh token's expiry");
                }
            }
            if explicit {
                state.warned = false;
                warn_if_expiring(&mut state.warned, tokens.refresh_expires_at, now);
            }
        }
        drop(lock);
    }

    /// Forgets `rejected` (ION refused it) so the next caller refreshes; a
    /// token already replaced by a concurrent refresh is left alone.
    pub(crate) async fn invalidate(&self, rejected: &SecretString) {
        let mut state = self.state.lock().await;
        if state
            .access
            .as_ref()
            .is_some_and(|c| same(&c.token, rejected))
        {
            state.access = None;
        }
        state.rejected = Some(rejected.clone());
    }

    fn save(&self, tokens: &StoredTokens) -> Result<(), IonError> {
        match &self.store {
            Some(store) => store.save_tokens(tokens).map_err(IonError::from),
            None => Ok(()),
        }
    }
}

/// Warns (once, through `flag`) when ION said the refresh token expires in
/// less than [`REFRESH_EXPIRY_WARNING`].
fn warn_if_expiring(flag: &mut bool, expires_at: Option<Timestamp>, now: Timestamp) {
    let Some(at) = expires_at else {
        return;
    };
    let Some(threshold) = plus(now, REFRESH_EXPIRY_WARNING) else {
        return;
    };
    if *flag || at >= threshold {
        return;
    }
    *flag = true;
    let left = at.duration_since(now);
    if left.is_negative() {
        tracing::warn!(
            expired_at = %at,
            "the ION refresh token has expired; new API credentials come from the ION portal"
        );
    } else {
        let days = left.as_secs() / 86_400;
        let hours = (left.as_secs() % 86_400) / 3600;
        tracing::warn!(
            expires_at = %at,
            "the ION refresh token expires in {days} d {hours} h; request new API credentials in the ION portal before then"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_warning_fires_once_and_only_inside_seven_days() {
        let now: Timestamp = "2026-04-01T00:00:00Z".parse().expect("ts");
        let mut t = StoredTokens::new(SecretString::from("r"));
        let mut flag = false;
        warn_if_expiring(&mut flag, t.refresh_expires_at, now);
        assert!(!flag, "unknown expiry: no warning");
        t.refresh_expires_at = plus(now, Duration::from_secs(7 * 86_400 + 1));
        warn_if_expiring(&mut flag, t.refresh_expires_at, now);
        assert!(!flag);
        t.refresh_expires_at = plus(now, Duration::from_secs(6 * 86_400));
        warn_if_expiring(&mut flag, t.refresh_expires_at, now);
        assert!(flag);
    }
}

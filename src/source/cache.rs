//! The product cache a [`crate::Preflight`] shares across its checks.
//!
//! Catalog products change rarely and are the same for every customer, so
//! a batch of 10,000 customers ordering one product fetches it once, not
//! 10,000 times. What is kept, and for how long:
//!
//! - a product ION returned, and a product ION answered 404 for ("unknown
//!   product"), for [`PRODUCT_CACHE_TTL`] (10 minutes) from the answer;
//! - at most [`PRODUCT_CACHE_CAPACITY`] products (1024); a new one pushes
//!   out expired entries first, then the oldest answer;
//! - never a fault (timeout, 5xx, a rejected token, a malformed body): the
//!   next check asks again, so a transient fault stays transient;
//! - checks asking for a product while it is being fetched wait for that
//!   one request instead of sending their own.
//!
//! The cache is keyed by account and product id, and lives as long as the
//! `Preflight` (and its clones) that own it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

use crate::context::Fetched;

/// How long a product (or a product's 404) is kept.
pub const PRODUCT_CACHE_TTL: Duration = Duration::from_secs(10 * 60);
/// The most products kept at once.
pub const PRODUCT_CACHE_CAPACITY: usize = 1024;

type Pending = Shared<BoxFuture<'static, Fetched>>;

enum Entry {
    /// Being fetched: later askers wait for this request.
    InFlight(Pending),
    /// Answered at `at`.
    Done { at: Instant, value: Fetched },
}

/// A bounded, time-limited cache of catalog products (see the module
/// documentation). Cheap to clone: clones share the entries.
#[derive(Clone)]
pub struct ProductCache {
    entries: Arc<Mutex<HashMap<(u64, String), Entry>>>,
    ttl: Duration,
}

impl Default for ProductCache {
    fn default() -> Self {
        ProductCache {
            entries: Arc::default(),
            ttl: PRODUCT_CACHE_TTL,
        }
    }
}

impl std::fmt::Debug for ProductCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductCache")
            .field("entries", &self.len())
            .finish()
    }
}

impl ProductCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many products are kept or being fetched.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The product `id` of `account`: from the cache while fresh, else from
    /// `fetch` (shared with every check asking meanwhile).
    pub(crate) async fn get_or_fetch(
        &self,
        account: u64,
        id: &str,
        fetch: impl FnOnce() -> BoxFuture<'static, Fetched>,
    ) -> Fetched {
        let key = (account, id.to_owned());
        let pending = {
            let Ok(mut entries) = self.entries.lock() else {
                return fetch().await;
            };
            match entries.get(&key) {
                Some(Entry::Done { at, value }) if at.elapsed() < self.ttl => {
                    return value.clone();
                }
                Some(Entry::InFlight(p)) => p.clone(),
                _ => {
                    let p = fetch().shared();
                    make_room(&mut entries, self.ttl);
                    entries.insert(key.clone(), Entry::InFlight(p.clone()));
                    p
                }
            }
        };
        let value = pending.clone().await;
        if let Ok(mut entries) = self.entries.lock() {
            // Only the entry of this very request is settled (a newer one
            // may have replaced it after an eviction).
            let ours = matches!(entries.get(&key), Some(Entry::InFlight(p)) if p.ptr_eq(&pending));
            if ours {
                if matches!(value, Fetched::Unavailable { .. }) {
                    entries.remove(&key);
                } else {
                    entries.insert(
                        key,
                        Entry::Done {
                            at: Instant::now(),
                            value: value.clone(),
                        },
                    );
                }
            }
        }
        value
    }
}

/// Makes room for one more entry: drops expired answers, then the oldest.
fn make_room(entries: &mut HashMap<(u64, String), Entry>, ttl: Duration) {
    if entries.len() < PRODUCT_CACHE_CAPACITY {
        return;
    }
    entries.retain(|_, e| !matches!(e, Entry::Done { at, .. } if at.elapsed() >= ttl));
    while entries.len() >= PRODUCT_CACHE_CAPACITY {
        let oldest = entries
            .iter()
            .filter_map(|(k, e)| match e {
                Entry::Done { at, .. } => Some((*at, k.clone())),
                Entry::InFlight(_) => None,
            })
            .min_by_key(|(at, _)| *at)
            .map(|(_, k)| k);
        match oldest {
            Some(k) => {
                entries.remove(&k);
            }
            // Everything is in flight: let the map grow past the bound for
            // now rather than drop a request others are waiting for.
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    fn counting(
        calls: &Arc<AtomicUsize>,
        answer: Fetched,
    ) -> impl FnOnce() -> BoxFuture<'static, Fetched> {
        let calls = calls.clone();
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { answer }.boxed()
        }
    }

    #[tokio::test]
    async fn answers_are_kept_and_faults_are_not() {
        let cache = ProductCache::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let p = Fetched::present(json!({"id": "P"}));
        assert_eq!(
            cache
                .get_or_fetch(1, "P", counting(&calls, p.clone()))
                .await,
            p
        );
        assert_eq!(
            cache
                .get_or_fetch(1, "P", counting(&calls, Fetched::Absent))
                .await,
            p
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another account is another product.
        cache
            .get_or_fetch(2, "P", counting(&calls, Fetched::Absent))
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A 404 is kept; a fault is asked again.
        cache
            .get_or_fetch(1, "gone", counting(&calls, Fetched::Absent))
            .await;
        assert_eq!(
            cache
                .get_or_fetch(1, "gone", counting(&calls, p.clone()))
                .await,
            Fetched::Absent
        );
        let fault = Fetched::unavailable("HTTP 503");
        cache
            .get_or_fetch(1, "flaky", counting(&calls, fault.clone()))
            .await;
        assert_eq!(
            cache
                .get_or_fetch(1, "flaky", counting(&calls, p.clone()))
                .await,
            p
        );
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn answers_expire_and_the_cache_is_bounded() {
        // A zero lifetime: every answer is expired when next asked.
        let cache = ProductCache {
            ttl: Duration::ZERO,
            ..ProductCache::default()
        };
        let calls = Arc::new(AtomicUsize::new(0));
        cache
            .get_or_fetch(1, "P", counting(&calls, Fetched::Absent))
            .await;
        cache
            .get_or_fetch(1, "P", counting(&calls, Fetched::Absent))
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "expired after the TTL");
        let cache = ProductCache::new();
        for i in 0..PRODUCT_CACHE_CAPACITY + 10 {
            cache
                .get_or_fetch(1, &format!("p{i}"), counting(&calls, Fetched::Absent))
                .await;
        }
        assert_eq!(cache.len(), PRODUCT_CACHE_CAPACITY);
        // The newest is kept.
        let before = calls.load(Ordering::SeqCst);
        let last = format!("p{}", PRODUCT_CACHE_CAPACITY + 9);
        cache
            .get_or_fetch(1, &last, counting(&calls, Fetched::Absent))
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), before);
    }

    #[tokio::test]
    async fn concurrent_askers_share_one_request() {
        let cache = ProductCache::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rx = rx.shared();
        let slow = {
            let calls = calls.clone();
            move || {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    let _ = rx.await;
                    Fetched::present(json!({"id": "P"}))
                }
                .boxed()
            }
        };
        let a = cache.get_or_fetch(1, "P", slow);
        let b = cache.get_or_fetch(1, "P", counting(&calls, Fetched::Absent));
        let release = async {
            tokio::task::yield_now().await;
            let _ = tx.send(());
        };
        let (a, b, ()) = tokio::join!(a, b, release);
        assert_eq!(a, b);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

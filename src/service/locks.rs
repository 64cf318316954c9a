//! Serialization of checked requests: of order checks per customer and
//! `referenceId` (two concurrent retries of one order cannot both pass the
//! duplicate-order check), and of new-customer checks per account and
//! e-mail (two concurrent creations with one e-mail cannot both pass the
//! email-in-use check). The second is checked only after the first has been
//! answered by ION.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What is serialized.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// Account, customer, the order's `referenceId` (`None` when the order
    /// has none: every such order of the customer is one key).
    Order(u64, u64, Option<String>),
    /// Account, the new customer's e-mail in lower case (`None` without
    /// one: every such creation in the account is one key).
    NewCustomer(u64, Option<String>),
}

/// A lock per key, held only while some request uses it.
#[derive(Debug, Default)]
pub(crate) struct KeyLocks {
    map: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while one request for a key is checked and forwarded; the key's
/// entry goes when the last holder or waiter is done.
pub(crate) struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    key: Key,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyLocks {
    /// Waits for `key` to be free, then holds it.
    pub(crate) async fn lock(&self, key: Key) -> KeyGuard<'_> {
        let entry = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(map.entry(key.clone()).or_default())
        };
        let guard = entry.lock_owned().await;
        KeyGuard {
            locks: self,
            key,
            guard: Some(guard),
        }
    }

    /// How many keys have an entry (for tests: entries do not pile up).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map's own reference left: nobody holds or waits.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_and_no_leftover_entries() {
        let locks = Arc::new(KeyLocks::default());
        let key = Key::Order(1, 2, Some("ref-1".into()));
        let first = locks.lock(key.clone()).await;
        let waiting = {
            let locks = Arc::clone(&locks);
            let key = key.clone();
            tokio::spawn(async move {
                let _g = locks.lock(key).await;
            })
        };
        // Another key is not held up by the first.
        drop(locks.lock(Key::Order(1, 2, Some("ref-2".into()))).await);
        drop(locks.lock(Key::NewCustomer(1, Some("ref-1".into()))).await);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second holder of a key waits");
        drop(first);
        waiting.await.expect("the waiter gets the key");
        assert_eq!(locks.len(), 0);
    }
}

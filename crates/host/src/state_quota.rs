//! The state-store caps: which operation holds which key, and how many keys
//! and bytes each operation holds ([`HostLimits::state_keys`],
//! [`HostLimits::state_bytes`]).
//!
//! The store is shared by every operation (and, with Redis, by other
//! processes), so the host keeps a ledger of the keys its modules set: a key
//! counts against the operation that last set it until any operation deletes
//! it or its expiry passes. A set that would take an operation over a cap is
//! refused before it reaches the store. Keys seeded from files or written by
//! other processes count against nobody. The ledger's lock is held around the
//! store request, so the check and the write cannot interleave with another
//! operation's.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::limits::{HostLimits, Limit, LimitHits};

struct Entry {
    owner: Arc<LimitHits>,
    bytes: usize,
    expires: Option<Instant>,
}

/// The keys set through this host, by key.
#[derive(Default)]
pub(crate) struct StateLedger {
    inner: Mutex<Ledger>,
}

#[derive(Default)]
pub(crate) struct Ledger {
    keys: HashMap<Vec<u8>, Entry>,
    /// Entries with an expiry (only then is pruning worth a scan).
    expiring: usize,
    last_prune: Option<Instant>,
}

/// The refusal the guest sees (as `request-error`), with what was over.
pub(crate) fn refusal(operation: &str, keys: usize, bytes: usize, limits: &HostLimits) -> String {
    format!(
        "state-store limit: operation {operation:?} would hold {keys} key(s) and {bytes} byte(s) \
         (limits: {} keys, {} bytes); delete keys it no longer needs",
        limits.state_keys, limits.state_bytes
    )
}

impl StateLedger {
    pub fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Ledger {
    /// What `owner` would hold after setting `key` to a value of `value_len`
    /// bytes: `Err((keys, bytes))` when that is over a cap (counted).
    pub fn check(
        &mut self,
        owner: &Arc<LimitHits>,
        key: &[u8],
        value_len: usize,
        limits: &HostLimits,
    ) -> Result<(), (usize, usize)> {
        let over = |l: &Ledger| {
            let (keys, bytes) = l.after_set(owner, key, value_len);
            (keys > limits.state_keys || bytes > limits.state_bytes).then_some((keys, bytes))
        };
        if over(self).is_some() {
            self.prune();
        }
        match over(self) {
            None => Ok(()),
            Some(held) => {
                owner.hit(Limit::StateStore, || refusal(owner.operation(), held.0, held.1, limits));
                Err(held)
            }
        }
    }

    /// `owner`'s keys and bytes if it set `key` to `value_len` bytes.
    fn after_set(&self, owner: &Arc<LimitHits>, key: &[u8], value_len: usize) -> (usize, usize) {
        let keys = owner.state_keys.load(Ordering::Relaxed);
        let bytes = owner.state_bytes.load(Ordering::Relaxed);
        let new = key.len() + value_len;
        match self.keys.get(key) {
            Some(e) if Arc::ptr_eq(&e.owner, owner) => (keys, bytes - e.bytes + new),
            _ => (keys + 1, bytes + new),
        }
    }

    /// Records that `owner` set `key` (the store wrote it). No allocation when
    /// the key is already in the ledger.
    pub fn set(&mut self, owner: &Arc<LimitHits>, key: &[u8], value_len: usize, expires: Option<Duration>) {
        let expires = expires.map(|d| Instant::now() + d.min(Duration::from_secs(100 * 365 * 86_400)));
        let bytes = key.len() + value_len;
        match self.keys.get_mut(key) {
            Some(e) => {
                let old = std::mem::replace(e, Entry { owner: owner.clone(), bytes, expires });
                self.expiring = self.expiring + usize::from(expires.is_some()) - usize::from(old.expires.is_some());
                release(&old);
            }
            None => {
                self.keys.insert(key.to_vec(), Entry { owner: owner.clone(), bytes, expires });
                self.expiring += usize::from(expires.is_some());
            }
        }
        owner.state_keys.fetch_add(1, Ordering::Relaxed);
        owner.state_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records that `key` is gone (deleted by any operation).
    pub fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.keys.remove(key) {
            self.expiring -= usize::from(old.expires.is_some());
            release(&old);
        }
    }

    /// Drops entries whose expiry has passed, at most once a second.
    fn prune(&mut self) {
        let now = Instant::now();
        if self.expiring == 0 || self.last_prune.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return;
        }
        self.last_prune = Some(now);
        let expired: Vec<Vec<u8>> =
            self.keys.iter().filter(|(_, e)| e.expires.is_some_and(|t| t <= now)).map(|(k, _)| k.clone()).collect();
        for key in expired {
            self.remove(&key);
        }
    }
}

fn release(e: &Entry) {
    e.owner.state_keys.fetch_sub(1, Ordering::Relaxed);
    e.owner.state_bytes.fetch_sub(e.bytes, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HostLimits {
        HostLimits { state_keys: 2, state_bytes: 20, ..HostLimits::default() }
    }

    #[test]
    fn keys_and_bytes_are_capped_per_operation_and_freed_by_deletes() {
        let ledger = StateLedger::default();
        let (a, b) = (Arc::new(LimitHits::new("a".into())), Arc::new(LimitHits::new("b".into())));
        let mut l = ledger.lock();
        for key in [&b"k1"[..], b"k2"] {
            l.check(&a, key, 3, &limits()).unwrap();
            l.set(&a, key, 3, None);
        }
        assert_eq!(l.check(&a, b"k3", 1, &limits()), Err((3, 13)));
        // Overwriting a key it holds does not add a key; bytes still count.
        l.check(&a, b"k1", 8, &limits()).unwrap();
        assert_eq!(l.check(&a, b"k1", 16, &limits()), Err((2, 23)));
        // Another operation has its own budget; taking a's key over frees it.
        l.check(&b, b"k1", 3, &limits()).unwrap();
        l.set(&b, b"k1", 3, None);
        l.check(&a, b"k3", 1, &limits()).unwrap();
        l.remove(b"k2");
        assert_eq!(a.state_keys.load(Ordering::Relaxed), 0);
        assert_eq!((b.state_keys.load(Ordering::Relaxed), b.state_bytes.load(Ordering::Relaxed)), (1, 5));
        assert_eq!(a.get(Limit::StateStore), 2);
    }

    #[test]
    fn expired_keys_stop_counting_when_the_cap_is_reached() {
        let ledger = StateLedger::default();
        let a = Arc::new(LimitHits::new("a".into()));
        let mut l = ledger.lock();
        l.set(&a, b"k1", 1, Some(Duration::ZERO));
        l.set(&a, b"k2", 1, Some(Duration::ZERO));
        l.check(&a, b"k3", 1, &limits()).unwrap();
        assert_eq!(a.state_keys.load(Ordering::Relaxed), 0);
    }
}

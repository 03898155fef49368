//! The in-memory backend: two maps behind one lock, gone when the process exits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use wasmgraph_types::{Hlc, HlcClock};

use crate::backend::{check_fence, expiry_nanos, set_allowed, unix_nanos};
use crate::{
    Clock, DelResponse, GetResponse, KeyValue, SetOptions, SetResponse, StateBackend, StateStoreError, SystemClock,
};

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    version: Hlc,
    /// Unix nanoseconds by the backend's clock; `None` never expires.
    expires_at: Option<u64>,
}

impl Entry {
    fn live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

#[derive(Debug)]
struct Inner {
    entries: HashMap<Vec<u8>, Entry>,
    fencing: HashMap<Vec<u8>, Hlc>,
    versions: HlcClock,
}

impl Inner {
    /// The live entry for `key`, purging it if it has expired.
    fn live(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        let expired = matches!(self.entries.get(key), Some(e) if !e.live(now));
        if expired {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    /// Check `token` against the key's remembered token and remember it if accepted.
    fn fence(&mut self, key: &[u8], token: Option<&Hlc>) -> Result<(), StateStoreError> {
        if check_fence(key, token, self.fencing.get(key))? {
            if let Some(token) = token {
                self.fencing.insert(key.to_vec(), token.clone());
            }
        }
        Ok(())
    }
}

/// A thread-safe in-memory store. All requests take one internal lock, so they
/// are linearizable across threads.
#[derive(Debug)]
pub struct MemoryBackend {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
}

impl MemoryBackend {
    /// An empty store whose versions carry `node_id`, on the system clock.
    pub fn new(node_id: &str) -> Self {
        Self::with_clock(node_id, Arc::new(SystemClock))
    }

    /// An empty store whose versions carry `node_id`, reading `clock`.
    pub fn with_clock(node_id: &str, clock: Arc<dyn Clock>) -> Self {
        let inner = Inner { entries: HashMap::new(), fencing: HashMap::new(), versions: HlcClock::new(node_id) };
        MemoryBackend { inner: Mutex::new(inner), clock }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a
        // way that matters (each operation is a single insert or remove), so a
        // poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> u64 {
        unix_nanos(self.clock.now())
    }

    fn remove(&self, key: &[u8], only_if: Option<&[u8]>, token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        let now = self.now();
        let mut inner = self.lock();
        inner.fence(key, token)?;
        let remove = match (inner.live(key, now), only_if) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(e), Some(v)) => e.value == v,
        };
        if !remove {
            return Ok(DelResponse { deleted: 0, version: None });
        }
        inner.entries.remove(key);
        let version = inner.versions.tick(now);
        Ok(DelResponse { deleted: 1, version: Some(version) })
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new(crate::DEFAULT_NODE_ID)
    }
}

impl StateBackend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<GetResponse, StateStoreError> {
        let now = self.now();
        let mut inner = self.lock();
        Ok(match inner.live(key, now) {
            Some(e) => GetResponse { value: Some(e.value.clone()), version: Some(e.version.clone()) },
            None => GetResponse::default(),
        })
    }

    fn set(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
        options: SetOptions,
    ) -> Result<SetResponse, StateStoreError> {
        let now = self.now();
        let mut inner = self.lock();
        inner.fence(key, fencing_token)?;
        let existing = inner.live(key, now);
        if !set_allowed(options.conditions, existing.as_ref().map(|e| e.value.as_slice()), value) {
            let version = existing.map(|e| e.version.clone());
            return Ok(SetResponse { written: false, version });
        }
        let version = inner.versions.tick(now);
        let expires_at = expiry_nanos(now, options.expires);
        inner.entries.insert(key.to_vec(), Entry { value: value.to_vec(), version: version.clone(), expires_at });
        Ok(SetResponse { written: true, version: Some(version) })
    }

    fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.remove(key, None, fencing_token)
    }

    fn vdel(&self, key: &[u8], value: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.remove(key, Some(value), fencing_token)
    }

    fn entries(&self) -> Result<Vec<KeyValue>, StateStoreError> {
        let now = self.now();
        let inner = self.lock();
        let mut all: Vec<_> =
            inner.entries.iter().filter(|(_, e)| e.live(now)).map(|(k, e)| (k.clone(), e.value.clone())).collect();
        all.sort();
        Ok(all)
    }

    fn describe(&self) -> String {
        "in-memory state store".to_string()
    }
}

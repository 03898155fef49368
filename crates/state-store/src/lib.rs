//! The in-memory key/value state store shared by the operations of a graph.
//!
//! It implements the semantics of the WIT `state-store` interface of
//! `wasm-graph:processor@1.1.0` (the MQTT broker state store of Azure IoT
//! Operations), without any wasmtime types, so that both the component host and
//! the SDK's native mock host use it.
//!
//! # Semantics
//!
//! * **Versions.** Every accepted `set` stamps the key with a fresh
//!   [`Hlc`] from the store's own monotonic hybrid logical clock; versions only
//!   grow, even when the wall clock goes backwards. [`StateStore::get`] returns the
//!   value with its version.
//! * **Conditions** ([`SetConditions`]): `OnlyIfDoesNotExist` writes only when
//!   the key is absent; `OnlyIfEqualOrDoesNotExist` writes when the key is absent
//!   or already holds exactly the new value (which refreshes its version and
//!   expiry); `Unconditional` always writes. A set whose condition fails is not an
//!   error: its response is `false`, and the key keeps its value and version.
//! * **Expiry.** `SetOptions::expires` makes the key expire that long after the
//!   set. An expired key behaves exactly like an absent one for every operation
//!   (get, conditions, del, vdel) and is purged lazily.
//! * **Fencing tokens.** Each key remembers the newest fencing token (an [`Hlc`],
//!   compared by time and counter) carried by a request on it that was accepted.
//!   A `set`, `del` or `vdel` whose fencing token is *older* than the remembered
//!   one fails with [`StateStoreError::FencingTokenTooOld`] and changes nothing; an
//!   equal or newer token is accepted and becomes the remembered one (even when
//!   the request's condition or value check then makes it a no-op). A request
//!   without a fencing token is not checked and does not change the remembered
//!   token. The remembered token outlives deletion and expiry of the key's value,
//!   so a stale lock holder cannot write after a newer holder deleted the key.
//! * **del** returns the number of keys removed (0 or 1); **vdel** removes the key
//!   only if it holds exactly the given value (returning 1), else returns 0.
//! * Request timeouts of the WIT interface are meaningless in memory and ignored
//!   by the host.
//!
//! All operations take one internal lock, so they are linearizable across
//! threads.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wasmgraph_types::{Hlc, HlcClock};

/// When a `set` takes effect (WIT `set-conditions`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SetConditions {
    /// Write only if the key is absent (or expired).
    OnlyIfDoesNotExist,
    /// Write if the key is absent (or expired) or already holds the same value.
    OnlyIfEqualOrDoesNotExist,
    /// Always write.
    #[default]
    Unconditional,
}

/// Options of a `set` (WIT `set-options`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// The condition under which the set takes effect.
    pub conditions: SetConditions,
    /// The key expires this long after the set; `None` keeps it until deleted.
    pub expires: Option<Duration>,
}

/// Answer to a `get`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetResponse {
    /// The value, `None` when the key is absent or expired.
    pub value: Option<Vec<u8>>,
    /// The version of the value (the time of the set that wrote it).
    pub version: Option<Hlc>,
}

/// Answer to a `set`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetResponse {
    /// Whether the value was written (false when the condition failed).
    pub written: bool,
    /// The key's version after the request: the new version when written, the
    /// existing one when not, `None` when the key stays absent.
    pub version: Option<Hlc>,
}

/// Answer to a `del` or `vdel`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelResponse {
    /// Number of keys removed: 0 or 1.
    pub deleted: i64,
    /// The store time of the deletion when a key was removed, else `None`.
    pub version: Option<Hlc>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateStoreError {
    /// The request carried a fencing token older than the one the key remembers.
    #[error(
        "fencing token {given} is older than the key's current fencing token {current} \
         (key {key:?}); the request was rejected"
    )]
    FencingTokenTooOld {
        /// The key, lossily as text.
        key: String,
        /// The token the request carried, in `__ts` wire form.
        given: String,
        /// The token the key remembers, in `__ts` wire form.
        current: String,
    },
}

/// Why `seed_from_json` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The text is not JSON.
    #[error("state seed is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The top level is not a list.
    #[error(
        "state seed must be a JSON list of single-key objects like \
         [{{\"factoryId\": \"factoryA\"}}], found {found}"
    )]
    NotAList {
        /// What was found instead.
        found: &'static str,
    },
    /// An element is not an object with exactly one key.
    #[error(
        "state seed element {index} must be an object with exactly one key, like \
         {{\"factoryId\": \"factoryA\"}}; found {found}"
    )]
    BadEntry {
        /// Zero-based position in the list.
        index: usize,
        /// What was found instead.
        found: String,
    },
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    version: Hlc,
    expires_at: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

#[derive(Debug)]
struct Inner {
    entries: HashMap<Vec<u8>, Entry>,
    fencing: HashMap<Vec<u8>, Hlc>,
    clock: HlcClock,
}

impl Inner {
    /// The live entry for `key`, purging it if it has expired.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Entry> {
        let expired = matches!(self.entries.get(key), Some(e) if !e.live(now));
        if expired {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    /// Check `token` against the key's remembered token and remember it if accepted.
    fn fence(&mut self, key: &[u8], token: Option<&Hlc>) -> Result<(), StateStoreError> {
        let Some(token) = token else { return Ok(()) };
        match self.fencing.get_mut(key) {
            Some(current) if token < current => Err(StateStoreError::FencingTokenTooOld {
                key: String::from_utf8_lossy(key).into_owned(),
                given: token.to_wire(),
                current: current.to_wire(),
            }),
            Some(current) => {
                *current = token.clone();
                Ok(())
            }
            None => {
                self.fencing.insert(key.to_vec(), token.clone());
                Ok(())
            }
        }
    }
}

/// A thread-safe in-memory key/value store with the WIT `state-store` semantics
/// (see the crate documentation).
#[derive(Debug)]
pub struct StateStore {
    inner: Mutex<Inner>,
}

impl Default for StateStore {
    fn default() -> Self {
        Self::new()
    }
}

impl StateStore {
    /// An empty store whose versions carry the node id `state-store`.
    pub fn new() -> Self {
        Self::with_node_id("state-store")
    }

    /// An empty store whose versions carry `node_id`.
    pub fn with_node_id(node_id: &str) -> Self {
        StateStore {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                fencing: HashMap::new(),
                clock: HlcClock::new(node_id),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a
        // way that matters (each operation is a single insert or remove), so a
        // poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value of `key` and its version; both `None` when absent or expired.
    pub fn get(&self, key: &[u8]) -> GetResponse {
        self.get_at(key, Instant::now())
    }

    /// Write `value` under `key` if `options.conditions` allow it.
    pub fn set(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
        options: SetOptions,
    ) -> Result<SetResponse, StateStoreError> {
        self.set_at(key, value, fencing_token, options, Instant::now())
    }

    /// Remove `key`; `deleted` is 1 if it was present, else 0.
    pub fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.del_at(key, None, fencing_token, Instant::now())
    }

    /// Remove `key` only if it holds exactly `value`; `deleted` is 1 if removed.
    pub fn vdel(&self, key: &[u8], value: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.del_at(key, Some(value), fencing_token, Instant::now())
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().entries.values().filter(|e| e.live(now)).count()
    }

    /// Whether no live key exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All live keys and values, sorted by key (for inspection and tests).
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let now = Instant::now();
        let inner = self.lock();
        let mut all: Vec<_> =
            inner.entries.iter().filter(|(_, e)| e.live(now)).map(|(k, e)| (k.clone(), e.value.clone())).collect();
        all.sort();
        all
    }

    /// Load keys from a JSON list of single-key objects, e.g.
    /// `[{"factoryId": "factoryA"}, {"limits": {"max": 3}}]`. A JSON string is
    /// stored as its UTF-8 bytes (without quotes); any other value is stored as its
    /// compact JSON text (`{"max":3}`, `42`, `true`, `null`). Keys are written
    /// unconditionally, in list order, without expiry. Nothing is written when the
    /// text has any error. Returns the number of entries written.
    pub fn seed_from_json(&self, text: &str) -> Result<usize, SeedError> {
        let doc: serde_json::Value = serde_json::from_str(text)?;
        let serde_json::Value::Array(items) = doc else {
            return Err(SeedError::NotAList { found: json_kind(&doc) });
        };
        let mut pairs = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let entry = match item {
                serde_json::Value::Object(map) if map.len() == 1 => map.into_iter().next(),
                serde_json::Value::Object(map) => {
                    return Err(SeedError::BadEntry { index, found: format!("an object with {} keys", map.len()) });
                }
                other => {
                    return Err(SeedError::BadEntry { index, found: json_kind(&other).to_string() });
                }
            };
            if let Some((key, value)) = entry {
                let bytes = match value {
                    serde_json::Value::String(s) => s.into_bytes(),
                    other => other.to_string().into_bytes(),
                };
                pairs.push((key.into_bytes(), bytes));
            }
        }
        let count = pairs.len();
        for (key, value) in pairs {
            // Unconditional sets without fencing tokens cannot fail.
            let _ = self.set(&key, &value, None, SetOptions::default());
        }
        Ok(count)
    }

    fn get_at(&self, key: &[u8], now: Instant) -> GetResponse {
        let mut inner = self.lock();
        match inner.live(key, now) {
            Some(e) => GetResponse { value: Some(e.value.clone()), version: Some(e.version.clone()) },
            None => GetResponse::default(),
        }
    }

    fn set_at(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
        options: SetOptions,
        now: Instant,
    ) -> Result<SetResponse, StateStoreError> {
        let mut inner = self.lock();
        inner.fence(key, fencing_token)?;
        let existing = inner.live(key, now);
        let allowed = match (options.conditions, &existing) {
            (SetConditions::Unconditional, _) | (_, None) => true,
            (SetConditions::OnlyIfDoesNotExist, Some(_)) => false,
            (SetConditions::OnlyIfEqualOrDoesNotExist, Some(e)) => e.value == value,
        };
        if !allowed {
            let version = existing.map(|e| e.version.clone());
            return Ok(SetResponse { written: false, version });
        }
        let version = inner.clock.now();
        let expires_at = options.expires.and_then(|d| now.checked_add(d));
        inner.entries.insert(key.to_vec(), Entry { value: value.to_vec(), version: version.clone(), expires_at });
        Ok(SetResponse { written: true, version: Some(version) })
    }

    fn del_at(
        &self,
        key: &[u8],
        only_if: Option<&[u8]>,
        fencing_token: Option<&Hlc>,
        now: Instant,
    ) -> Result<DelResponse, StateStoreError> {
        let mut inner = self.lock();
        inner.fence(key, fencing_token)?;
        let remove = match (inner.live(key, now), only_if) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(e), Some(v)) => e.value == v,
        };
        if !remove {
            return Ok(DelResponse { deleted: 0, version: None });
        }
        inner.entries.remove(key);
        let version = inner.clock.now();
        Ok(DelResponse { deleted: 1, version: Some(version) })
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(conditions: SetConditions) -> SetOptions {
        SetOptions { conditions, expires: None }
    }

    #[test]
    fn get_returns_value_and_version() {
        let s = StateStore::new();
        assert_eq!(s.get(b"k"), GetResponse::default());
        let r = s.set(b"k", b"v1", None, SetOptions::default()).unwrap();
        assert!(r.written);
        let g = s.get(b"k");
        assert_eq!(g.value.as_deref(), Some(&b"v1"[..]));
        assert_eq!(g.version, r.version);
    }

    #[test]
    fn versions_grow_with_every_set() {
        let s = StateStore::new();
        let a = s.set(b"k", b"1", None, SetOptions::default()).unwrap().version.unwrap();
        let b = s.set(b"k", b"2", None, SetOptions::default()).unwrap().version.unwrap();
        let c = s.set(b"other", b"3", None, SetOptions::default()).unwrap().version.unwrap();
        assert!(a < b && b < c);
        assert_eq!(&*a.node_id, "state-store");
    }

    #[test]
    fn only_if_does_not_exist() {
        let s = StateStore::new();
        let first = s.set(b"k", b"a", None, opts(SetConditions::OnlyIfDoesNotExist)).unwrap();
        assert!(first.written);
        let second = s.set(b"k", b"b", None, opts(SetConditions::OnlyIfDoesNotExist)).unwrap();
        assert!(!second.written);
        assert_eq!(second.version, first.version, "a refused set reports the existing version");
        assert_eq!(s.get(b"k").value.as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn only_if_equal_or_does_not_exist() {
        let s = StateStore::new();
        let c = opts(SetConditions::OnlyIfEqualOrDoesNotExist);
        let first = s.set(b"k", b"a", None, c).unwrap();
        assert!(first.written);
        let same = s.set(b"k", b"a", None, c).unwrap();
        assert!(same.written);
        assert!(same.version > first.version, "an equal write refreshes the version");
        let different = s.set(b"k", b"b", None, c).unwrap();
        assert!(!different.written);
        assert_eq!(s.get(b"k").value.as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn unconditional_overwrites() {
        let s = StateStore::new();
        s.set(b"k", b"a", None, SetOptions::default()).unwrap();
        assert!(s.set(b"k", b"b", None, opts(SetConditions::Unconditional)).unwrap().written);
        assert_eq!(s.get(b"k").value.as_deref(), Some(&b"b"[..]));
    }

    #[test]
    fn expired_keys_behave_as_absent() {
        let s = StateStore::new();
        let t0 = Instant::now();
        let o = SetOptions { conditions: SetConditions::Unconditional, expires: Some(Duration::from_secs(10)) };
        s.set_at(b"k", b"a", None, o, t0).unwrap();
        assert!(s.get_at(b"k", t0 + Duration::from_secs(9)).value.is_some());
        let later = t0 + Duration::from_secs(10);
        assert_eq!(s.get_at(b"k", later), GetResponse::default());
        // absent for conditions, del and vdel too
        let nx = s.set_at(b"k", b"b", None, opts(SetConditions::OnlyIfDoesNotExist), later).unwrap();
        assert!(nx.written);
        s.set_at(b"e", b"x", None, o, t0).unwrap();
        assert_eq!(s.del_at(b"e", None, None, later).unwrap().deleted, 0);
        s.set_at(b"f", b"x", None, o, t0).unwrap();
        assert_eq!(s.del_at(b"f", Some(b"x"), None, later).unwrap().deleted, 0);
    }

    #[test]
    fn del_returns_count() {
        let s = StateStore::new();
        assert_eq!(s.del(b"k", None).unwrap(), DelResponse { deleted: 0, version: None });
        s.set(b"k", b"a", None, SetOptions::default()).unwrap();
        let d = s.del(b"k", None).unwrap();
        assert_eq!(d.deleted, 1);
        assert!(d.version.is_some());
        assert_eq!(s.get(b"k").value, None);
        assert_eq!(s.del(b"k", None).unwrap().deleted, 0);
    }

    #[test]
    fn vdel_deletes_only_on_equal_value() {
        let s = StateStore::new();
        s.set(b"k", b"a", None, SetOptions::default()).unwrap();
        assert_eq!(s.vdel(b"k", b"b", None).unwrap().deleted, 0);
        assert_eq!(s.get(b"k").value.as_deref(), Some(&b"a"[..]));
        assert_eq!(s.vdel(b"k", b"a", None).unwrap().deleted, 1);
        assert_eq!(s.get(b"k").value, None);
        assert_eq!(s.vdel(b"k", b"a", None).unwrap().deleted, 0);
    }

    #[test]
    fn fencing_rejects_older_tokens() {
        let s = StateStore::new();
        let t1 = Hlc::new(100, 0, "a");
        let t2 = Hlc::new(100, 1, "b");
        assert!(s.set(b"k", b"1", Some(&t2), SetOptions::default()).unwrap().written);
        let err = s.set(b"k", b"2", Some(&t1), SetOptions::default()).unwrap_err();
        assert!(matches!(err, StateStoreError::FencingTokenTooOld { .. }));
        assert!(err.to_string().contains("older"), "{err}");
        assert_eq!(s.get(b"k").value.as_deref(), Some(&b"1"[..]));
        assert!(s.del(b"k", Some(&t1)).is_err());
        assert!(s.vdel(b"k", b"1", Some(&t1)).is_err());
        assert_eq!(s.get(b"k").value.as_deref(), Some(&b"1"[..]));
        // equal and newer tokens are accepted; no token is not checked
        assert!(s.set(b"k", b"3", Some(&t2), SetOptions::default()).unwrap().written);
        assert!(s.set(b"k", b"4", None, SetOptions::default()).unwrap().written);
        let t3 = Hlc::new(200, 0, "c");
        assert_eq!(s.del(b"k", Some(&t3)).unwrap().deleted, 1);
        // the token outlives the value: t2 is now too old even for a fresh set
        assert!(s.set(b"k", b"5", Some(&t2), SetOptions::default()).is_err());
        assert!(s.set(b"k", b"5", Some(&t3), SetOptions::default()).unwrap().written);
        // tokens are per key
        assert!(s.set(b"other", b"x", Some(&t1), SetOptions::default()).unwrap().written);
    }

    #[test]
    fn accepted_token_is_remembered_even_when_condition_fails() {
        let s = StateStore::new();
        s.set(b"k", b"1", None, SetOptions::default()).unwrap();
        let t5 = Hlc::new(5, 0, "");
        let r = s.set(b"k", b"2", Some(&t5), opts(SetConditions::OnlyIfDoesNotExist)).unwrap();
        assert!(!r.written);
        assert!(s.set(b"k", b"2", Some(&Hlc::new(4, 0, "")), SetOptions::default()).is_err());
    }

    #[test]
    fn seed_from_json_stores_strings_as_bytes_and_others_as_json() {
        let s = StateStore::new();
        let n = s.seed_from_json(r#"[{"factoryId":"factoryA"},{"limits":{"max": 3}},{"n":42},{"flag":true}]"#).unwrap();
        assert_eq!(n, 4);
        assert_eq!(s.get(b"factoryId").value.as_deref(), Some(&b"factoryA"[..]));
        assert_eq!(s.get(b"limits").value.as_deref(), Some(&br#"{"max":3}"#[..]));
        assert_eq!(s.get(b"n").value.as_deref(), Some(&b"42"[..]));
        assert_eq!(s.get(b"flag").value.as_deref(), Some(&b"true"[..]));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn seed_from_json_errors_are_clear_and_write_nothing() {
        let s = StateStore::new();
        let e = s.seed_from_json("{").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let e = s.seed_from_json(r#"{"a":"b"}"#).unwrap_err();
        assert!(e.to_string().contains("must be a JSON list"), "{e}");
        assert!(e.to_string().contains("an object"), "{e}");
        let e = s.seed_from_json(r#"[{"a":"b"},{"c":"d","e":"f"}]"#).unwrap_err();
        assert!(e.to_string().contains("element 1"), "{e}");
        assert!(e.to_string().contains("2 keys"), "{e}");
        let e = s.seed_from_json(r#"[{"a":"b"}, "x"]"#).unwrap_err();
        assert!(e.to_string().contains("a string"), "{e}");
        assert!(s.is_empty());
    }

    #[test]
    fn shared_between_threads() {
        let s = std::sync::Arc::new(StateStore::new());
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|j| {
                            let key = format!("k{j}");
                            let o = opts(SetConditions::OnlyIfDoesNotExist);
                            s.set(key.as_bytes(), &[i], None, o).unwrap().written
                        })
                        .count()
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 100, "each key is created exactly once");
        assert_eq!(s.len(), 100);
    }
}

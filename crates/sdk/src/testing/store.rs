//! The mock host's state store: in memory, with the semantics of the wasmgraph
//! host's store (`wasmgraph-state-store`), kept here so that the published SDK
//! depends on no runtime crate. A test in `tests/store_parity.rs` runs the same
//! requests against both and compares the answers.
//!
//! * Every accepted `set` stamps the key with a fresh version from a clock that
//!   never goes backwards (wall time, plus a counter for readings in the same
//!   nanosecond).
//! * Conditions: `OnlyIfDoesNotExist` writes only when the key is absent;
//!   `OnlyIfEqualOrDoesNotExist` also when it holds the same value;
//!   `Unconditional` always. A refused set answers `false` and the existing
//!   version.
//! * Expiry: an expired key is absent for every request.
//! * Fencing tokens: each key remembers the newest token (by time and counter)
//!   an accepted request carried, also past deletion; an older one is refused
//!   and changes nothing.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::state_store::{
    HybridLogicalClock, SetConditions, SetOptions, StateStoreDelResponse, StateStoreError, StateStoreGetResponse,
    StateStoreSetResponse,
};
use crate::types::Timespec;

/// The node id of the versions the store hands out, as the host's store.
const NODE_ID: &str = "state-store";

struct Entry {
    value: Vec<u8>,
    version: HybridLogicalClock,
    expires_at: Option<Instant>,
}

/// One thread's in-memory store.
#[derive(Default)]
pub(crate) struct MockStore {
    entries: HashMap<Vec<u8>, Entry>,
    fencing: HashMap<Vec<u8>, HybridLogicalClock>,
    /// The last version handed out, as (nanoseconds since the epoch, counter).
    last: (u64, u64),
}

/// The part of a clock reading that orders it: (seconds, nanoseconds, counter).
fn order(clock: &HybridLogicalClock) -> (u64, u32, u64) {
    (clock.timestamp.secs, clock.timestamp.nanos, clock.counter)
}

/// The `__ts` wire form `<milliseconds>:<counter>:<node id>`, for messages.
fn wire(clock: &HybridLogicalClock) -> String {
    let millis = clock.timestamp.secs.saturating_mul(1000).saturating_add(u64::from(clock.timestamp.nanos) / 1_000_000);
    format!("{millis}:{}:{}", clock.counter, clock.node_id)
}

impl MockStore {
    /// A version later than every one handed out before.
    fn next_version(&mut self) -> HybridLogicalClock {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        self.last = if wall > self.last.0 { (wall, 0) } else { (self.last.0, self.last.1 + 1) };
        let (nanos, counter) = self.last;
        HybridLogicalClock {
            timestamp: Timespec { secs: nanos / 1_000_000_000, nanos: (nanos % 1_000_000_000) as u32 },
            counter,
            node_id: NODE_ID.to_owned(),
        }
    }

    /// The live entry of `key`, dropping it if it has expired.
    fn live(&mut self, key: &[u8]) -> Option<&Entry> {
        let now = Instant::now();
        if self.entries.get(key).is_some_and(|e| e.expires_at.is_some_and(|at| now >= at)) {
            self.entries.remove(key);
        }
        self.entries.get(key)
    }

    /// Checks `token` against the key's remembered one; remembers it if accepted.
    fn fence(&mut self, key: &[u8], token: Option<&HybridLogicalClock>) -> Result<(), StateStoreError> {
        let Some(token) = token else { return Ok(()) };
        if let Some(current) = self.fencing.get(key) {
            if order(token) < order(current) {
                return Err(StateStoreError::RequestError(format!(
                    "fencing token {} is older than the key's current fencing token {} (key {:?}); the request \
                     was rejected",
                    wire(token),
                    wire(current),
                    String::from_utf8_lossy(key)
                )));
            }
        }
        self.fencing.insert(key.to_vec(), token.clone());
        Ok(())
    }

    pub(crate) fn get(&mut self, key: &[u8]) -> StateStoreGetResponse {
        match self.live(key) {
            Some(entry) => {
                StateStoreGetResponse { response: Some(entry.value.clone()), version: Some(entry.version.clone()) }
            }
            None => StateStoreGetResponse { response: None, version: None },
        }
    }

    pub(crate) fn set(
        &mut self,
        key: &[u8],
        value: &[u8],
        token: Option<&HybridLogicalClock>,
        options: SetOptions,
    ) -> Result<StateStoreSetResponse, StateStoreError> {
        self.fence(key, token)?;
        let existing = self.live(key);
        let allowed = match (options.conditions, existing) {
            (SetConditions::Unconditional, _) | (_, None) => true,
            (SetConditions::OnlyIfDoesNotExist, Some(_)) => false,
            (SetConditions::OnlyIfEqualOrDoesNotExist, Some(entry)) => entry.value == value,
        };
        if !allowed {
            return Ok(StateStoreSetResponse { response: false, version: existing.map(|e| e.version.clone()) });
        }
        let version = self.next_version();
        let expires_at = options.expires.and_then(|d| Instant::now().checked_add(d.into()));
        self.entries.insert(key.to_vec(), Entry { value: value.to_vec(), version: version.clone(), expires_at });
        Ok(StateStoreSetResponse { response: true, version: Some(version) })
    }

    /// `del` (`only_if` = `None`) or `vdel` (only if the key holds that value).
    pub(crate) fn del(
        &mut self,
        key: &[u8],
        only_if: Option<&[u8]>,
        token: Option<&HybridLogicalClock>,
    ) -> Result<StateStoreDelResponse, StateStoreError> {
        self.fence(key, token)?;
        let remove = match (self.live(key), only_if) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(entry), Some(value)) => entry.value == value,
        };
        if !remove {
            return Ok(StateStoreDelResponse { response: 0, version: None });
        }
        self.entries.remove(key);
        Ok(StateStoreDelResponse { response: 1, version: Some(self.next_version()) })
    }

    /// Every live key and value, sorted by key.
    pub(crate) fn entries(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let now = Instant::now();
        self.entries.retain(|_, e| e.expires_at.is_none_or(|at| now < at));
        let mut all: Vec<_> = self.entries.iter().map(|(k, e)| (k.clone(), e.value.clone())).collect();
        all.sort();
        all
    }

    /// Loads `[{"key": value}, ...]`: strings as their UTF-8 bytes, other values
    /// as compact JSON. Writes nothing when the text has any error.
    pub(crate) fn seed_from_json(&mut self, text: &str) -> Result<usize, String> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|err| format!("state seed is not valid JSON: {err}"))?;
        let serde_json::Value::Array(items) = doc else {
            return Err(format!(
                "state seed must be a JSON list of single-key objects like [{{\"factoryId\": \"factoryA\"}}], \
                 found {}",
                json_kind(&doc)
            ));
        };
        let mut pairs = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let found = match &item {
                serde_json::Value::Object(map) if map.len() == 1 => None,
                serde_json::Value::Object(map) => Some(format!("an object with {} keys", map.len())),
                other => Some(json_kind(other).to_owned()),
            };
            if let Some(found) = found {
                return Err(format!(
                    "state seed element {index} must be an object with exactly one key, like \
                     {{\"factoryId\": \"factoryA\"}}; found {found}"
                ));
            }
            if let serde_json::Value::Object(map) = item {
                pairs.extend(map.into_iter().map(|(key, value)| match value {
                    serde_json::Value::String(text) => (key, text.into_bytes()),
                    other => (key, other.to_string().into_bytes()),
                }));
            }
        }
        let count = pairs.len();
        for (key, value) in pairs {
            // Unconditional and without a fencing token: cannot be refused.
            let _ = self.set(key.as_bytes(), &value, None, SetOptions::default());
        }
        Ok(count)
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

//! The handle the host and the SDK hold, whatever the backend behind it.

use std::sync::Arc;

use wasmgraph_types::Hlc;

use crate::{
    DelResponse, GetResponse, KeyValue, MemoryBackend, SetOptions, SetResponse, StateBackend, StateStoreError,
};

/// The node id the versions of a store carry unless told otherwise.
pub const DEFAULT_NODE_ID: &str = "state-store";

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
    /// The backend refused or failed a write (the entries before it are written).
    #[error("state seed could not be written: {0}")]
    Store(#[from] StateStoreError),
}

/// A shared state store: a cheap, cloneable handle on a [`StateBackend`] with the
/// WIT `state-store` semantics (see the crate documentation).
#[derive(Clone, Debug)]
pub struct StateStore {
    backend: Arc<dyn StateBackend>,
}

impl Default for StateStore {
    fn default() -> Self {
        Self::new()
    }
}

impl StateStore {
    /// An empty in-memory store whose versions carry the node id `state-store`.
    pub fn new() -> Self {
        Self::with_node_id(DEFAULT_NODE_ID)
    }

    /// An empty in-memory store whose versions carry `node_id`.
    pub fn with_node_id(node_id: &str) -> Self {
        Self::from_backend(MemoryBackend::new(node_id))
    }

    /// A handle on `backend`.
    pub fn from_backend(backend: impl StateBackend + 'static) -> Self {
        StateStore { backend: Arc::new(backend) }
    }

    /// A handle on a backend that is already shared.
    pub fn from_shared(backend: Arc<dyn StateBackend>) -> Self {
        StateStore { backend }
    }

    /// The backend behind this handle.
    pub fn backend(&self) -> &Arc<dyn StateBackend> {
        &self.backend
    }

    /// What and where the store is, for messages.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// The value of `key` and its version; both `None` when absent or expired.
    pub fn try_get(&self, key: &[u8]) -> Result<GetResponse, StateStoreError> {
        self.backend.get(key)
    }

    /// Like [`try_get`](Self::try_get), for inspection and tests where a failing
    /// backend is a bug. The in-memory backend never fails.
    ///
    /// # Panics
    ///
    /// When the backend fails (a broken disk or an unreachable Redis): code that
    /// serves requests calls `try_get`.
    pub fn get(&self, key: &[u8]) -> GetResponse {
        self.try_get(key).unwrap_or_else(|e| panic!("state store get failed (use try_get to handle this): {e}"))
    }

    /// Write `value` under `key` if `options.conditions` allow it.
    pub fn set(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
        options: SetOptions,
    ) -> Result<SetResponse, StateStoreError> {
        self.backend.set(key, value, fencing_token, options)
    }

    /// Remove `key`; `deleted` is 1 if it was present, else 0.
    pub fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.backend.del(key, fencing_token)
    }

    /// Remove `key` only if it holds exactly `value`; `deleted` is 1 if removed.
    pub fn vdel(&self, key: &[u8], value: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError> {
        self.backend.vdel(key, value, fencing_token)
    }

    /// All live keys and values, sorted by key.
    pub fn try_entries(&self) -> Result<Vec<KeyValue>, StateStoreError> {
        self.backend.entries()
    }

    /// Like [`try_entries`](Self::try_entries), for inspection and tests.
    ///
    /// # Panics
    ///
    /// When the backend fails, as [`get`](Self::get).
    pub fn entries(&self) -> Vec<KeyValue> {
        self.try_entries()
            .unwrap_or_else(|e| panic!("state store entries failed (use try_entries to handle this): {e}"))
    }

    /// Number of live keys (reads the whole store).
    ///
    /// # Panics
    ///
    /// When the backend fails, as [`get`](Self::get).
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether no live key exists.
    ///
    /// # Panics
    ///
    /// When the backend fails, as [`get`](Self::get).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Load keys from a JSON list of single-key objects, e.g.
    /// `[{"factoryId": "factoryA"}, {"limits": {"max": 3}}]`. A JSON string is
    /// stored as its UTF-8 bytes (without quotes); any other value is stored as its
    /// compact JSON text (`{"max":3}`, `42`, `true`, `null`). Keys are written
    /// unconditionally, in list order, without expiry. Nothing is written when the
    /// text has any error; a backend failure stops at the failing key. Returns the
    /// number of entries written.
    pub fn seed_from_json(&self, text: &str) -> Result<usize, SeedError> {
        let pairs = parse_seed(text)?;
        for (key, value) in &pairs {
            self.set(key, value, None, SetOptions::default())?;
        }
        Ok(pairs.len())
    }
}

/// The key/value pairs of a seed text, in order.
fn parse_seed(text: &str) -> Result<Vec<KeyValue>, SeedError> {
    let doc: serde_json::Value = serde_json::from_str(text)?;
    let serde_json::Value::Array(items) = doc else {
        return Err(SeedError::NotAList { found: json_kind(&doc) });
    };
    let mut pairs = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let (key, value) = match item {
            serde_json::Value::Object(map) if map.len() == 1 => map.into_iter().next().expect("one entry"),
            serde_json::Value::Object(map) => {
                return Err(SeedError::BadEntry { index, found: format!("an object with {} keys", map.len()) });
            }
            other => return Err(SeedError::BadEntry { index, found: json_kind(&other).to_string() }),
        };
        let bytes = match value {
            serde_json::Value::String(s) => s.into_bytes(),
            other => other.to_string().into_bytes(),
        };
        pairs.push((key.into_bytes(), bytes));
    }
    Ok(pairs)
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
    fn handles_share_one_backend() {
        let a = StateStore::with_node_id("n1");
        let b = a.clone();
        let set = a.set(b"k", b"v", None, SetOptions::default()).unwrap();
        assert_eq!(&*set.version.unwrap().node_id, "n1");
        assert_eq!(b.get(b"k").value.as_deref(), Some(&b"v"[..]));
        assert_eq!(b.entries(), vec![(b"k".to_vec(), b"v".to_vec())]);
        assert_eq!(b.describe(), "in-memory state store");
    }
}

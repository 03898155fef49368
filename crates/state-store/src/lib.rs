//! The key/value state store shared by the operations of a graph.
//!
//! It implements the semantics of the WIT `state-store` interface of
//! `wasm-graph:processor@1.1.0` (the MQTT broker state store of Azure IoT
//! Operations), without any wasmtime types, so that both the component host and
//! the SDK's native mock host use it.
//!
//! # Backends
//!
//! [`StateStore`] is the handle callers hold; behind it is a [`StateBackend`]:
//!
//! * [`MemoryBackend`]: in this process only, gone when it exits (the default:
//!   [`StateStore::new`]).
//! * [`EmbeddedBackend`]: a [`redb`] database file; keys, versions, expiry times
//!   and fencing tokens survive a restart of the process. One process at a time.
//! * [`RedisBackend`]: a Redis server shared by every process of a cluster;
//!   each request is one atomic Lua script on the server.
//!
//! Deployment files choose one with [`StateStoreConfig`].
//!
//! # Semantics
//!
//! Every backend behaves the same (one test suite runs against all three):
//!
//! * **Versions.** Every accepted `set` stamps the key with a fresh [`Hlc`] from
//!   the backend's own monotonic hybrid logical clock; versions only grow, even
//!   when the wall clock goes backwards (the embedded store keeps its clock across
//!   restarts; a Redis store moves its clock past a newer version another process
//!   wrote before overwriting it). [`StateStore::try_get`] returns the value with
//!   its version.
//! * **Conditions** ([`SetConditions`]): `OnlyIfDoesNotExist` writes only when
//!   the key is absent; `OnlyIfEqualOrDoesNotExist` writes when the key is absent
//!   or already holds exactly the new value (which refreshes its version and
//!   expiry); `Unconditional` always writes. A set whose condition fails is not an
//!   error: its response is `false`, and the key keeps its value and version.
//! * **Expiry.** `SetOptions::expires` makes the key expire that long after the
//!   set, by the backend's [`Clock`]. An expired key behaves exactly like an
//!   absent one for every operation (get, conditions, del, vdel) and is purged
//!   lazily.
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
//! * Every request is atomic: linearizable across threads, and for Redis across
//!   processes. Request timeouts of the WIT interface are not passed down; the
//!   Redis backend has its own I/O timeout.

mod backend;
mod config;
mod embedded;
mod encoding;
mod memory;
mod redis_store;
mod store;

pub use backend::{Clock, ManualClock, StateBackend, SystemClock};
pub use config::{StateStoreConfig, DEFAULT_REDIS_KEY_PREFIX};
pub use embedded::EmbeddedBackend;
pub use memory::MemoryBackend;
pub use redis_store::RedisBackend;
pub use store::{SeedError, StateStore, DEFAULT_NODE_ID};
pub use wasmgraph_types::Hlc;

use std::time::Duration;

/// A key and its value, as [`StateBackend::entries`] lists them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

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

/// Why a request was refused, or a store could not be opened.
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
    /// The store could not be opened or reached at start.
    #[error("cannot open the {store}: {reason}")]
    Open {
        /// Which store: its kind and where (file path, or Redis URL without password).
        store: String,
        /// What failed.
        reason: String,
    },
    /// A request failed in the backend (disk, network, server); nothing is known
    /// to have changed, but a write may have been applied if the failure came
    /// after the server received it.
    #[error("{store}: {operation} of key {key:?} failed: {reason}")]
    Backend {
        /// Which store: its kind and where.
        store: String,
        /// `get`, `set`, `del`, `vdel` or `entries`.
        operation: &'static str,
        /// The key, lossily as text (empty for `entries`).
        key: String,
        /// What failed.
        reason: String,
    },
    /// A request to a remote backend got no answer in time.
    #[error("{store}: {operation} of key {key:?} timed out: {reason}")]
    Timeout {
        /// Which store: its kind and where.
        store: String,
        /// `get`, `set`, `del`, `vdel` or `entries`.
        operation: &'static str,
        /// The key, lossily as text.
        key: String,
        /// What timed out.
        reason: String,
    },
}

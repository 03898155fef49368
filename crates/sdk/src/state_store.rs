//! The key/value state store shared by the operations of a graph (WIT
//! `state-store`).
//!
//! ```
//! use wasm_graph_sdk::state_store::{self, SetConditions, SetOptions, Duration};
//! // Unconditional set, no expiry:
//! state_store::set(b"overtemp", b"true", None, None, SetOptions::default()).unwrap();
//! // A lock that expires after 10 s, taken only if free (or already ours):
//! let taken = state_store::set(b"lock", b"me", None, None, SetOptions {
//!     conditions: SetConditions::OnlyIfEqualOrDoesNotExist,
//!     expires: Some(Duration { seconds: 10, nanos: 0 }),
//! }).unwrap();
//! // Write under the lock, fenced by the lock's version:
//! let token = taken.version.unwrap();
//! state_store::set(b"count", b"1", None, Some(&token), SetOptions::default()).unwrap();
//! assert_eq!(state_store::get(b"count", None).unwrap().response.as_deref(), Some(&b"1"[..]));
//! state_store::vdel(b"lock", b"me", None, None).unwrap();
//! ```
//!
//! [`Duration`] here is the WIT record (`seconds`, `nanos`), not
//! `std::time::Duration`; both convert into each other. In native builds the
//! calls go to the mock host's in-memory store (the same semantics as the
//! wasmgraph host: conditions, expiry, versions, fencing tokens), which
//! [`crate::testing`] can seed and inspect.

pub use crate::bindings::imports::wasm_graph::processor::state_store_types::{
    Duration, HybridLogicalClock, SetConditions, SetOptions, StateStoreDelResponse, StateStoreError,
    StateStoreGetResponse, StateStoreSetResponse,
};

/// The value of `key` (`response`, `None` if absent) and its version.
pub fn get(key: &[u8], timeout: Option<Duration>) -> Result<StateStoreGetResponse, StateStoreError> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::imports::wasm_graph::processor::state_store::get(key, timeout);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::host::state_get(key, timeout);
}

/// Write `value` under `key` if `options.conditions` allow it (`response` says
/// whether it was written). A `fencing_token` older than the key's newest one
/// makes the request fail.
pub fn set(
    key: &[u8],
    value: &[u8],
    timeout: Option<Duration>,
    fencing_token: Option<&HybridLogicalClock>,
    options: SetOptions,
) -> Result<StateStoreSetResponse, StateStoreError> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::imports::wasm_graph::processor::state_store::set(
        key,
        value,
        timeout,
        fencing_token,
        options,
    );
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::host::state_set(key, value, timeout, fencing_token, options);
}

/// Delete `key`; `response` is the number of keys removed (0 or 1).
pub fn del(
    key: &[u8],
    fencing_token: Option<&HybridLogicalClock>,
    timeout: Option<Duration>,
) -> Result<StateStoreDelResponse, StateStoreError> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::imports::wasm_graph::processor::state_store::del(key, fencing_token, timeout);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::host::state_del(key, None, fencing_token, timeout);
}

/// Delete `key` only if it holds exactly `value`; `response` is 1 if removed.
pub fn vdel(
    key: &[u8],
    value: &[u8],
    fencing_token: Option<&HybridLogicalClock>,
    timeout: Option<Duration>,
) -> Result<StateStoreDelResponse, StateStoreError> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::imports::wasm_graph::processor::state_store::vdel(key, value, fencing_token, timeout);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::host::state_del(key, Some(value), fencing_token, timeout);
}

impl Default for SetOptions {
    /// Unconditional, no expiry.
    fn default() -> Self {
        SetOptions { conditions: SetConditions::Unconditional, expires: None }
    }
}

impl From<Duration> for std::time::Duration {
    fn from(duration: Duration) -> Self {
        std::time::Duration::from_secs(duration.seconds)
            .saturating_add(std::time::Duration::from_nanos(u64::from(duration.nanos)))
    }
}

impl From<std::time::Duration> for Duration {
    fn from(duration: std::time::Duration) -> Self {
        Duration { seconds: duration.as_secs(), nanos: duration.subsec_nanos() }
    }
}

impl PartialEq for Duration {
    fn eq(&self, other: &Self) -> bool {
        (self.seconds, self.nanos) == (other.seconds, other.nanos)
    }
}

impl Eq for Duration {}

impl PartialEq for StateStoreError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StateStoreError::RequestError(a), StateStoreError::RequestError(b)) => a == b,
            (StateStoreError::Timeout, StateStoreError::Timeout)
            | (StateStoreError::Protocol, StateStoreError::Protocol)
            | (StateStoreError::Internal, StateStoreError::Internal) => true,
            _ => false,
        }
    }
}

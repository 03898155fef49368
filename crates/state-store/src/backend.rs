//! What a state-store backend offers, and the clock it reads.

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmgraph_types::Hlc;

use crate::{DelResponse, GetResponse, KeyValue, SetOptions, SetResponse, StateStoreError};

/// A key/value store with the WIT `state-store` semantics described in the crate
/// documentation. Every method is one atomic request; implementations are shared
/// between worker threads.
pub trait StateBackend: Send + Sync + Debug {
    /// The value of `key` and its version; both `None` when absent or expired.
    fn get(&self, key: &[u8]) -> Result<GetResponse, StateStoreError>;

    /// Write `value` under `key` if `options.conditions` allow it and the fencing
    /// token (when given) is not older than the key's.
    fn set(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
        options: SetOptions,
    ) -> Result<SetResponse, StateStoreError>;

    /// Remove `key`; `deleted` is 1 if it was present, else 0.
    fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError>;

    /// Remove `key` only if it holds exactly `value`; `deleted` is 1 if removed.
    fn vdel(&self, key: &[u8], value: &[u8], fencing_token: Option<&Hlc>) -> Result<DelResponse, StateStoreError>;

    /// All live keys and values, sorted by key (for inspection and tests; it reads
    /// the whole store).
    fn entries(&self) -> Result<Vec<KeyValue>, StateStoreError>;

    /// What and where this store is, for messages: `in-memory state store`,
    /// `embedded state store at /var/lib/x/state.redb`, …
    fn describe(&self) -> String;
}

/// The wall clock a backend reads for expiry and for the physical part of its
/// versions. [`SystemClock`] in production; tests use a [`ManualClock`] so that
/// expiry is tested without waiting.
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until told to move (for tests).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: SystemTime) -> Self {
        ManualClock { now: Mutex::new(start) }
    }

    /// A clock reading the system time at the moment it is made.
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    /// Set the clock to `to` (which may be earlier than now).
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Nanoseconds since the Unix epoch (0 before it, saturating in year 2554).
pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// The expiry time, in Unix nanoseconds, of a key set at `now` with `expires`.
pub(crate) fn expiry_nanos(now: u64, expires: Option<Duration>) -> Option<u64> {
    expires.map(|d| now.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
}

/// Check a request's fencing token against the one the key remembers. `Ok(true)`
/// when the token is accepted and must be remembered, `Ok(false)` when the request
/// carries none, an error when it is older than `current`.
pub(crate) fn check_fence(key: &[u8], token: Option<&Hlc>, current: Option<&Hlc>) -> Result<bool, StateStoreError> {
    match (token, current) {
        (None, _) => Ok(false),
        (Some(token), Some(current)) if token < current => Err(StateStoreError::FencingTokenTooOld {
            key: String::from_utf8_lossy(key).into_owned(),
            given: token.to_wire(),
            current: current.to_wire(),
        }),
        (Some(_), _) => Ok(true),
    }
}

/// Whether a set with `conditions` of `value` may write over `existing` (the live
/// value, `None` when the key is absent or expired).
pub(crate) fn set_allowed(conditions: crate::SetConditions, existing: Option<&[u8]>, value: &[u8]) -> bool {
    use crate::SetConditions::*;
    match (conditions, existing) {
        (Unconditional, _) | (_, None) => true,
        (OnlyIfDoesNotExist, Some(_)) => false,
        (OnlyIfEqualOrDoesNotExist, Some(existing)) => existing == value,
    }
}

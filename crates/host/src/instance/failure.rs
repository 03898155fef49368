//! How a call fails: what the call itself reports ([`Failure`]), and how a
//! wasmtime error becomes a [`CallError`] of the right [`FailureKind`].

use wasmgraph_types::FailureKind;

use crate::bindings::exports;
use crate::convert::InvalidOutput;
use crate::error::CallError;
use crate::runtime::HostConfig;

/// Why a call on an operator export did not give a result.
pub(super) enum Failure {
    /// wasmtime failed the call: a trap, the time budget, the memory limit.
    Wasm(wasmtime::Error),
    /// The module returned an `error`.
    Returned(String),
    /// The module's result cannot be used.
    Invalid(String),
}

impl From<wasmtime::Error> for Failure {
    fn from(e: wasmtime::Error) -> Self {
        Failure::Wasm(e)
    }
}

impl From<InvalidOutput> for Failure {
    fn from(e: InvalidOutput) -> Self {
        Failure::Invalid(e.0)
    }
}

/// A module's `result<_, error>` as a call outcome (every operator interface
/// shares the one WIT `error` type).
pub(super) fn returned<T>(r: Result<T, exports::map::Error>) -> Result<T, Failure> {
    r.map_err(|e| Failure::Returned(e.message))
}

/// A call of another kind than the instance's.
pub(super) fn wrong_kind() -> Failure {
    // `ModuleInstance` only loads the `OperatorExport` of its configured kind, so a
    // call of another kind is a caller error, reported like a returned error.
    Failure::Returned("this operator does not implement the requested interface".into())
}

/// The [`CallError`] for a wasmtime error: out of memory if the limiter
/// refused memory during the call, a resource limit if the resource table was
/// full, a timeout if the epoch deadline interrupted it, else a trap.
pub(super) fn classify(e: &wasmtime::Error, memory_exceeded: bool, config: &HostConfig) -> CallError {
    // The message leads with what happened (the trap; the caller adds what the
    // module printed) and ends with the wasm backtrace for debugging. (`{:?}`
    // would also symbolize a host backtrace, which takes hundreds of ms.)
    let message = e.root_cause().to_string();
    if memory_exceeded {
        return CallError::new(
            FailureKind::OutOfMemory,
            format!("the instance reached its memory limit of {} bytes: {message}", config.memory_limit),
        );
    }
    if e.chain().any(|c| matches!(c.downcast_ref(), Some(wasmtime::component::ResourceTableError::Full))) {
        return CallError::new(
            FailureKind::ResourceLimit,
            format!(
                "the instance holds {} resource handles (buffers, streams, builders), its limit: \
                 the module creates them without dropping them ({message})",
                config.limits.resources
            ),
        );
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => CallError::new(
            FailureKind::Timeout,
            format!("the call ran longer than its budget of {:?}", config.call_timeout),
        ),
        _ => CallError::new(FailureKind::Trap, message),
    }
}

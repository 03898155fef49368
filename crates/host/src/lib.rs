//! The wasmgraph component host: loads `wasm-graph:processor@1.1.0` operator
//! components with wasmtime and calls them, one record at a time.
//!
//! * A [`Runtime`] owns the engine (epoch interruption, pooling allocator, no
//!   component-model concurrency), the linker with WASI 0.2 and every import of
//!   the package, the on-disk compile cache, the shared [`Services`] and an
//!   epoch ticker thread.
//! * [`Runtime::load`] gives a [`Module`]: compiled code plus a pre-linked
//!   instance template. Compiled code is cached on disk keyed by the sha256 of
//!   the component's bytes, the wasmtime version and the engine settings.
//! * [`ModuleInstance::instantiate`] creates one instance and calls its `init`; its
//!   `map`/`filter`/`branch`/`accumulate`/`delay` methods call the module. Each
//!   call has a time budget ([`HostConfig::call_timeout`]) and each instance a
//!   memory limit ([`HostConfig::memory_limit`]). A returned error, a trap, a
//!   timeout, running out of memory or an output the host cannot accept yields
//!   a [`CallError`] of that [`FailureKind`]; after a trap, timeout or
//!   out-of-memory the instance is re-created and re-initialised before the
//!   call returns.
//!
//! Host APIs: `logger` goes to `tracing` (target `wasmgraph::module`, with the
//! operation and the record time), `metrics` to the [`MetricsRegistry`],
//! `state-store` to the shared [`StateStore`], `schema-registry` to
//! `<schema_dir>/<id>[-<version>].json` files, and `command-invoker` answers
//! `client-error` (no MQTT for operators yet). WASI is sandboxed: no preopened
//! directories, no network, no environment or arguments, stdin closed; the
//! module's stdout and stderr become `tracing` events (targets
//! `wasmgraph::module::stdout` and `::stderr`), one per line.

mod bindings;
mod cache;
mod convert;
mod error;
mod imports;
mod instance;
mod limits;
mod metrics;
mod module;
mod resources;
mod runtime;
mod state;
mod state_quota;
mod stdio;

pub use error::{CallError, HostError};
pub use instance::{ModuleInstance, ModuleSchema, OperatorConfig, OperatorStats};
pub use limits::{HostLimits, Limit, LimitHits, LIMIT_HITS_METRIC};
pub use metrics::{
    CounterPoint, HistogramPoint, HistogramSummary, Labels, MetricsError, MetricsRegistry, MetricsSnapshot,
};
pub use module::{CacheSource, Module};
pub use runtime::{HostConfig, Runtime, RuntimeStats, Services};
pub use wasmgraph_state_store::StateStore;
pub use wasmgraph_types::{FailureKind, OperatorKind, UnknownOperatorKind};

/// The former name of [`FailureKind`], kept so that callers can move over one at
/// a time; use `FailureKind`.
pub type CallErrorKind = FailureKind;

/// The former name of [`ModuleInstance`], kept so that callers can move over one
/// at a time; use `ModuleInstance` (the engine's operators are another thing).
pub type Operator = ModuleInstance;

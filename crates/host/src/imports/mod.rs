//! The host's implementations of what modules import from
//! `wasm-graph:processor@1.1.0`, one file per interface, all on the narrow
//! [`Api`](crate::state::Api) view. (WASI's imports come from `wasmtime-wasi`;
//! where a module's stdout and stderr go is [`crate::stdio`].)

pub(crate) mod buffer;
pub(crate) mod command_invoker;
pub(crate) mod logger;
pub(crate) mod metrics;
pub(crate) mod schema_registry;
// The state-store import still lives in the former folder `host/`: its owner
// was changing it while this folder was renamed; move it here with `git mv`.
#[path = "../host/state_store.rs"]
pub(crate) mod state_store;

use crate::bindings::imports::{hybrid_logical_clock, rpc_types, schema_types, state_store_types};
use crate::state::Api;

// Interfaces that only define types: their instances are empty.
impl hybrid_logical_clock::Host for Api<'_> {}
impl state_store_types::Host for Api<'_> {}
impl schema_types::Host for Api<'_> {}
impl rpc_types::Host for Api<'_> {}

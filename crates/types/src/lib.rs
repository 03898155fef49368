//! The host-side form of the data that flows through a graph.
//!
//! These types mirror the WIT `data-model` of `wasm-graph:processor@1.1.0`, but
//! hold payloads as reference-counted [`Bytes`] so that fanning a record out to
//! several operations, or handing it to a module as a host `buffer`, never copies
//! the payload. They carry no wasmtime or timely types: connectors, the host and
//! the engine all speak them.

mod failure;
mod hlc;
mod kind;
mod record;

pub use bytes::Bytes;
pub use failure::FailureKind;
pub use hlc::{wall_nanos, Hlc, HlcClock};
pub use kind::{OperationType, OperatorKind, UnknownOperatorKind};
pub use record::{DataModel, Message, MessageSchema, Record, Snapshot};

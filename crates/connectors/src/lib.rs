//! Sources and sinks, one folder per protocol, listed once in the registry
//! (`registry.rs`) that deployment files and the runtime read.
//!
//! A connector never sees timely or wasmtime: a [`Source`] hands the engine
//! messages (with their own time where they carry one), a [`Sink`] receives
//! finished records in time order. The engine does the stamping, ordering and
//! acknowledgement bookkeeping, so every connector gets them right for free.

pub mod file;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod memory;
#[cfg(feature = "mqtt")]
pub mod mqtt;
mod registry;
mod tagged;

pub use registry::{Connector, EndpointSpec, OpenContext, Services, SinkSpec, SourceSpec, TYPES};
pub use wasmgraph_connector::{ConnectorError, Incoming, Poll, Sink, Source, StopHandle};

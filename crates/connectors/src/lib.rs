//! Sources and sinks, one folder per protocol, listed once in the registry
//! (`registry.rs`) that deployment files and the runtime read.
//!
//! A connector never sees timely or wasmtime: a [`Source`] hands the engine
//! messages (with their own time where they carry one), a [`Sink`] receives
//! finished records in time order. The engine does the stamping, ordering and
//! acknowledgement bookkeeping, so every connector gets them right for free.

pub mod aio;
pub mod file;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod memory;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "otel")]
pub mod otel;
mod plugin;
mod registry;
mod tagged;

pub use plugin::{Connector, OpenContext, Services};
pub use registry::{EndpointSpec, SinkSpec, SourceSpec, TYPES};
pub use wasmgraph_connector::{ConnectorError, Incoming, LagProbe, PartitionLag, Poll, Sink, Source, StopHandle};

/// `path` relative to `base` (the folder of the file it was written in),
/// unless absolute.
pub(crate) fn relative_to(base: &std::path::Path, path: &std::path::Path) -> std::path::PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

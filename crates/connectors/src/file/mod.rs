//! The file source and sink: the local development loop.
//!
//! The source reads every file of a directory, in name order, as one message
//! each (as AIO's local tooling does); the sink writes one JSON object per
//! record and line.

mod sink;
mod source;

pub use sink::{record_to_json, FileSink};
pub use source::{FileSource, FileSourceConfig};

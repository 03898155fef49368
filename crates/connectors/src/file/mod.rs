//! The file source and sink: the local development loop.
//!
//! The source reads every file of a directory, in name order, as one message
//! each (as AIO's local tooling does); the sink writes one JSON object per
//! record and line.

mod config;
mod sink;
mod source;

use std::path::Path;

pub use config::{default_raw_topic, default_topic, FileEndpoint, FileSinkSpec, FileSourceSpec};
pub use sink::{record_to_json, FileSink};
pub use source::{FileSource, FileSourceConfig};

use crate::plugin::{Connector, OpenContext};
use crate::{ConnectorError, Sink, Source};

/// The file connector (`type: file`).
pub struct File;

impl Connector for File {
    const TYPE: &'static str = "file";
    type Endpoint = FileEndpoint;
    type SourceSpec = FileSourceSpec;
    type SinkSpec = FileSinkSpec;

    fn source_endpoint(_: &FileSourceSpec) -> Option<&str> {
        None
    }
    fn sink_endpoint(_: &FileSinkSpec) -> Option<&str> {
        None
    }
    fn check_source(spec: &FileSourceSpec) -> Vec<String> {
        if spec.path.as_os_str().is_empty() {
            vec!["source.path: give the folder to read".into()]
        } else {
            vec![]
        }
    }
    fn check_sink(spec: &FileSinkSpec) -> Vec<String> {
        if spec.path.as_os_str().is_empty() {
            vec!["sink.path: give the file to write".into()]
        } else {
            vec![]
        }
    }
    fn check_endpoint(_: &FileEndpoint) -> Vec<String> {
        vec!["the file connector takes no endpoint; give `path` in the source or sink instead".into()]
    }
    fn resolve_paths(_: &mut FileEndpoint, _: &Path) {}
    fn resolve_source_paths(spec: &mut FileSourceSpec, base: &Path) {
        spec.path = crate::relative_to(base, &spec.path);
    }
    fn resolve_sink_paths(spec: &mut FileSinkSpec, base: &Path) {
        spec.path = crate::relative_to(base, &spec.path);
    }
    fn open_source(
        spec: &FileSourceSpec,
        _: Option<&FileEndpoint>,
        _: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let config = FileSourceConfig {
            topic: spec.topic.clone(),
            raw_topic: spec.raw_topic.clone(),
            ..FileSourceConfig::new(&spec.path)
        };
        Ok(Box::new(FileSource::open(config)?))
    }
    fn open_sink(
        spec: &FileSinkSpec,
        _: Option<&FileEndpoint>,
        _: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(FileSink::create(&spec.path)?))
    }
    fn source_for_topics(_: &str, _: Vec<String>) -> Option<FileSourceSpec> {
        None
    }
    fn sink_for_topic(_: Option<&str>, _: String) -> Option<FileSinkSpec> {
        None
    }
    fn sink_with_topic(_: &FileSinkSpec, _: &str) -> Option<FileSinkSpec> {
        None
    }
}

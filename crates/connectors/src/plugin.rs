//! What a connector implements to be listed in the registry, and what it is
//! given when it is opened.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::{ConnectorError, Sink, Source};

/// A connector: its settings types and how to open it.
pub trait Connector {
    /// The `type:` value that selects it.
    const TYPE: &'static str;
    /// Connection settings shared by its sources and sinks, named under
    /// `endpoints:` in a deployment.
    type Endpoint: DeserializeOwned + Debug + Clone + Send + Sync;
    /// The settings of a `source:` section.
    type SourceSpec: DeserializeOwned + Debug + Clone + Send + Sync;
    /// The settings of a `sink:` section.
    type SinkSpec: DeserializeOwned + Debug + Clone + Send + Sync;

    /// The endpoint a source names (`endpoint: plant`), if any.
    fn source_endpoint(spec: &Self::SourceSpec) -> Option<&str>;
    /// The endpoint a sink names, if any.
    fn sink_endpoint(spec: &Self::SinkSpec) -> Option<&str>;
    /// What serde cannot check of a source (ranges, syntax), as sentences
    /// naming the key.
    fn check_source(spec: &Self::SourceSpec) -> Vec<String>;
    /// What serde cannot check of a sink.
    fn check_sink(spec: &Self::SinkSpec) -> Vec<String>;
    /// What serde cannot check of an endpoint.
    fn check_endpoint(endpoint: &Self::Endpoint) -> Vec<String>;
    /// Make file paths written in the settings relative to `base` (the folder
    /// of the file they were written in). Files are read at open time.
    fn resolve_paths(endpoint: &mut Self::Endpoint, base: &Path);
    /// The same for a source's own paths (a folder to read).
    fn resolve_source_paths(spec: &mut Self::SourceSpec, base: &Path) {
        let _ = (spec, base);
    }
    /// The same for a sink's own paths (a file to write).
    fn resolve_sink_paths(spec: &mut Self::SinkSpec, base: &Path) {
        let _ = (spec, base);
    }
    /// Start reading.
    fn open_source(
        spec: &Self::SourceSpec,
        endpoint: Option<&Self::Endpoint>,
        ctx: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Source>, ConnectorError>;
    /// Start writing.
    fn open_sink(
        spec: &Self::SinkSpec,
        endpoint: Option<&Self::Endpoint>,
        ctx: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Sink>, ConnectorError>;
    /// A source reading `topics` through endpoint `endpoint` (AIO's
    /// `sourceSettings.dataSources`); `None` when the connector has no topics.
    fn source_for_topics(endpoint: &str, topics: Vec<String>) -> Option<Self::SourceSpec>;
    /// A sink writing to `topic` through endpoint `endpoint` (AIO's
    /// `destinationSettings.dataDestination`).
    fn sink_for_topic(endpoint: Option<&str>, topic: String) -> Option<Self::SinkSpec>;
    /// The same sink writing to another topic (a dead-letter topic on the
    /// sink's own endpoint); `None` when the connector has no topics.
    fn sink_with_topic(spec: &Self::SinkSpec, topic: &str) -> Option<Self::SinkSpec>;
}

/// What opening a connector needs besides its settings.
pub struct OpenContext<'a> {
    /// The deployment's name: the base of client ids and group names.
    pub name: &'a str,
    /// What the connection is for (`source`, `sink`, `dead-letters`): client
    /// ids of one deployment differ by it.
    pub role: &'a str,
    /// Services started on first use and shared by every connector of a run.
    pub services: &'a mut Services,
}

/// Services connectors start on demand (the embedded MQTT broker), kept for
/// the whole run and shared by its connectors; one of each type.
#[derive(Default)]
pub struct Services {
    started: HashMap<TypeId, Box<dyn Any + Send>>,
    /// Lines telling the user how to reach what was started.
    notes: Vec<String>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("started", &self.started.len()).field("notes", &self.notes).finish()
    }
}

impl Services {
    /// No services yet.
    pub fn new() -> Self {
        Services::default()
    }

    /// The service of type `T`, started with `start` on first use.
    pub fn get_or_start<T: Any + Send>(
        &mut self,
        start: impl FnOnce() -> Result<T, ConnectorError>,
    ) -> Result<&T, ConnectorError> {
        let entry = match self.started.entry(TypeId::of::<T>()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(Box::new(start()?)),
        };
        entry.downcast_ref::<T>().ok_or_else(|| ConnectorError::Config("a service of another type".into()))
    }

    /// Tell the user how to reach a service that was started.
    pub fn note(&mut self, line: String) {
        self.notes.push(line);
    }

    /// What was started and how to use it (printed once at start).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

//! The one list of connectors: what a deployment's `type:` names, and how a
//! section of settings becomes a running source or sink.
//!
//! Adding a connector is a folder under `src/` whose `mod.rs` implements
//! [`Connector`], plus one line in the `registry!` invocation at the end of
//! this file (and a cargo feature). The deployment files, the runtime and the
//! CLI read the specs this generates and need no change.

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

/// Services connectors start on demand, kept for the whole run.
#[derive(Debug, Default)]
pub struct Services {
    /// The built-in MQTT broker, when an MQTT endpoint asked for it.
    #[cfg(feature = "embedded-broker")]
    pub(crate) broker: Option<crate::mqtt::broker::EmbeddedBroker>,
    /// Lines telling the user how to reach what was started.
    pub(crate) notes: Vec<String>,
}

impl Services {
    /// No services yet.
    pub fn new() -> Self {
        Services::default()
    }

    /// What was started and how to use it (printed once at start).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// Generates the spec enums (one variant per connector) and their dispatch.
macro_rules! registry {
    ($default:literal; $( $(#[$cfg:meta])* $variant:ident => $connector:ty ),* $(,)?) => {
        /// A `source:` section: which connector and its settings.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum SourceSpec {
            $( $(#[$cfg])* #[doc = concat!("`type: ", stringify!($variant), "`")] $variant(<$connector as Connector>::SourceSpec), )*
        }

        /// A `sink:` section (also a dead-letter destination).
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum SinkSpec {
            $( $(#[$cfg])* #[doc = concat!("`type: ", stringify!($variant), "`")] $variant(<$connector as Connector>::SinkSpec), )*
        }

        /// A named endpoint under `endpoints:`.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum EndpointSpec {
            $( $(#[$cfg])* #[doc = concat!("`type: ", stringify!($variant), "`")] $variant(<$connector as Connector>::Endpoint), )*
        }

        /// The `type:` values, for messages.
        pub const TYPES: &[&str] = &[$( $(#[$cfg])* <$connector as Connector>::TYPE, )*];

        impl crate::tagged::Tagged for SourceSpec {
            const WHAT: &'static str = "source";
            const TYPES: &'static [&'static str] = TYPES;
            const DEFAULT: Option<&'static str> = Some($default);
            fn from_map<'de, A: serde::de::MapAccess<'de>>(tag: &str, rest: crate::tagged::RestOfMap<'de, A>) -> Result<Self, A::Error> {
                $( $(#[$cfg])* if tag == <$connector as Connector>::TYPE { return rest.into().map(SourceSpec::$variant); } )*
                Err(serde::de::Error::unknown_variant(tag, TYPES))
            }
        }

        impl crate::tagged::Tagged for SinkSpec {
            const WHAT: &'static str = "sink";
            const TYPES: &'static [&'static str] = TYPES;
            const DEFAULT: Option<&'static str> = Some($default);
            fn from_map<'de, A: serde::de::MapAccess<'de>>(tag: &str, rest: crate::tagged::RestOfMap<'de, A>) -> Result<Self, A::Error> {
                $( $(#[$cfg])* if tag == <$connector as Connector>::TYPE { return rest.into().map(SinkSpec::$variant); } )*
                Err(serde::de::Error::unknown_variant(tag, TYPES))
            }
        }

        impl crate::tagged::Tagged for EndpointSpec {
            const WHAT: &'static str = "endpoint";
            const TYPES: &'static [&'static str] = TYPES;
            const DEFAULT: Option<&'static str> = Some($default);
            fn from_map<'de, A: serde::de::MapAccess<'de>>(tag: &str, rest: crate::tagged::RestOfMap<'de, A>) -> Result<Self, A::Error> {
                $( $(#[$cfg])* if tag == <$connector as Connector>::TYPE { return rest.into().map(EndpointSpec::$variant); } )*
                Err(serde::de::Error::unknown_variant(tag, TYPES))
            }
        }

        impl SourceSpec {
            /// The connector's `type:` value.
            pub fn type_name(&self) -> &'static str {
                match self { $( $(#[$cfg])* SourceSpec::$variant(_) => <$connector as Connector>::TYPE, )* }
            }
            /// The endpoint it names, if any.
            pub fn endpoint_name(&self) -> Option<&str> {
                match self { $( $(#[$cfg])* SourceSpec::$variant(s) => <$connector as Connector>::source_endpoint(s), )* }
            }
            /// Problems serde cannot see, as sentences naming the key.
            pub fn check(&self) -> Vec<String> {
                match self { $( $(#[$cfg])* SourceSpec::$variant(s) => <$connector as Connector>::check_source(s), )* }
            }
            /// Make relative file paths relative to `base`.
            pub fn resolve_paths(&mut self, base: &Path) {
                match self { $( $(#[$cfg])* SourceSpec::$variant(s) => <$connector as Connector>::resolve_source_paths(s, base), )* }
            }
            /// A source of the endpoint's type reading `topics` (AIO's `dataSources`).
            pub fn for_topics(endpoint_name: &str, endpoint: &EndpointSpec, topics: Vec<String>) -> Option<Self> {
                match endpoint { $( $(#[$cfg])* EndpointSpec::$variant(_) => <$connector as Connector>::source_for_topics(endpoint_name, topics).map(SourceSpec::$variant), )* }
            }
            /// Start reading; `endpoint` must be of the same type (checked).
            pub fn open(&self, endpoint: Option<&EndpointSpec>, ctx: &mut OpenContext<'_>) -> Result<Box<dyn Source>, ConnectorError> {
                match self { $( $(#[$cfg])* SourceSpec::$variant(s) => {
                    let endpoint = match endpoint {
                        None => None,
                        #[allow(unreachable_patterns)]
                        Some(EndpointSpec::$variant(e)) => Some(e),
                        #[allow(unreachable_patterns)]
                        Some(other) => return Err(mismatch("source", self.type_name(), other.type_name())),
                    };
                    <$connector as Connector>::open_source(s, endpoint, ctx)
                } )* }
            }
        }

        impl SinkSpec {
            /// The connector's `type:` value.
            pub fn type_name(&self) -> &'static str {
                match self { $( $(#[$cfg])* SinkSpec::$variant(_) => <$connector as Connector>::TYPE, )* }
            }
            /// The endpoint it names, if any.
            pub fn endpoint_name(&self) -> Option<&str> {
                match self { $( $(#[$cfg])* SinkSpec::$variant(s) => <$connector as Connector>::sink_endpoint(s), )* }
            }
            /// Problems serde cannot see, as sentences naming the key.
            pub fn check(&self) -> Vec<String> {
                match self { $( $(#[$cfg])* SinkSpec::$variant(s) => <$connector as Connector>::check_sink(s), )* }
            }
            /// Make relative file paths relative to `base`.
            pub fn resolve_paths(&mut self, base: &Path) {
                match self { $( $(#[$cfg])* SinkSpec::$variant(s) => <$connector as Connector>::resolve_sink_paths(s, base), )* }
            }
            /// A sink of the endpoint's type writing to `topic` (AIO's `dataDestination`).
            pub fn for_topic(endpoint_name: &str, endpoint: &EndpointSpec, topic: String) -> Option<Self> {
                match endpoint { $( $(#[$cfg])* EndpointSpec::$variant(_) => <$connector as Connector>::sink_for_topic(Some(endpoint_name), topic).map(SinkSpec::$variant), )* }
            }
            /// This sink writing to `topic` instead (dead letters on the same endpoint).
            pub fn with_topic(&self, topic: &str) -> Option<Self> {
                match self { $( $(#[$cfg])* SinkSpec::$variant(s) => <$connector as Connector>::sink_with_topic(s, topic).map(SinkSpec::$variant), )* }
            }
            /// Start writing; `endpoint` must be of the same type (checked).
            pub fn open(&self, endpoint: Option<&EndpointSpec>, ctx: &mut OpenContext<'_>) -> Result<Box<dyn Sink>, ConnectorError> {
                match self { $( $(#[$cfg])* SinkSpec::$variant(s) => {
                    let endpoint = match endpoint {
                        None => None,
                        #[allow(unreachable_patterns)]
                        Some(EndpointSpec::$variant(e)) => Some(e),
                        #[allow(unreachable_patterns)]
                        Some(other) => return Err(mismatch("sink", self.type_name(), other.type_name())),
                    };
                    <$connector as Connector>::open_sink(s, endpoint, ctx)
                } )* }
            }
        }

        impl EndpointSpec {
            /// The connector's `type:` value.
            pub fn type_name(&self) -> &'static str {
                match self { $( $(#[$cfg])* EndpointSpec::$variant(_) => <$connector as Connector>::TYPE, )* }
            }
            /// Problems serde cannot see.
            pub fn check(&self) -> Vec<String> {
                match self { $( $(#[$cfg])* EndpointSpec::$variant(e) => <$connector as Connector>::check_endpoint(e), )* }
            }
            /// Make relative file paths relative to `base`.
            pub fn resolve_paths(&mut self, base: &Path) {
                match self { $( $(#[$cfg])* EndpointSpec::$variant(e) => <$connector as Connector>::resolve_paths(e, base), )* }
            }
        }
    };
}

fn mismatch(what: &str, spec: &str, endpoint: &str) -> ConnectorError {
    ConnectorError::Config(format!("the {what} is of type {spec} but its endpoint is of type {endpoint}"))
}

macro_rules! deserialize_tagged {
    ($($t:ty),*) => {$(
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::tagged::deserialize(d)
            }
        }
    )*};
}
deserialize_tagged!(SourceSpec, SinkSpec, EndpointSpec);

// The registry: `type:` value's variant => the connector. Sections without a
// `type:` are MQTT (wasmgraph's first connector; older files have no type).
registry! {
    "mqtt";
    #[cfg(feature = "mqtt")]
    Mqtt => crate::mqtt::Mqtt,
    #[cfg(feature = "kafka")]
    Kafka => crate::kafka::Kafka,
    File => crate::file::File,
}

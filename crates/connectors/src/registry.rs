//! The one list of connectors: what a deployment's `type:` names, and how a
//! section of settings becomes a running source or sink.
//!
//! Adding a connector is a folder under `src/` whose `mod.rs` implements
//! [`Connector`], plus one line in the `registry!` invocation at the end of
//! this file (and a cargo feature). The deployment files, the runtime and the
//! CLI read the specs this generates and need no change.

use std::path::Path;

use crate::plugin::{Connector, OpenContext};
use crate::{ConnectorError, Sink, Source};

/// Generates the spec enums (one variant per connector) and their dispatch.
macro_rules! registry {
    ($default:literal; $( $(#[$cfg:meta])* $variant:ident => $connector:ty ),* $(,)?) => {
        /// A `source:` section: which connector and its settings.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        // Settings are read once per run; boxing variants would buy nothing.
        #[allow(clippy::large_enum_variant)]
        pub enum SourceSpec {
            $( $(#[$cfg])* #[doc = concat!("`type: ", stringify!($variant), "`")] $variant(<$connector as Connector>::SourceSpec), )*
        }

        /// A `sink:` section (also a dead-letter destination).
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        // Settings are read once per run; boxing variants would buy nothing.
        #[allow(clippy::large_enum_variant)]
        pub enum SinkSpec {
            $( $(#[$cfg])* #[doc = concat!("`type: ", stringify!($variant), "`")] $variant(<$connector as Connector>::SinkSpec), )*
        }

        /// A named endpoint under `endpoints:`.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        // Settings are read once per run; boxing variants would buy nothing.
        #[allow(clippy::large_enum_variant)]
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
    #[cfg(feature = "otel")]
    Otel => crate::otel::Otel,
    File => crate::file::File,
}

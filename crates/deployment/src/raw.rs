//! The files as written: serde types with unknown keys denied. Some fields
//! are read only to accept (and type-check) what AIO manifests carry.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use wasmgraph_connectors::{EndpointSpec, SinkSpec, SourceSpec};
use wasmgraph_state_store::StateStoreConfig;

/// A scalar written as a string, number or boolean; kept as its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ErrorPolicy {
    pub policy: PolicyKind,
    /// Dead letters to this topic through the sink's own connector and endpoint.
    pub topic: Option<String>,
    /// Dead letters to a sink of their own (any connector type).
    pub sink: Option<SinkSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub enum PolicyKind {
    Drop,
    DeadLetter,
}

/// wasmgraph's deployment file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Native {
    pub kind: String,
    pub name: Option<String>,
    pub graph: String,
    pub modules: Option<String>,
    /// Where OCI references (the graph, its modules) resolve.
    pub registry: Option<wasmgraph_oci::RegistryEndpointSpec>,
    #[serde(default)]
    pub configuration: BTreeMap<String, BTreeMap<String, Scalar>>,
    pub source: SourceSpec,
    pub sink: SinkSpec,
    pub errors: Option<ErrorPolicy>,
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointSpec>,
    pub state_store: Option<StateStoreConfig>,
    pub cluster: Option<crate::ClusterSpec>,
    pub limits: Option<crate::LimitsSpec>,
}

/// AIO's `DataflowGraph` resource.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataflowGraph {
    pub api_version: Option<String>,
    pub kind: String,
    pub metadata: K8sMetadata,
    pub spec: Spec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct K8sMetadata {
    pub name: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    pub profile_ref: Option<String>,
    pub mode: Option<String>,
    pub request_disk_persistence: Option<String>,
    pub nodes: Vec<Node>,
    pub node_connections: Vec<NodeConnection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Node {
    pub name: String,
    pub node_type: NodeType,
    pub source_settings: Option<SourceSettings>,
    pub graph_settings: Option<GraphSettings>,
    pub destination_settings: Option<DestinationSettings>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum NodeType {
    Source,
    Graph,
    Destination,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SourceSettings {
    pub endpoint_ref: String,
    pub asset_ref: Option<String>,
    pub data_sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GraphSettings {
    pub registry_endpoint_ref: Option<String>,
    pub artifact: String,
    #[serde(default)]
    pub configuration: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    pub key: String,
    pub value: Scalar,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationSettings {
    pub endpoint_ref: String,
    pub data_destination: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConnection {
    pub from: ConnectionEnd,
    pub to: ConnectionEnd,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionEnd {
    pub name: String,
    pub schema: Option<ConnectionSchema>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectionSchema {
    pub schema_ref: Option<String>,
    pub serialization_format: Option<String>,
}

/// The companion file of a `DataflowGraph`: endpoints, and where its
/// artifacts are on disk.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Companion {
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointSpec>,
    #[serde(default)]
    pub artifacts: BTreeMap<String, String>,
    /// AIO `RegistryEndpoint` specs by name (what `registryEndpointRef` names).
    #[serde(default)]
    pub registry_endpoints: BTreeMap<String, wasmgraph_oci::RegistryEndpointSpec>,
    pub modules: Option<String>,
    pub errors: Option<ErrorPolicy>,
    pub max_message_size: Option<usize>,
    pub receive_maximum: Option<u32>,
    pub state_store: Option<StateStoreConfig>,
    pub limits: Option<crate::LimitsSpec>,
}

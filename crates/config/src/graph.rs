//! The checked graph: what the engine builds from.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{Error, Rule};
use crate::model::{Arm, Feature, Metadata, OperationType, Parameter, PartitionKeySpec, Pos};

/// Values for operations' parameters, from the deployment or the command line:
/// operation name → (parameter key or parameter `name` → value).
pub type ParameterValues = HashMap<String, HashMap<String, String>>;

/// The index of a node in [`Graph::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// A checked graph: names resolved, every rule of DESIGN §2 holds.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The definition file.
    pub file: PathBuf,
    /// `metadata` as written.
    pub metadata: Metadata,
    /// `moduleRequirements.features` (e.g. `wasi-nn`).
    pub features: Vec<Feature>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) order: Vec<NodeId>,
    pub(crate) connections: usize,
}

/// One operation of a checked graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its index in [`Graph::nodes`].
    pub id: NodeId,
    /// The operation's `name`.
    pub name: String,
    /// The operation's type.
    pub kind: OperationType,
    /// The module, for map, filter, branch, accumulate and delay.
    pub module: Option<ModuleRef>,
    /// Incoming edges (one, except for a concatenate; none for a source), in file order.
    pub inputs: Vec<Edge>,
    /// Outgoing edges: one, or for a branch one per arm ("False" first); none for a sink.
    pub outputs: Vec<Edge>,
    /// The parameters declared for it in `moduleConfigurations`.
    pub parameters: Vec<Parameter>,
    /// The `(key, value)` pairs its `init` receives, computed with the values given
    /// to [`crate::GraphDefinition::validate`].
    pub properties: Vec<(String, String)>,
    /// The schemas its incoming connections name (`from.schemaName`), for `init`.
    pub schemas: Vec<ModuleSchema>,
    /// Its `partitionKey` (a wasmgraph extension), on module operations only.
    pub partition_key: Option<PartitionKeySpec>,
    /// Where the operation is defined.
    pub pos: Pos,
}

/// A module reference and, when a catalog was given, the file it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRef {
    /// The `module:` value as written.
    pub reference: String,
    /// The component file, when resolved by a [`crate::ModuleCatalog`].
    pub path: Option<PathBuf>,
}

/// A connection between two nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The sending node.
    pub from: NodeId,
    /// The branch arm, when `from` is a branch.
    pub arm: Option<Arm>,
    /// The receiving node.
    pub to: NodeId,
    /// `from.schemaName`, if given.
    pub schema: Option<String>,
}

/// A schema as an operation's `init` receives it (WIT `module-schema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSchema {
    /// The schema's `name`.
    pub name: String,
    /// A content type derived from `format` (see [`content_type_for_format`]).
    pub content_type: String,
    /// The schema text.
    pub content: String,
}

/// The content type handed to modules for a schema `format`:
/// `JsonSchema/…`, `json`, `json-schema` → `application/schema+json`;
/// `Avro…` → `application/vnd.apache.avro+json`; `Protobuf…`/`proto` →
/// `application/x-protobuf`; `Delta/…` → `application/delta`; a format that is
/// already a media type (contains `/` and starts with `application/` or `text/`)
/// and anything else unknown is passed through unchanged.
pub fn content_type_for_format(format: &str) -> String {
    let f = format.trim();
    let lower = f.to_ascii_lowercase();
    if lower.starts_with("application/") || lower.starts_with("text/") {
        return f.to_string();
    }
    let family = lower.split('/').next().unwrap_or(&lower);
    match family {
        "json" | "jsonschema" | "json-schema" => "application/schema+json".into(),
        "avro" => "application/vnd.apache.avro+json".into(),
        "protobuf" | "proto" => "application/x-protobuf".into(),
        "delta" => "application/delta".into(),
        _ => f.to_string(),
    }
}

impl Graph {
    /// All nodes, in the order the file defines them.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node with this id.
    ///
    /// # Panics
    /// If `id` is not from this graph.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// The node named `name`.
    pub fn find(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Nodes in a topological order (every node after all that feed it; ties in file order).
    pub fn topological_order(&self) -> impl Iterator<Item = &Node> + '_ {
        self.order.iter().map(|id| &self.nodes[id.0])
    }

    /// The source nodes.
    pub fn sources(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.iter().filter(|n| n.kind == OperationType::Source)
    }

    /// The sink nodes.
    pub fn sinks(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.iter().filter(|n| n.kind == OperationType::Sink)
    }

    /// Number of connections.
    pub fn connection_count(&self) -> usize {
        self.connections
    }

    /// Whether `moduleRequirements.features` names `feature` (e.g. `wasi-nn`).
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f.name.value == feature)
    }

    /// The `(key, value)` pairs `operation`'s `init` receives, given `values` for
    /// that operation (keyed by parameter key or by the parameter's `name`).
    ///
    /// For each declared parameter, in file order: the value under its key, else
    /// under its `name`, else its `default`; a parameter with none of these is
    /// left out, or is an error if `required`. Values that match no declared
    /// parameter are passed on too (AIO hands modules the deployment's
    /// configuration as is), after the declared ones, sorted by key.
    pub fn init_properties(
        &self,
        operation: &str,
        values: &HashMap<String, String>,
    ) -> Result<Vec<(String, String)>, Error> {
        let Some(node) = self.find(operation) else {
            return Err(Error::new(
                &self.file,
                Pos { line: 1, column: 1 },
                Rule::UnknownNode,
                format!(
                    "the graph has no operation named `{operation}`; parameter values must name one of its operations"
                ),
            ));
        };
        properties_for(&self.file, node.name.as_str(), &node.parameters, values)
    }

    /// The schemas reaching `operation` through its incoming connections.
    pub fn module_schemas(&self, operation: &str) -> Vec<ModuleSchema> {
        self.find(operation).map(|n| n.schemas.clone()).unwrap_or_default()
    }
}

pub(crate) fn properties_for(
    file: &std::path::Path,
    operation: &str,
    parameters: &[Parameter],
    values: &HashMap<String, String>,
) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    for p in parameters {
        let given = values.get_key_value(p.key.value.as_str()).or_else(|| values.get_key_value(p.name.value.as_str()));
        if let Some((k, _)) = given {
            used.push(k.as_str());
        }
        // Both spellings count as used, so neither is passed on a second time.
        used.push(p.key.value.as_str());
        used.push(p.name.value.as_str());
        match given.map(|(_, v)| v.clone()).or_else(|| p.default.as_ref().map(|d| d.value.clone())) {
            Some(v) => out.push((p.key.value.clone(), v)),
            None if p.required => {
                let alias =
                    if p.name.value != p.key.value { format!(" (or `{}`)", p.name.value) } else { String::new() };
                return Err(Error::new(
                    file,
                    p.key.pos,
                    Rule::MissingRequiredParameter,
                    format!(
                        "operation `{operation}` requires parameter `{}` but no value is given and it has no default; pass `--param {operation}.{}=VALUE`{alias}, set it in the deployment, or add `default:`",
                        p.key.value, p.key.value
                    ),
                )
                .with_operation(operation));
            }
            None => {}
        }
    }
    let mut extra: Vec<(String, String)> =
        values.iter().filter(|(k, _)| !used.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    extra.sort();
    out.extend(extra);
    Ok(out)
}

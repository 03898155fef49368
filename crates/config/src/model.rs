//! The graph definition as written: every field of DESIGN §2, each with its position.

use std::fmt;
use std::path::PathBuf;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// A place in the file: 1-based line and column (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A value and where it was written. Serializes as the bare value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the value starts.
    pub pos: Pos,
}

impl<T> Spanned<T> {
    pub(crate) fn new(value: T, pos: Pos) -> Self {
        Spanned { value, pos }
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// A whole graph definition file, as written (not yet checked as a graph).
///
/// Obtain one with [`GraphDefinition::load`] or [`GraphDefinition::parse`], then
/// [`GraphDefinition::validate`] it into a [`crate::Graph`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphDefinition {
    /// The file it was read from (used in every error).
    #[serde(skip)]
    pub file: PathBuf,
    /// `metadata`.
    pub metadata: Metadata,
    /// `moduleRequirements`.
    pub module_requirements: ModuleRequirements,
    /// `moduleConfigurations` (empty when absent).
    pub module_configurations: Vec<ModuleConfiguration>,
    /// `operations`.
    pub operations: Vec<Operation>,
    /// `connections`.
    pub connections: Vec<Connection>,
    /// `schemas` (empty when absent).
    pub schemas: Vec<Schema>,
    /// Where `operations` was written, for graph-wide errors (line 1 if absent).
    #[serde(skip)]
    pub operations_pos: Pos,
}

/// `metadata`.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    /// `$schema`.
    #[serde(rename = "$schema")]
    pub schema: Spanned<String>,
    /// `name`.
    pub name: Spanned<String>,
    /// `version`.
    pub version: Spanned<String>,
    /// `description` (absent or null: `None`).
    pub description: Option<Spanned<String>>,
    /// `vendor` (absent or null: `None`).
    pub vendor: Option<Spanned<String>>,
}

/// `moduleRequirements`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleRequirements {
    /// `apiVersion`: the WIT package version modules are built against.
    pub api_version: Spanned<String>,
    /// `runtimeVersion`.
    pub runtime_version: Spanned<String>,
    /// `features`.
    pub features: Vec<Feature>,
}

/// One entry of `moduleRequirements.features`, e.g. `{name: wasi-nn}`.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    /// `name`.
    pub name: Spanned<String>,
    /// `value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Spanned<String>>,
}

/// One entry of `moduleConfigurations`: the parameters of one operation.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleConfiguration {
    /// `name`: the operation configured.
    pub name: Spanned<String>,
    /// `parameters`, in file order.
    #[serde(serialize_with = "parameters_as_map")]
    pub parameters: Vec<Parameter>,
}

/// One parameter: `<key>: {name, description?, default?, required?}`.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    /// The mapping key. The module receives the parameter under this key.
    #[serde(skip)]
    pub key: Spanned<String>,
    /// `name`. A value given under this name is accepted as well as one under the key.
    pub name: Spanned<String>,
    /// `description`.
    pub description: Option<Spanned<String>>,
    /// `default` (absent or null: `None`).
    pub default: Option<Spanned<String>>,
    /// `required` (default false).
    pub required: bool,
}

fn parameters_as_map<S: Serializer>(params: &[Parameter], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(params.len()))?;
    for p in params {
        map.serialize_entry(&p.key.value, p)?;
    }
    map.end()
}

pub use wasmgraph_types::{OperationType, OperatorKind};

/// One entry of `operations`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Where the entry starts.
    #[serde(skip)]
    pub pos: Pos,
    /// `operationType`.
    pub operation_type: Spanned<OperationType>,
    /// `name`.
    pub name: Spanned<String>,
    /// `module` (absent, null or empty: `None`).
    pub module: Option<Spanned<String>>,
    /// `partitionKey`, a wasmgraph extension (AIO has no such field): how the
    /// operation's records are split between workers by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<Spanned<PartitionKeySpec>>,
}

/// An operation's `partitionKey` (a wasmgraph extension): where each record's
/// key comes from. Records of one key reach one worker, in time order, and an
/// accumulate folds each key's records of a time into one result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PartitionKeySpec {
    /// `userProperty: NAME`: the first MQTT 5 user property `NAME`.
    UserProperty(String),
    /// `topicLevel: N`: level `N` of the topic, counted from 1.
    TopicLevel(usize),
    /// `jsonField: /a/b`: a member of a JSON payload, by JSON pointer.
    JsonField(String),
}

/// A branch arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Arm {
    /// `"True"`: records for which the branch module returned true.
    True,
    /// `"False"`: records for which it returned false.
    False,
}

impl Arm {
    /// `"True"` or `"False"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::True => "True",
            Arm::False => "False",
        }
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `connections`.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// Where the entry starts.
    #[serde(skip)]
    pub pos: Pos,
    /// `from`.
    pub from: ConnectionFrom,
    /// `to`.
    pub to: ConnectionTo,
}

/// `from` of a connection.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionFrom {
    /// `name`: the operation records come from.
    pub name: Spanned<String>,
    /// `arm`, for a branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm: Option<Spanned<Arm>>,
    /// `schemaName`: a schema handed to the receiving operation's `init`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<Spanned<String>>,
}

/// `to` of a connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionTo {
    /// `name`: the operation records go to.
    pub name: Spanned<String>,
}

/// One entry of `schemas`.
#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    /// `name`.
    pub name: Spanned<String>,
    /// `format`, e.g. `JsonSchema/draft-07`.
    pub format: Spanned<String>,
    /// `schema`: the schema's text.
    pub schema: Spanned<String>,
}

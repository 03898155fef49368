//! Deployment files: which graph runs, where its messages come from and where
//! its results and failures go.
//!
//! Two shapes are accepted (see `docs/deployments.md`):
//!
//! * wasmgraph's own (`kind: Deployment`): `graph`, `modules`, `configuration`,
//!   `source`, `sink`, `errors` and `endpoints` in one file;
//! * AIO's `DataflowGraph` resource (`kind: DataflowGraph`): `spec.nodes` of
//!   node type `Source` / `Graph` / `Destination` joined by
//!   `spec.nodeConnections`, with the endpoints (and where artifacts are on
//!   disk) in a small companion file, so manifests kept for AIO run unchanged.
//!
//! Both become one [`Deployment`]. Unknown keys are rejected with the file,
//! line and column. An endpoint that is not defined anywhere (AIO's `default`
//! included) means the embedded broker ([`Endpoint::Embedded`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use cluster::{ClusterSinks, ClusterSpec};
pub use limits::LimitsSpec;
pub use wasmgraph_connectors::{EndpointSpec, SinkSpec, SourceSpec};
pub use wasmgraph_oci::{RegistryEndpoint, RegistryEndpointSpec};
pub use wasmgraph_state_store::StateStoreConfig;

mod aio;
mod cluster;
mod limits;
mod native;
mod oci;
mod raw;
mod yaml_budget;

/// A deployment, resolved: paths are absolute or relative to the current
/// directory, endpoint names are checked, and every section was validated.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The file it came from.
    pub file: PathBuf,
    /// Its name (client ids and node ids derive from it).
    pub name: String,
    /// The graph definition file (pulled into the cache when the deployment
    /// names it by OCI reference).
    pub graph: PathBuf,
    /// The registry module references (and the graph reference) resolve
    /// against: `registry:` (wasmgraph), or the companion's
    /// `registryEndpoints` entry a `registryEndpointRef` names (AIO).
    pub registry: Option<RegistryEndpoint>,
    /// Where module references resolve; `None`: the graph file's folder.
    pub modules: Option<PathBuf>,
    /// Parameter values for the operations' `init`.
    pub configuration: Configuration,
    /// Where messages come from (`type:` picks the connector).
    pub source: SourceSpec,
    /// Where results go.
    pub sink: SinkSpec,
    /// What happens to records whose module call failed.
    pub errors: ErrorPolicy,
    /// Named endpoints the source, sink and dead letters refer to.
    pub endpoints: BTreeMap<String, EndpointSpec>,
    /// Where the operators' state store keeps its keys (`stateStore:`;
    /// default in memory); a relative embedded path is already resolved.
    pub state_store: StateStoreConfig,
    /// Run as a timely cluster of several processes (`cluster:`; wasmgraph's
    /// own shape only). `hostsFile` is already resolved.
    pub cluster: Option<ClusterSpec>,
    /// Caps on what modules make the host keep (`limits:`; wasmgraph's shape
    /// or an AIO companion file).
    pub limits: LimitsSpec,
}

impl Deployment {
    /// The endpoint a source or sink names (`None`: it names none).
    pub fn endpoint(&self, name: Option<&str>) -> Option<&EndpointSpec> {
        name.and_then(|n| self.endpoints.get(n))
    }
}

/// Parameter values.
#[derive(Debug, Clone, PartialEq)]
pub enum Configuration {
    /// By operation name, then parameter key (wasmgraph's shape).
    PerOperation(BTreeMap<String, BTreeMap<String, String>>),
    /// `key: value` pairs for the whole graph (AIO's `graphSettings.configuration`):
    /// each applies to every operation that declares a parameter of that key or name.
    Graph(Vec<(String, String)>),
}

/// The error policy.
#[derive(Debug, Clone)]
pub enum ErrorPolicy {
    /// Count and log failed records, then drop them.
    Drop,
    /// Also write each failed record (with the operation and error) to this
    /// sink, of any connector type.
    DeadLetter(SinkSpec),
}

/// Why a deployment file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeploymentError {
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or has unknown or missing keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with line and column.
        message: String,
    },
    /// The content is well-formed but does not make a deployment.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What to fix.
        message: String,
    },
}

/// What a YAML file holds, judged by its top-level keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A graph definition (`moduleRequirements`, `operations`, ...).
    Graph,
    /// A wasmgraph deployment (`kind: Deployment`).
    Deployment,
    /// An AIO `DataflowGraph` resource.
    DataflowGraph,
    /// Something else.
    Unknown,
}

/// Tell a deployment from a graph definition by its content.
pub fn detect(text: &str) -> FileKind {
    let mut kind_value = None;
    let mut keys = Vec::new();
    for line in text.lines() {
        // Top-level keys only: no indentation, not a comment or list item.
        let Some(first) = line.chars().next() else { continue };
        if first.is_whitespace() || first == '#' || first == '-' {
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            let key = key.trim().trim_matches(['"', '\'']);
            if key == "kind" {
                kind_value = Some(value.split('#').next().unwrap_or("").trim().trim_matches(['"', '\'']).to_string());
            }
            keys.push(key.to_string());
        }
    }
    match kind_value.as_deref() {
        Some("DataflowGraph") => return FileKind::DataflowGraph,
        Some("Deployment") => return FileKind::Deployment,
        _ => {}
    }
    let has = |k: &str| keys.iter().any(|x| x == k);
    if has("moduleRequirements") || has("operations") || has("connections") {
        FileKind::Graph
    } else if has("source") || has("sink") || has("graph") {
        FileKind::Deployment
    } else {
        FileKind::Unknown
    }
}

/// Load a deployment file of either shape. `companion`: the endpoints file
/// for a `DataflowGraph` (default: `endpoints.yaml` beside it, if present).
pub fn load(file: &Path, companion: Option<&Path>) -> Result<Deployment, DeploymentError> {
    load_in(file, companion, None)
}

/// [`load`], pulling a graph named by OCI reference into `<cache_dir>/oci`
/// (default: the module cache, `WASMGRAPH_CACHE_DIR` or `~/.cache/wasmgraph`).
pub fn load_in(file: &Path, companion: Option<&Path>, cache_dir: Option<&Path>) -> Result<Deployment, DeploymentError> {
    let text = read(file)?;
    match detect(&text) {
        FileKind::DataflowGraph => aio::load(file, &text, companion, cache_dir),
        FileKind::Deployment => {
            if let Some(c) = companion {
                return Err(invalid(file, format!(
                    "--endpoints {} applies to DataflowGraph resources; a wasmgraph deployment lists its endpoints itself",
                    c.display()
                )));
            }
            native::load(file, &text, cache_dir)
        }
        FileKind::Graph => Err(invalid(file, "this is a graph definition, not a deployment".into())),
        FileKind::Unknown => Err(invalid(
            file,
            "not a deployment: expected `kind: Deployment` (wasmgraph) or `kind: DataflowGraph` (AIO)".into(),
        )),
    }
}

pub(crate) fn read(file: &Path) -> Result<String, DeploymentError> {
    std::fs::read_to_string(file).map_err(|source| DeploymentError::Io { path: file.display().to_string(), source })
}

pub(crate) fn invalid(file: &Path, message: String) -> DeploymentError {
    DeploymentError::Invalid { path: file.display().to_string(), message }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T, DeploymentError> {
    yaml_budget::check(text).map_err(|message| DeploymentError::Parse { path: file.display().to_string(), message })?;
    serde_saphyr::from_str(text)
        .map_err(|e| DeploymentError::Parse { path: file.display().to_string(), message: e.to_string() })
}

/// A path written in `file`, relative to the file's folder.
pub(crate) fn relative(file: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// True for references that look like OCI artifacts (`registry/path/name:tag`
/// or `name:tag`) rather than files.
pub(crate) fn looks_like_oci(reference: &str) -> bool {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    !reference.ends_with(".yaml") && !reference.ends_with(".yml") && (last.contains(':') || reference.contains('@'))
}

/// The state store setting with a relative embedded path made relative to `file`'s folder.
pub(crate) fn state_store(file: &Path, config: Option<StateStoreConfig>) -> StateStoreConfig {
    match config.unwrap_or_default() {
        StateStoreConfig::Embedded { path } if path.is_relative() => {
            StateStoreConfig::Embedded { path: file.parent().unwrap_or(Path::new(".")).join(path) }
        }
        other => other,
    }
}

/// Check every section and that the endpoints named exist and are of the
/// section's type; all problems at once, each naming its key.
pub(crate) fn check(
    file: &Path,
    source: &SourceSpec,
    sink: &SinkSpec,
    errors: &ErrorPolicy,
    endpoints: &BTreeMap<String, EndpointSpec>,
) -> Result<(), DeploymentError> {
    let mut problems = Vec::new();
    for (name, endpoint) in endpoints {
        problems.extend(endpoint.check().into_iter().map(|p| format!("endpoint '{name}': {p}")));
    }
    let mut uses = vec![("source", source.endpoint_name(), source.type_name(), source.check())];
    uses.push(("sink", sink.endpoint_name(), sink.type_name(), sink.check()));
    if let ErrorPolicy::DeadLetter(dl) = errors {
        let found = dl.check().into_iter().map(|p| format!("errors.{p}")).collect();
        uses.push(("errors.sink", dl.endpoint_name(), dl.type_name(), found));
    }
    for (what, name, kind, found) in uses {
        problems.extend(found);
        let Some(name) = name else { continue };
        match endpoints.get(name) {
            None => problems.push(format!(
                "{what}.endpoint '{name}' is not defined under `endpoints` (defined: {})",
                native::names(endpoints)
            )),
            Some(e) if e.type_name() != kind => problems
                .push(format!("{what} is of type {kind} but its endpoint '{name}' is of type {}", e.type_name())),
            Some(_) => {}
        }
    }
    problems.extend(feedback(source, sink, endpoints));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid(file, problems.join("; ")))
    }
}

/// A sink on the source's own MQTT broker whose topic the source reads again:
/// every output would come back as input, forever.
fn feedback(source: &SourceSpec, sink: &SinkSpec, endpoints: &BTreeMap<String, EndpointSpec>) -> Option<String> {
    let (SourceSpec::Mqtt(from), SinkSpec::Mqtt(to)) = (source, sink) else { return None };
    // The broker an endpoint name stands for; no name (or AIO's undefined
    // `default`) is the embedded broker.
    let broker = |name: Option<&str>| match name.and_then(|n| endpoints.get(n)) {
        Some(EndpointSpec::Mqtt(e)) => (e.embedded, e.host.clone(), e.port),
        _ => (true, None, None),
    };
    if from.endpoint != to.endpoint && broker(from.endpoint.as_deref()) != broker(to.endpoint.as_deref()) {
        return None;
    }
    let (input, output) = wasmgraph_connectors::mqtt::feedback(&from.topics, &to.topic)?;
    Some(format!(
        "sink topic '{}' feeds the source back: a message on '{input}' would go out on '{output}', which the \
         source's topics ({}) read again; publish outside them or to another broker",
        to.topic,
        from.topics.join(", ")
    ))
}

#[cfg(test)]
mod tests;

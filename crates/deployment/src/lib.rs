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
use std::time::Duration;

use wasmgraph_connectors::mqtt::{MqttConnection, MqttTls};

mod aio;
mod native;
mod raw;

/// A deployment, resolved: paths are absolute or relative to the current
/// directory, endpoints are looked up.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The file it came from.
    pub file: PathBuf,
    /// Its name (client ids and node ids derive from it).
    pub name: String,
    /// The graph definition file.
    pub graph: PathBuf,
    /// Where module references resolve; `None`: the graph file's folder.
    pub modules: Option<PathBuf>,
    /// Parameter values for the operations' `init`.
    pub configuration: Configuration,
    /// Where messages come from.
    pub source: SourceSpec,
    /// Where results go.
    pub sink: SinkSpec,
    /// What happens to records whose module call failed.
    pub errors: ErrorPolicy,
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

/// An MQTT endpoint: a broker to connect to, or the embedded one.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// Connect to this broker. The client id is completed per use (`-source`, `-sink`).
    Broker(Box<MqttConnection>),
    /// Start the built-in broker on localhost (at this port, or 1883 by default;
    /// a free one if taken).
    Embedded {
        /// Preferred port.
        port: u16,
    },
}

/// Where messages come from.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// The broker.
    pub endpoint: Endpoint,
    /// Topic filters (wildcards and `$share/<group>/...` allowed).
    pub topics: Vec<String>,
    /// QoS of the subscriptions (0 or 1).
    pub qos: u8,
    /// Larger payloads are counted as errors and dropped.
    pub max_message_size: usize,
    /// How many unacknowledged QoS 1 messages the broker may send at once
    /// (MQTT 5 Receive Maximum). A message stays unacknowledged until the
    /// graph's output for it is published, through any delay window, so a
    /// windowed graph needs at least its input rate times its window.
    pub receive_maximum: u16,
}

/// The default [`SourceSpec::receive_maximum`].
pub const DEFAULT_RECEIVE_MAXIMUM: u16 = 1000;

/// A `receiveMaximum` setting: 1 to 65535, default [`DEFAULT_RECEIVE_MAXIMUM`].
pub(crate) fn receive_maximum(file: &Path, what: &str, value: Option<u32>) -> Result<u16, DeploymentError> {
    match value {
        None => Ok(DEFAULT_RECEIVE_MAXIMUM),
        Some(v @ 1..=65535) => Ok(v as u16),
        Some(v) => Err(invalid(file, format!("{what}: {v} is out of range; use 1 to 65535 (MQTT 5 Receive Maximum)"))),
    }
}

/// Where results go.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// The broker.
    pub endpoint: Endpoint,
    /// The topic (`${inputTopic}`, `${inputTopic.N}` allowed).
    pub topic: String,
    /// QoS of the publishes (0 or 1).
    pub qos: u8,
    /// Retain flag.
    pub retain: bool,
}

/// The error policy.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorPolicy {
    /// Count and log failed records, then drop them.
    Drop,
    /// Also publish each failed record (with the error) to this topic, on the
    /// sink's broker.
    DeadLetter {
        /// The topic.
        topic: String,
    },
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
    let text = read(file)?;
    match detect(&text) {
        FileKind::DataflowGraph => aio::load(file, &text, companion),
        FileKind::Deployment => {
            if let Some(c) = companion {
                return Err(invalid(file, format!(
                    "--endpoints {} applies to DataflowGraph resources; a wasmgraph deployment lists its endpoints itself",
                    c.display()
                )));
            }
            native::load(file, &text)
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

/// Build the connection for an endpoint definition.
pub(crate) fn connection(file: &Path, name: &str, e: &raw::Endpoint) -> Result<Endpoint, DeploymentError> {
    if e.embedded {
        return Ok(Endpoint::Embedded { port: e.port.unwrap_or(1883) });
    }
    let Some(host) = e.host.clone() else {
        return Err(invalid(file, format!("endpoint '{name}': give `host` (or `embedded: true`)")));
    };
    let tls = match &e.tls {
        None => None,
        Some(t) => Some(MqttTls {
            ca_file: t.ca_file.as_deref().map(|p| relative(file, p)),
            cert_file: t.cert_file.as_deref().map(|p| relative(file, p)),
            key_file: t.key_file.as_deref().map(|p| relative(file, p)),
        }),
    };
    let port = e.port.unwrap_or(if tls.is_some() { 8883 } else { 1883 });
    let mut c = MqttConnection::new(host, port, e.client_id.clone().unwrap_or_default());
    c.tls = tls;
    if let Some(user) = &e.username {
        let password = match (&e.password, &e.password_file) {
            (Some(p), None) => p.clone(),
            (None, Some(f)) => {
                let path = relative(file, f);
                std::fs::read_to_string(&path)
                    .map_err(|source| DeploymentError::Io { path: path.display().to_string(), source })?
                    .trim_end_matches(['\n', '\r'])
                    .to_string()
            }
            (None, None) => String::new(),
            (Some(_), Some(_)) => {
                return Err(invalid(file, format!("endpoint '{name}': give `password` or `passwordFile`, not both")))
            }
        };
        c.credentials = Some((user.clone(), password));
    } else if e.password.is_some() || e.password_file.is_some() {
        return Err(invalid(file, format!("endpoint '{name}': a password needs a `username`")));
    }
    if let Some(s) = e.keep_alive_seconds {
        c.keep_alive = Duration::from_secs(s);
    }
    if let Some(s) = e.session_expiry_seconds {
        c.session_expiry = Duration::from_secs(s);
    }
    Ok(Endpoint::Broker(Box::new(c)))
}

#[cfg(test)]
mod tests;

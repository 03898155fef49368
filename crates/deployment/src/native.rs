//! wasmgraph's own deployment shape.

use std::collections::BTreeMap;
use std::path::Path;

use crate::raw::{self, PolicyKind};
use crate::{
    connection, invalid, looks_like_oci, parse, relative, Configuration, Deployment, DeploymentError, Endpoint,
    ErrorPolicy, SinkSpec, SourceSpec,
};

pub(crate) fn load(file: &Path, text: &str) -> Result<Deployment, DeploymentError> {
    let d: raw::Native = parse(file, text)?;
    if d.kind != "Deployment" {
        return Err(invalid(file, format!("kind '{}': expected 'Deployment'", d.kind)));
    }
    let name = d.name.clone().unwrap_or_else(|| default_name(file));
    let graph = graph_path(file, &d.graph)?;
    let endpoint = |which: &str, name: &Option<String>| -> Result<Endpoint, DeploymentError> {
        match name {
            None => Ok(Endpoint::Embedded { port: 1883 }),
            Some(n) => match d.endpoints.get(n) {
                Some(e) => connection(file, n, e),
                None => Err(invalid(
                    file,
                    format!(
                        "{which}.endpoint '{n}' is not defined under `endpoints` (defined: {})",
                        names(&d.endpoints)
                    ),
                )),
            },
        }
    };
    if d.source.topics.is_empty() {
        return Err(invalid(file, "source.topics: give at least one topic filter".into()));
    }
    let source = SourceSpec {
        endpoint: endpoint("source", &d.source.endpoint)?,
        topics: d.source.topics.clone(),
        qos: qos(file, "source.qos", d.source.qos)?,
        max_message_size: d.source.max_message_size.unwrap_or(1 << 20),
        receive_maximum: crate::receive_maximum(file, "source.receiveMaximum", d.source.receive_maximum)?,
    };
    let sink = SinkSpec {
        endpoint: endpoint("sink", &d.sink.endpoint)?,
        topic: d.sink.topic.clone(),
        qos: qos(file, "sink.qos", d.sink.qos)?,
        retain: d.sink.retain,
    };
    let configuration = Configuration::PerOperation(
        d.configuration
            .iter()
            .map(|(op, values)| (op.clone(), values.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()))
            .collect(),
    );
    Ok(Deployment {
        file: file.to_path_buf(),
        name,
        graph,
        modules: d.modules.as_deref().map(|m| relative(file, m)),
        configuration,
        source,
        sink,
        errors: error_policy(file, d.errors.as_ref())?,
    })
}

pub(crate) fn default_name(file: &Path) -> String {
    file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "wasmgraph".into())
}

pub(crate) fn graph_path(file: &Path, graph: &str) -> Result<std::path::PathBuf, DeploymentError> {
    let path = relative(file, graph);
    if !path.exists() && looks_like_oci(graph) {
        return Err(invalid(
            file,
            format!(
                "graph '{graph}' looks like an OCI reference; pulling graphs from registries is not supported yet: \
                 `oras pull` it (or copy the graph file) and give its path"
            ),
        ));
    }
    if !path.is_file() {
        return Err(invalid(file, format!("graph '{graph}': no such file ({})", path.display())));
    }
    Ok(path)
}

pub(crate) fn qos(file: &Path, what: &str, qos: Option<u8>) -> Result<u8, DeploymentError> {
    match qos.unwrap_or(1) {
        q @ (0 | 1) => Ok(q),
        q => Err(invalid(file, format!("{what}: {q} is not supported; use 0 or 1"))),
    }
}

pub(crate) fn error_policy(file: &Path, p: Option<&raw::ErrorPolicy>) -> Result<ErrorPolicy, DeploymentError> {
    match p {
        None => Ok(ErrorPolicy::Drop),
        Some(p) => match (p.policy, &p.topic) {
            (PolicyKind::Drop, None) => Ok(ErrorPolicy::Drop),
            (PolicyKind::Drop, Some(_)) => {
                Err(invalid(file, "errors.topic applies to `policy: deadLetter` only".into()))
            }
            (PolicyKind::DeadLetter, Some(t)) if !t.is_empty() => Ok(ErrorPolicy::DeadLetter { topic: t.clone() }),
            (PolicyKind::DeadLetter, _) => Err(invalid(file, "errors: `policy: deadLetter` needs a `topic`".into())),
        },
    }
}

pub(crate) fn names<V>(map: &BTreeMap<String, V>) -> String {
    if map.is_empty() {
        "none".into()
    } else {
        map.keys().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
    }
}

//! AIO's `DataflowGraph` resource, with a companion file for endpoints.

use std::path::{Path, PathBuf};

use crate::native::{default_name, error_policy, graph_path, names};
use crate::raw::{self, NodeType};
use wasmgraph_connectors::mqtt::MqttEndpoint;

use crate::{
    check, invalid, looks_like_oci, parse, read, relative, Configuration, Deployment, DeploymentError, EndpointSpec,
    SinkSpec, SourceSpec,
};

pub(crate) fn load(file: &Path, text: &str, companion: Option<&Path>) -> Result<Deployment, DeploymentError> {
    let d: raw::DataflowGraph = parse(file, text)?;
    let (companion_file, c): (Option<PathBuf>, raw::Companion) = {
        let default = file.parent().unwrap_or(Path::new(".")).join("endpoints.yaml");
        match companion {
            Some(path) => (Some(path.to_path_buf()), parse(path, &read(path)?)?),
            None if default.is_file() => (Some(default.clone()), parse(&default, &read(&default)?)?),
            None => (None, raw::Companion::default()),
        }
    };
    let cfile = companion_file.as_deref().unwrap_or(file);
    let one = |t: NodeType| -> Result<&raw::Node, DeploymentError> {
        let found: Vec<&raw::Node> = d.spec.nodes.iter().filter(|n| n.node_type == t).collect();
        match found.as_slice() {
            [n] => Ok(n),
            [] => Err(invalid(file, format!("spec.nodes: no node of nodeType {t:?}"))),
            _ => Err(invalid(
                file,
                format!(
                    "spec.nodes: {} nodes of nodeType {t:?}; wasmgraph runs exactly one (split the resource)",
                    found.len()
                ),
            )),
        }
    };
    let (source_node, graph_node, dest_node) =
        (one(NodeType::Source)?, one(NodeType::Graph)?, one(NodeType::Destination)?);
    if d.spec.nodes.len() != 3 {
        return Err(invalid(file, "spec.nodes: expected one Source, one Graph and one Destination node".into()));
    }
    let settings_missing = |n: &raw::Node, what: &str| {
        invalid(file, format!("node '{}': nodeType {:?} needs `{what}`", n.name, n.node_type))
    };
    let src = source_node.source_settings.as_ref().ok_or_else(|| settings_missing(source_node, "sourceSettings"))?;
    let graph = graph_node.graph_settings.as_ref().ok_or_else(|| settings_missing(graph_node, "graphSettings"))?;
    let dest =
        dest_node.destination_settings.as_ref().ok_or_else(|| settings_missing(dest_node, "destinationSettings"))?;
    for n in &d.spec.nodes {
        let extra = match n.node_type {
            NodeType::Source => n.graph_settings.is_some() || n.destination_settings.is_some(),
            NodeType::Graph => n.source_settings.is_some() || n.destination_settings.is_some(),
            NodeType::Destination => n.source_settings.is_some() || n.graph_settings.is_some(),
        };
        if extra {
            return Err(invalid(file, format!("node '{}': settings of another nodeType", n.name)));
        }
    }
    // The connections must make the chain Source -> Graph -> Destination.
    let mut edges: Vec<(&str, &str)> =
        d.spec.node_connections.iter().map(|c| (c.from.name.as_str(), c.to.name.as_str())).collect();
    edges.sort();
    let mut want = vec![
        (source_node.name.as_str(), graph_node.name.as_str()),
        (graph_node.name.as_str(), dest_node.name.as_str()),
    ];
    want.sort();
    if edges != want {
        return Err(invalid(
            file,
            format!(
                "spec.nodeConnections must be exactly '{}' -> '{}' and '{}' -> '{}'",
                source_node.name, graph_node.name, graph_node.name, dest_node.name
            ),
        ));
    }
    if src.data_sources.is_empty() {
        return Err(invalid(file, format!("node '{}': sourceSettings.dataSources is empty", source_node.name)));
    }
    let cbase = cfile.parent().unwrap_or(Path::new("."));
    let mut endpoints = c.endpoints;
    endpoints.values_mut().for_each(|e| e.resolve_paths(cbase));
    // AIO's `default` endpoint is the cluster's own broker: here, the embedded one.
    endpoints
        .entry("default".into())
        .or_insert_with(|| EndpointSpec::Mqtt(MqttEndpoint { embedded: true, ..MqttEndpoint::default() }));
    let endpoint = |name: &str| -> Result<&EndpointSpec, DeploymentError> {
        endpoints.get(name).ok_or_else(|| {
            invalid(
                file,
                format!(
                    "endpointRef '{name}' is not defined in {} (endpoints defined: {})",
                    companion_file.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| {
                        "a companion file (none found: pass --endpoints FILE or put endpoints.yaml beside it)".into()
                    }),
                    names(&endpoints)
                ),
            )
        })
    };
    let mut source = SourceSpec::for_topics(&src.endpoint_ref, endpoint(&src.endpoint_ref)?, src.data_sources.clone())
        .ok_or_else(|| {
            invalid(file, format!("endpointRef '{}': this endpoint type cannot be a source", src.endpoint_ref))
        })?;
    if let SourceSpec::Mqtt(m) = &mut source {
        m.max_message_size = c.max_message_size.unwrap_or(m.max_message_size);
        m.receive_maximum = c.receive_maximum.unwrap_or(m.receive_maximum);
    }
    let sink = SinkSpec::for_topic(&dest.endpoint_ref, endpoint(&dest.endpoint_ref)?, dest.data_destination.clone())
        .ok_or_else(|| {
            invalid(file, format!("endpointRef '{}': this endpoint type cannot be a destination", dest.endpoint_ref))
        })?;
    let errors = error_policy(cfile, c.errors, &sink)?;
    check(cfile, &source, &sink, &errors, &endpoints)?;
    // The artifact: mapped to a file by the companion, or a path itself.
    let graph_file = match c.artifacts.get(&graph.artifact) {
        Some(path) => graph_path(cfile, path)?,
        None if looks_like_oci(&graph.artifact) && !relative(file, &graph.artifact).exists() => {
            return Err(invalid(
                file,
                format!(
                    "graphSettings.artifact '{}' is an OCI reference; pulling from registries is not supported yet: \
                     map it to a local graph file under `artifacts:` in the companion file",
                    graph.artifact
                ),
            ))
        }
        None => graph_path(file, &graph.artifact)?,
    };
    Ok(Deployment {
        file: file.to_path_buf(),
        name: if d.metadata.name.is_empty() { default_name(file) } else { d.metadata.name.clone() },
        graph: graph_file,
        modules: c.modules.as_deref().map(|m| relative(cfile, m)),
        configuration: Configuration::Graph(
            graph.configuration.iter().map(|kv| (kv.key.clone(), kv.value.0.clone())).collect(),
        ),
        source,
        sink,
        errors,
        endpoints,
    })
}

//! AIO's `DataflowGraph` resource, with a companion file for endpoints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wasmgraph_connectors::mqtt::MqttEndpoint;

use crate::native::{default_name, error_policy, graph_path, names};
use crate::raw::{self, NodeType};
use crate::{
    check, invalid, parse, read, relative, Configuration, Deployment, DeploymentError, EndpointSpec, RegistryEndpoint,
    SinkSpec, SourceSpec,
};

pub(crate) fn load(
    file: &Path,
    text: &str,
    companion: Option<&Path>,
    cache_dir: Option<&Path>,
) -> Result<Deployment, DeploymentError> {
    let d: raw::DataflowGraph = parse(file, text)?;
    let (companion_file, c) = read_companion(file, companion)?;
    let cfile = companion_file.as_deref().unwrap_or(file);
    let nodes = Chain::of(file, &d.spec)?;
    let endpoints = endpoints(cfile, c.endpoints);
    let lookup = |name: &str| endpoint(file, companion_file.as_deref(), &endpoints, name);
    let src = nodes.source;
    let mut source = SourceSpec::for_topics(&src.endpoint_ref, lookup(&src.endpoint_ref)?, src.data_sources.clone())
        .ok_or_else(|| {
            invalid(file, format!("endpointRef '{}': this endpoint type cannot be a source", src.endpoint_ref))
        })?;
    if let SourceSpec::Mqtt(m) = &mut source {
        m.max_message_size = c.max_message_size.unwrap_or(m.max_message_size);
        m.receive_maximum = c.receive_maximum.unwrap_or(m.receive_maximum);
    }
    let dest = nodes.destination;
    let sink = SinkSpec::for_topic(&dest.endpoint_ref, lookup(&dest.endpoint_ref)?, dest.data_destination.clone())
        .ok_or_else(|| {
            invalid(file, format!("endpointRef '{}': this endpoint type cannot be a destination", dest.endpoint_ref))
        })?;
    let errors = error_policy(cfile, c.errors, &sink)?;
    check(cfile, &source, &sink, &errors, &endpoints)?;
    let graph = nodes.graph;
    let registry = crate::oci::named_endpoint(cfile, &c.registry_endpoints, graph.registry_endpoint_ref.as_deref())?;
    let artifact = Artifact { file, cfile, registry: registry.as_ref(), cache_dir };
    Ok(Deployment {
        file: file.to_path_buf(),
        name: if d.metadata.name.is_empty() { default_name(file) } else { d.metadata.name.clone() },
        graph: artifact.file(&c.artifacts, &graph.artifact, graph.registry_endpoint_ref.as_deref())?,
        registry,
        modules: c.modules.as_deref().map(|m| relative(cfile, m)),
        configuration: Configuration::Graph(
            graph.configuration.iter().map(|kv| (kv.key.clone(), kv.value.0.clone())).collect(),
        ),
        source,
        sink,
        errors,
        endpoints,
        state_store: crate::state_store(cfile, c.state_store),
        cluster: None,
        limits: crate::native::checked_limits(cfile, c.limits)?,
    })
}

/// The companion file: given, else `endpoints.yaml` beside the manifest, else none.
fn read_companion(file: &Path, given: Option<&Path>) -> Result<(Option<PathBuf>, raw::Companion), DeploymentError> {
    let default = file.parent().unwrap_or(Path::new(".")).join("endpoints.yaml");
    Ok(match given {
        Some(path) => (Some(path.to_path_buf()), parse(path, &read(path)?)?),
        None if default.is_file() => (Some(default.clone()), parse(&default, &read(&default)?)?),
        None => (None, raw::Companion::default()),
    })
}

/// The companion's endpoints, paths resolved; AIO's `default` endpoint (the
/// cluster's own broker) is the embedded broker unless defined.
fn endpoints(cfile: &Path, mut endpoints: BTreeMap<String, EndpointSpec>) -> BTreeMap<String, EndpointSpec> {
    let base = cfile.parent().unwrap_or(Path::new("."));
    endpoints.values_mut().for_each(|e| e.resolve_paths(base));
    endpoints
        .entry("default".into())
        .or_insert_with(|| EndpointSpec::Mqtt(MqttEndpoint { embedded: true, ..MqttEndpoint::default() }));
    endpoints
}

fn endpoint<'e>(
    file: &Path,
    companion: Option<&Path>,
    endpoints: &'e BTreeMap<String, EndpointSpec>,
    name: &str,
) -> Result<&'e EndpointSpec, DeploymentError> {
    endpoints.get(name).ok_or_else(|| {
        let defined_in = companion.map(|p| p.display().to_string()).unwrap_or_else(|| {
            "a companion file (none found: pass --endpoints FILE or put endpoints.yaml beside it)".into()
        });
        invalid(
            file,
            format!("endpointRef '{name}' is not defined in {defined_in} (endpoints defined: {})", names(endpoints)),
        )
    })
}

/// Where the graph artifact comes from.
struct Artifact<'a> {
    file: &'a Path,
    cfile: &'a Path,
    registry: Option<&'a RegistryEndpoint>,
    cache_dir: Option<&'a Path>,
}

impl Artifact<'_> {
    /// The graph file: mapped to a file by the companion's `artifacts:`, a
    /// path itself, or pulled from the registry `registryEndpointRef` names.
    fn file(
        &self,
        artifacts: &BTreeMap<String, String>,
        artifact: &str,
        endpoint_ref: Option<&str>,
    ) -> Result<PathBuf, DeploymentError> {
        if let Some(path) = artifacts.get(artifact) {
            return graph_path(self.cfile, path);
        }
        let missing = match endpoint_ref {
            Some(name) => format!(
                "registryEndpointRef '{name}' is not defined under `registryEndpoints:` in {}; define it there \
                 (host, authentication) or map the artifact to a local graph file under `artifacts:`",
                self.cfile.display()
            ),
            None => "the graph names no registryEndpointRef; name one defined under `registryEndpoints:` in the \
                     companion file, or map the artifact to a local graph file under `artifacts:`"
                .into(),
        };
        crate::oci::graph_file(self.file, artifact, self.registry, self.cache_dir, &missing)
    }
}

/// The one Source -> Graph -> Destination chain wasmgraph runs, with each
/// node's settings.
struct Chain<'d> {
    source: &'d raw::SourceSettings,
    graph: &'d raw::GraphSettings,
    destination: &'d raw::DestinationSettings,
}

impl<'d> Chain<'d> {
    fn of(file: &Path, spec: &'d raw::Spec) -> Result<Self, DeploymentError> {
        let (s, g, d) = (
            one(file, spec, NodeType::Source)?,
            one(file, spec, NodeType::Graph)?,
            one(file, spec, NodeType::Destination)?,
        );
        if spec.nodes.len() != 3 {
            return Err(invalid(file, "spec.nodes: expected one Source, one Graph and one Destination node".into()));
        }
        check_settings(file, spec)?;
        check_connections(file, spec, [s.name.as_str(), g.name.as_str(), d.name.as_str()])?;
        let missing = |n: &raw::Node, what: &str| {
            invalid(file, format!("node '{}': nodeType {:?} needs `{what}`", n.name, n.node_type))
        };
        let chain = Chain {
            source: s.source_settings.as_ref().ok_or_else(|| missing(s, "sourceSettings"))?,
            graph: g.graph_settings.as_ref().ok_or_else(|| missing(g, "graphSettings"))?,
            destination: d.destination_settings.as_ref().ok_or_else(|| missing(d, "destinationSettings"))?,
        };
        if chain.source.data_sources.is_empty() {
            return Err(invalid(file, format!("node '{}': sourceSettings.dataSources is empty", s.name)));
        }
        Ok(chain)
    }
}

/// The one node of type `t`.
fn one<'d>(file: &Path, spec: &'d raw::Spec, t: NodeType) -> Result<&'d raw::Node, DeploymentError> {
    let found: Vec<&raw::Node> = spec.nodes.iter().filter(|n| n.node_type == t).collect();
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
}

/// Each node carries only the settings of its own type.
fn check_settings(file: &Path, spec: &raw::Spec) -> Result<(), DeploymentError> {
    for n in &spec.nodes {
        let extra = match n.node_type {
            NodeType::Source => n.graph_settings.is_some() || n.destination_settings.is_some(),
            NodeType::Graph => n.source_settings.is_some() || n.destination_settings.is_some(),
            NodeType::Destination => n.source_settings.is_some() || n.graph_settings.is_some(),
        };
        if extra {
            return Err(invalid(file, format!("node '{}': settings of another nodeType", n.name)));
        }
    }
    Ok(())
}

/// The connections make exactly the chain Source -> Graph -> Destination.
fn check_connections(file: &Path, spec: &raw::Spec, [s, g, d]: [&str; 3]) -> Result<(), DeploymentError> {
    let mut edges: Vec<(&str, &str)> =
        spec.node_connections.iter().map(|c| (c.from.name.as_str(), c.to.name.as_str())).collect();
    edges.sort();
    let mut want = vec![(s, g), (g, d)];
    want.sort();
    if edges != want {
        return Err(invalid(file, format!("spec.nodeConnections must be exactly '{s}' -> '{g}' and '{g}' -> '{d}'")));
    }
    Ok(())
}

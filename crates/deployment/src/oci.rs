//! Graphs from OCI registries: a deployment's `graph:` (wasmgraph) or a
//! `DataflowGraph`'s `graphSettings.artifact` (AIO) may be a reference; it is
//! pulled (verified, cached) from the deployment's registry endpoint when
//! the deployment is loaded, and the graph's module references resolve
//! against the same endpoint when it runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wasmgraph_oci::{looks_like_reference, ArtifactKind, Cache, Registry, RegistryEndpoint, RegistryEndpointSpec};

use crate::native::graph_path;
use crate::{invalid, relative, DeploymentError};

/// The endpoint a deployment file writes (`registry:`), resolved relative to it.
pub(crate) fn endpoint(
    file: &Path,
    spec: Option<&RegistryEndpointSpec>,
) -> Result<Option<RegistryEndpoint>, DeploymentError> {
    let base = file.parent().unwrap_or(Path::new("."));
    spec.map(|s| s.resolve(base).map_err(|e| invalid(file, e.to_string()))).transpose()
}

/// The endpoint an AIO `registryEndpointRef` names in the companion file's
/// `registryEndpoints:`; `None` when it names one not defined there (fine as
/// long as nothing needs pulling: `artifacts:` maps the graph to a file).
pub(crate) fn named_endpoint(
    cfile: &Path,
    defined: &BTreeMap<String, RegistryEndpointSpec>,
    name: Option<&str>,
) -> Result<Option<RegistryEndpoint>, DeploymentError> {
    endpoint(cfile, name.and_then(|n| defined.get(n)))
}

/// The graph file: a path (relative to `file`), or a reference pulled from
/// `registry` into `<cache_dir>/oci` (default: the module cache). `missing`
/// says how to configure a registry when none is.
pub(crate) fn graph_file(
    file: &Path,
    graph: &str,
    registry: Option<&RegistryEndpoint>,
    cache_dir: Option<&Path>,
    missing: &str,
) -> Result<PathBuf, DeploymentError> {
    if relative(file, graph).exists() || !looks_like_reference(graph) {
        return graph_path(file, graph);
    }
    let Some(endpoint) = registry else {
        return Err(invalid(file, format!("graph '{graph}' is an OCI reference, and {missing}")));
    };
    let fail = |e: wasmgraph_oci::OciError| invalid(file, format!("graph '{graph}': {e}"));
    let cache = cache_dir
        .map(Path::to_path_buf)
        .or_else(Cache::default_module_cache)
        .ok_or_else(|| invalid(file, "no cache folder for registry pulls: set WASMGRAPH_CACHE_DIR".into()))?;
    let client = Registry::new(Some(endpoint.clone()), Cache::in_module_cache(&cache)).map_err(fail)?;
    let pulled = client.resolve(graph).and_then(|r| client.pull(&r)).map_err(fail)?;
    if pulled.kind != ArtifactKind::Graph {
        return Err(invalid(file, format!("graph '{graph}' is a {} artifact, not a graph", pulled.kind.as_str())));
    }
    Ok(pulled.path)
}

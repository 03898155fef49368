//! Module references resolved in an OCI registry: with a registry endpoint
//! configured, a `module:` that reads as a reference (`temperature:1.0.0`,
//! `host/repo/name@sha256:...`) is pulled (verified, cached) instead of
//! looked up in the modules folder; plain names still resolve in the folder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmgraph_config::{ModuleCatalog, ModuleDirectory, OperatorKind};
use wasmgraph_oci::{looks_like_reference, ArtifactKind, Cache, Pulled, Registry, RegistryEndpoint};

use crate::RuntimeError;

/// A module catalog over a local folder and, when configured, a registry.
pub struct RegistryCatalog {
    dir: ModuleDirectory,
    registry: Option<Arc<Registry>>,
    pulled: Mutex<Vec<Pulled>>,
}

impl RegistryCatalog {
    /// Modules from `modules`, and from `endpoint` when given, pulled into
    /// `<cache_dir>/oci` (default: the host's module cache folder).
    pub fn new(
        modules: &Path,
        endpoint: Option<&RegistryEndpoint>,
        cache_dir: Option<&Path>,
    ) -> Result<Self, RuntimeError> {
        let registry = match endpoint {
            None => None,
            Some(e) => Some(Arc::new(registry_client(e, cache_dir)?)),
        };
        Ok(RegistryCatalog { dir: ModuleDirectory::new(modules), registry, pulled: Mutex::new(Vec::new()) })
    }

    /// Every module pulled so far (reference, digests, cached file).
    pub fn pulled(&self) -> Vec<Pulled> {
        self.pulled.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The registry client, if one is configured.
    pub fn registry(&self) -> Option<&Arc<Registry>> {
        self.registry.as_ref()
    }
}

/// A registry client for `endpoint` whose cache is `<cache_dir>/oci`.
pub fn registry_client(endpoint: &RegistryEndpoint, cache_dir: Option<&Path>) -> Result<Registry, RuntimeError> {
    let dir = cache_dir
        .map(Path::to_path_buf)
        .or_else(Cache::default_module_cache)
        .ok_or_else(|| RuntimeError::Host("no cache folder for registry pulls: set WASMGRAPH_CACHE_DIR".into()))?;
    Registry::new(Some(endpoint.clone()), Cache::in_module_cache(&dir))
        .map_err(|e| RuntimeError::Host(format!("registry {}: {e}", endpoint.host)))
}

/// Pull a graph definition `reference` from `endpoint`: the file to load.
pub fn pull_graph(
    reference: &str,
    endpoint: &RegistryEndpoint,
    cache_dir: Option<&Path>,
) -> Result<PathBuf, RuntimeError> {
    let registry = registry_client(endpoint, cache_dir)?;
    let pulled = pull(&registry, reference, ArtifactKind::Graph)?;
    Ok(pulled.path)
}

fn pull(registry: &Registry, reference: &str, want: ArtifactKind) -> Result<Pulled, RuntimeError> {
    let err = |e: wasmgraph_oci::OciError| RuntimeError::Host(e.to_string());
    let r = registry.resolve(reference).map_err(err)?;
    let pulled = registry.pull(&r).map_err(err)?;
    if pulled.kind != want {
        return Err(RuntimeError::Host(format!("{r} is a {}, not a {}", pulled.kind.as_str(), want.as_str())));
    }
    let from = if pulled.from_cache { " from the cache" } else { "" };
    tracing::info!("{} {r} is {}{from}", want.as_str(), pulled.manifest_digest);
    Ok(pulled)
}

impl ModuleCatalog for RegistryCatalog {
    fn resolve(&self, reference: &str) -> Result<PathBuf, String> {
        match &self.registry {
            Some(registry) if looks_like_reference(reference) => {
                let pulled = pull(registry, reference, ArtifactKind::Module).map_err(|e| e.to_string())?;
                let path = pulled.path.clone();
                self.pulled.lock().unwrap_or_else(|e| e.into_inner()).push(pulled);
                Ok(path)
            }
            _ => self.dir.resolve(reference),
        }
    }

    fn exports(&self, path: &Path) -> Result<Vec<OperatorKind>, String> {
        self.dir.exports(path)
    }
}

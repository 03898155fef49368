//! Registry flags shared by `push`, `pull` and `run`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use wasmgraph_oci::{Auth, Cache, Registry, RegistryEndpoint};

/// How to reach a registry. Without `--registry`, the flags apply to the
/// host a reference names.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RegistryArgs {
    /// Registry endpoint for references without a host: `host[:port][/prefix]`
    /// (`temperature:1.0.0` then means `host/prefix/temperature:1.0.0`).
    #[arg(long, env = "WASMGRAPH_REGISTRY", value_name = "HOST[/PREFIX]")]
    pub registry: Option<String>,
    /// Basic auth user name.
    #[arg(long, env = "WASMGRAPH_REGISTRY_USER", value_name = "USER")]
    pub registry_user: Option<String>,
    /// Basic auth password (prefer the environment variable).
    #[arg(long, env = "WASMGRAPH_REGISTRY_PASSWORD", hide_env_values = true, value_name = "PASSWORD")]
    pub registry_password: Option<String>,
    /// A bearer token instead of a user and password.
    #[arg(long, env = "WASMGRAPH_REGISTRY_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub registry_token: Option<String>,
    /// Credentials from this Docker `config.json` (default: `~/.docker/config.json`
    /// when no other credentials are given and it exists).
    #[arg(long, value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
    /// A PEM file of CA certificates to trust for the registry's TLS.
    #[arg(long, env = "WASMGRAPH_REGISTRY_CA", value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Talk plain HTTP to the registry (no TLS): only on a trusted network.
    #[arg(long)]
    pub insecure_http: bool,
    /// `run`: check the tags of pulled modules this often and swap in a new
    /// version when a tag moves (needs `--registry`).
    #[arg(long, value_name = "SECONDS")]
    pub registry_poll: Option<u64>,
}

impl RegistryArgs {
    /// The endpoint the flags describe: `--registry`, else the host of
    /// `reference` (when it names one); `None` when neither says where.
    pub fn endpoint(&self, reference: Option<&str>) -> anyhow::Result<Option<RegistryEndpoint>> {
        let host = match (&self.registry, reference.and_then(host_of)) {
            (Some(r), _) => r.clone(),
            (None, Some(h)) => h.to_string(),
            (None, None) => return Ok(None),
        };
        let mut e = RegistryEndpoint::anonymous(host.strip_prefix("https://").unwrap_or(&host));
        e.auth = match (&self.registry_user, &self.registry_password, &self.registry_token, &self.docker_config) {
            (Some(u), Some(p), None, None) => Auth::Basic { username: u.clone(), password: p.clone() },
            (None, None, Some(t), None) => Auth::Bearer(t.clone()),
            (None, None, None, d) => Auth::DockerConfig(d.clone()),
            (Some(_), None, None, None) => {
                bail!("--registry-user needs --registry-password (or WASMGRAPH_REGISTRY_PASSWORD)")
            }
            (None, Some(_), None, None) => bail!("--registry-password needs --registry-user"),
            _ => bail!("give one kind of registry credentials: a user and password, a token, or a Docker config"),
        };
        e.ca_file = self.registry_ca.clone();
        e.insecure_http = self.insecure_http;
        e.poll_interval = self.registry_poll.filter(|s| *s > 0).map(std::time::Duration::from_secs);
        Ok(Some(e))
    }

    /// A registry client for `reference` (or `--registry`), pulling into
    /// `<cache_dir>/oci` (default: the module cache).
    pub fn client(&self, reference: Option<&str>, cache_dir: Option<&PathBuf>) -> anyhow::Result<Registry> {
        let cache_dir = cache_dir
            .cloned()
            .or_else(Cache::default_module_cache)
            .context("no cache folder: set --cache-dir or WASMGRAPH_CACHE_DIR")?;
        Ok(Registry::new(self.endpoint(reference)?, Cache::in_module_cache(&cache_dir))?)
    }
}

/// The registry host a reference names (`host[:port]/...`), if it names one.
fn host_of(reference: &str) -> Option<&str> {
    let (first, _) = reference.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// The graph `run` was given: a file as it is, or a graph definition pulled
/// (verified, cached) when `graph` is no file and reads as an OCI reference.
pub fn graph_file(graph: &Path, args: &RegistryArgs, cache_dir: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    let text = graph.to_string_lossy();
    if graph.exists() || !wasmgraph_oci::looks_like_reference(&text) {
        return Ok(graph.to_path_buf());
    }
    let registry = args.client(Some(&text), cache_dir)?;
    let reference = registry.resolve(&text)?;
    let pulled = registry.pull(&reference)?;
    if pulled.kind != wasmgraph_oci::ArtifactKind::Graph {
        bail!("{reference} is a {}, not a graph definition", pulled.kind.as_str());
    }
    let from = if pulled.from_cache { " (from the cache)" } else { "" };
    eprintln!("wasmgraph: graph {reference} is {}{from}", pulled.manifest_digest);
    Ok(pulled.path)
}

//! The WebAssembly host a pipeline runs its modules on, and its services.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmgraph_host::{HostConfig, HostLimits, MetricsRegistry, Runtime, Services};
use wasmgraph_state_store::{StateStore, StateStoreConfig};

use crate::RuntimeError;

/// How the host runs modules. The defaults are the host's own (2 s per call,
/// 256 MiB per instance, compile cache in `~/.cache/wasmgraph`).
#[derive(Debug, Clone, Default)]
pub struct HostSettings {
    /// Where compiled modules are cached; `None`: the host's default.
    pub cache_dir: Option<PathBuf>,
    /// Time budget of one call.
    pub call_timeout: Option<Duration>,
    /// Memory limit of one instance, in bytes.
    pub memory_limit: Option<usize>,
    /// Where the schema registry finds `<id>[-<version>].json` files.
    pub schema_dir: Option<PathBuf>,
    /// Where the state store keeps its keys (default: in memory).
    pub state_store: StateStoreConfig,
    /// A JSON list of single-key objects that seeds the state store.
    pub state_seed: Option<PathBuf>,
    /// An application folder's `statestore.json` (AIO's convention, see
    /// [`crate::AppFolder`]), seeded before `state_seed` so that a test's or
    /// the command line's own values win.
    pub app_state_seed: Option<PathBuf>,
    /// An open store to use instead of opening `state_store`: one store shared
    /// by several runs, so their state carries over (`wasmgraph test --keep-state`).
    pub shared_state: Option<StateStore>,
    /// Schemas every module operation's `init` receives after those its graph
    /// names (an application folder's `TK_SCHEMA_CONFIG_PATH`).
    pub module_schemas: Vec<wasmgraph_host::ModuleSchema>,
    /// Print a line when a module is compiled (not found in the cache).
    pub announce_compiles: bool,
    /// Caps on what modules make the host keep (log lines, state, metric
    /// series, resource handles); see docs/hardening.md.
    pub limits: HostLimits,
}

impl HostSettings {
    /// The settings with the `WASMGRAPH_CALL_TIMEOUT_MS`,
    /// `WASMGRAPH_MEMORY_LIMIT_MB` and `WASMGRAPH_SCHEMA_DIR` environment
    /// variables applied.
    pub fn from_env() -> Result<Self, RuntimeError> {
        let mut s = HostSettings { announce_compiles: true, ..HostSettings::default() };
        if let Some(ms) = env_number("WASMGRAPH_CALL_TIMEOUT_MS")? {
            s.call_timeout = Some(Duration::from_millis(ms));
        }
        if let Some(mib) = env_number("WASMGRAPH_MEMORY_LIMIT_MB")? {
            s.memory_limit = Some(usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX));
        }
        s.schema_dir = std::env::var_os("WASMGRAPH_SCHEMA_DIR").map(PathBuf::from);
        Ok(s)
    }

    /// Start the host: a state store (seeded if asked), a metrics registry.
    pub fn start(&self) -> Result<(Runtime, Arc<MetricsRegistry>), RuntimeError> {
        self.start_for(0)
    }

    /// [`HostSettings::start`] with room for at least `instances` live module
    /// instances (the pool is sized up front; running out would stall a worker).
    pub fn start_for(&self, instances: u32) -> Result<(Runtime, Arc<MetricsRegistry>), RuntimeError> {
        let store = match &self.shared_state {
            Some(store) => store.clone(),
            None => self
                .state_store
                .open(Path::new("."))
                .map_err(|e| RuntimeError::Host(format!("opening the state store: {e}")))?,
        };
        let store = Arc::new(store);
        for path in self.app_state_seed.iter().chain(&self.state_seed) {
            seed(&store, path)?;
        }
        if let Some(dir) = &self.schema_dir {
            if !dir.is_dir() {
                return Err(RuntimeError::Host(format!("schema directory {}: not a directory", dir.display())));
            }
        }
        let metrics = Arc::new(MetricsRegistry::default());
        let mut config = HostConfig {
            announce_compiles: self.announce_compiles,
            limits: self.limits.clone(),
            ..HostConfig::default()
        };
        if self.cache_dir.is_some() {
            config.cache_dir = self.cache_dir.clone();
        }
        if let Some(t) = self.call_timeout {
            config.call_timeout = t;
        }
        if let Some(m) = self.memory_limit {
            config.memory_limit = m;
        }
        config.max_instances = config.max_instances.max(instances);
        let services = Services { state_store: store, metrics: metrics.clone(), schema_dir: self.schema_dir.clone() };
        let runtime = Runtime::new(config, services)
            .map_err(|e| RuntimeError::Host(format!("starting the WebAssembly host: {e}")))?;
        Ok((runtime, metrics))
    }
}

fn seed(store: &StateStore, path: &Path) -> Result<(), RuntimeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RuntimeError::Host(format!("reading state file {}: {e}", path.display())))?;
    store
        .seed_from_json(&text)
        .map(|_| ())
        .map_err(|e| RuntimeError::Host(format!("state file {}: {e}", path.display())))
}

/// A positive whole number from the environment, if set.
fn env_number(name: &str) -> Result<Option<u64>, RuntimeError> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(RuntimeError::Host(format!("{name}={text:?}: expected a positive whole number"))),
        },
    }
}

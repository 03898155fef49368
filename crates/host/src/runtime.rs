//! The wasmtime engine, linker and compile cache shared by all operators.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmgraph_state_store::StateStore;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::HostError;
use crate::limits::{Caps, HostLimits};
use crate::metrics::MetricsRegistry;
use crate::module::{CacheSource, Module};
use crate::state::{self, StoreState};

/// How often the epoch ticker advances the engine's epoch; call budgets are
/// counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The wasmtime version compiled code in the disk cache belongs to.
const WASMTIME_VERSION: &str = "48.0.8";

/// Settings of a [`Runtime`].
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Where compiled modules are cached. `None` uses `$XDG_CACHE_HOME/wasmgraph`
    /// or `~/.cache/wasmgraph`; if neither can be found, nothing is cached on disk.
    pub cache_dir: Option<PathBuf>,
    /// Turn the disk cache off entirely.
    pub disable_disk_cache: bool,
    /// The time budget of one module call (default 2 s). A call that runs longer
    /// is interrupted and fails with [`FailureKind::Timeout`](crate::FailureKind::Timeout).
    pub call_timeout: Duration,
    /// The most linear memory one instance may use, all its memories together,
    /// in bytes (default 256 MiB).
    pub memory_limit: usize,
    /// How many instances may be alive at once in this runtime (the size of the
    /// pooling allocator; default 100). Each takes address space, not memory.
    pub max_instances: u32,
    /// Use the pooling instance allocator (default true): instantiation and
    /// re-creation of trapped instances in microseconds.
    pub pooling: bool,
    /// Print "compiling <file> for the first time (cached afterwards)" to stderr
    /// when a module is compiled (default true; it is always logged with tracing).
    pub announce_compiles: bool,
    /// Caps on what modules make the host keep for them (logs, state,
    /// metric series, resource handles).
    pub limits: HostLimits,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            cache_dir: None,
            disable_disk_cache: false,
            call_timeout: Duration::from_secs(2),
            memory_limit: 256 << 20,
            max_instances: 100,
            pooling: true,
            announce_compiles: true,
            limits: HostLimits::default(),
        }
    }
}

/// The services the host APIs are backed by, shared by every operator of a runtime.
#[derive(Debug, Clone)]
pub struct Services {
    /// Behind the `state-store` interface.
    pub state_store: Arc<StateStore>,
    /// Behind the `metrics` interface.
    pub metrics: Arc<MetricsRegistry>,
    /// Where the `schema-registry` interface finds `<id>[-<version>].json` files.
    pub schema_dir: Option<PathBuf>,
}

impl Default for Services {
    fn default() -> Self {
        Services {
            state_store: Arc::new(StateStore::new()),
            metrics: Arc::new(MetricsRegistry::new()),
            schema_dir: None,
        }
    }
}

/// Counters of a runtime's compile cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// Modules compiled.
    pub compiled: u64,
    /// Modules read from the disk cache.
    pub disk_hits: u64,
    /// Loads answered from modules already loaded in this runtime.
    pub memory_hits: u64,
}

/// The component host: one wasmtime engine with its linker, compile cache,
/// services and epoch ticker. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub engine: Engine,
    pub linker: Linker<StoreState>,
    pub config: HostConfig,
    pub services: Arc<Services>,
    pub caps: Arc<Caps>,
    cache_dir: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Module>>,
    compiled: AtomicU64,
    disk_hits: AtomicU64,
    memory_hits: AtomicU64,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("wasmgraph"));
    }
    std::env::var_os("HOME").filter(|x| !x.is_empty()).map(|h| PathBuf::from(h).join(".cache").join("wasmgraph"))
}

/// The wasmtime settings: epoch interruption for call budgets, no
/// component-model concurrency, a perf map on request, the pooling allocator.
fn engine_config(config: &HostConfig) -> Config {
    let mut wt = Config::new();
    wt.epoch_interruption(true);
    wt.concurrency_support(false);
    // `WASMGRAPH_PERF_MAP=1`: write /tmp/perf-<pid>.map so `perf report`
    // names operator functions instead of showing bare JIT addresses; off
    // by default because every loaded module then appends to that file.
    if std::env::var_os("WASMGRAPH_PERF_MAP").is_some_and(|v| v == "1") {
        wt.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if config.pooling {
        wt.allocation_strategy(InstanceAllocationStrategy::Pooling(pool_config(config)));
    }
    wt
}

/// Pool sizes for `config.max_instances` instances within `config.memory_limit`.
fn pool_config(config: &HostConfig) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    let n = config.max_instances.max(1);
    let page = 64 * 1024;
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(16))
        .total_memories(n.saturating_mul(4))
        .total_tables(n.saturating_mul(4))
        .max_memory_size(config.memory_limit.div_ceil(page).max(1) * page)
        .table_elements(100_000)
        .max_core_instance_size(4 << 20)
        .max_component_instance_size(4 << 20)
        .max_memories_per_module(2)
        .max_tables_per_module(4)
        // Calls are synchronous (no async support, no component-model
        // concurrency), so fiber stacks are never taken from the pool;
        // the default of 1000 cost one mprotect per stack guard page
        // at start-up (several ms) and as many mappings.
        .total_stacks(n);
    pool
}

/// A linker with WASI 0.2 and every import of `wasm-graph:processor`.
fn link(engine: &Engine) -> Result<Linker<StoreState>, HostError> {
    let mut linker = Linker::<StoreState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| HostError::Engine(format!("{e:#}")))?;
    crate::bindings::Operators::add_to_linker::<StoreState, state::ApiData>(&mut linker, state::api)
        .map_err(|e| HostError::Engine(format!("{e:#}")))?;
    crate::imports::logger::add_borrowed_to_linker(&mut linker).map_err(|e| HostError::Engine(format!("{e:#}")))?;
    Ok(linker)
}

/// Starts the thread that advances the engine's epoch every [`EPOCH_TICK`]
/// until the returned flag is set.
fn start_epoch_ticker(engine: &Engine) -> Result<Arc<AtomicBool>, HostError> {
    let stop = Arc::new(AtomicBool::new(false));
    let engine = engine.clone();
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("wasmgraph-epoch".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map_err(|e| HostError::Engine(format!("cannot start the epoch ticker thread: {e}")))?;
    Ok(stop)
}

impl Runtime {
    /// Set up the engine (epoch interruption, pooling allocator, no
    /// component-model concurrency), link WASI 0.2 and the wasm-graph imports,
    /// and start the epoch ticker thread.
    pub fn new(config: HostConfig, services: Services) -> Result<Self, HostError> {
        let engine = Engine::new(&engine_config(&config)).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let linker = link(&engine)?;
        let cache_dir =
            if config.disable_disk_cache { None } else { config.cache_dir.clone().or_else(default_cache_dir) };
        let cache_dir = cache_dir.map(|d| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut h);
            d.join(format!("wasmtime-{WASMTIME_VERSION}-{:016x}", h.finish()))
        });
        let stop_ticker = start_epoch_ticker(&engine)?;
        let caps = Arc::new(Caps::new(config.limits.clone()));
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                config,
                services: Arc::new(services),
                caps,
                cache_dir,
                loaded: Mutex::new(HashMap::new()),
                compiled: AtomicU64::new(0),
                disk_hits: AtomicU64::new(0),
                memory_hits: AtomicU64::new(0),
                stop_ticker,
            }),
        })
    }

    /// The runtime's settings.
    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// The shared services.
    pub fn services(&self) -> &Services {
        &self.inner.services
    }

    /// Compile-cache counters.
    pub fn stats(&self) -> RuntimeStats {
        RuntimeStats {
            compiled: self.inner.compiled.load(Ordering::Relaxed),
            disk_hits: self.inner.disk_hits.load(Ordering::Relaxed),
            memory_hits: self.inner.memory_hits.load(Ordering::Relaxed),
        }
    }

    /// The directory compiled modules are cached in, if any.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache_dir.as_deref()
    }

    /// Load a component file: compiled code comes from this runtime's memory,
    /// else from the disk cache (keyed by the sha256 of the file's bytes, the
    /// wasmtime version and the engine settings), else it is compiled and stored.
    pub fn load(&self, path: &Path) -> Result<Module, HostError> {
        let bytes = std::fs::read(path).map_err(|source| HostError::Read { path: path.to_path_buf(), source })?;
        let name =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        self.load_bytes(&name, &bytes)
    }

    /// Load a component from memory; `name` is used in messages.
    pub fn load_bytes(&self, name: &str, bytes: &[u8]) -> Result<Module, HostError> {
        let digest = hex::encode(Sha256::digest(bytes));
        if let Some(m) = self.inner.loaded.lock().unwrap_or_else(|p| p.into_inner()).get(&digest) {
            self.inner.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(m.clone());
        }
        let (component, source) = self.compile_cached(name, &digest, bytes)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| HostError::Link { name: name.to_string(), message: format!("{e:#}") })?;
        let module = Module::new(name.to_string(), digest.clone(), pre, source);
        self.inner.loaded.lock().unwrap_or_else(|p| p.into_inner()).insert(digest, module.clone());
        Ok(module)
    }

    // Deserializing our own cached compilation is the workspace's one `unsafe`.
    #[allow(unsafe_code)]
    fn compile_cached(&self, name: &str, digest: &str, bytes: &[u8]) -> Result<(Component, CacheSource), HostError> {
        let engine = &self.inner.engine;
        let cached = self.inner.cache_dir.as_ref().map(|d| d.join(format!("{digest}.cwasm")));
        if let Some(file) = &cached {
            if let Some(code) = crate::cache::read_verified(file, name) {
                // SAFETY: the file was written by `Component::serialize` of this
                // wasmtime version and engine settings (both are part of its
                // path), into a private directory only wasmgraph writes, and its
                // bytes match the digest recorded when it was compiled (see
                // cache.rs); wasmtime checks the header and refuses incompatible code.
                match unsafe { Component::deserialize(engine, &code) } {
                    Ok(c) => {
                        self.inner.disk_hits.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(module = name, cache = %file.display(), "loaded compiled module from cache");
                        return Ok((c, CacheSource::Disk));
                    }
                    Err(e) => {
                        tracing::warn!(module = name, cache = %file.display(), "ignoring unusable cache entry: {e:#}")
                    }
                }
            }
        }
        if self.inner.config.announce_compiles {
            eprintln!("compiling {name} for the first time (cached afterwards)");
        }
        tracing::info!(module = name, "compiling {name} for the first time (cached afterwards)");
        let started = std::time::Instant::now();
        let component = Component::new(engine, bytes)
            .map_err(|e| HostError::Compile { name: name.to_string(), message: format!("{e:#}") })?;
        self.inner.compiled.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(module = name, elapsed_ms = started.elapsed().as_millis() as u64, "compiled");
        if let Some(file) = &cached {
            if let Err(e) = store(file, &component) {
                tracing::warn!(module = name, cache = %file.display(), "cannot write the compile cache: {e}");
            }
        }
        Ok((component, CacheSource::Compiled))
    }
}

/// Write `component`'s compiled code to `file` with its digest (cache.rs).
fn store(file: &Path, component: &Component) -> Result<(), String> {
    let code = component.serialize().map_err(|e| format!("{e:#}"))?;
    crate::cache::store(file, &code)
}

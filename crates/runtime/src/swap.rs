//! Live updates: a module pulled by tag is watched while the graph runs; when
//! the tag moves to a new digest, the new version is pulled (verified,
//! cached), compiled and tried (one instance, its `init` must succeed), then
//! published. Each operator instance switches before its next call, so every
//! record is processed by exactly one version, and nothing is lost,
//! repeated or reordered (the dataflow keeps running). A new version whose
//! `init` fails is refused and the old one keeps running. Both digests are
//! logged at each switch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use wasmgraph_engine::{Failure, Operator};
use wasmgraph_host::{Module, ModuleInstance, OperatorConfig, Runtime};
use wasmgraph_oci::{Pulled, Reference, Registry, RegistryEndpoint};
use wasmgraph_types::{DataModel, Hlc, Record};

use crate::{RegistryCatalog, RuntimeError};

/// The version of one module new calls should use.
pub struct LiveModule {
    reference: Reference,
    generation: AtomicU64,
    current: RwLock<(Module, String)>,
    /// The config of one operation using it: the trial instance's.
    probe: RwLock<Option<OperatorConfig>>,
}

impl LiveModule {
    fn current(&self) -> (u64, Module) {
        let generation = self.generation.load(Ordering::Acquire);
        let module = self.current.read().unwrap_or_else(|e| e.into_inner()).0.clone();
        (generation, module)
    }

    fn digest(&self) -> String {
        self.current.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }
}

/// The watched modules of one pipeline, by the cached file they were loaded from.
#[derive(Default, Clone)]
pub struct LiveModules {
    by_path: HashMap<PathBuf, Arc<LiveModule>>,
}

impl LiveModules {
    /// The modules `catalog` pulled by tag, when `endpoint` sets a poll
    /// interval (none otherwise: nothing is watched).
    pub fn for_run(
        catalog: &RegistryCatalog,
        endpoint: Option<&RegistryEndpoint>,
        runtime: &Runtime,
    ) -> Result<Self, RuntimeError> {
        match endpoint.and_then(|e| e.poll_interval) {
            Some(_) => Self::of(&catalog.pulled(), runtime).map_err(RuntimeError::Host),
            None => Ok(LiveModules::default()),
        }
    }

    /// Start watching (see [`LiveModules::watch`]) when `endpoint` sets a poll interval.
    pub fn watch_for(self, catalog: &RegistryCatalog, endpoint: Option<&RegistryEndpoint>, runtime: &Runtime) {
        if let (Some(registry), Some(every)) = (catalog.registry(), endpoint.and_then(|e| e.poll_interval)) {
            self.watch(registry.clone(), runtime.clone(), every);
        }
    }

    /// Modules pulled by tag (not pinned by digest), to be watched.
    pub fn of(pulled: &[Pulled], runtime: &Runtime) -> Result<Self, String> {
        let mut by_path = HashMap::new();
        for p in pulled.iter().filter(|p| p.reference.tag.is_some() && p.reference.digest.is_none()) {
            let module = runtime.load(&p.path).map_err(|e| format!("{}: {e}", p.reference))?;
            let live = LiveModule {
                reference: p.reference.clone(),
                generation: AtomicU64::new(0),
                current: RwLock::new((module, p.manifest_digest.clone())),
                probe: RwLock::new(None),
            };
            by_path.entry(p.path.clone()).or_insert_with(|| Arc::new(live));
        }
        Ok(LiveModules { by_path })
    }

    /// The live module loaded from `path`, remembering `config` for trials.
    pub fn get(&self, path: &Path, config: &OperatorConfig) -> Option<Arc<LiveModule>> {
        let live = self.by_path.get(path)?;
        live.probe.write().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| config.clone());
        Some(live.clone())
    }

    /// Check the tags every `interval` on a thread of its own, which ends
    /// once the pipeline has dropped every operator using them.
    pub fn watch(self, registry: Arc<Registry>, runtime: Runtime, interval: Duration) {
        if self.by_path.is_empty() {
            return;
        }
        let watched: Vec<Weak<LiveModule>> = self.by_path.values().map(Arc::downgrade).collect();
        drop(self);
        let spawned = std::thread::Builder::new().name("wasmgraph-registry-watch".into()).spawn(move || loop {
            if !sleep_while_alive(&watched, interval) {
                return;
            }
            for live in watched.iter().filter_map(Weak::upgrade) {
                check(&registry, &runtime, &live);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the registry watch thread: {e}; modules will not be updated");
        }
    }
}

/// Sleep `interval` in short steps; false once nothing uses the modules.
fn sleep_while_alive(watched: &[Weak<LiveModule>], interval: Duration) -> bool {
    let until = Instant::now() + interval;
    while Instant::now() < until {
        if watched.iter().all(|w| w.strong_count() == 0) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(interval));
    }
    watched.iter().any(|w| w.strong_count() > 0)
}

/// One look at `live`'s tag: pull, compile, try and publish a new digest.
fn check(registry: &Registry, runtime: &Runtime, live: &LiveModule) {
    let r = &live.reference;
    let old = live.digest();
    let new = match registry.current_digest(r) {
        Ok(d) if d == old => return,
        Ok(d) => d,
        Err(e) => return tracing::debug!("checking {r}: {e}"),
    };
    let tried = registry.pull(&r.with_digest(&new)).map_err(|e| e.to_string()).and_then(|p| {
        let module = runtime.load(&p.path).map_err(|e| e.to_string())?;
        let probe = live.probe.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(config) = probe {
            ModuleInstance::instantiate(runtime, &module, config).map_err(|e| e.to_string())?;
        }
        Ok(module)
    });
    match tried {
        Ok(module) => {
            *live.current.write().unwrap_or_else(|e| e.into_inner()) = (module, new.clone());
            // A restart without the registry then runs the new version too.
            if let Err(e) = registry.cache().set_tag(r, &new) {
                tracing::warn!("recording {r} -> {new} in the cache: {e}");
            }
            live.generation.fetch_add(1, Ordering::AcqRel);
            eprintln!("wasmgraph: module {r}: switching from {old} to {new}");
            tracing::info!(module = %r, from = %old, to = %new, "module updated");
        }
        Err(why) => {
            eprintln!("wasmgraph: module {r}: refusing {new} ({why}); {old} keeps running");
            tracing::warn!(module = %r, refused = %new, running = %old, "module update refused: {why}");
        }
    }
}

/// An operator instance that moves to the module's newest version before
/// its next call.
pub struct LiveOperator {
    runtime: Runtime,
    live: Arc<LiveModule>,
    config: OperatorConfig,
    generation: u64,
    instance: ModuleInstance,
}

impl LiveOperator {
    /// An instance of `live`'s current version.
    pub fn new(runtime: Runtime, live: Arc<LiveModule>, config: OperatorConfig) -> Result<Self, String> {
        let (generation, module) = live.current();
        let instance = ModuleInstance::instantiate(&runtime, &module, config.clone()).map_err(|e| e.to_string())?;
        Ok(LiveOperator { runtime, live, config, generation, instance })
    }

    /// Between two calls: switch to a newer version if one was published. A
    /// version that cannot start here is skipped (the old instance stays).
    fn refresh(&mut self) {
        if self.live.generation.load(Ordering::Acquire) == self.generation {
            return;
        }
        let (generation, module) = self.live.current();
        match ModuleInstance::instantiate(&self.runtime, &module, self.config.clone()) {
            Ok(instance) => self.instance = instance,
            Err(e) => tracing::warn!(operation = %self.config.operation, "keeping the previous version: {e}"),
        }
        self.generation = generation;
    }
}

fn failure(err: wasmgraph_host::CallError) -> Failure {
    Failure::new(err.kind, err.message)
}

impl Operator for LiveOperator {
    fn map(&mut self, record: &Record) -> Result<DataModel, Failure> {
        self.refresh();
        self.instance.map(record).map_err(failure)
    }
    fn filter(&mut self, record: &Record) -> Result<bool, Failure> {
        self.refresh();
        self.instance.filter(record).map_err(failure)
    }
    fn branch(&mut self, record: &Record) -> Result<bool, Failure> {
        self.refresh();
        self.instance.branch(record).map_err(failure)
    }
    fn accumulate(&mut self, staged: DataModel, batch: &[Record]) -> Result<DataModel, Failure> {
        self.refresh();
        self.instance.accumulate(staged, batch).map_err(failure)
    }
    fn delay(&mut self, record: &Record) -> Result<Hlc, Failure> {
        self.refresh();
        self.instance.delay(record).map_err(failure)
    }
}

//! Live updates: a module pulled by tag is watched while the graph runs; when
//! the tag moves to a new digest, the new version is pulled (verified,
//! cached), compiled and tried (one instance, its `init` must succeed), then
//! scheduled at a **record time** `T`: every instance of the module, on every
//! worker, processes records of time `< T` with the old version and records
//! of time `>= T` with the new one (an accumulate group by its time). The
//! switch is therefore a clean point between timely times: each record is
//! processed by exactly one version, the same whichever worker gets it, and
//! nothing is lost, repeated or reordered (the dataflow keeps running). A new
//! version whose `init` fails is refused and the old one keeps running. Both
//! digests and `T` are logged at each switch.
//!
//! **Choosing `T`** without stopping anything: instances publish the latest
//! record time they are about to process ([`LiveModule::seen`], an atomic
//! maximum, written only when an instance's own maximum grows) before they
//! read the schedule. The watcher proposes `T` just past that maximum
//! (rounded up to a whole millisecond, the `__ts` resolution, so that the
//! boundary is visible in the output), then reads the maximum again: if an
//! instance got to `T` meanwhile, it may have used the old version there, so
//! the proposal is withdrawn and made again further on. While a proposal is
//! open, an instance with a record at or past it waits (for the few
//! instructions the watcher needs); records before it go on. Per call, an
//! instance does one or two atomic loads (and the maximum when it grows).
//!
//! The instances of one process agree on `T`; the processes of a cluster each
//! watch the registry and pick their own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use wasmgraph_engine::{Failure, Operator};
use wasmgraph_host::{Module, ModuleInstance, OperatorConfig, Runtime};
use wasmgraph_oci::{Pulled, Reference, Registry, RegistryEndpoint};
use wasmgraph_types::{DataModel, Hlc, Record};

use crate::{RegistryCatalog, RuntimeError};

/// No proposal is open.
const NONE: u64 = u64::MAX;
/// Versions an instance can still be asked for: records older than the
/// switch before last are long out of the dataflow (it holds a few polls).
const KEPT_VERSIONS: usize = 3;
/// Proposals tried per switch before giving up until the next poll.
const PROPOSALS: usize = 100;
const MS: u64 = 1_000_000;

/// One version of a module and the record time it applies from.
#[derive(Clone)]
struct Version {
    generation: u64,
    /// Records at or after this time (nanoseconds) use it.
    from: u64,
    module: Module,
    digest: String,
}

/// The versions of one module new calls choose from.
pub struct LiveModule {
    reference: Reference,
    /// The newest version's generation (bumped once its `from` is fixed).
    generation: AtomicU64,
    /// Oldest first; the last is the newest.
    versions: RwLock<Vec<Version>>,
    /// The record time of an open switch proposal, or [`NONE`].
    proposed: AtomicU64,
    /// The latest record time (nanoseconds) any instance has processed or
    /// is about to.
    seen: AtomicU64,
    /// The config of one operation using it: the trial instance's.
    probe: RwLock<Option<OperatorConfig>>,
}

impl LiveModule {
    fn new(reference: Reference, module: Module, digest: String) -> Self {
        LiveModule {
            reference,
            generation: AtomicU64::new(0),
            versions: RwLock::new(vec![Version { generation: 0, from: 0, module, digest }]),
            proposed: AtomicU64::new(NONE),
            seen: AtomicU64::new(0),
            probe: RwLock::new(None),
        }
    }

    fn newest(&self) -> Version {
        let versions = self.versions.read().unwrap_or_else(|e| e.into_inner());
        versions.last().cloned().expect("a live module has a version")
    }

    /// The version for records at `nanos`: the newest whose `from` is not
    /// after it (the oldest kept one if all are; see [`KEPT_VERSIONS`]).
    fn version_at(&self, nanos: u64) -> Version {
        let versions = self.versions.read().unwrap_or_else(|e| e.into_inner());
        let at = versions.iter().rev().find(|v| v.from <= nanos).or(versions.first());
        at.cloned().expect("a live module has a version")
    }

    /// Fix the record time from which `module` replaces the newest version,
    /// and publish it; the time, or `None` when no proposal held (records
    /// kept overtaking it).
    fn schedule(&self, module: Module, digest: String) -> Option<u64> {
        for _ in 0..PROPOSALS {
            let at = (self.seen.load(SeqCst) / MS + 1) * MS;
            self.proposed.store(at, SeqCst);
            if self.seen.load(SeqCst) >= at {
                // An instance reached `at` before it could see the proposal.
                self.proposed.store(NONE, SeqCst);
                std::thread::yield_now();
                continue;
            }
            let generation = self.generation.load(SeqCst) + 1;
            {
                let mut versions = self.versions.write().unwrap_or_else(|e| e.into_inner());
                versions.push(Version { generation, from: at, module, digest });
                let extra = versions.len().saturating_sub(KEPT_VERSIONS);
                versions.drain(..extra);
            }
            self.generation.store(generation, SeqCst);
            self.proposed.store(NONE, SeqCst);
            return Some(at);
        }
        None
    }

    /// Note that a record at `nanos` is about to be processed, then wait
    /// while a proposal at or before it is open (see the module docs).
    fn enter(&self, nanos: u64, own_max: &mut u64) {
        if nanos > *own_max {
            self.seen.fetch_max(nanos, SeqCst);
            *own_max = nanos;
        }
        while self.proposed.load(SeqCst) <= nanos {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
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
            let live = LiveModule::new(p.reference.clone(), module, p.manifest_digest.clone());
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

/// One look at `live`'s tag: pull, compile, try and schedule a new digest.
fn check(registry: &Registry, runtime: &Runtime, live: &LiveModule) {
    let r = &live.reference;
    let old = live.newest().digest;
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
    let module = match tried {
        Ok(module) => module,
        Err(why) => {
            eprintln!("wasmgraph: module {r}: refusing {new} ({why}); {old} keeps running");
            return tracing::warn!(module = %r, refused = %new, running = %old, "module update refused: {why}");
        }
    };
    let Some(at) = live.schedule(module, new.clone()) else {
        return tracing::warn!(module = %r, "records kept overtaking the switch to {new}; trying again at the next poll");
    };
    // A restart without the registry then runs the new version too.
    if let Err(e) = registry.cache().set_tag(r, &new) {
        tracing::warn!("recording {r} -> {new} in the cache: {e}");
    }
    let time = Hlc::new(at, 0, "").to_wire();
    eprintln!("wasmgraph: module {r}: switching from {old} to {new} for records from time {time}");
    tracing::info!(module = %r, from = %old, to = %new, time = %time, "module updated");
}

/// An operator instance that processes each record with the version its
/// time calls for (see the module docs), keeping an instance of each
/// version it still needs.
pub struct LiveOperator {
    runtime: Runtime,
    live: Arc<LiveModule>,
    config: OperatorConfig,
    /// The newest generation this instance knows of, and its start time.
    generation: u64,
    newest_from: u64,
    /// The latest record time this instance published to [`LiveModule::seen`].
    own_max: u64,
    /// Instances by generation, oldest first.
    instances: Vec<(u64, ModuleInstance)>,
    /// Generations that could not start here: the next older instance
    /// stands in for them.
    refused: Vec<u64>,
}

impl LiveOperator {
    /// An instance of `live`'s newest version.
    pub fn new(runtime: Runtime, live: Arc<LiveModule>, config: OperatorConfig) -> Result<Self, String> {
        let newest = live.newest();
        let instance =
            ModuleInstance::instantiate(&runtime, &newest.module, config.clone()).map_err(|e| e.to_string())?;
        Ok(LiveOperator {
            runtime,
            live,
            config,
            generation: newest.generation,
            newest_from: newest.from,
            own_max: 0,
            instances: vec![(newest.generation, instance)],
            refused: Vec::new(),
        })
    }

    /// The instance of the version for records at `time`.
    fn at(&mut self, time: &Hlc) -> &mut ModuleInstance {
        self.live.enter(time.nanos, &mut self.own_max);
        if self.live.generation.load(SeqCst) != self.generation {
            let newest = self.live.newest();
            (self.generation, self.newest_from) = (newest.generation, newest.from);
            self.prune();
        }
        let want =
            if time.nanos >= self.newest_from { self.generation } else { self.live.version_at(time.nanos).generation };
        if !self.instances.iter().any(|(g, _)| *g == want) && !self.refused.contains(&want) {
            self.start(want);
        }
        let index = self.instances.iter().rposition(|(g, _)| *g <= want).unwrap_or(0);
        &mut self.instances[index].1
    }

    /// Start an instance of `generation`, kept in generation order; one that
    /// cannot start here is noted and skipped, with a warning.
    fn start(&mut self, generation: u64) {
        let module = {
            let versions = self.live.versions.read().unwrap_or_else(|e| e.into_inner());
            versions.iter().find(|v| v.generation == generation).map(|v| v.module.clone())
        };
        let started = module.ok_or_else(|| "that version is no longer kept".to_string()).and_then(|m| {
            ModuleInstance::instantiate(&self.runtime, &m, self.config.clone()).map_err(|e| e.to_string())
        });
        match started {
            Ok(instance) => {
                let at = self.instances.partition_point(|(g, _)| *g < generation);
                self.instances.insert(at, (generation, instance));
            }
            Err(e) => {
                tracing::warn!(operation = %self.config.operation, generation, "keeping the previous version: {e}");
                self.refused.push(generation);
            }
        }
    }

    /// Drop instances of versions no longer kept (at least one stays).
    fn prune(&mut self) {
        let oldest = self.live.versions.read().unwrap_or_else(|e| e.into_inner()).first().map_or(0, |v| v.generation);
        let keep_from = self.instances.iter().rposition(|(g, _)| *g <= oldest).unwrap_or(0);
        self.instances.drain(..keep_from);
        self.refused.retain(|g| *g >= oldest);
    }
}

fn failure(err: wasmgraph_host::CallError) -> Failure {
    Failure::new(err.kind, err.message)
}

impl Operator for LiveOperator {
    fn map(&mut self, record: &Record) -> Result<DataModel, Failure> {
        self.at(&record.time).map(record).map_err(failure)
    }
    fn filter(&mut self, record: &Record) -> Result<bool, Failure> {
        self.at(&record.time).filter(record).map_err(failure)
    }
    fn branch(&mut self, record: &Record) -> Result<bool, Failure> {
        self.at(&record.time).branch(record).map_err(failure)
    }
    /// A group shares one time (the engine folds each time's records
    /// together), so one version closes the whole group.
    fn accumulate(&mut self, staged: DataModel, batch: &[Record]) -> Result<DataModel, Failure> {
        let time = batch.first().map_or_else(|| Hlc::new(self.own_max, 0, ""), |r| r.time.clone());
        self.at(&time).accumulate(staged, batch).map_err(failure)
    }
    fn delay(&mut self, record: &Record) -> Result<Hlc, Failure> {
        self.at(&record.time).delay(record).map_err(failure)
    }
}

//! One live instance of a module, running one operation, and its calls.

use std::fmt;
use std::sync::Arc;

use wasmgraph_types::{DataModel, FailureKind, Hlc, Record};
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

use crate::bindings::exports;
use crate::convert::{self, InvalidOutput};
use crate::runtime::EPOCH_TICK;
use crate::state::{ApiCtx, MemoryLimiter, StoreState};
use crate::stdio::{GuestOutput, RecentLines, Which};
use crate::{CallError, HostError, Module, Runtime};

pub use wasmgraph_types::{OperatorKind, UnknownOperatorKind};

/// A schema handed to an operator at init (WIT `module-schema`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleSchema {
    /// Schema name.
    pub name: String,
    /// Its content type, e.g. `application/schema+json`.
    pub content_type: String,
    /// The schema text.
    pub content: String,
}

/// What an operator instance is started with.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// The graph operation's name (used in logs and errors).
    pub operation: String,
    /// Which exported interface to call.
    pub kind: OperatorKind,
    /// The operation's parameters, passed to `init`.
    pub properties: Vec<(String, String)>,
    /// Schemas passed to `init`.
    pub schemas: Vec<ModuleSchema>,
}

/// Counters of one operator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OperatorStats {
    /// Calls made (successful or not).
    pub calls: u64,
    /// Calls where the module returned an error.
    pub returned_errors: u64,
    /// Calls that trapped.
    pub traps: u64,
    /// Calls that ran out of time.
    pub timeouts: u64,
    /// Calls that ran out of memory.
    pub out_of_memory: u64,
    /// Calls whose result the host could not accept.
    pub invalid_outputs: u64,
    /// Times the instance was thrown away and re-created.
    pub recreations: u64,
    /// Nanoseconds spent re-creating instances after failed calls: dropping
    /// the old store, instantiating and initialising the new one.
    pub recreation_nanos: u64,
}

impl OperatorStats {
    /// Failed calls of all kinds.
    pub fn errors(&self) -> u64 {
        self.returned_errors + self.traps + self.timeouts + self.out_of_memory + self.invalid_outputs
    }

    fn count(&mut self, kind: FailureKind) {
        match kind {
            FailureKind::Returned => self.returned_errors += 1,
            FailureKind::Trap => self.traps += 1,
            FailureKind::Timeout => self.timeouts += 1,
            FailureKind::OutOfMemory => self.out_of_memory += 1,
            FailureKind::InvalidOutput => self.invalid_outputs += 1,
            // A kind added to `wasmgraph_types` later: counted with the traps
            // until it has a counter of its own.
            _ => self.traps += 1,
        }
    }
}

/// The operator interface an instance exports for its operation's kind, loaded
/// from the instance (what calls are made on).
enum OperatorExport {
    Map(exports::map::Guest),
    Filter(exports::filter::Guest),
    Branch(exports::branch::Guest),
    Accumulate(exports::accumulate::Guest),
    Delay(exports::delay::Guest),
}

/// The started part of a [`ModuleInstance`], thrown away after a trap: the
/// store holding the wasm instance, its operator export, and the capture of
/// what it writes to stderr.
struct Live {
    store: Store<StoreState>,
    export: OperatorExport,
    stderr: GuestOutput,
    recent_stderr: RecentLines,
}

/// One live instance of a module, running one operation. Used by one thread at a
/// time (`Send`, not `Sync`). A call that traps, times out or runs out of memory
/// throws the instance away; a fresh one is created and initialised before the
/// call returns, so the next call works.
pub struct ModuleInstance {
    runtime: Runtime,
    module: Module,
    config: OperatorConfig,
    operation: Arc<str>,
    live: Option<Live>,
    stats: OperatorStats,
}

enum Failure {
    Wasm(wasmtime::Error),
    Returned(String),
    Invalid(String),
}

impl From<wasmtime::Error> for Failure {
    fn from(e: wasmtime::Error) -> Self {
        Failure::Wasm(e)
    }
}

impl From<InvalidOutput> for Failure {
    fn from(e: InvalidOutput) -> Self {
        Failure::Invalid(e.0)
    }
}

fn returned<T>(r: Result<T, exports::map::Error>) -> Result<T, Failure> {
    r.map_err(|e| Failure::Returned(e.message))
}

impl ModuleInstance {
    /// Create an instance of `module` for `config.operation` and call its
    /// `init`. Fails if the module lacks the interface of `config.kind`, cannot
    /// be instantiated, or its `init` returns false or fails.
    pub fn instantiate(rt: &Runtime, module: &Module, config: OperatorConfig) -> Result<ModuleInstance, HostError> {
        if !module.exports_kind(config.kind) {
            let exports = module.exports();
            return Err(HostError::MissingExport {
                operation: config.operation.clone(),
                kind: config.kind,
                module: module.name().to_string(),
                exports: if exports.is_empty() {
                    "no operator interface".to_string()
                } else {
                    exports.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                },
            });
        }
        let operation: Arc<str> = config.operation.as_str().into();
        let mut op = ModuleInstance {
            runtime: rt.clone(),
            module: module.clone(),
            config,
            operation,
            live: None,
            stats: OperatorStats::default(),
        };
        op.live = Some(op.start()?);
        Ok(op)
    }

    /// The operation this instance runs.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The interface it calls.
    pub fn kind(&self) -> OperatorKind {
        self.config.kind
    }

    /// Call and failure counters.
    pub fn stats(&self) -> OperatorStats {
        self.stats
    }

    /// Call `map.process` with the record's data.
    pub fn map(&mut self, record: &Record) -> Result<DataModel, CallError> {
        self.call(Some(&record.time), |store, export| {
            let OperatorExport::Map(g) = export else {
                return Err(wrong_kind());
            };
            let arg = convert::lower(&mut store.data_mut().table, &record.data)?;
            let out = returned(g.call_process(&mut *store, &arg)?)?;
            Ok(convert::lift(&mut store.data_mut().table, out)?)
        })
    }

    /// Call `filter.process`; true keeps the record.
    pub fn filter(&mut self, record: &Record) -> Result<bool, CallError> {
        self.call(Some(&record.time), |store, export| {
            let OperatorExport::Filter(g) = export else {
                return Err(wrong_kind());
            };
            let arg = convert::lower(&mut store.data_mut().table, &record.data)?;
            returned(g.call_process(&mut *store, &arg)?)
        })
    }

    /// Call `branch.process` with `record.time` as the clock argument; false is
    /// arm "False", true arm "True".
    pub fn branch(&mut self, record: &Record) -> Result<bool, CallError> {
        self.call(Some(&record.time), |store, export| {
            let OperatorExport::Branch(g) = export else {
                return Err(wrong_kind());
            };
            let time = convert::hlc_to_wit(&record.time);
            let arg = convert::lower(&mut store.data_mut().table, &record.data)?;
            returned(g.call_process(&mut *store, &time, &arg)?)
        })
    }

    /// Call `accumulate.process(staged, batch)` and return the new staged value.
    /// The record time seen by the module's log lines is that of the first
    /// record of the batch.
    pub fn accumulate(&mut self, staged: DataModel, batch: &[Record]) -> Result<DataModel, CallError> {
        let time = batch.first().map(|r| r.time.clone());
        self.call(time.as_ref(), |store, export| {
            let OperatorExport::Accumulate(g) = export else {
                return Err(wrong_kind());
            };
            let table = &mut store.data_mut().table;
            let staged = convert::lower(table, &staged)?;
            let mut items = Vec::with_capacity(batch.len());
            for r in batch {
                items.push(convert::lower(table, &r.data)?);
            }
            let out = returned(g.call_process(&mut *store, &staged, &items)?)?;
            Ok(convert::lift(&mut store.data_mut().table, out)?)
        })
    }

    /// Call `delay.process` with the record and its time; returns the time the
    /// module chose (the caller checks it is not earlier).
    pub fn delay(&mut self, record: &Record) -> Result<Hlc, CallError> {
        self.call(Some(&record.time), |store, export| {
            let OperatorExport::Delay(g) = export else {
                return Err(wrong_kind());
            };
            let time = convert::hlc_to_wit(&record.time);
            let arg = convert::lower(&mut store.data_mut().table, &record.data)?;
            let out = returned(g.call_process(&mut *store, &arg, &time)?)?;
            Ok(convert::hlc_from_wit(out))
        })
    }

    /// Makes one call: re-creates a missing instance first, prepares the store
    /// (record time, memory flag, time budget), runs `f`, and turns a failure
    /// into a [`CallError`], re-creating the instance after a trap, timeout or
    /// out-of-memory.
    fn call<R>(
        &mut self,
        time: Option<&Hlc>,
        f: impl FnOnce(&mut Store<StoreState>, &OperatorExport) -> Result<R, Failure>,
    ) -> Result<R, CallError> {
        self.stats.calls += 1;
        self.ensure_live()?;
        let Some(live) = self.live.as_mut() else {
            return Err(CallError::new(FailureKind::Trap, "no instance"));
        };
        prepare(&mut live.store, time, self.runtime.config().call_timeout);
        live.recent_stderr.clear();
        let outcome = f(&mut live.store, &live.export);
        live.store.data_mut().api.record_time = None;
        let error = match outcome {
            Ok(r) => return Ok(r),
            Err(failure) => live.describe(failure, self.runtime.config()),
        };
        self.stats.count(error.kind);
        if error.kind.recreates_instance() {
            return Err(self.recreate_after(error));
        }
        Err(error)
    }

    /// After a re-creation failed, tries again for this record; a trap if it
    /// fails again.
    fn ensure_live(&mut self) -> Result<(), CallError> {
        if self.live.is_some() {
            return Ok(());
        }
        match self.start() {
            Ok(live) => {
                self.stats.recreations += 1;
                self.live = Some(live);
                Ok(())
            }
            Err(e) => {
                self.stats.traps += 1;
                Err(CallError::new(FailureKind::Trap, format!("no instance: {e}")))
            }
        }
    }

    /// Throws the instance away and starts a fresh one after `error`, which is
    /// returned (saying so if the new instance could not be started either).
    fn recreate_after(&mut self, error: CallError) -> CallError {
        let started = std::time::Instant::now();
        self.live = None;
        match self.start() {
            Ok(live) => {
                self.stats.recreations += 1;
                self.stats.recreation_nanos += started.elapsed().as_nanos() as u64;
                self.live = Some(live);
                error
            }
            Err(e) => {
                tracing::error!(operation = %self.operation, "cannot re-create the instance after a failed call: {e}");
                CallError::new(error.kind, format!("{}; re-creating the instance failed: {e}", error.message))
            }
        }
    }

    /// A fresh store and instance, with `init` called.
    fn start(&self) -> Result<Live, HostError> {
        let (mut store, stderr, recent_stderr) = self.new_store();
        let instance = self.instantiate_in(&mut store)?;
        let export = self.load_export(&mut store, &instance)?;
        self.init(&mut store, &export)?;
        Ok(Live { store, export, stderr, recent_stderr })
    }

    /// An instantiation failure of this operation's module.
    fn instantiate_error(&self, message: String) -> HostError {
        HostError::Instantiate {
            operation: self.config.operation.clone(),
            module: self.module.inner.name.clone(),
            message,
        }
    }

    /// A store for one instance, with its memory limiter and time budget, and
    /// WASI sandboxed: no preopens, no environment, no arguments, stdin closed,
    /// every network address denied and name lookup off; stdout and stderr go
    /// to tracing, and the call's stderr lines are kept for its error.
    fn new_store(&self) -> (Store<StoreState>, GuestOutput, RecentLines) {
        let rt = &self.runtime.inner;
        let recent_stderr = RecentLines::default();
        let stderr = GuestOutput::new(Which::Stderr, self.operation.clone(), Some(recent_stderr.clone()));
        let wasi = WasiCtxBuilder::new()
            .stdout(GuestOutput::new(Which::Stdout, self.operation.clone(), None))
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = StoreState {
            table: wasmtime::component::ResourceTable::new(),
            wasi,
            api: ApiCtx { operation: self.operation.clone(), record_time: None, services: rt.services.clone() },
            limiter: MemoryLimiter { limit: rt.config.memory_limit, total: 0, exceeded: false },
        };
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks(rt.config.call_timeout));
        (store, stderr, recent_stderr)
    }

    /// Instantiates the module in `store`; running out of memory says so.
    fn instantiate_in(&self, store: &mut Store<StoreState>) -> Result<wasmtime::component::Instance, HostError> {
        self.module.inner.pre.instantiate(&mut *store).map_err(|e| {
            if store.data().limiter.exceeded {
                let limit = self.runtime.config().memory_limit;
                self.instantiate_error(format!("the module needs more than the memory limit of {limit} bytes: {e:#}"))
            } else {
                self.instantiate_error(format!("{e:#}"))
            }
        })
    }

    /// The instance's export of the configured operator interface.
    fn load_export(
        &self,
        store: &mut Store<StoreState>,
        instance: &wasmtime::component::Instance,
    ) -> Result<OperatorExport, HostError> {
        let i = &self.module.inner.indices;
        let missing = || self.instantiate_error(format!("module does not export the {} interface", self.config.kind));
        let load_err = |e: wasmtime::Error| self.instantiate_error(format!("{e:#}"));
        macro_rules! load {
            ($field:ident, $variant:ident) => {
                OperatorExport::$variant(
                    i.$field.as_ref().ok_or_else(missing)?.load(&mut *store, instance).map_err(load_err)?,
                )
            };
        }
        Ok(match self.config.kind {
            OperatorKind::Map => load!(map, Map),
            OperatorKind::Filter => load!(filter, Filter),
            OperatorKind::Branch => load!(branch, Branch),
            OperatorKind::Accumulate => load!(accumulate, Accumulate),
            OperatorKind::Delay => load!(delay, Delay),
        })
    }

    /// Calls the export's `init` with the operation's parameters and schemas.
    fn init(&self, store: &mut Store<StoreState>, export: &OperatorExport) -> Result<(), HostError> {
        let configuration = convert::configuration(&self.config);
        prepare(store, None, self.runtime.config().call_timeout);
        let accepted = match export {
            OperatorExport::Map(g) => g.call_init(&mut *store, &configuration),
            OperatorExport::Filter(g) => g.call_init(&mut *store, &configuration),
            OperatorExport::Branch(g) => g.call_init(&mut *store, &configuration),
            OperatorExport::Accumulate(g) => g.call_init(&mut *store, &configuration),
            OperatorExport::Delay(g) => g.call_init(&mut *store, &configuration),
        };
        let (operation, module) = (self.config.operation.clone(), self.module.inner.name.clone());
        match accepted {
            Ok(true) => Ok(()),
            Ok(false) => Err(HostError::InitRefused { operation, module }),
            Err(e) => Err(HostError::InitFailed {
                operation,
                module,
                error: classify(&e, store.data().limiter.exceeded, self.runtime.config()),
            }),
        }
    }
}

impl Live {
    /// The [`CallError`] for a failed call. A wasm error (trap, timeout, memory)
    /// leads with what happened, then what the module wrote to stderr during the
    /// call, then the wasm backtrace.
    fn describe(&mut self, failure: Failure, config: &crate::HostConfig) -> CallError {
        let e = match failure {
            Failure::Returned(m) => return CallError::new(FailureKind::Returned, m),
            Failure::Invalid(m) => return CallError::new(FailureKind::InvalidOutput, m),
            Failure::Wasm(e) => e,
        };
        self.stderr.flush_partial();
        let mut error = classify(&e, self.store.data().limiter.exceeded, config);
        let printed = self.recent_stderr.text();
        if !printed.is_empty() {
            error.message = format!("{}\nthe module wrote to stderr:\n{printed}", error.message);
        }
        if let Some(trace) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
            error.message = format!("{}\n{trace}", error.message);
        }
        error
    }
}

impl fmt::Debug for ModuleInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleInstance")
            .field("operation", &self.operation)
            .field("kind", &self.config.kind)
            .field("module", &self.module.name())
            .field("stats", &self.stats)
            .finish()
    }
}

fn wrong_kind() -> Failure {
    // `ModuleInstance` only loads the `OperatorExport` of its configured kind, so a call of
    // another kind is a caller error, reported like a returned error.
    Failure::Returned("this operator does not implement the requested interface".into())
}

fn ticks(timeout: std::time::Duration) -> u64 {
    // +1: the ticker may advance the epoch right after the deadline is set.
    (timeout.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64 + 1
}

fn prepare(store: &mut Store<StoreState>, time: Option<&Hlc>, timeout: std::time::Duration) {
    store.data_mut().api.record_time = time.cloned();
    store.data_mut().limiter.exceeded = false;
    store.set_epoch_deadline(ticks(timeout));
}

fn classify(e: &wasmtime::Error, memory_exceeded: bool, config: &crate::HostConfig) -> CallError {
    // The message leads with what happened (the trap; the caller adds what the
    // module printed) and ends with the wasm backtrace for debugging. (`{:?}`
    // would also symbolize a host backtrace, which takes hundreds of ms.)
    let message = e.root_cause().to_string();
    if memory_exceeded {
        return CallError::new(
            FailureKind::OutOfMemory,
            format!("the instance reached its memory limit of {} bytes: {message}", config.memory_limit),
        );
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => CallError::new(
            FailureKind::Timeout,
            format!("the call ran longer than its budget of {:?}", config.call_timeout),
        ),
        _ => CallError::new(FailureKind::Trap, message),
    }
}

//! Starting an instance: a sandboxed store, the wasm instance, its operator
//! export, and `init`. Done once when an instance is created and again after
//! every call that traps, times out or runs out of memory.

use std::sync::Arc;
use std::time::Duration;

use wasmgraph_types::{FailureKind, Hlc, OperatorKind};
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;

use super::config::OperatorConfig;
use super::failure::{classify, Failure};
use crate::bindings::exports;
use crate::error::{CallError, HostError};
use crate::limits::{LimitHits, LogBudget};
use crate::module::Module;
use crate::runtime::{HostConfig, Runtime, EPOCH_TICK};
use crate::state::{ApiCtx, MemoryLimiter, StoreState};
use crate::stdio::{GuestOutput, RecentLines, Which};

/// The operator interface an instance exports for its operation's kind, loaded
/// from the instance (what calls are made on).
pub(super) enum OperatorExport {
    Map(exports::map::Guest),
    Filter(exports::filter::Guest),
    Branch(exports::branch::Guest),
    Accumulate(exports::accumulate::Guest),
    Delay(exports::delay::Guest),
}

/// A started instance, thrown away after a trap: the store holding the wasm
/// instance, its operator export, and the capture of what it writes to stderr.
pub(super) struct Live {
    pub store: Store<StoreState>,
    pub export: OperatorExport,
    stderr: GuestOutput,
    recent_stderr: RecentLines,
}

/// Everything an instance is (re)started from.
pub(super) struct Spec {
    pub runtime: Runtime,
    pub module: Module,
    pub config: OperatorConfig,
    /// `config.operation`, shared with every store's API context and log line.
    pub operation: Arc<str>,
    /// The operation's cap counters.
    pub hits: Arc<LimitHits>,
    /// This instance's log budget; kept across re-creations, so a module that
    /// traps does not get a fresh second of lines.
    pub log: Arc<LogBudget>,
}

impl Spec {
    /// A fresh store and instance, with `init` called.
    pub fn start(&self) -> Result<Live, HostError> {
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
        let stderr =
            GuestOutput::new(Which::Stderr, self.operation.clone(), self.log.clone(), Some(recent_stderr.clone()));
        let wasi = WasiCtxBuilder::new()
            .stdout(GuestOutput::new(Which::Stdout, self.operation.clone(), self.log.clone(), None))
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = wasmtime::component::ResourceTable::new();
        table.set_max_capacity(rt.config.limits.resources);
        let api = ApiCtx {
            operation: self.operation.clone(),
            record_time: None,
            services: rt.services.clone(),
            caps: rt.caps.clone(),
            hits: self.hits.clone(),
            log: self.log.clone(),
        };
        let state = StoreState {
            table,
            wasi,
            api,
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
        let configuration = self.config.to_wit();
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
    pub fn describe(&mut self, failure: Failure, config: &HostConfig) -> CallError {
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

    /// Readies the store for a call: the record time the host APIs see, the
    /// memory flag cleared, a fresh time budget, an empty stderr capture.
    pub fn begin_call(&mut self, time: Option<&Hlc>, timeout: Duration) {
        prepare(&mut self.store, time, timeout);
        self.recent_stderr.clear();
    }

    /// After a call: no record time while no call is under way.
    pub fn end_call(&mut self) {
        self.store.data_mut().api.record_time = None;
    }
}

/// The epoch deadline for `timeout`, in ticks of the epoch ticker.
fn ticks(timeout: Duration) -> u64 {
    // +1: the ticker may advance the epoch right after the deadline is set.
    (timeout.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64 + 1
}

/// Sets the record time, clears the memory flag and restarts the time budget.
fn prepare(store: &mut Store<StoreState>, time: Option<&Hlc>, timeout: Duration) {
    store.data_mut().api.record_time = time.cloned();
    store.data_mut().limiter.exceeded = false;
    store.set_epoch_deadline(ticks(timeout));
}

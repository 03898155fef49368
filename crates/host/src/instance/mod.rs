//! One live instance of a module, running one operation, and its calls.

mod config;
mod failure;
mod start;

use std::fmt;
use std::sync::Arc;

use wasmgraph_types::{DataModel, FailureKind, Hlc, OperatorKind, Record};
use wasmtime::Store;

pub use config::{ModuleSchema, OperatorConfig, OperatorStats};
use failure::{returned, wrong_kind, Failure};
use start::{Live, OperatorExport, Spec};

use crate::convert;
use crate::error::{CallError, HostError};
use crate::limits::{Limit, LogBudget};
use crate::module::Module;
use crate::runtime::Runtime;
use crate::state::StoreState;

/// One live instance of a module, running one operation. Used by one thread at a
/// time (`Send`, not `Sync`). A call that traps, times out or runs out of memory
/// throws the instance away; a fresh one is created and initialised before the
/// call returns, so the next call works.
pub struct ModuleInstance {
    spec: Spec,
    live: Option<Live>,
    stats: OperatorStats,
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
        let hits = rt.inner.caps.hits_for(&operation, &rt.inner.services.metrics);
        let log = Arc::new(LogBudget::new(&rt.config().limits, hits.clone()));
        let spec = Spec { runtime: rt.clone(), module: module.clone(), config, operation, hits, log };
        let live = Some(spec.start()?);
        Ok(ModuleInstance { spec, live, stats: OperatorStats::default() })
    }

    /// The operation this instance runs.
    pub fn operation(&self) -> &str {
        &self.spec.operation
    }

    /// The interface it calls.
    pub fn kind(&self) -> OperatorKind {
        self.spec.config.kind
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

    /// Makes one call: re-creates a missing instance first, readies the store
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
        live.begin_call(time, self.spec.runtime.config().call_timeout);
        let outcome = f(&mut live.store, &live.export);
        live.end_call();
        let error = match outcome {
            Ok(r) => return Ok(r),
            Err(failure) => live.describe(failure, self.spec.runtime.config()),
        };
        self.stats.count(error.kind);
        if error.kind == FailureKind::ResourceLimit {
            self.spec.hits.hit(Limit::Resources, || format!("operation {}: {}", self.spec.operation, error.message));
        }
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
        match self.spec.start() {
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
        match self.spec.start() {
            Ok(live) => {
                self.stats.recreations += 1;
                self.stats.recreation_nanos += started.elapsed().as_nanos() as u64;
                self.live = Some(live);
                error
            }
            Err(e) => {
                tracing::error!(operation = %self.spec.operation, "cannot re-create the instance after a failed call: {e}");
                CallError::new(error.kind, format!("{}; re-creating the instance failed: {e}", error.message))
            }
        }
    }
}

impl fmt::Debug for ModuleInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleInstance")
            .field("operation", &self.spec.operation)
            .field("kind", &self.spec.config.kind)
            .field("module", &self.spec.module.name())
            .field("stats", &self.stats)
            .finish()
    }
}

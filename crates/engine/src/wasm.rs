//! Operations backed by WebAssembly components on the wasmtime host.

use wasmgraph_host::{CallError, CallErrorKind, Module, OperatorConfig, Runtime};
use wasmgraph_types::{DataModel, Hlc, Record};

use crate::{Failure, FailureKind, Operator, OperatorFactory};

/// Makes instances of one operation's module, one per worker.
pub struct WasmOperatorFactory {
    runtime: Runtime,
    module: Module,
    config: OperatorConfig,
}

impl WasmOperatorFactory {
    /// A factory for `config.operation`, running `module` on `runtime`.
    pub fn new(runtime: Runtime, module: Module, config: OperatorConfig) -> Self {
        WasmOperatorFactory { runtime, module, config }
    }
}

impl OperatorFactory for WasmOperatorFactory {
    fn create(&self, _worker: usize) -> Result<Box<dyn Operator>, String> {
        wasmgraph_host::Operator::instantiate(&self.runtime, &self.module, self.config.clone())
            .map(|op| Box::new(WasmOperator(op)) as Box<dyn Operator>)
            .map_err(|e| e.to_string())
    }
}

struct WasmOperator(wasmgraph_host::Operator);

fn failure(err: CallError) -> Failure {
    let kind = match err.kind {
        CallErrorKind::Returned => FailureKind::Returned,
        CallErrorKind::Trap => FailureKind::Trap,
        CallErrorKind::Timeout => FailureKind::Timeout,
        CallErrorKind::OutOfMemory => FailureKind::OutOfMemory,
        // Kinds added to the host later are failures of the call itself.
        _ => FailureKind::Trap,
    };
    Failure::new(kind, err.message)
}

impl Operator for WasmOperator {
    fn map(&mut self, record: &Record) -> Result<DataModel, Failure> {
        self.0.map(record).map_err(failure)
    }
    fn filter(&mut self, record: &Record) -> Result<bool, Failure> {
        self.0.filter(record).map_err(failure)
    }
    fn branch(&mut self, record: &Record) -> Result<bool, Failure> {
        self.0.branch(record).map_err(failure)
    }
    fn accumulate(&mut self, staged: DataModel, batch: &[Record]) -> Result<DataModel, Failure> {
        self.0.accumulate(staged, batch).map_err(failure)
    }
    fn delay(&mut self, record: &Record) -> Result<Hlc, Failure> {
        self.0.delay(record).map_err(failure)
    }
}

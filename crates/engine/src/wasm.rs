//! Operations backed by WebAssembly components on the wasmtime host.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmgraph_config::{Arm, Graph};
use wasmgraph_host::{CallError, CallErrorKind, HostError, Module, OperatorConfig, Runtime};
use wasmgraph_types::{DataModel, Hlc, OperatorKind, Record};

use crate::{Failure, FailureKind, Input, Node, Operator, OperatorFactory, Plan};

/// Why a checked graph could not become a plan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanBuildError {
    /// The graph was validated without a module catalog.
    #[error("operation '{operation}': module '{reference}' was not resolved to a file")]
    Unresolved {
        /// The operation.
        operation: String,
        /// Its `module:` reference.
        reference: String,
    },
    /// The host could not load (compile) the module.
    #[error("operation '{operation}': loading {path}: {source}")]
    Load {
        /// The operation.
        operation: String,
        /// The component file.
        path: PathBuf,
        /// Why.
        #[source]
        source: HostError,
    },
}

/// Turn a checked graph (validated with a module catalog, so every module
/// reference has its file) into a plan: nodes in topological order, each module
/// loaded once on `runtime` however many operations share it.
pub fn plan_for_graph(graph: &Graph, runtime: &Runtime) -> Result<Plan, PlanBuildError> {
    let order: Vec<_> = graph.topological_order().collect();
    let position: HashMap<usize, usize> = order.iter().enumerate().map(|(i, n)| (n.id.0, i)).collect();
    let mut loaded: HashMap<PathBuf, Module> = HashMap::new();
    let mut nodes = Vec::with_capacity(order.len());
    for node in order {
        let kind = node.kind;
        let inputs = node
            .inputs
            .iter()
            .map(|e| Input { from: position[&e.from.0], arm: e.arm.map(|a| a == Arm::True) })
            .collect();
        let mut sequential = false;
        let factory = match (node.kind.operator_kind(), &node.module) {
            (Some(op_kind), Some(module_ref)) => {
                let path = module_ref.path.clone().ok_or_else(|| PlanBuildError::Unresolved {
                    operation: node.name.clone(),
                    reference: module_ref.reference.clone(),
                })?;
                let module = match loaded.get(&path) {
                    Some(m) => m.clone(),
                    None => {
                        let m = runtime.load(&path).map_err(|source| PlanBuildError::Load {
                            operation: node.name.clone(),
                            path: path.clone(),
                            source,
                        })?;
                        loaded.insert(path.clone(), m.clone());
                        m
                    }
                };
                sequential = module.imports_state_store();
                let config = operator_config(&node.name, op_kind, node);
                Some(Arc::new(WasmOperatorFactory::new(runtime.clone(), module, config)) as Arc<dyn OperatorFactory>)
            }
            _ => None,
        };
        nodes.push(Node { name: node.name.clone(), kind, inputs, factory, sequential });
    }
    Ok(Plan { nodes })
}

fn operator_config(operation: &str, kind: OperatorKind, node: &wasmgraph_config::Node) -> OperatorConfig {
    OperatorConfig {
        operation: operation.to_string(),
        kind,
        properties: node.properties.clone(),
        schemas: node
            .schemas
            .iter()
            .map(|s| wasmgraph_host::ModuleSchema {
                name: s.name.clone(),
                content_type: s.content_type.clone(),
                content: s.content.clone(),
            })
            .collect(),
    }
}

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

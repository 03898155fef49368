//! From a checked graph to the engine's plan: each module operation backed by
//! a WebAssembly component on the wasmtime host.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmgraph_config::{Arm, Graph, PartitionKeySpec};
use wasmgraph_engine::{Failure, Input, Node, Operator, OperatorFactory, PartitionKey, Plan};
use wasmgraph_host::{CallError, Module, ModuleSchema, OperatorConfig, Runtime};
use wasmgraph_types::{DataModel, Hlc, OperatorKind, Record};

use crate::swap::{LiveModule, LiveModules, LiveOperator};
use crate::RuntimeError;

/// Turn a checked graph (validated with a module catalog, so every module
/// reference has its file) into a plan: nodes in topological order, each module
/// loaded once on `runtime` however many operations share it.
pub fn plan_for_graph(graph: &Graph, runtime: &Runtime) -> Result<Plan, RuntimeError> {
    plan_with_schemas(graph, runtime, &[])
}

/// Like [`plan_for_graph`], with `schemas` handed to every module operation's
/// `init` after those its graph names (an application folder's
/// `TK_SCHEMA_CONFIG_PATH`, see [`crate::AppFolder`]).
pub fn plan_with_schemas(graph: &Graph, runtime: &Runtime, schemas: &[ModuleSchema]) -> Result<Plan, RuntimeError> {
    plan_live(graph, runtime, schemas, &LiveModules::default())
}

/// Like [`plan_with_schemas`], with the operations of the modules in `live`
/// moving to a new version when its tag moves (see [`crate::LiveModules`]).
pub fn plan_live(
    graph: &Graph,
    runtime: &Runtime,
    schemas: &[ModuleSchema],
    live: &LiveModules,
) -> Result<Plan, RuntimeError> {
    let order: Vec<_> = graph.topological_order().collect();
    let position: HashMap<usize, usize> = order.iter().enumerate().map(|(i, n)| (n.id.0, i)).collect();
    let mut modules = Modules { runtime, loaded: HashMap::new() };
    let mut nodes = Vec::with_capacity(order.len());
    for node in order {
        let inputs = node
            .inputs
            .iter()
            .map(|e| Input { from: position[&e.from.0], arm: e.arm.map(|a| a == Arm::True) })
            .collect();
        let (factory, sequential) = match (node.kind.operator_kind(), &node.module) {
            (Some(kind), Some(module_ref)) => {
                let module = modules.load(&node.name, module_ref)?;
                let sequential = module.imports_state_store();
                let config = operator_config(kind, node, schemas);
                let live = module_ref.path.as_ref().and_then(|p| live.get(p, &config));
                let factory = WasmOperatorFactory { runtime: runtime.clone(), module, config, live };
                (Some(Arc::new(factory) as _), sequential)
            }
            _ => (None, false),
        };
        let partition = node.partition_key.as_ref().map(partition_key);
        nodes.push(Node { name: node.name.clone(), kind: node.kind, inputs, factory, sequential, partition });
    }
    Ok(Plan { nodes })
}

/// The engine's partition key for a graph's `partitionKey`.
fn partition_key(spec: &PartitionKeySpec) -> PartitionKey {
    match spec {
        PartitionKeySpec::UserProperty(name) => PartitionKey::UserProperty(name.clone()),
        PartitionKeySpec::TopicLevel(level) => PartitionKey::TopicLevel(*level),
        PartitionKeySpec::JsonField(pointer) => PartitionKey::JsonField(pointer.clone()),
    }
}

/// Each module file loaded (compiled) once.
struct Modules<'r> {
    runtime: &'r Runtime,
    loaded: HashMap<PathBuf, Module>,
}

impl Modules<'_> {
    fn load(&mut self, operation: &str, module_ref: &wasmgraph_config::ModuleRef) -> Result<Module, RuntimeError> {
        let path = module_ref.path.clone().ok_or_else(|| {
            RuntimeError::Host(format!(
                "operation '{operation}': module '{}' was not resolved to a file",
                module_ref.reference
            ))
        })?;
        if let Some(m) = self.loaded.get(&path) {
            return Ok(m.clone());
        }
        let m = self
            .runtime
            .load(&path)
            .map_err(|e| RuntimeError::Host(format!("operation '{operation}': loading {}: {e}", path.display())))?;
        self.loaded.insert(path, m.clone());
        Ok(m)
    }
}

fn operator_config(kind: OperatorKind, node: &wasmgraph_config::Node, extra: &[ModuleSchema]) -> OperatorConfig {
    OperatorConfig {
        operation: node.name.clone(),
        kind,
        properties: node.properties.clone(),
        schemas: node
            .schemas
            .iter()
            .map(|s| ModuleSchema {
                name: s.name.clone(),
                content_type: s.content_type.clone(),
                content: s.content.clone(),
            })
            .chain(extra.iter().cloned())
            .collect(),
    }
}

/// Makes instances of one operation's module, one per worker (benchmarks
/// and tests build plans by hand with it).
pub struct WasmOperatorFactory {
    runtime: Runtime,
    module: Module,
    config: OperatorConfig,
    /// Set when the module is watched for new versions.
    live: Option<Arc<LiveModule>>,
}

impl WasmOperatorFactory {
    /// A factory for `config.operation`, running `module` on `runtime`.
    pub fn new(runtime: Runtime, module: Module, config: OperatorConfig) -> Self {
        WasmOperatorFactory { runtime, module, config, live: None }
    }
}

impl OperatorFactory for WasmOperatorFactory {
    fn create(&self, _worker: usize) -> Result<Box<dyn Operator>, String> {
        if let Some(live) = &self.live {
            let op = LiveOperator::new(self.runtime.clone(), live.clone(), self.config.clone())?;
            return Ok(Box::new(op));
        }
        wasmgraph_host::ModuleInstance::instantiate(&self.runtime, &self.module, self.config.clone())
            .map(|op| Box::new(WasmOperator(op)) as Box<dyn Operator>)
            .map_err(|e| e.to_string())
    }
}

/// A module instance as the engine sees it.
struct WasmOperator(wasmgraph_host::ModuleInstance);

/// The host's failed call, in the engine's terms (one failure vocabulary).
fn failure(err: CallError) -> Failure {
    Failure::new(err.kind, err.message)
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

//! The nodes of the checked graph: each operation with its edges, parameters,
//! `init` properties, schemas and resolved module.

use std::collections::HashMap;

use super::modules::ModulePaths;
use super::names::Operations;
use crate::error::Diagnostics;
use crate::graph::{
    content_type_for_format, properties_for, Edge, ModuleRef, ModuleSchema, Node, NodeId, ParameterValues,
};
use crate::model::{Arm, Connection, ModuleConfiguration, Operation, Schema};

/// One node per operation, in file order. A required parameter without a value
/// is reported (and the node gets no properties).
pub(super) fn build_nodes(
    ops: &Operations<'_>,
    parameters: &HashMap<&str, &ModuleConfiguration>,
    edges: &[(Edge, &Connection)],
    schemas: &HashMap<&str, &Schema>,
    module_paths: &ModulePaths<'_>,
    values: &ParameterValues,
    d: &mut Diagnostics,
) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for (i, op) in ops.list().iter().enumerate() {
        let name = op.name.value.as_str();
        let params = parameters.get(name).map(|c| c.parameters.clone()).unwrap_or_default();
        let empty = HashMap::new();
        let given = values.get(name).unwrap_or(&empty);
        let properties = match properties_for(&d.file, name, &params, given) {
            Ok(p) => p,
            Err(e) => {
                d.list.push(e);
                Vec::new()
            }
        };
        let inputs: Vec<Edge> = edges.iter().filter(|(e, _)| e.to.0 == i).map(|(e, _)| e.clone()).collect();
        let mut outputs: Vec<Edge> = edges.iter().filter(|(e, _)| e.from.0 == i).map(|(e, _)| e.clone()).collect();
        outputs.sort_by_key(|e| e.arm.map(|a| a == Arm::True));
        nodes.push(Node {
            id: NodeId(i),
            name: name.to_string(),
            kind: op.operation_type.value,
            module: module_ref(op, module_paths),
            schemas: init_schemas(&inputs, schemas),
            inputs,
            outputs,
            parameters: params,
            properties,
            partition_key: op.partition_key.as_ref().map(|k| k.value.clone()),
            pos: op.pos,
        });
    }
    nodes
}

/// The schemas a node's incoming connections name, each once, in edge order.
fn init_schemas(inputs: &[Edge], schemas: &HashMap<&str, &Schema>) -> Vec<ModuleSchema> {
    let mut out: Vec<ModuleSchema> = Vec::new();
    for e in inputs {
        if let Some(s) = e.schema.as_deref().and_then(|s| schemas.get(s)) {
            if !out.iter().any(|m| m.name == s.name.value) {
                out.push(ModuleSchema {
                    name: s.name.value.clone(),
                    content_type: content_type_for_format(&s.format.value),
                    content: s.schema.value.clone(),
                });
            }
        }
    }
    out
}

/// The module of an operation that runs one, with its file when resolved.
fn module_ref(op: &Operation, module_paths: &ModulePaths<'_>) -> Option<ModuleRef> {
    op.module
        .as_ref()
        .filter(|_| op.operation_type.value.operator_kind().is_some())
        .map(|m| ModuleRef { reference: m.value.clone(), path: module_paths.get(m.value.as_str()).cloned().flatten() })
}

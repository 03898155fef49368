//! The names a graph defines: schemas, operations and the operations that
//! `moduleConfigurations` configures. Each name may be defined once.

use std::collections::HashMap;

use crate::decode::{suggest, DecodeInfo};
use crate::error::{Diagnostics, Rule};
use crate::model::{GraphDefinition, ModuleConfiguration, Operation, Schema};

/// The schemas by name (the first definition of a name wins); a duplicate is reported.
pub(super) fn schemas<'a>(def: &'a GraphDefinition, d: &mut Diagnostics) -> HashMap<&'a str, &'a Schema> {
    let mut schemas: HashMap<&str, &Schema> = HashMap::new();
    for s in &def.schemas {
        if let Some(first) = schemas.get(s.name.value.as_str()) {
            d.push(
                s.name.pos,
                Rule::DuplicateSchemaName,
                format!(
                    "schema `{}` is already defined at line {}; give each schema its own name",
                    s.name, first.name.pos.line
                ),
            );
        } else {
            schemas.insert(&s.name.value, s);
        }
    }
    schemas
}

/// The operations of the graph, each name once, in file order; an operation's
/// index here is its node's id.
pub(super) struct Operations<'a> {
    index: HashMap<&'a str, usize>,
    list: Vec<&'a Operation>,
}

impl<'a> Operations<'a> {
    /// Indexes `def.operations`, reporting a name used twice (the later entry is
    /// left out) and a module given where none belongs or missing where one does.
    pub fn index(def: &'a GraphDefinition, d: &mut Diagnostics) -> Self {
        let mut ops = Operations { index: HashMap::new(), list: Vec::new() };
        for op in &def.operations {
            let name = op.name.value.as_str();
            if let Some(&first) = ops.index.get(name) {
                d.push_op(
                    op.name.pos,
                    Rule::DuplicateOperationName,
                    name,
                    format!(
                        "operation name `{name}` is already used at line {}; give each operation its own name",
                        ops.list[first].name.pos.line
                    ),
                );
                continue;
            }
            ops.index.insert(name, ops.list.len());
            ops.list.push(op);
            check_module_presence(op, d);
        }
        ops
    }

    /// The index of the operation named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The operations, in file order.
    pub fn list(&self) -> &[&'a Operation] {
        &self.list
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Their names, in file order (for suggestions).
    pub fn names(&self) -> Vec<&'a str> {
        self.list.iter().map(|o| o.name.value.as_str()).collect()
    }

    /// Whether `name` may name an operation of the file: one indexed here, one
    /// decoding left out (its problem is reported already), or any name at all
    /// when decoding could not read every name.
    pub fn may_exist(&self, name: &str, info: &DecodeInfo) -> bool {
        self.index.contains_key(name) || info.names_incomplete || info.dropped.iter().any(|n| n == name)
    }
}

impl<'a> std::ops::Index<usize> for Operations<'a> {
    type Output = &'a Operation;

    fn index(&self, i: usize) -> &&'a Operation {
        &self.list[i]
    }
}

fn check_module_presence(op: &Operation, d: &mut Diagnostics) {
    let name = op.name.value.as_str();
    let ty = op.operation_type.value;
    match (ty.operator_kind(), &op.module) {
        (Some(_), None) => d.push_op(
            op.name.pos,
            Rule::ModuleMissing,
            name,
            format!("{ty} operation `{name}` has no module; add `module: \"<registry path>/<name>:<version>\"` (or a local module name)"),
        ),
        (None, Some(m)) => d.push_op(
            m.pos,
            Rule::ModuleNotAllowed,
            name,
            format!("a {ty} is run by the host and takes no module; remove `module: {}` from `{name}` (or leave it empty)", m.value),
        ),
        _ => {}
    }
    if let (None, Some(key)) = (ty.operator_kind(), &op.partition_key) {
        d.push_op(
            key.pos,
            Rule::InvalidValue,
            name,
            format!("a {ty} has no per-key work to split; `partitionKey` belongs on a module operation (an accumulate, say), so remove it from `{name}`"),
        );
    }
}

/// The `moduleConfigurations` entry of each operation; an entry for an operation
/// the graph does not have, or a second entry for one, is reported and left out.
pub(super) fn parameters<'a>(
    def: &'a GraphDefinition,
    ops: &Operations<'_>,
    info: &DecodeInfo,
    d: &mut Diagnostics,
) -> HashMap<&'a str, &'a ModuleConfiguration> {
    let mut parameters: HashMap<&str, &ModuleConfiguration> = HashMap::new();
    for c in &def.module_configurations {
        let name = c.name.value.as_str();
        if !ops.may_exist(name, info) {
            let hint = match suggest(name, &ops.names()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "use the `name` of one of the operations".to_string(),
            };
            d.push(
                c.name.pos,
                Rule::UnknownConfiguredOperation,
                format!("moduleConfigurations names operation `{name}`, which the graph does not have; {hint}"),
            );
            continue;
        }
        if let Some(first) = parameters.get(name) {
            d.push_op(
                c.name.pos,
                Rule::DuplicateConfiguration,
                name,
                format!(
                    "operation `{name}` is already configured at line {}; put all its parameters in one entry",
                    first.name.pos.line
                ),
            );
            continue;
        }
        parameters.insert(name, c);
    }
    parameters
}

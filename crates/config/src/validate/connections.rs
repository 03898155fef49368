//! The connections: each joins two operations of the graph, leaves an output
//! that has one (a branch: one per arm), and enters an operation that may take
//! it (only a concatenate takes several inputs).

use std::collections::HashMap;

use super::names::Operations;
use crate::decode::{suggest, DecodeInfo};
use crate::error::{Diagnostics, Rule};
use crate::graph::{Edge, NodeId};
use crate::model::{Arm, Connection, GraphDefinition, Operation, OperationType, Schema, Spanned};

/// The connections accepted so far, as edges between operation indices.
pub(super) struct Wiring<'a> {
    /// Every accepted connection, in file order, with the entry it came from.
    pub edges: Vec<(Edge, &'a Connection)>,
    /// False once a connection could not be read or was rejected: the checks
    /// that need every connection (branch arms, the graph's shape) are skipped.
    pub complete: bool,
    /// The connection taken by each output: (operation, arm).
    outputs: HashMap<(usize, Option<Arm>), &'a Connection>,
    /// The connection entering each operation other than a concatenate.
    inputs: HashMap<usize, &'a Connection>,
}

impl<'a> Wiring<'a> {
    /// No connections yet; `complete` starts as whether decoding read every entry.
    pub fn new(decode_clean: bool) -> Self {
        Wiring { edges: Vec::new(), complete: decode_clean, outputs: HashMap::new(), inputs: HashMap::new() }
    }

    /// Checks `c` and adds it as an edge when it is acceptable.
    pub fn connect(
        &mut self,
        c: &'a Connection,
        def: &GraphDefinition,
        ops: &Operations<'_>,
        schemas: &HashMap<&str, &Schema>,
        info: &DecodeInfo,
        d: &mut Diagnostics,
    ) {
        let from = resolve_endpoint(&c.from.name, ops, info, "from", d);
        let to = resolve_endpoint(&c.to.name, ops, info, "to", d);
        let (Some(from), Some(to)) = (from, to) else {
            self.complete = false;
            return;
        };
        let ok = check_endpoints(c, ops[from], ops[to], d);
        check_schema_name(c, ops[to], def, schemas, d);
        if !ok || !self.take_output(c, from, ops[from], d) || !self.take_input(c, to, ops[to], d) {
            self.complete = false;
            return;
        }
        let arm = c.from.arm.as_ref().map(|a| a.value);
        self.outputs.insert((from, arm), c);
        let schema = c.from.schema_name.as_ref().map(|s| s.value.clone());
        self.edges.push((Edge { from: NodeId(from), arm, to: NodeId(to), schema }, c));
    }

    /// False, with the problem reported, if the output `c` leaves is taken already.
    fn take_output(&mut self, c: &Connection, from: usize, fop: &Operation, d: &mut Diagnostics) -> bool {
        let arm = c.from.arm.as_ref().map(|a| a.value);
        let Some(first) = self.outputs.get(&(from, arm)) else {
            return true;
        };
        let fname = fop.name.value.as_str();
        let (rule, what) = match arm {
            Some(a) => (Rule::BranchArmConnectedTwice, format!("arm \"{a}\" of branch `{fname}`")),
            None => (Rule::MultipleOutputs, format!("the output of `{fname}`")),
        };
        let at = c.from.arm.as_ref().map(|a| a.pos).unwrap_or(c.from.name.pos);
        d.push_op(
            at,
            rule,
            fname,
            format!(
                "{what} is already connected to `{}` at line {}; an output has exactly one connection (as in AIO): remove one, or merge downstream with a concatenate",
                first.to.name, first.pos.line
            ),
        );
        false
    }

    /// False, with the problem reported, if `c` enters an operation other than a
    /// concatenate that has an input already; otherwise records the input.
    fn take_input(&mut self, c: &'a Connection, to: usize, top: &Operation, d: &mut Diagnostics) -> bool {
        if top.operation_type.value == OperationType::Concatenate {
            return true;
        }
        if let Some(first) = self.inputs.get(&to) {
            let tname = top.name.value.as_str();
            d.push_op(
                c.to.name.pos,
                Rule::MultipleInputs,
                tname,
                format!(
                    "`{tname}` already receives from `{}` at line {}; only a concatenate merges several inputs: connect both to a concatenate operation and that to `{tname}`",
                    first.from.name, first.pos.line
                ),
            );
            return false;
        }
        self.inputs.insert(to, c);
        true
    }
}

/// The index of the operation a connection names, or `None` with the problem
/// reported (unless the operation had a problem of its own, reported already).
fn resolve_endpoint(
    name: &Spanned<String>,
    ops: &Operations<'_>,
    info: &DecodeInfo,
    side: &str,
    d: &mut Diagnostics,
) -> Option<usize> {
    if let Some(i) = ops.find(&name.value) {
        return Some(i);
    }
    if ops.may_exist(&name.value, info) {
        return None;
    }
    let hint = match suggest(&name.value, &ops.names()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "add the operation under `operations:` or fix the name".to_string(),
    };
    d.push(
        name.pos,
        Rule::UnknownNode,
        format!("connection {side} `{}`, which is not an operation of this graph; {hint}", name.value),
    );
    None
}

/// Whether records can flow from `fop` to `top` the way `c` says: not into a
/// source, not out of a sink, an arm exactly when leaving a branch.
fn check_endpoints(c: &Connection, fop: &Operation, top: &Operation, d: &mut Diagnostics) -> bool {
    let fname = fop.name.value.as_str();
    let tname = top.name.value.as_str();
    let mut ok = true;
    if top.operation_type.value == OperationType::Source {
        d.push_op(
            c.to.name.pos,
            Rule::ConnectionIntoSource,
            tname,
            format!(
                "`{tname}` is a source and cannot receive records; connect `{fname}` to another operation or a sink"
            ),
        );
        ok = false;
    }
    if fop.operation_type.value == OperationType::Sink {
        d.push_op(
            c.from.name.pos,
            Rule::ConnectionFromSink,
            fname,
            format!("`{fname}` is a sink and has no output; connect from another operation"),
        );
        ok = false;
    }
    let is_branch = fop.operation_type.value == OperationType::Branch;
    match (&c.from.arm, is_branch) {
        (Some(a), false) => {
            d.push_op(
                a.pos,
                Rule::ArmOnNonBranch,
                fname,
                format!(
                    "`{fname}` is a {}, not a branch, so it has no arms; remove `arm:` from this connection",
                    fop.operation_type
                ),
            );
            ok = false;
        }
        (None, true) => {
            d.push_op(
                c.from.name.pos,
                Rule::BranchOutputWithoutArm,
                fname,
                format!("`{fname}` is a branch: say which arm this connection takes with `arm: \"True\"` or `arm: \"False\"`"),
            );
            ok = false;
        }
        _ => {}
    }
    ok
}

/// Reports a `from.schemaName` that names no schema. Does not reject the
/// connection: the graph's shape does not depend on it.
fn check_schema_name(
    c: &Connection,
    top: &Operation,
    def: &GraphDefinition,
    schemas: &HashMap<&str, &Schema>,
    d: &mut Diagnostics,
) {
    let Some(s) = &c.from.schema_name else {
        return;
    };
    if schemas.contains_key(s.value.as_str()) {
        return;
    }
    let hint = if def.schemas.is_empty() {
        "add it under `schemas:` (name, format, schema)".to_string()
    } else {
        let names: Vec<&str> = def.schemas.iter().map(|s| s.name.value.as_str()).collect();
        format!("the schemas defined are: {}", names.join(", "))
    };
    d.push_op(
        s.pos,
        Rule::UnknownSchema,
        top.name.value.as_str(),
        format!("schemaName `{}` names no schema; {hint}", s.value),
    );
}

/// Reports each arm of a branch that no connection takes. Call only when every
/// connection could be read (`Wiring::complete`): one that could not may be the arm's.
pub(super) fn check_branch_arms(def: &GraphDefinition, ops: &Operations<'_>, wiring: &Wiring<'_>, d: &mut Diagnostics) {
    for (i, op) in ops.list().iter().enumerate() {
        if op.operation_type.value != OperationType::Branch {
            continue;
        }
        let missing: Vec<Arm> =
            [Arm::True, Arm::False].into_iter().filter(|a| !wiring.outputs.contains_key(&(i, Some(*a)))).collect();
        // An arm that was connected but rejected above is not "not connected".
        let attempted = |a: Arm| {
            def.connections
                .iter()
                .any(|c| c.from.name.value == op.name.value && c.from.arm.as_ref().map(|x| x.value) == Some(a))
        };
        // A connection from the branch without `arm` is reported on its own; the
        // fix is to add the arm, so do not also call the arms unconnected.
        let armless = def.connections.iter().any(|c| c.from.name.value == op.name.value && c.from.arm.is_none());
        for a in missing.into_iter().filter(|a| !attempted(*a) && !armless) {
            let name = &op.name.value;
            d.push_op(
                op.name.pos,
                Rule::BranchArmNotConnected,
                name,
                format!("arm \"{a}\" of branch `{name}` is not connected; add a connection `from: {{name: {name}, arm: \"{a}\"}}` to the operation that takes those records"),
            );
        }
    }
}

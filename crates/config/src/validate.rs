//! The graph rules of DESIGN §2, checked on a decoded definition. Every problem is
//! collected; checks of the graph's shape (cycles, reachability, dead ends, a
//! source and a sink) run only once every operation and connection could be read,
//! so that one typo does not also show up as three unreachable operations.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalog::ModuleCatalog;
use crate::decode::DecodeInfo;
use crate::error::{Diagnostics, Rule};
use crate::graph::{properties_for, Edge, Graph, ModuleRef, ModuleSchema, Node, NodeId, ParameterValues};
use crate::model::*;

/// The `apiVersion` values this runtime implements.
pub const SUPPORTED_API_VERSIONS: &[&str] = &["1.1.0"];
/// The `runtimeVersion` values this runtime implements.
pub const SUPPORTED_RUNTIME_VERSIONS: &[&str] = &["1.1.0"];

pub(crate) fn validate(
    def: &GraphDefinition,
    info: &DecodeInfo,
    decode_clean: bool,
    catalog: Option<&dyn ModuleCatalog>,
    values: &ParameterValues,
    d: &mut Diagnostics,
) -> Option<Graph> {
    check_versions(def, d);

    // Schemas by name.
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

    // Operations by name.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut ops: Vec<&Operation> = Vec::new();
    for op in &def.operations {
        let name = op.name.value.as_str();
        if let Some(&first) = index.get(name) {
            d.push_op(
                op.name.pos,
                Rule::DuplicateOperationName,
                name,
                format!(
                    "operation name `{name}` is already used at line {}; give each operation its own name",
                    ops[first].name.pos.line
                ),
            );
            continue;
        }
        index.insert(name, ops.len());
        ops.push(op);
        check_module_presence(op, d);
    }
    let known =
        |name: &str| index.contains_key(name) || info.names_incomplete || info.dropped.iter().any(|n| n == name);

    // Parameters, by operation.
    let mut parameters: HashMap<&str, &ModuleConfiguration> = HashMap::new();
    for c in &def.module_configurations {
        let name = c.name.value.as_str();
        if !known(name) {
            let names: Vec<&str> = ops.iter().map(|o| o.name.value.as_str()).collect();
            let hint = match crate::decode::suggest(name, &names) {
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

    // Connections.
    let mut edges: Vec<(Edge, &Connection)> = Vec::new();
    let mut graph_complete = decode_clean;
    let mut outputs: HashMap<(usize, Option<Arm>), &Connection> = HashMap::new();
    let mut inputs: HashMap<usize, &Connection> = HashMap::new();
    for c in &def.connections {
        let from = resolve_endpoint(&c.from.name, &index, info, "from", d);
        let to = resolve_endpoint(&c.to.name, &index, info, "to", d);
        let (Some(from), Some(to)) = (from, to) else {
            graph_complete = false;
            continue;
        };
        let (fop, top) = (ops[from], ops[to]);
        let fname = fop.name.value.as_str();
        let tname = top.name.value.as_str();
        let mut ok = true;
        if top.operation_type.value == OperationType::Source {
            d.push_op(c.to.name.pos, Rule::ConnectionIntoSource, tname, format!("`{tname}` is a source and cannot receive records; connect `{fname}` to another operation or a sink"));
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
        let arm = c.from.arm.as_ref().map(|a| a.value);
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
        if let Some(s) = &c.from.schema_name {
            if !schemas.contains_key(s.value.as_str()) {
                let hint = if def.schemas.is_empty() {
                    "add it under `schemas:` (name, format, schema)".to_string()
                } else {
                    let names: Vec<&str> = def.schemas.iter().map(|s| s.name.value.as_str()).collect();
                    format!("the schemas defined are: {}", names.join(", "))
                };
                d.push_op(
                    s.pos,
                    Rule::UnknownSchema,
                    tname,
                    format!("schemaName `{}` names no schema; {hint}", s.value),
                );
            }
        }
        if !ok {
            graph_complete = false;
            continue;
        }
        if let Some(first) = outputs.get(&(from, arm)) {
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
            graph_complete = false;
            continue;
        }
        if top.operation_type.value != OperationType::Concatenate {
            if let Some(first) = inputs.get(&to) {
                d.push_op(
                    c.to.name.pos,
                    Rule::MultipleInputs,
                    tname,
                    format!(
                        "`{tname}` already receives from `{}` at line {}; only a concatenate merges several inputs: connect both to a concatenate operation and that to `{tname}`",
                        first.from.name, first.pos.line
                    ),
                );
                graph_complete = false;
                continue;
            }
            inputs.insert(to, c);
        }
        outputs.insert((from, arm), c);
        let schema = c.from.schema_name.as_ref().map(|s| s.value.clone());
        edges.push((Edge { from: NodeId(from), arm, to: NodeId(to), schema }, c));
    }

    // Branch arms (only when every connection could be read: one that could
    // not may be the arm's).
    for (i, op) in ops.iter().enumerate() {
        if !graph_complete || op.operation_type.value != OperationType::Branch {
            continue;
        }
        let missing: Vec<Arm> =
            [Arm::True, Arm::False].into_iter().filter(|a| !outputs.contains_key(&(i, Some(*a)))).collect();
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

    if graph_complete {
        check_shape(def, &ops, &edges, d);
    }

    // Modules.
    let mut module_paths: HashMap<&str, Option<std::path::PathBuf>> = HashMap::new();
    if let Some(catalog) = catalog {
        check_modules(&ops, catalog, &mut module_paths, d);
    }

    // Build nodes.
    let mut nodes: Vec<Node> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
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
        let node_inputs: Vec<Edge> = edges.iter().filter(|(e, _)| e.to.0 == i).map(|(e, _)| e.clone()).collect();
        let mut node_outputs: Vec<Edge> = edges.iter().filter(|(e, _)| e.from.0 == i).map(|(e, _)| e.clone()).collect();
        node_outputs.sort_by_key(|e| e.arm.map(|a| a == Arm::True));
        let mut node_schemas: Vec<ModuleSchema> = Vec::new();
        for e in &node_inputs {
            if let Some(s) = e.schema.as_deref().and_then(|s| schemas.get(s)) {
                if !node_schemas.iter().any(|m| m.name == s.name.value) {
                    node_schemas.push(ModuleSchema {
                        name: s.name.value.clone(),
                        content_type: crate::graph::content_type_for_format(&s.format.value),
                        content: s.schema.value.clone(),
                    });
                }
            }
        }
        let module = op.module.as_ref().filter(|_| op.operation_type.value.operator_kind().is_some()).map(|m| {
            ModuleRef { reference: m.value.clone(), path: module_paths.get(m.value.as_str()).cloned().flatten() }
        });
        nodes.push(Node {
            id: NodeId(i),
            name: name.to_string(),
            kind: op.operation_type.value,
            module,
            inputs: node_inputs,
            outputs: node_outputs,
            parameters: params,
            properties,
            schemas: node_schemas,
            pos: op.pos,
        });
    }

    if !d.list.is_empty() {
        return None;
    }
    let order = topological_order(ops.len(), &edges)?;
    Some(Graph {
        file: def.file.clone(),
        metadata: def.metadata.clone(),
        features: def.module_requirements.features.clone(),
        nodes,
        order,
        connections: edges.len(),
    })
}

fn check_versions(def: &GraphDefinition, d: &mut Diagnostics) {
    let r = &def.module_requirements;
    for (key, v, supported) in [
        ("apiVersion", &r.api_version, SUPPORTED_API_VERSIONS),
        ("runtimeVersion", &r.runtime_version, SUPPORTED_RUNTIME_VERSIONS),
    ] {
        if !supported.contains(&v.value.as_str()) {
            d.push(
                v.pos,
                Rule::UnsupportedVersion,
                format!(
                    "{key} \"{}\" is not supported; wasmgraph implements wasm-graph:processor {}: set `{key}: \"{}\"` (and build modules against that version)",
                    v.value, supported[0], supported[0]
                ),
            );
        }
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
}

fn resolve_endpoint(
    name: &Spanned<String>,
    index: &HashMap<&str, usize>,
    info: &DecodeInfo,
    side: &str,
    d: &mut Diagnostics,
) -> Option<usize> {
    if let Some(&i) = index.get(name.value.as_str()) {
        return Some(i);
    }
    // An operation that had its own problem reported: do not report it again.
    if info.names_incomplete || info.dropped.contains(&name.value) {
        return None;
    }
    let names: Vec<&str> = index.keys().copied().collect();
    let hint = match crate::decode::suggest(&name.value, &names) {
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

fn check_shape(def: &GraphDefinition, ops: &[&Operation], edges: &[(Edge, &Connection)], d: &mut Diagnostics) {
    let n = ops.len();
    let has = |t: OperationType| ops.iter().any(|o| o.operation_type.value == t);
    if !has(OperationType::Source) {
        d.push(def.operations_pos, Rule::MissingSource, "the graph has no source; add an operation `{operationType: source, name: source}` and connect it to the first operation");
    }
    if !has(OperationType::Sink) {
        d.push(def.operations_pos, Rule::MissingSink, "the graph has no sink; add an operation `{operationType: sink, name: sink}` and connect the last operation to it");
    }
    let mut succ: Vec<Vec<(usize, &Connection)>> = vec![Vec::new(); n];
    for (e, c) in edges {
        succ[e.from.0].push((e.to.0, c));
    }

    // Cycles: one error per strongly connected component that loops.
    for comp in strongly_connected(n, &succ) {
        let looping = comp.len() > 1 || succ[comp[0]].iter().any(|(t, _)| *t == comp[0]);
        if !looping {
            continue;
        }
        let set: HashSet<usize> = comp.iter().copied().collect();
        let path = find_cycle(comp[0], &succ, &set);
        let names: Vec<&str> = path.iter().map(|&i| ops[i].name.value.as_str()).collect();
        // Report at the connection that closes the cycle, the last one in the file.
        let closing = path
            .windows(2)
            .filter_map(|w| succ[w[0]].iter().find(|(t, _)| *t == w[1]).map(|(_, c)| *c))
            .max_by_key(|c| c.pos);
        let pos = closing.map(|c| c.pos).unwrap_or(ops[comp[0]].name.pos);
        d.push_op(
            pos,
            Rule::Cycle,
            names[0],
            format!(
                "the connections form a cycle: {}; a graph must be acyclic, remove one of these connections",
                names.join(" -> ")
            ),
        );
    }

    // Reachability from the sources.
    let mut seen = vec![false; n];
    let mut stack: Vec<usize> = (0..n).filter(|&i| ops[i].operation_type.value == OperationType::Source).collect();
    for &s in &stack {
        seen[s] = true;
    }
    while let Some(i) = stack.pop() {
        for &(t, _) in &succ[i] {
            if !seen[t] {
                seen[t] = true;
                stack.push(t);
            }
        }
    }
    if has(OperationType::Source) {
        for i in (0..n).filter(|&i| !seen[i]) {
            let name = ops[i].name.value.as_str();
            d.push_op(
                ops[i].name.pos,
                Rule::Unreachable,
                name,
                format!("operation `{name}` is not reachable from any source; connect it (through other operations) to a source, or remove it"),
            );
        }
    }

    // Outputs going nowhere (branch arms are checked on their own).
    for (i, op) in ops.iter().enumerate() {
        let t = op.operation_type.value;
        if t == OperationType::Sink || t == OperationType::Branch || !succ[i].is_empty() {
            continue;
        }
        let name = op.name.value.as_str();
        d.push_op(
            op.name.pos,
            Rule::OutputNotConnected,
            name,
            format!("the output of {t} `{name}` is not connected, so its records would be lost; connect it to another operation or a sink"),
        );
    }
}

/// Tarjan's algorithm, iterative. Components in no particular order.
fn strongly_connected(n: usize, succ: &[Vec<(usize, &Connection)>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if *k < succ[v].len() {
                let w = succ[v][*k].0;
                *k += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort();
                    out.push(comp);
                }
            }
        }
    }
    out.sort();
    out
}

/// A cycle through `start` inside `set`, as a path that ends where it starts.
fn find_cycle(start: usize, succ: &[Vec<(usize, &Connection)>], set: &HashSet<usize>) -> Vec<usize> {
    // Breadth-first from start back to start gives the shortest cycle.
    let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &(w, _) in &succ[v] {
            if !set.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}

/// Kahn's algorithm, ties broken by file order. `None` if there is a cycle.
fn topological_order(n: usize, edges: &[(Edge, &Connection)]) -> Option<Vec<NodeId>> {
    let mut indegree = vec![0usize; n];
    for (e, _) in edges {
        indegree[e.to.0] += 1;
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(NodeId(i));
        for (e, _) in edges.iter().filter(|(e, _)| e.from.0 == i) {
            indegree[e.to.0] -= 1;
            if indegree[e.to.0] == 0 {
                ready.insert(e.to.0);
            }
        }
    }
    (order.len() == n).then_some(order)
}

fn check_modules<'o>(
    ops: &[&'o Operation],
    catalog: &dyn ModuleCatalog,
    paths: &mut HashMap<&'o str, Option<std::path::PathBuf>>,
    d: &mut Diagnostics,
) {
    let mut exports: HashMap<std::path::PathBuf, Result<Vec<OperatorKind>, String>> = HashMap::new();
    for op in ops {
        let (Some(kind), Some(module)) = (op.operation_type.value.operator_kind(), &op.module) else {
            continue;
        };
        let name = op.name.value.as_str();
        let reference = module.value.as_str();
        if !paths.contains_key(reference) {
            match catalog.resolve(reference) {
                Ok(p) => {
                    paths.insert(reference, Some(p));
                }
                Err(why) => {
                    let users: Vec<&str> = ops
                        .iter()
                        .filter(|o| o.module.as_ref().is_some_and(|m| m.value == reference))
                        .map(|o| o.name.value.as_str())
                        .collect();
                    d.push_op(
                        module.pos,
                        Rule::UnresolvedModule,
                        name,
                        format!("module `{reference}` (used by {}) cannot be found: {why}", users.join(", ")),
                    );
                    paths.insert(reference, None);
                }
            }
        }
        let Some(Some(path)) = paths.get(reference) else {
            continue;
        };
        let found = exports.entry(path.clone()).or_insert_with(|| catalog.exports(path));
        match found {
            Ok(kinds) if kinds.contains(&kind) => {}
            Ok(kinds) => {
                let has = if kinds.is_empty() {
                    "no operator interface".to_string()
                } else {
                    kinds.iter().map(|k| k.export_name()).collect::<Vec<_>>().join(", ")
                };
                d.push_op(
                    module.pos,
                    Rule::MissingExport,
                    name,
                    format!(
                        "module `{reference}` ({}) does not export `{}`, which {} operation `{name}` needs (it exports {has}); add a #[{kind}_operator] to the module or pick a module that has one",
                        path.display(),
                        kind.export_name(),
                        op.operation_type.value
                    ),
                );
            }
            Err(why) => {
                // Reported once per file, at its first use.
                let first_user = ops.iter().find(|o| {
                    o.module
                        .as_ref()
                        .is_some_and(|m| paths.get(m.value.as_str()).cloned().flatten().as_ref() == Some(path))
                });
                if first_user.map(|o| o.name.value.as_str()) == Some(name) {
                    d.push_op(
                        module.pos,
                        Rule::MissingExport,
                        name,
                        format!("module `{reference}` cannot be inspected: {why}"),
                    );
                }
            }
        }
    }
}

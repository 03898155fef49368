//! The graph's shape, checked once every connection could be read: a source
//! and a sink, no cycle, every operation reachable from a source, every output
//! connected. Also the order the engine builds nodes in.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use super::names::Operations;
use crate::error::{Diagnostics, Rule};
use crate::graph::{Edge, NodeId};
use crate::model::{Connection, GraphDefinition, OperationType};

/// Each operation's successors, with the connection leading to each.
type Successors<'a> = Vec<Vec<(usize, &'a Connection)>>;

/// Reports every problem of the graph's shape.
pub(super) fn check_shape(
    def: &GraphDefinition,
    ops: &Operations<'_>,
    edges: &[(Edge, &Connection)],
    d: &mut Diagnostics,
) {
    let has_source = check_ends(def, ops, d);
    let mut succ: Successors<'_> = vec![Vec::new(); ops.len()];
    for (e, c) in edges {
        succ[e.from.0].push((e.to.0, c));
    }
    check_cycles(ops, &succ, d);
    if has_source {
        check_reachable(ops, &succ, d);
    }
    check_outputs_connected(ops, &succ, d);
}

/// Reports a graph without a source or without a sink; true if it has a source.
fn check_ends(def: &GraphDefinition, ops: &Operations<'_>, d: &mut Diagnostics) -> bool {
    let has = |t: OperationType| ops.list().iter().any(|o| o.operation_type.value == t);
    if !has(OperationType::Source) {
        d.push(def.operations_pos, Rule::MissingSource, "the graph has no source; add an operation `{operationType: source, name: source}` and connect it to the first operation");
    }
    if !has(OperationType::Sink) {
        d.push(def.operations_pos, Rule::MissingSink, "the graph has no sink; add an operation `{operationType: sink, name: sink}` and connect the last operation to it");
    }
    has(OperationType::Source)
}

/// One problem per strongly connected component that loops, at the connection
/// that closes the cycle (the last one in the file).
fn check_cycles(ops: &Operations<'_>, succ: &Successors<'_>, d: &mut Diagnostics) {
    for comp in strongly_connected(ops.len(), succ) {
        let looping = comp.len() > 1 || succ[comp[0]].iter().any(|(t, _)| *t == comp[0]);
        if !looping {
            continue;
        }
        let set: HashSet<usize> = comp.iter().copied().collect();
        let path = find_cycle(comp[0], succ, &set);
        let names: Vec<&str> = path.iter().map(|&i| ops[i].name.value.as_str()).collect();
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
}

/// Reports every operation no path from a source reaches.
fn check_reachable(ops: &Operations<'_>, succ: &Successors<'_>, d: &mut Diagnostics) {
    let n = ops.len();
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

/// Reports outputs going nowhere (branch arms are checked on their own).
fn check_outputs_connected(ops: &Operations<'_>, succ: &Successors<'_>, d: &mut Diagnostics) {
    for (i, op) in ops.list().iter().enumerate() {
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

/// Tarjan's algorithm, iterative. Components sorted, each sorted.
fn strongly_connected(n: usize, succ: &Successors<'_>) -> Vec<Vec<usize>> {
    let mut t = Tarjan {
        index: vec![usize::MAX; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        out: Vec::new(),
        next: 0,
    };
    for root in 0..n {
        if t.index[root] == usize::MAX {
            t.visit_from(root, succ);
        }
    }
    t.out.sort();
    t.out
}

/// The state of [`strongly_connected`].
struct Tarjan {
    index: Vec<usize>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    out: Vec<Vec<usize>>,
    next: usize,
}

impl Tarjan {
    fn discover(&mut self, v: usize) {
        self.index[v] = self.next;
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
    }

    /// Depth-first from `root` with an explicit stack of (node, next successor).
    fn visit_from(&mut self, root: usize, succ: &Successors<'_>) {
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        self.discover(root);
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if *k < succ[v].len() {
                let w = succ[v][*k].0;
                *k += 1;
                if self.index[w] == usize::MAX {
                    self.discover(w);
                    work.push((w, 0));
                } else if self.on_stack[w] {
                    self.low[v] = self.low[v].min(self.index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                self.low[parent] = self.low[parent].min(self.low[v]);
            }
            if self.low[v] == self.index[v] {
                self.pop_component(v);
            }
        }
    }

    /// The nodes on the stack down to `v` form a component.
    fn pop_component(&mut self, v: usize) {
        let mut comp = Vec::new();
        while let Some(w) = self.stack.pop() {
            self.on_stack[w] = false;
            comp.push(w);
            if w == v {
                break;
            }
        }
        comp.sort();
        self.out.push(comp);
    }
}

/// A cycle through `start` inside `set`, as a path that ends where it starts.
fn find_cycle(start: usize, succ: &Successors<'_>, set: &HashSet<usize>) -> Vec<usize> {
    // Breadth-first from start back to start gives the shortest cycle.
    let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
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
pub(super) fn topological_order(n: usize, edges: &[(Edge, &Connection)]) -> Option<Vec<NodeId>> {
    let mut indegree = vec![0usize; n];
    for (e, _) in edges {
        indegree[e.to.0] += 1;
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
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

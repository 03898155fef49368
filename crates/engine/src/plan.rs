//! What the engine runs: nodes in topological order with their inputs.

use std::sync::Arc;

use crate::{OperatorFactory, PartitionKey};

/// The kind of a node: the graph definition's `operationType`, the one enum
/// the configuration crate parses too (so the two cannot drift apart).
pub use wasmgraph_types::OperationType as NodeKind;

/// One incoming edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    /// Index of the upstream node in [`Plan::nodes`].
    pub from: usize,
    /// For a branch upstream: `Some(true)` for arm "True", `Some(false)` for "False".
    pub arm: Option<bool>,
}

/// One node of the plan.
#[derive(Clone)]
pub struct Node {
    /// The operation name (unique in the graph).
    pub name: String,
    /// What it does.
    pub kind: NodeKind,
    /// Where its records come from.
    pub inputs: Vec<Input>,
    /// Makes its per-worker instances; present exactly when `kind.operator_kind()` is `Some`.
    pub factory: Option<Arc<dyn OperatorFactory>>,
    /// The operation's calls share state (its module uses the state store), so
    /// their order matters: records reach it on one worker, in time order, so
    /// output stays the same for any number of workers.
    pub sequential: bool,
    /// Records are split between workers by this key (see [`PartitionKey`]):
    /// every record of one key reaches the same worker, in time order, and an
    /// accumulate folds each (time, key) group into one result. `None`: the
    /// unkeyed behaviour (an accumulate folds all records of a time together).
    pub partition: Option<PartitionKey>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("inputs", &self.inputs)
            .field("sequential", &self.sequential)
            .field("partition", &self.partition)
            .finish()
    }
}

/// A graph ready to run: nodes in topological order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Every input of a node refers to an earlier node.
    pub nodes: Vec<Node>,
}

/// A plan that cannot run. The graph validator rejects all of these with file
/// and line first; this is the engine's own guard.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// An input refers to a later node or none.
    #[error("operation '{node}' reads from node #{from}, which is not an earlier node")]
    NotTopological {
        /// The reading node.
        node: String,
        /// The bad index.
        from: usize,
    },
    /// A module operation without an instance factory, or the reverse.
    #[error("operation '{0}' ({1}) has no module to run")]
    MissingModule(String, &'static str),
    /// An arm on a non-branch input, or a branch input without one.
    #[error("operation '{node}' reads from '{from}' with an arm that does not match its kind")]
    BadArm {
        /// The reading node.
        node: String,
        /// The upstream node.
        from: String,
    },
    /// Nothing to read.
    #[error("the graph has no source")]
    NoSource,
    /// A partition key on an operation without a module (a source, sink or
    /// concatenate has no per-key work to split).
    #[error("operation '{0}' ({1}) has a partition key, but only module operations can be keyed")]
    KeyWithoutModule(String, &'static str),
}

impl Plan {
    /// Check the engine's structural assumptions.
    pub fn check(&self) -> Result<(), PlanError> {
        if !self.nodes.iter().any(|n| n.kind == NodeKind::Source) {
            return Err(PlanError::NoSource);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.kind.operator_kind().is_some() != node.factory.is_some() {
                return Err(PlanError::MissingModule(node.name.clone(), node.kind.as_str()));
            }
            if node.partition.is_some() && node.factory.is_none() {
                return Err(PlanError::KeyWithoutModule(node.name.clone(), node.kind.as_str()));
            }
            for input in &node.inputs {
                if input.from >= i {
                    return Err(PlanError::NotTopological { node: node.name.clone(), from: input.from });
                }
                let up = &self.nodes[input.from];
                if (up.kind == NodeKind::Branch) != input.arm.is_some() {
                    return Err(PlanError::BadArm { node: node.name.clone(), from: up.name.clone() });
                }
            }
        }
        Ok(())
    }
}

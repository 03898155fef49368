//! Counters the run summary, the progress bar and tests read while a graph runs.

use std::sync::atomic::{AtomicU64, Ordering};

use wasmgraph_types::FailureKind;

/// Counters of one node.
#[derive(Debug, Default)]
pub struct NodeStats {
    /// Records that reached the node.
    pub records_in: AtomicU64,
    /// Records the node passed on.
    pub records_out: AtomicU64,
    /// Records (or accumulate batches) whose call failed.
    pub errors: AtomicU64,
    /// The same by failure kind, indexed like [`FailureKind::ALL`] (for the
    /// runtime's telemetry; counted on failures only).
    pub errors_by_kind: [AtomicU64; FailureKind::ALL.len()],
}

impl NodeStats {
    /// (in, out, errors) as plain numbers.
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.records_in.load(Ordering::Relaxed),
            self.records_out.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }

    /// Failed calls of `kind`.
    pub fn errors_of(&self, kind: FailureKind) -> u64 {
        FailureKind::ALL.iter().position(|k| *k == kind).map_or(0, |i| self.errors_by_kind[i].load(Ordering::Relaxed))
    }

    /// Count one failed call of `kind` (in `errors` and `errors_by_kind`).
    pub fn count_error(&self, kind: FailureKind) {
        bump(&self.errors, 1);
        if let Some(i) = FailureKind::ALL.iter().position(|k| *k == kind) {
            bump(&self.errors_by_kind[i], 1);
        }
    }
}

/// Counters of a whole run, indexed like [`crate::Plan::nodes`].
#[derive(Debug)]
pub struct Stats {
    /// Per node.
    pub nodes: Vec<(String, NodeStats)>,
    /// Messages read from the source.
    pub read: AtomicU64,
    /// Records written to the sink.
    pub written: AtomicU64,
    /// Messages whose own time was further ahead of the host clock than
    /// [`crate::RunOptions::max_clock_skew`]; they got the host's time instead.
    pub future_times: AtomicU64,
}

impl Stats {
    /// Zeroed counters for `names`.
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        Stats {
            nodes: names.into_iter().map(|n| (n, NodeStats::default())).collect(),
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            future_times: AtomicU64::new(0),
        }
    }

    /// Zeroed counters for every node of `plan`.
    pub fn for_plan(plan: &crate::Plan) -> Self {
        Stats::new(plan.nodes.iter().map(|n| n.name.clone()))
    }

    pub(crate) fn node(&self, index: usize) -> &NodeStats {
        &self.nodes[index].1
    }

    /// Total failed calls over all nodes.
    pub fn errors(&self) -> u64 {
        self.nodes.iter().map(|(_, s)| s.errors.load(Ordering::Relaxed)).sum()
    }
}

pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

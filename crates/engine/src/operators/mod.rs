//! The timely operators behind each node kind, one file each.

pub(crate) mod accumulate;
pub(crate) mod branch;
pub(crate) mod delay;
pub(crate) mod filter;
pub(crate) mod map;
pub(crate) mod order;
pub(crate) mod pending;
pub(crate) mod sink;

use std::sync::Arc;

use timely::dataflow::Stream;
use wasmgraph_types::Record;

use crate::driver::ErrorEvent;
use crate::stats::{bump, Stats};
use crate::{Failure, Operator};

/// The timely timestamp: [`wasmgraph_types::Hlc::as_time`].
pub(crate) type Time = u128;

/// A stream of records.
pub(crate) type Records<'scope> = Stream<'scope, Time, Vec<Record>>;

/// What every operator needs besides its logic: where to count and where to
/// send failures.
#[derive(Clone)]
pub(crate) struct NodeCtx {
    pub index: usize,
    pub name: Arc<str>,
    pub stats: Arc<Stats>,
    pub on_error: Arc<dyn Fn(&ErrorEvent) + Send + Sync>,
}

impl NodeCtx {
    pub fn received(&self, n: usize) {
        bump(&self.stats.node(self.index).records_in, n as u64);
    }

    pub fn passed(&self, n: usize) {
        bump(&self.stats.node(self.index).records_out, n as u64);
    }

    /// Count, log and report one failed call; the record goes to the error policy.
    pub fn failed(&self, failure: Failure, records: &[Record]) {
        bump(&self.stats.node(self.index).errors, 1);
        let time = records.first().map(|r| r.time.to_wire()).unwrap_or_default();
        tracing::warn!(
            operation = %self.name,
            time = %time,
            kind = failure.kind.as_str(),
            records = records.len(),
            "{}",
            failure.message
        );
        (self.on_error)(&ErrorEvent {
            operation: self.name.to_string(),
            kind: failure.kind,
            message: failure.message,
            records: records.to_vec(),
        });
    }
}

/// A per-worker instance of a module operation.
pub(crate) type Instance = Box<dyn Operator>;

/// Hash a time to spread times over workers.
pub(crate) fn time_hash(time: Time) -> u64 {
    let mixed = (time as u64) ^ ((time >> 64) as u64).rotate_left(29);
    mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The order of records that share a time: source order, then content, so
/// output never depends on which worker handled what.
pub(crate) fn sort_within_time(records: &mut [Record]) {
    records.sort_by(|a, b| {
        a.seq
            .cmp(&b.seq)
            .then_with(|| a.data.payload().cmp(b.data.payload()))
            .then_with(|| format!("{:?}", a.data).cmp(&format!("{:?}", b.data)))
    });
}

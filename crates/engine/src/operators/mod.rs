//! The timely operators behind each node kind, one file each.

pub(crate) mod accumulate;
pub(crate) mod branch;
pub(crate) mod delay;
pub(crate) mod filter;
pub(crate) mod map;
pub(crate) mod order;
pub(crate) mod pending;
pub(crate) mod sink;

use std::cmp::Ordering;
use std::sync::Arc;

use timely::dataflow::Stream;
use wasmgraph_types::{DataModel, Hlc, Record};

use crate::stats::{bump, Stats};
use crate::{ErrorEvent, ErrorHandler, Failure, Operator};

pub(crate) use crate::Time;

/// A stream of records.
pub(crate) type Records<'scope> = Stream<'scope, Time, Vec<Record>>;

/// What every operator needs besides its logic: where to count and where to
/// send failures.
#[derive(Clone)]
pub(crate) struct NodeCtx {
    pub index: usize,
    pub name: Arc<str>,
    pub stats: Arc<Stats>,
    pub on_error: ErrorHandler,
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
        self.stats.node(self.index).count_error(failure.kind);
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

/// A record at `time` holding `data`, with the data's embedded timestamp set to
/// `time` (as [`Record::set_time`] does, without a placeholder time to clone
/// and drop: the node id is a shared `Arc`, and every clone or drop of it is an
/// atomic operation other workers may be contending for).
pub(crate) fn record_at(time: Hlc, seq: u64, mut data: DataModel) -> Record {
    match &mut data {
        DataModel::Message(m) => m.timestamp = time.clone(),
        DataModel::Snapshot(s) => s.timestamp = time.clone(),
        DataModel::BufferOrBytes(_) => {}
    }
    Record { time, seq, data }
}

/// A per-worker instance of a module operation.
pub(crate) type Instance = Box<dyn Operator>;

/// Hash a time to spread times over workers.
pub(crate) fn time_hash(time: Time) -> u64 {
    let mixed = (time as u64) ^ ((time >> 64) as u64).rotate_left(29);
    mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The order in which the engine releases records wherever order matters
/// (accumulate, the in-time-order stage, the sink): the record's own time,
/// then source order, then content, so output never depends on which worker
/// handled what.
///
/// Records are grouped and ordered by their own time (`record.time`), never
/// by the time of the capability they travel under: one capability carries a
/// whole source poll, whose records have different times (see the driver).
pub(crate) fn record_order(a: &Record, b: &Record) -> Ordering {
    a.time
        .as_time()
        .cmp(&b.time.as_time())
        .then(a.seq.cmp(&b.seq))
        .then_with(|| a.data.payload().cmp(b.data.payload()))
        .then_with(|| tie_break(a, b))
}

/// Two records with the same time, source message and payload are ordered by
/// their whole content (its `Debug` text). Identical copies (a node feeding
/// two sinks) are the common case: they are recognised without formatting,
/// which is consistent with comparing the texts because the `Debug` text is a
/// function of the fields compared (data equality ignores the node id of the
/// embedded timestamp, so that is compared separately).
#[cold]
fn tie_break(a: &Record, b: &Record) -> Ordering {
    if a.data == b.data && embedded_node_id(&a.data) == embedded_node_id(&b.data) {
        return Ordering::Equal;
    }
    format!("{:?}", a.data).cmp(&format!("{:?}", b.data))
}

fn embedded_node_id(data: &DataModel) -> Option<&str> {
    match data {
        DataModel::Message(m) => Some(&m.timestamp.node_id),
        DataModel::Snapshot(s) => Some(&s.timestamp.node_id),
        DataModel::BufferOrBytes(_) => None,
    }
}

/// Sort records into [`record_order`].
pub(crate) fn sort_records(records: &mut [Record]) {
    records.sort_by(record_order);
}

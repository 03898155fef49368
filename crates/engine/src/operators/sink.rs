//! The sink: every record meets on one worker (one per process when the
//! sink writes on every process of a cluster) and is written in time order
//! (by its own time; records sharing a time in source order) once the
//! frontier has passed its time.

use std::sync::{Arc, Mutex};

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator as _;
use wasmgraph_connector::Sink;
use wasmgraph_types::Record;

use super::pending::Pending;
use super::Records;
use crate::stats::{bump, Stats};

/// Writes to `sink` (present on worker `writer` only, where every record of
/// this worker is sent: the last worker of the process, or in a cluster of
/// process 0 or of this worker's own process; see `SinkPlacement`). The
/// returned stream carries no records; its frontier passes a time
/// only after every record at that time has been written and flushed, which is
/// what a probe on it tells the driver: the sink holds a capability at the
/// earliest record it has not written yet, and drops it only after writing and
/// flushing.
///
/// After a write or flush fails the error goes to `fatal` and nothing more is
/// written; records are then discarded so the run can wind down (the driver
/// acknowledges nothing once `fatal` is set).
pub(crate) fn ordered_sink<'s>(
    stream: Records<'s>,
    writer: usize,
    mut sink: Option<Box<dyn Sink>>,
    stats: Arc<Stats>,
    fatal: Arc<Mutex<Option<String>>>,
) -> Records<'s> {
    let writer = writer as u64;
    let pact = Exchange::new(move |_r: &Record| writer);
    stream.unary_frontier(pact, "Sink", move |_cap, _info| {
        let mut pending = Pending::default();
        let mut failed = false;
        move |(input, frontier),
              output: &mut timely::dataflow::operators::generic::OutputBuilderSession<
            '_,
            _,
            timely::container::CapacityContainerBuilder<Vec<Record>>,
        >| {
            let port = output.output_index();
            input.for_each(|cap, data| {
                if failed {
                    data.clear();
                } else {
                    pending.hold(&cap, port, data);
                }
            });
            if failed {
                return;
            }
            let Some((_cap, records)) = pending.take_ready(frontier) else { return };
            let Some(sink) = sink.as_mut() else { return };
            let result = records.iter().try_for_each(|record| sink.write(record)).and_then(|()| sink.flush());
            match result {
                Ok(()) => bump(&stats.written, records.len() as u64),
                Err(err) => {
                    fatal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(err.to_string());
                    failed = true;
                    pending.clear();
                }
            }
            // `_cap` drops here, after the flush: only now may the probe pass
            // these records' times.
        }
    })
}

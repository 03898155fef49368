//! The sink: every record meets on the last worker and is written in time
//! order (by its own time; records sharing a time in source order) once the
//! frontier has passed its time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::{Capability, Operator as _};
use timely::scheduling::SyncActivator;
use timely::progress::frontier::MutableAntichain;
use wasmgraph_connectors::{ConnectorError, Sink};
use wasmgraph_types::Record;

use super::pending::Pending;
use super::{Records, Time};
use crate::stats::{bump, Stats};

/// Writes to `sink` (present on the last worker only, where every record is
/// sent). The returned stream carries no records; its frontier passes a time
/// only after every record at that time has been written and is durable,
/// which is what a probe on it tells the driver: the sink holds a capability
/// at the earliest record it has not written yet, and each written batch
/// keeps its capability until the sink reports the batch durable.
///
/// Durability is asynchronous where the sink allows it
/// ([`Sink::flush_begin`] / [`Sink::durable`]): a batch is handed on and the
/// worker goes back to work; the sink's waker re-activates this operator
/// (and unparks the worker) when confirmations arrive. For sinks that flush
/// synchronously the batch is durable when `flush_begin` returns.
///
/// After a write or flush fails the error goes to `fatal` and nothing more is
/// written; records are then discarded so the run can wind down (the driver
/// acknowledges nothing once `fatal` is set).
pub(crate) fn ordered_sink<'s>(
    stream: Records<'s>,
    mut sink: Option<Box<dyn Sink>>,
    stats: Arc<Stats>,
    fatal: Arc<Mutex<Option<String>>>,
) -> Records<'s> {
    let scope = stream.scope();
    let last = scope.peers() as u64 - 1;
    let pact = Exchange::new(move |_r: &Record| last);
    stream.unary_frontier(pact, "Sink", move |_cap, info| {
        if let Some(sink) = sink.as_mut() {
            let activator = scope.worker().sync_activator_for(info.address.to_vec());
            sink.set_waker(Waker::from(Arc::new(Activate(activator))));
        }
        let mut pending = Pending::default();
        // Written batches not yet durable: (capability, mark, records).
        let mut undurable: VecDeque<(Capability<Time>, u64, u64)> = VecDeque::new();
        let mut failed = false;
        move |(input, frontier), output: &mut timely::dataflow::operators::generic::OutputBuilderSession<'_, _, timely::container::CapacityContainerBuilder<Vec<Record>>>| {
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
            let Some(sink) = sink.as_mut() else { return };
            let result = write_ready(&mut **sink, &mut pending, frontier, &mut undurable).and_then(|()| {
                if undurable.is_empty() {
                    return Ok(());
                }
                let done = sink.durable()?;
                // Each capability drops here, once its batch is durable: only
                // now may the probe pass these records' times.
                while let Some((_cap, _, n)) = undurable.pop_front_if(|(_, mark, _)| *mark <= done) {
                    bump(&stats.written, n);
                }
                Ok(())
            });
            if let Err(err) = result {
                fatal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(err.to_string());
                failed = true;
                pending.clear();
                undurable.clear();
            }
        }
    })
}

/// Writes the records the frontier has passed and starts making them
/// durable; their capability waits in `undurable` with the sink's mark.
fn write_ready(
    sink: &mut dyn Sink,
    pending: &mut Pending,
    frontier: &MutableAntichain<Time>,
    undurable: &mut VecDeque<(Capability<Time>, u64, u64)>,
) -> Result<(), ConnectorError> {
    let Some((cap, records)) = pending.take_ready(frontier) else { return Ok(()) };
    for record in &records {
        sink.write(record)?;
    }
    let mark = sink.flush_begin()?;
    undurable.push_back((cap, mark, records.len() as u64));
    Ok(())
}

/// Re-activates the sink operator (and unparks its worker) from the thread
/// that confirms durability.
struct Activate(SyncActivator);

impl Wake for Activate {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Fails only once the dataflow is gone: nothing left to wake.
        let _ = self.0.activate();
    }
}

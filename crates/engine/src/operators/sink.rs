//! The sink: every record meets on worker 0 and is written in time order once
//! the frontier has passed its time (records sharing a time in source order).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator as _;
use wasmgraph_connectors::Sink;
use wasmgraph_types::Record;

use super::{sort_within_time, Records, Time};
use crate::stats::{bump, Stats};

/// Writes to `sink` (present on worker 0 only). The returned stream carries no
/// records; its frontier passes a time only after every record at that time has
/// been written and flushed, which is what a probe on it tells the driver.
pub(crate) fn ordered_sink<'s>(
    stream: Records<'s>,
    mut sink: Option<Box<dyn Sink>>,
    stats: Arc<Stats>,
    fatal: Arc<Mutex<Option<String>>>,
) -> Records<'s> {
    let pact = Exchange::new(|_r: &Record| 0u64);
    stream.unary_frontier(pact, "Sink", move |_cap, _info| {
        let mut pending: BTreeMap<Time, Vec<Record>> = BTreeMap::new();
        move |(input, frontier), _output: &mut timely::dataflow::operators::generic::OutputBuilderSession<'_, Time, timely::container::CapacityContainerBuilder<Vec<Record>>>| {
            input.for_each(|cap, data| {
                // Every record travels under a capability; a message with none
                // would carry no time to order by, and cannot occur here.
                if let Some(&time) = cap.least() {
                    pending.entry(time).or_default().append(data);
                }
            });
            let mut wrote = false;
            while let Some(entry) = pending.first_entry() {
                if frontier.less_equal(entry.key()) {
                    break;
                }
                let mut records = entry.remove();
                sort_within_time(&mut records);
                if let Some(sink) = sink.as_mut() {
                    for record in &records {
                        if let Err(err) = sink.write(record) {
                            fatal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(err.to_string());
                            return;
                        }
                    }
                    bump(&stats.written, records.len() as u64);
                    wrote = true;
                }
            }
            if wrote {
                if let Some(Err(err)) = sink.as_mut().map(|s| s.flush()) {
                    fatal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(err.to_string());
                }
            }
        }
    })
}

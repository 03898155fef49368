//! Put a stream in time order on one worker, for operations whose calls share
//! state (the state store): records reach them one time after another, in
//! source order within a time, however many workers ran upstream.

use std::collections::BTreeMap;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::{Capability, Operator as _};
use wasmgraph_types::Record;

use super::{sort_within_time, Records, Time};

pub(crate) fn in_time_order<'s>(stream: Records<'s>, name: &str) -> Records<'s> {
    let pact = Exchange::new(|_r: &Record| 0u64);
    stream.unary_frontier(pact, &format!("InTimeOrder({name})"), move |_cap, _info| {
        let mut pending: BTreeMap<Time, (Capability<Time>, Vec<Record>)> = BTreeMap::new();
        move |(input, frontier), output| {
            let port = output.output_index();
            input.for_each(|cap, data| {
                for record in data.drain(..) {
                    let time = record.time.as_time();
                    pending.entry(time).or_insert_with(|| (cap.delayed(&time, port), Vec::new())).1.push(record);
                }
            });
            while let Some(entry) = pending.first_entry() {
                if frontier.less_equal(entry.key()) {
                    break;
                }
                let (cap, mut records) = entry.remove();
                sort_within_time(&mut records);
                output.session(&cap).give_container(&mut records);
            }
        }
    })
}

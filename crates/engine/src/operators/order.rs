//! Put a stream in time order on one worker, for operations whose calls share
//! state (the state store): records reach them one time after another, in
//! source order within a time, however many workers ran upstream. A keyed
//! operation has one such stream per worker: each key's records on the
//! worker its hash picks.

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator as _;
use wasmgraph_types::Record;

use super::pending::Pending;
use super::Records;
use crate::PartitionKey;

/// Records in time order on worker 0, or with a `key` on their key's worker.
pub(crate) fn in_time_order<'s>(stream: Records<'s>, name: &str, key: Option<PartitionKey>) -> Records<'s> {
    let pact = Exchange::new(move |r: &Record| key.as_ref().map_or(0, |k| k.hash(r)));
    stream.unary_frontier(pact, &format!("InTimeOrder({name})"), move |_cap, _info| {
        let mut pending = Pending::default();
        move |(input, frontier), output| {
            let port = output.output_index();
            input.for_each(|cap, data| pending.hold(&cap, port, data));
            // Records released together are sorted by their own times, all at or
            // after `cap`; later releases only hold later times.
            if let Some((cap, mut records)) = pending.take_ready(frontier) {
                output.session(&cap).give_container(&mut records);
            }
        }
    })
}

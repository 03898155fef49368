//! Put a stream in time order on one worker, for operations whose calls share
//! state (the state store): records reach them one time after another, in
//! source order within a time, however many workers ran upstream.

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator as _;
use wasmgraph_types::Record;

use super::pending::Pending;
use super::Records;

pub(crate) fn in_time_order<'s>(stream: Records<'s>, name: &str) -> Records<'s> {
    let pact = Exchange::new(|_r: &Record| 0u64);
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

//! accumulate: all records of one record time are folded, in source order,
//! into one record that is emitted once, at that time, when the frontier
//! passes it. Records are grouped by their own time, never by the capability
//! they travel under (one capability carries a whole source poll).

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator as _;
use wasmgraph_types::{DataModel, Hlc, Record};

use super::pending::Pending;
use super::{record_at, time_hash, Instance, NodeCtx, Records};

/// Records handed to the module per call; a time with more records takes
/// several calls, each continuing from the previous staged value.
pub(crate) const BATCH: usize = 1024;

/// `sequential`: the module shares state across calls (the state store), so
/// every time is folded on worker 0, one after another in time order.
pub(crate) fn wasm_accumulate<'s>(
    stream: Records<'s>,
    ctx: NodeCtx,
    mut op: Instance,
    sequential: bool,
) -> Records<'s> {
    let name = format!("WasmAccumulate({})", ctx.name);
    // Every record of a time meets on one worker, so there is one result per time.
    let pact = Exchange::new(move |r: &Record| if sequential { 0 } else { time_hash(r.time.as_time()) });
    stream.unary_frontier(pact, &name, move |_cap, _info| {
        let mut pending = Pending::default();
        move |(input, frontier), output| {
            let port = output.output_index();
            input.for_each(|cap, data| {
                ctx.received(data.len());
                pending.hold(&cap, port, data);
            });
            if let Some((cap, records)) = pending.take_ready(frontier) {
                // One result per record time, each at its time; `cap` is at or
                // before the earliest of them, so all go out under it.
                let mut session = output.session(&cap);
                let mut passed = 0;
                for group in records.chunk_by(|a, b| a.time.as_time() == b.time.as_time()) {
                    if let Some(result) = fold(&mut op, &ctx, group) {
                        passed += 1;
                        session.give(result);
                    }
                }
                ctx.passed(passed);
            }
        }
    })
}

/// Fold one time's records. A failed call skips its batch (reported as failed)
/// and the fold continues from the last good staged value; with no good call at
/// all there is nothing to emit.
fn fold(op: &mut Instance, ctx: &NodeCtx, records: &[Record]) -> Option<Record> {
    let first = records.first()?;
    let time: Hlc = first.time.clone();
    let seq = first.seq;
    let mut staged = DataModel::empty_message(time.clone());
    let mut any = false;
    for batch in records.chunks(BATCH) {
        match op.accumulate(staged.clone(), batch) {
            Ok(next) => {
                staged = next;
                any = true;
            }
            Err(failure) => ctx.failed(failure, batch),
        }
    }
    if !any {
        return None;
    }
    Some(record_at(time, seq, staged))
}

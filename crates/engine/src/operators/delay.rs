//! delay: the module names a later time and the record moves there: its own
//! time (`record.time`, which is what accumulate and the sink group and order
//! by) changes; the capability it travels under moves at most to the earliest
//! new time of its batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;
use wasmgraph_types::Record;

use super::{Instance, NodeCtx, Records, Time};
use crate::moves::Moves;
use crate::{Failure, FailureKind};

/// The moves a delay made, `(from, to)`, for the acknowledgements of other
/// processes of a cluster (see [`crate::cluster`]).
pub(crate) type MoveStream<'s> = Stream<'s, Time, Vec<(Time, Time)>>;

/// Every move is reported to `moves` before the record goes on, so the source
/// message is not acknowledged until the record is written at its new time.
/// The moves also go out on the second stream (under the input's capability,
/// so a probe downstream of it cannot pass the old times before they were
/// seen), one pair per new time with the earliest record moved there.
pub(crate) fn wasm_delay<'s>(
    stream: Records<'s>,
    ctx: NodeCtx,
    mut op: Instance,
    moves: Arc<Moves>,
) -> (Records<'s>, MoveStream<'s>) {
    let mut builder = OperatorBuilder::new(format!("WasmDelay({})", ctx.name), stream.scope());
    let mut input = builder.new_input(stream, Pipeline);
    let (records_out, records) = builder.new_output();
    let (moves_out, moved_stream) = builder.new_output();
    let mut records_out = OutputBuilder::from(records_out);
    let mut moves_out = OutputBuilder::from(moves_out);
    builder.build(move |_caps| {
        let mut moved: Vec<Record> = Vec::new();
        let mut reported: Vec<(Time, Time)> = Vec::new();
        move |_frontiers| {
            let mut records_out = records_out.activate();
            let mut moves_out = moves_out.activate();
            input.for_each(|cap, data| {
                ctx.received(data.len());
                let earliest = delay_batch(&mut op, &ctx, data, &mut moved, &mut reported);
                let mut summary = summarise(&reported);
                // Reported while this operator still holds the input's
                // capability, so before the probe can pass the old times.
                moves.record(reported.drain(..));
                if !summary.is_empty() {
                    moves_out.session(&cap).give_container(&mut summary);
                }
                if moved.is_empty() {
                    return;
                }
                // Each record now carries its new time; they travel on under one
                // capability at the earliest of them, which is at or after the
                // one they came under (new time >= old time >= capability).
                let later = cap.delayed(&earliest, 0);
                ctx.passed(moved.len());
                records_out.session(&later).give_container(&mut moved);
                moved.clear();
            });
        }
    });
    (records, moved_stream)
}

/// Ask the module for each record's new time; moved records go to `moved`,
/// their moves to `reported`. Returns the earliest new time.
fn delay_batch(
    op: &mut Instance,
    ctx: &NodeCtx,
    data: &mut Vec<Record>,
    moved: &mut Vec<Record>,
    reported: &mut Vec<(Time, Time)>,
) -> Time {
    let mut earliest = Time::MAX;
    for mut record in data.drain(..) {
        match op.delay(&record) {
            Ok(time) if time < record.time => ctx.failed(
                Failure::new(
                    FailureKind::InvalidOutput,
                    format!(
                        "delay returned {}, earlier than the record's time {}; a delay may only move records later",
                        time.to_wire(),
                        record.time.to_wire()
                    ),
                ),
                std::slice::from_ref(&record),
            ),
            Ok(time) => {
                earliest = earliest.min(time.as_time());
                reported.push((record.time.as_time(), time.as_time()));
                record.set_time(time);
                moved.push(record);
            }
            Err(failure) => ctx.failed(failure, std::slice::from_ref(&record)),
        }
    }
    earliest
}

/// The moves of one batch, one per new time, from the earliest record moved
/// there: what [`Moves`] keeps of them anyway, and all another process needs.
fn summarise(reported: &[(Time, Time)]) -> Vec<(Time, Time)> {
    let mut by_target: BTreeMap<Time, Time> = BTreeMap::new();
    for &(from, to) in reported.iter().filter(|(from, to)| to > from) {
        by_target.entry(to).and_modify(|f| *f = (*f).min(from)).or_insert(from);
    }
    by_target.into_iter().map(|(to, from)| (from, to)).collect()
}

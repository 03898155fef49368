//! delay: the module names a later time and the record moves there: its own
//! time (`record.time`, which is what accumulate and the sink group and order
//! by) changes; the capability it travels under moves at most to the earliest
//! new time of its batch.

use std::sync::Arc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator as _;
use wasmgraph_types::Record;

use super::{Instance, NodeCtx, Records, Time};
use crate::moves::Moves;
use crate::{Failure, FailureKind};

/// Every move is reported to `moves` before the record goes on, so the source
/// message is not acknowledged until the record is written at its new time.
pub(crate) fn wasm_delay<'s>(stream: Records<'s>, ctx: NodeCtx, mut op: Instance, moves: Arc<Moves>) -> Records<'s> {
    let name = format!("WasmDelay({})", ctx.name);
    stream.unary(Pipeline, &name, move |_cap, _info| {
        let mut moved: Vec<Record> = Vec::new();
        let mut reported: Vec<(Time, Time)> = Vec::new();
        move |input, output| {
            let port = output.output_index();
            input.for_each(|cap, data| {
                ctx.received(data.len());
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
                // Reported while this operator still holds the input's
                // capability, so before the probe can pass the old times.
                moves.record(reported.drain(..));
                if moved.is_empty() {
                    return;
                }
                // Each record now carries its new time; they travel on under one
                // capability at the earliest of them, which is at or after the
                // one they came under (new time >= old time >= capability).
                let later = cap.delayed(&earliest, port);
                ctx.passed(moved.len());
                output.session(&later).give_container(&mut moved);
                moved.clear();
            });
        }
    })
}

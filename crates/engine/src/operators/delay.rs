//! delay: the module names a later time and the record moves there.

use std::collections::BTreeMap;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator as _;
use wasmgraph_types::Record;

use super::{Instance, NodeCtx, Records, Time};
use crate::{Failure, FailureKind};

pub(crate) fn wasm_delay<'s>(stream: Records<'s>, ctx: NodeCtx, mut op: Instance) -> Records<'s> {
    let name = format!("WasmDelay({})", ctx.name);
    stream.unary(Pipeline, &name, move |_cap, _info| {
        let mut moved: BTreeMap<Time, Vec<Record>> = BTreeMap::new();
        move |input, output| {
            input.for_each(|cap, data| {
                ctx.received(data.len());
                for mut record in data.drain(..) {
                    match op.delay(&record) {
                        Ok(time) if time < record.time => ctx.failed(
                            Failure::new(
                                FailureKind::Invalid,
                                format!(
                                    "delay returned {}, earlier than the record's time {}; a delay may only move records later",
                                    time.to_wire(),
                                    record.time.to_wire()
                                ),
                            ),
                            std::slice::from_ref(&record),
                        ),
                        Ok(time) => {
                            let key = time.as_time();
                            record.set_time(time);
                            moved.entry(key).or_default().push(record);
                        }
                        Err(failure) => ctx.failed(failure, std::slice::from_ref(&record)),
                    }
                }
                let port = output.output_index();
                for (time, mut records) in std::mem::take(&mut moved) {
                    let later = cap.delayed(&time, port);
                    ctx.passed(records.len());
                    output.session(&later).give_container(&mut records);
                }
            });
        }
    })
}

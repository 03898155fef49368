//! map: one call per record; the result keeps the record's time.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator as _;

use super::{record_at, Instance, NodeCtx, Records};

pub(crate) fn wasm_map<'s>(stream: Records<'s>, ctx: NodeCtx, mut op: Instance) -> Records<'s> {
    let name = format!("WasmMap({})", ctx.name);
    stream.unary(Pipeline, &name, move |_cap, _info| {
        move |input, output| {
            input.for_each(|cap, data| {
                ctx.received(data.len());
                let mut session = output.session(&cap);
                let mut passed = 0;
                for record in data.drain(..) {
                    match op.map(&record) {
                        Ok(result) => {
                            passed += 1;
                            session.give(record_at(record.time, record.seq, result));
                        }
                        Err(failure) => ctx.failed(failure, std::slice::from_ref(&record)),
                    }
                }
                ctx.passed(passed);
            });
        }
    })
}

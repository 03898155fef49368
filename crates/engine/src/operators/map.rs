//! map: one call per record; the result keeps the record's time.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator as _;
use wasmgraph_types::Record;

use super::{Instance, NodeCtx, Records};

pub(crate) fn wasm_map<'s>(stream: Records<'s>, ctx: NodeCtx, mut op: Instance) -> Records<'s> {
    let name = format!("WasmMap({})", ctx.name);
    stream.unary(Pipeline, &name, move |_cap, _info| {
        move |input, output| {
            input.for_each(|cap, data| {
                ctx.received(data.len());
                let mut session = output.session(&cap);
                for record in data.drain(..) {
                    match op.map(&record) {
                        Ok(result) => {
                            let mut out = Record { time: record.time.clone(), seq: record.seq, data: result };
                            out.set_time(record.time);
                            ctx.passed(1);
                            session.give(out);
                        }
                        Err(failure) => ctx.failed(failure, std::slice::from_ref(&record)),
                    }
                }
            });
        }
    })
}

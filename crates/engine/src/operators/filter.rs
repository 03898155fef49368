//! filter: one call per record; true keeps it.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Operator as _;

use super::{Instance, NodeCtx, Records};

pub(crate) fn wasm_filter<'s>(stream: Records<'s>, ctx: NodeCtx, mut op: Instance) -> Records<'s> {
    let name = format!("WasmFilter({})", ctx.name);
    stream.unary(Pipeline, &name, move |_cap, _info| {
        move |input, output| {
            input.for_each(|cap, data| {
                ctx.received(data.len());
                let mut session = output.session(&cap);
                let mut passed = 0;
                for record in data.drain(..) {
                    match op.filter(&record) {
                        Ok(true) => {
                            passed += 1;
                            session.give(record);
                        }
                        Ok(false) => {}
                        Err(failure) => ctx.failed(failure, std::slice::from_ref(&record)),
                    }
                }
                ctx.passed(passed);
            });
        }
    })
}

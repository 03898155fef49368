//! branch: one call per record; the answer picks arm "True" or "False".

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use wasmgraph_types::Record;

use super::{Instance, NodeCtx, Records};

/// Returns the ("False", "True") arms.
pub(crate) fn wasm_branch<'s>(stream: Records<'s>, ctx: NodeCtx, mut op: Instance) -> (Records<'s>, Records<'s>) {
    let mut builder = OperatorBuilder::new(format!("WasmBranch({})", ctx.name), stream.scope());
    let mut input = builder.new_input(stream, Pipeline);
    let (mut out_false, stream_false) = builder.new_output::<Vec<Record>>();
    let (mut out_true, stream_true) = builder.new_output::<Vec<Record>>();
    builder.build(move |_caps| {
        move |_frontiers| {
            let mut h_false = out_false.activate();
            let mut h_true = out_true.activate();
            input.for_each(|cap, data| {
                ctx.received(data.len());
                let (mut yes, mut no) = (Vec::new(), Vec::new());
                for record in data.drain(..) {
                    match op.branch(&record) {
                        Ok(true) => yes.push(record),
                        Ok(false) => no.push(record),
                        Err(failure) => ctx.failed(failure, std::slice::from_ref(&record)),
                    }
                }
                ctx.passed(yes.len() + no.len());
                if !no.is_empty() {
                    h_false.give(&cap, &mut no);
                }
                if !yes.is_empty() {
                    h_true.give(&cap, &mut yes);
                }
            });
        }
    });
    (stream_false, stream_true)
}

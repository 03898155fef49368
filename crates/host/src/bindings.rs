//! The one `bindgen!` of the host. Nothing generated leaves this crate: the rest
//! of the host converts to and from `wasmgraph_types` at this boundary.

#![allow(missing_docs, clippy::all)]

mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        inline: "
            package wasmgraph:host;

            world operators {
                import wasm-graph:processor/hybrid-logical-clock@1.1.0;
                import wasm-graph:processor/state-store-types@1.1.0;
                import wasm-graph:processor/state-store@1.1.0;
                import wasm-graph:processor/logger@1.1.0;
                import wasm-graph:processor/metrics@1.1.0;
                import wasm-graph:processor/schema-types@1.1.0;
                import wasm-graph:processor/schema-registry@1.1.0;
                import wasm-graph:processor/rpc-types@1.1.0;
                import wasm-graph:processor/command-invoker@1.1.0;

                export wasm-graph:processor/%map@1.1.0;
                export wasm-graph:processor/filter@1.1.0;
                export wasm-graph:processor/branch@1.1.0;
                export wasm-graph:processor/accumulate@1.1.0;
                export wasm-graph:processor/delay@1.1.0;
            }
        ",
        world: "wasmgraph:host/operators",
        imports: { default: trappable },
        with: {
            "wasm-graph:processor/types.buffer": crate::resources::HostBuffer,
            "wasm-graph:processor/command-invoker.command-request": crate::resources::CommandRequest,
            "wasm-graph:processor/command-invoker.command-request-builder": crate::resources::CommandRequestBuilder,
            "wasm-graph:processor/command-invoker.command-invoker-options": crate::resources::InvokerOptions,
            "wasm-graph:processor/command-invoker.command-invoker-options-builder": crate::resources::InvokerOptionsBuilder,
            "wasm-graph:processor/command-invoker.command-invoker": crate::resources::CommandInvoker,
        },
    });
}

pub(crate) use generated::exports::wasm_graph::processor as exports;
pub(crate) use generated::wasm_graph::processor as imports;
pub(crate) use generated::Operators;

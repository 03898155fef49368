//! The one place where `wit_bindgen::generate!` runs (STYLE: bindgen stays at the
//! boundary). Everything else in the SDK re-exports chosen items from here.
//!
//! * [`imports`] holds the WIT types and the imported host interfaces (state
//!   store, logger, metrics). Its component-type custom section describes imports
//!   only, so linking it never makes a module claim an export.
//! * The five `*_world` modules (wasm32 only) hold the export glue of each
//!   operator world. Their `export!` macros are public: an operator crate invokes
//!   one (through the attribute macros) and that invocation emits the custom
//!   section naming that one export, so a crate that uses only `#[map_operator]`
//!   exports only `wasm-graph:processor/map@1.1.0`.
//!
//! On other targets the imports are never called (the [`crate::testing`] mock host
//! answers instead) and `buffer` is replaced by the mock's in-memory
//! [`crate::testing::Buffer`].

/// WIT types and host imports.
#[cfg(target_arch = "wasm32")]
pub mod imports {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package wasm-graph:sdk;
            world imports {
                import wasm-graph:processor/types@1.1.0;
                import wasm-graph:processor/state-store@1.1.0;
                import wasm-graph:processor/logger@1.1.0;
                import wasm-graph:processor/metrics@1.1.0;
            }
        ",
        world: "wasm-graph:sdk/imports",
        generate_unused_types: true,
        generate_all,
        runtime_path: "::wasm_graph_sdk::__private::wit_bindgen::rt",
    });
}

/// WIT types and host imports; `buffer` is the mock's in-memory buffer.
#[cfg(not(target_arch = "wasm32"))]
pub mod imports {
    wit_bindgen::generate!({
        path: "wit",
        inline: "
            package wasm-graph:sdk;
            world imports {
                import wasm-graph:processor/types@1.1.0;
                import wasm-graph:processor/state-store@1.1.0;
                import wasm-graph:processor/logger@1.1.0;
                import wasm-graph:processor/metrics@1.1.0;
            }
        ",
        world: "wasm-graph:sdk/imports",
        generate_unused_types: true,
        generate_all,
        with: {
            "wasm-graph:processor/types@1.1.0/buffer": crate::testing::Buffer,
        },
        skip: ["[method]buffer.read"],
        runtime_path: "::wasm_graph_sdk::__private::wit_bindgen::rt",
    });
}

/// Generates the export glue of one operator world, sharing every type and import
/// with [`imports`].
macro_rules! operator_world {
    ($module:ident, $world:literal, $macro_name:literal, $module_path:literal) => {
        #[cfg(target_arch = "wasm32")]
        pub mod $module {
            wit_bindgen::generate!({
                path: "wit",
                world: $world,
                with: {
                    "wasm-graph:processor/hybrid-logical-clock@1.1.0": ::wasm_graph_sdk::__private::bindings::imports::wasm_graph::processor::hybrid_logical_clock,
                    "wasm-graph:processor/types@1.1.0": ::wasm_graph_sdk::__private::bindings::imports::wasm_graph::processor::types,
                    "wasm-graph:processor/state-store-types@1.1.0": ::wasm_graph_sdk::__private::bindings::imports::wasm_graph::processor::state_store_types,
                    "wasm-graph:processor/state-store@1.1.0": ::wasm_graph_sdk::__private::bindings::imports::wasm_graph::processor::state_store,
                    "wasm-graph:processor/logger@1.1.0": ::wasm_graph_sdk::__private::bindings::imports::wasm_graph::processor::logger,
                    "wasm-graph:processor/metrics@1.1.0": ::wasm_graph_sdk::__private::bindings::imports::wasm_graph::processor::metrics,
                },
                pub_export_macro: true,
                export_macro_name: $macro_name,
                default_bindings_module: $module_path,
                runtime_path: "::wasm_graph_sdk::__private::wit_bindgen::rt",
            });
        }
    };
}

operator_world!(
    map_world,
    "wasm-graph:processor/map-impl",
    "export_map",
    "::wasm_graph_sdk::__private::bindings::map_world"
);
operator_world!(
    filter_world,
    "wasm-graph:processor/filter-impl",
    "export_filter",
    "::wasm_graph_sdk::__private::bindings::filter_world"
);
operator_world!(
    branch_world,
    "wasm-graph:processor/branch-impl",
    "export_branch",
    "::wasm_graph_sdk::__private::bindings::branch_world"
);
operator_world!(
    accumulate_world,
    "wasm-graph:processor/accumulate-impl",
    "export_accumulate",
    "::wasm_graph_sdk::__private::bindings::accumulate_world"
);
operator_world!(
    delay_world,
    "wasm-graph:processor/delay-impl",
    "export_delay",
    "::wasm_graph_sdk::__private::bindings::delay_world"
);

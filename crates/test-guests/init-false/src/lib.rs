//! A map whose init refuses to start unless the property `accept` is "yes".

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit", world: "wasm-graph:processor/map-impl@1.1.0", generate_all });

use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::types::{DataModel, Error, ModuleConfiguration};

struct Refuse;

impl Guest for Refuse {
    fn init(configuration: ModuleConfiguration) -> bool {
        configuration.properties.iter().any(|(k, v)| k == "accept" && v == "yes")
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        Ok(message)
    }
}

export!(Refuse);

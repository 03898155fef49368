//! A map that returns its input unchanged, buffers included: the host must get
//! back the very bytes it passed in, without a copy.

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit", world: "wasm-graph:processor/map-impl@1.1.0", generate_all });

use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::types::{DataModel, Error, ModuleConfiguration};

struct Passthrough;

impl Guest for Passthrough {
    fn init(_configuration: ModuleConfiguration) -> bool {
        true
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        Ok(message)
    }
}

export!(Passthrough);

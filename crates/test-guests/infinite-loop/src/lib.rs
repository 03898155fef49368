//! A map that loops forever when the payload contains "loop", else passes the
//! record through.

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit", world: "wasm-graph:processor/map-impl@1.1.0", generate_all });

use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::types::{BufferOrBytes, DataModel, Error, ModuleConfiguration};

struct InfiniteLoop;

fn payload(message: &DataModel) -> Vec<u8> {
    let b = match message {
        DataModel::BufferOrBytes(b) => b,
        DataModel::Message(m) => &m.payload,
        DataModel::Snapshot(s) => &s.frame,
    };
    match b {
        BufferOrBytes::Buffer(b) => b.read(),
        BufferOrBytes::Bytes(b) => b.clone(),
    }
}

impl Guest for InfiniteLoop {
    fn init(_configuration: ModuleConfiguration) -> bool {
        true
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        let p = payload(&message);
        if p.windows(4).any(|w| w == b"loop") {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        Ok(message)
    }
}

export!(InfiniteLoop);

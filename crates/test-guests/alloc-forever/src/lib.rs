//! A map that allocates without bound when the payload contains "grow", else
//! passes the record through.

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit", world: "wasm-graph:processor/map-impl@1.1.0", generate_all });

use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::types::{BufferOrBytes, DataModel, Error, ModuleConfiguration};

struct AllocForever;

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

impl Guest for AllocForever {
    fn init(_configuration: ModuleConfiguration) -> bool {
        true
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        let p = payload(&message);
        if p.windows(4).any(|w| w == b"grow") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touch every page so the memory is really used.
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        Ok(message)
    }
}

export!(AllocForever);

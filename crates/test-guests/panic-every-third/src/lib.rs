//! A map that panics on every third call (counting calls since init), and
//! returns an error for a payload "error".

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit", world: "wasm-graph:processor/map-impl@1.1.0", generate_all });

use std::sync::atomic::{AtomicU64, Ordering};

use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::types::{BufferOrBytes, DataModel, Error, ModuleConfiguration};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct PanicEveryThird;

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

impl Guest for PanicEveryThird {
    fn init(_configuration: ModuleConfiguration) -> bool {
        CALLS.store(0, Ordering::SeqCst);
        true
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        if n.is_multiple_of(3) {
            panic!("call {n} is a multiple of three");
        }
        if payload(&message) == b"error" {
            return Err(Error { message: format!("call {n} was asked to fail") });
        }
        Ok(message)
    }
}

export!(PanicEveryThird);

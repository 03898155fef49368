//! A map that, for a message whose payload is not UTF-8, hands the payload's
//! buffer back as the `content-type` (a string field): the host must refuse that
//! output as invalid, not as a trap, and keep the instance. Any other message
//! comes back with the payload `call <n>`, counting calls since init, so a test
//! can tell whether the instance after a failed call is still the same one.

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../wit", world: "wasm-graph:processor/map-impl@1.1.0", generate_all });

use std::sync::atomic::{AtomicU64, Ordering};

use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::types::{BufferOrBytes, BufferOrString, DataModel, Error, ModuleConfiguration};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct InvalidOutput;

impl Guest for InvalidOutput {
    fn init(_configuration: ModuleConfiguration) -> bool {
        CALLS.store(0, Ordering::SeqCst);
        true
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        let DataModel::Message(mut m) = message else {
            return Err(Error { message: "expected a message".into() });
        };
        let utf8 = match &m.payload {
            BufferOrBytes::Buffer(b) => std::str::from_utf8(&b.read()).is_ok(),
            BufferOrBytes::Bytes(b) => std::str::from_utf8(b).is_ok(),
        };
        let counted = BufferOrBytes::Bytes(format!("call {n}").into_bytes());
        let payload = std::mem::replace(&mut m.payload, counted);
        if !utf8 {
            // The payload's bytes where a string is expected.
            m.content_type = Some(match payload {
                BufferOrBytes::Buffer(b) => BufferOrString::Buffer(b),
                BufferOrBytes::Bytes(b) => BufferOrString::String(String::from_utf8_lossy(&b).into_owned()),
            });
        }
        Ok(DataModel::Message(m))
    }
}

export!(InvalidOutput);

//! A hostile map (issue 18): what it does to the host depends on the record's
//! payload, so one graph can mix hostile records with ordinary ones.
//!
//! * `flood`: 100,000 logger lines; `stdout-flood`: 100,000 lines on stdout.
//! * `huge-line`: one 32 MiB logger line; `huge-stdout`: one 32 MiB stdout line.
//! * `state-grow`: sets 100 new 100 KiB state-store keys; the output payload
//!   says how many sets were refused and the first refusal's text.
//! * `metrics-grow`: updates a counter with 500 new label sets.
//! * `leak`: creates 20,000 `command-request-builder` resources in one call
//!   and never drops them.
//! * anything else: passed through unchanged.
//!
//! With the init parameter `loopInit=true`, `init` loops forever.

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../../../wit",
    inline: "
        package test:hostile;
        world hostile {
            include wasm-graph:processor/map-impl@1.1.0;
            import wasm-graph:processor/command-invoker@1.1.0;
        }
    ",
    world: "test:hostile/hostile",
    generate_all,
});

use std::sync::atomic::{AtomicU64, Ordering};

use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::command_invoker::CommandRequestBuilder;
use wasm_graph::processor::logger::{self, Level};
use wasm_graph::processor::metrics::{self, CounterValue, Label};
use wasm_graph::processor::state_store;
use wasm_graph::processor::state_store_types::{SetConditions, SetOptions};
use wasm_graph::processor::types::{BufferOrBytes, DataModel, Error, ModuleConfiguration};

struct Hostile;

/// Numbers new keys and label sets, so every call makes new ones.
static NEXT: AtomicU64 = AtomicU64::new(0);

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

/// The message with `text` as its payload.
fn with_payload(message: DataModel, text: String) -> DataModel {
    match message {
        DataModel::Message(mut m) => {
            m.payload = BufferOrBytes::Bytes(text.into_bytes());
            DataModel::Message(m)
        }
        _ => DataModel::BufferOrBytes(BufferOrBytes::Bytes(text.into_bytes())),
    }
}

/// Sets 100 new keys of 100 KiB; reports how many were refused.
fn grow_state() -> String {
    let value = vec![b'x'; 100 * 1024];
    let (mut refused, mut first) = (0, String::new());
    for _ in 0..100 {
        let key = format!("hostile-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let options = SetOptions { conditions: SetConditions::Unconditional, expires: None };
        if let Err(e) = state_store::set(key.as_bytes(), &value, None, None, options) {
            refused += 1;
            if first.is_empty() {
                first = format!("{e:?}");
            }
        }
    }
    format!("state-grow: {refused} of 100 refused; {first}")
}

fn grow_metrics() {
    for _ in 0..500 {
        let label = Label { key: "n".into(), value: NEXT.fetch_add(1, Ordering::Relaxed).to_string() };
        let _ = metrics::add_to_counter("hostile_series", CounterValue::U64(1), Some(&[label]));
    }
}

fn leak() {
    for _ in 0..20_000 {
        std::mem::forget(CommandRequestBuilder::new());
    }
}

impl Guest for Hostile {
    fn init(configuration: ModuleConfiguration) -> bool {
        if configuration.properties.iter().any(|(k, v)| k == "loopInit" && v == "true") {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        true
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        let p = payload(&message);
        match &p[..] {
            b"flood" => (0..100_000).for_each(|i| logger::log(Level::Info, "hostile", &format!("flood line {i}"))),
            b"stdout-flood" => (0..100_000).for_each(|i| println!("stdout flood line {i}")),
            b"huge-line" => logger::log(Level::Warn, "hostile", &"h".repeat(32 << 20)),
            b"huge-stdout" => println!("{}", "s".repeat(32 << 20)),
            b"state-grow" => return Ok(with_payload(message, grow_state())),
            b"metrics-grow" => grow_metrics(),
            b"leak" => leak(),
            _ => {}
        }
        Ok(message)
    }
}

export!(Hostile);

//! filter, branch, accumulate and delay in one component, with simple
//! deterministic logic the host tests check:
//! * filter keeps a record unless its payload contains "drop"; "error" fails.
//! * branch answers the parity of the time's counter when the payload is
//!   "by-counter", else whether the payload contains "hot".
//! * accumulate joins payloads with the `separator` property (default ",") onto
//!   the staged payload and keeps a `count` user property.
//! * delay moves a time up to the next whole second (unchanged if already whole);
//!   "error" fails.

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../../../wit",
    inline: "
        package test:kinds;
        world kinds {
            include wasm-graph:processor/filter-impl@1.1.0;
            include wasm-graph:processor/branch-impl@1.1.0;
            include wasm-graph:processor/accumulate-impl@1.1.0;
            include wasm-graph:processor/delay-impl@1.1.0;
        }
    ",
    world: "test:kinds/kinds",
    generate_all,
});

use std::sync::Mutex;

use exports::wasm_graph::processor::{accumulate, branch, delay, filter};
use wasm_graph::processor::hybrid_logical_clock::{HybridLogicalClock, Timespec};
use wasm_graph::processor::types::{
    BufferOrBytes, BufferOrString, DataModel, Error, Message, MessageProperties, ModuleConfiguration,
};

static SEPARATOR: Mutex<String> = Mutex::new(String::new());

struct Kinds;

fn read(b: &BufferOrBytes) -> Vec<u8> {
    match b {
        BufferOrBytes::Buffer(b) => b.read(),
        BufferOrBytes::Bytes(b) => b.clone(),
    }
}

fn text(s: &BufferOrString) -> String {
    match s {
        BufferOrString::Buffer(b) => String::from_utf8_lossy(&b.read()).into_owned(),
        BufferOrString::String(s) => s.clone(),
    }
}

fn payload(message: &DataModel) -> Vec<u8> {
    match message {
        DataModel::BufferOrBytes(b) => read(b),
        DataModel::Message(m) => read(&m.payload),
        DataModel::Snapshot(s) => read(&s.frame),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

impl filter::Guest for Kinds {
    fn init(_configuration: ModuleConfiguration) -> bool {
        true
    }

    fn process(message: DataModel) -> Result<bool, Error> {
        let p = payload(&message);
        if p == b"error" {
            return Err(Error { message: "filter was asked to fail".into() });
        }
        Ok(!contains(&p, b"drop"))
    }
}

impl branch::Guest for Kinds {
    fn init(_configuration: ModuleConfiguration) -> bool {
        true
    }

    fn process(timestamp: HybridLogicalClock, message: DataModel) -> Result<bool, Error> {
        let p = payload(&message);
        if p == b"by-counter" {
            return Ok(timestamp.counter % 2 == 1);
        }
        Ok(contains(&p, b"hot"))
    }
}

impl accumulate::Guest for Kinds {
    fn init(configuration: ModuleConfiguration) -> bool {
        let sep = configuration
            .properties
            .iter()
            .find(|(k, _)| k == "separator")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| ",".to_string());
        *SEPARATOR.lock().unwrap() = sep;
        true
    }

    fn process(staged: DataModel, message: Vec<DataModel>) -> Result<DataModel, Error> {
        let DataModel::Message(staged) = staged else {
            return Err(Error { message: "staged value is not a message".into() });
        };
        let sep = SEPARATOR.lock().unwrap().clone();
        let mut out = read(&staged.payload);
        let mut count: u64 = staged
            .properties
            .user_properties
            .iter()
            .find(|(k, _)| text(k) == "count")
            .and_then(|(_, v)| text(v).parse().ok())
            .unwrap_or(0);
        for m in &message {
            if !out.is_empty() {
                out.extend_from_slice(sep.as_bytes());
            }
            out.extend_from_slice(&payload(m));
            count += 1;
        }
        Ok(DataModel::Message(Message {
            timestamp: staged.timestamp,
            topic: staged.topic,
            content_type: Some(BufferOrString::String("text/plain".into())),
            payload: BufferOrBytes::Bytes(out),
            properties: MessageProperties {
                user_properties: vec![(
                    BufferOrString::String("count".into()),
                    BufferOrString::String(count.to_string()),
                )],
            },
            schema: None,
        }))
    }
}

impl delay::Guest for Kinds {
    fn init(_configuration: ModuleConfiguration) -> bool {
        true
    }

    fn process(data: DataModel, timestamp: HybridLogicalClock) -> Result<HybridLogicalClock, Error> {
        if payload(&data) == b"error" {
            return Err(Error { message: "delay was asked to fail".into() });
        }
        let whole = timestamp.timestamp.nanos == 0 && timestamp.counter == 0;
        if whole {
            return Ok(timestamp);
        }
        Ok(HybridLogicalClock {
            timestamp: Timespec { secs: timestamp.timestamp.secs + 1, nanos: 0 },
            counter: 0,
            node_id: timestamp.node_id,
        })
    }
}

export!(Kinds);

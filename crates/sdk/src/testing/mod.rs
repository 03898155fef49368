//! Native unit tests for operators: an in-process mock host.
//!
//! In builds for any target other than wasm32, the SDK's [`logger`](crate::logger),
//! [`metrics`](crate::metrics) and [`state_store`](crate::state_store) calls go to
//! a mock host that lives in the calling thread: log lines and metric points are
//! captured, and the state store is an in-memory store with the semantics of the
//! wasmgraph host (conditions, expiry, versions, fencing tokens; checked
//! against the host's `wasmgraph-state-store` by a test). A [`Buffer`] is made from bytes with
//! [`Buffer::new`]. So an operator's own functions (the annotated one and its
//! `init`) are ordinary Rust functions that a `#[test]` calls directly; nothing
//! is compiled to WebAssembly.
//!
//! Each test thread has its own mock host. Call [`reset`] at the start of a test
//! so that nothing left by an earlier test on the same thread (for example with
//! `--test-threads=1`) is seen.
//!
//! # Example
//!
//! ```
//! use wasm_graph_sdk::macros::map_operator;
//! use wasm_graph_sdk::logger::{self, Level};
//! use wasm_graph_sdk::state_store::{self, SetOptions};
//!
//! #[map_operator]
//! fn remember_max(input: DataModel) -> Result<DataModel, Error> {
//!     let DataModel::Message(message) = &input else {
//!         return Err(Error { message: "expected a message".to_owned() });
//!     };
//!     let value: f64 = String::from_utf8_lossy(&message.payload.read())
//!         .trim()
//!         .parse()
//!         .map_err(|_| Error { message: "payload is not a number".to_owned() })?;
//!     let max = state_store::get(b"max", None)
//!         .ok()
//!         .and_then(|got| got.response)
//!         .and_then(|bytes| String::from_utf8(bytes).ok()?.parse::<f64>().ok());
//!     if max.map_or(true, |max| value > max) {
//!         state_store::set(b"max", value.to_string().as_bytes(), None, None, SetOptions::default())
//!             .map_err(|err| Error { message: err.to_string() })?;
//!         logger::log(Level::Info, "max", &format!("new max {value}"));
//!     }
//!     Ok(input)
//! }
//!
//! // In the operator crate: #[cfg(test)] mod tests { … #[test] fn … }
//! use wasm_graph_sdk::testing::{self, Buffer};
//!
//! testing::reset();
//! testing::seed_state(b"max", b"20");
//!
//! // A record whose payload is a host buffer, as the runtime passes it.
//! let mut message = testing::message(Vec::new());
//! message.payload = BufferOrBytes::Buffer(Buffer::new(b"25".to_vec()));
//! let out = remember_max(DataModel::Message(message)).unwrap();
//!
//! assert_eq!(testing::payload(&out), b"25");
//! assert_eq!(testing::state(b"max").as_deref(), Some(&b"25"[..]));
//! assert_eq!(testing::logs()[0].message, "new max 25");
//!
//! let err = remember_max(testing::data(b"hot".to_vec())).unwrap_err();
//! assert_eq!(err.message, "payload is not a number");
//! ```

mod buffer;
pub(crate) mod host;
mod store;

pub use buffer::Buffer;

use crate::logger::Level;
use crate::metrics::{CounterValue, HistogramValue, Label};
use crate::state_store::StateStoreError;
use crate::types::{
    BufferOrBytes, BufferOrString, DataModel, HybridLogicalClock, Message, MessageProperties, ModuleConfiguration,
    ModuleSchema, Timespec, Timestamp,
};

/// One captured `logger::log` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub context: String,
    pub message: String,
}

/// One captured `add_to_counter` or `record_to_histogram` call.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub name: String,
    pub value: MetricValue,
    /// The labels passed (empty for `None`).
    pub labels: Vec<Label>,
}

/// The value of a [`MetricPoint`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricValue {
    Counter(CounterValue),
    Histogram(HistogramValue),
}

/// Clear this thread's mock host: logs, metrics, state store and injected
/// failures.
pub fn reset() {
    host::reset();
}

/// The log lines captured on this thread since the last [`reset`], oldest first.
pub fn logs() -> Vec<LogLine> {
    host::with(|host| host.logs.clone())
}

/// The metric points captured on this thread since the last [`reset`].
pub fn metrics() -> Vec<MetricPoint> {
    host::with(|host| host.metrics.clone())
}

/// The total added to the counter `name` (over all label sets).
pub fn counter(name: &str) -> u64 {
    host::with(|host| {
        host.metrics
            .iter()
            .filter(|point| point.name == name)
            .map(|point| match point.value {
                MetricValue::Counter(CounterValue::U64(n)) => n,
                MetricValue::Histogram(_) => 0,
            })
            .sum()
    })
}

/// Write `key` = `value` into this thread's state store (unconditionally, no
/// expiry), as a graph's initial state would.
pub fn seed_state(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
    host::with(|host| {
        // An unconditional set without a fencing token cannot fail.
        let _ = host.store.set(key.as_ref(), value.as_ref(), None, crate::state_store::SetOptions::default());
    });
}

/// Seed the state store from the JSON list form the runtime's state seed files
/// use, e.g. `[{"factoryId": "factoryA"}, {"limits": {"max": 3}}]` (strings
/// are stored as their UTF-8 bytes, other values as compact JSON). Returns the
/// number of keys written, or the reason the text was refused.
pub fn seed_state_json(text: &str) -> Result<usize, String> {
    host::with(|host| host.store.seed_from_json(text))
}

/// The current value of `key` in this thread's state store (`None` if absent or
/// expired).
pub fn state(key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    host::with(|host| host.store.get(key.as_ref()).response)
}

/// The version of `key` in this thread's state store.
pub fn state_version(key: impl AsRef<[u8]>) -> Option<HybridLogicalClock> {
    host::with(|host| host.store.get(key.as_ref()).version)
}

/// Every live key and value in this thread's state store, sorted by key.
pub fn state_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    host::with(|host| host.store.entries())
}

/// Make every state store call on this thread fail with `error` (until
/// `fail_state_store(None)` or [`reset`]), to test an operator's error paths.
pub fn fail_state_store(error: Option<StateStoreError>) {
    host::with(|host| host.store_failure = error);
}

/// A hybrid logical clock time with node id `"test"`.
pub fn hlc(secs: u64, nanos: u32, counter: u64) -> HybridLogicalClock {
    HybridLogicalClock { timestamp: Timespec { secs, nanos }, counter, node_id: "test".to_owned() }
}

/// A message carrying `payload` (as module-owned bytes) at time zero, with an
/// empty topic, no content type, properties or schema.
pub fn message(payload: impl Into<Vec<u8>>) -> Message {
    Message {
        timestamp: Timestamp {
            timestamp: Timespec { secs: 0, nanos: 0 },
            counter: 0,
            node_id: BufferOrString::String("test".to_owned()),
        },
        topic: BufferOrBytes::Bytes(Vec::new()),
        content_type: None,
        payload: BufferOrBytes::Bytes(payload.into()),
        properties: MessageProperties { user_properties: Vec::new() },
        schema: None,
    }
}

/// Like [`message`], with the payload in a host [`Buffer`] (as the runtime
/// passes incoming records) and the given time.
pub fn buffer_message(payload: impl Into<Vec<u8>>, secs: u64, nanos: u32) -> Message {
    let mut message = message(Vec::new());
    message.payload = BufferOrBytes::Buffer(Buffer::new(payload));
    message.timestamp.timestamp = Timespec { secs, nanos };
    message
}

/// `DataModel::Message(message(payload))`.
pub fn data(payload: impl Into<Vec<u8>>) -> DataModel {
    DataModel::Message(message(payload))
}

/// The payload bytes of a message (or the bytes of a `buffer-or-bytes`, or the
/// frame of a snapshot).
pub fn payload(data: &DataModel) -> Vec<u8> {
    match data {
        DataModel::Message(message) => message.payload.read(),
        DataModel::BufferOrBytes(bytes) => bytes.read(),
        DataModel::Snapshot(snapshot) => snapshot.frame.read(),
    }
}

/// A module configuration with these properties and no schemas, as `init`
/// receives it.
pub fn configuration(properties: &[(&str, &str)]) -> ModuleConfiguration {
    ModuleConfiguration {
        properties: properties.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect(),
        module_schemas: Vec::<ModuleSchema>::new(),
    }
}

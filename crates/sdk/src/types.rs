//! The WIT types of `wasm-graph:processor@1.1.0` (interfaces `types` and
//! `hybrid-logical-clock`), with the conveniences operator code relies on:
//! [`BufferOrBytes::read`], [`BufferOrString::read`], and conversions between
//! [`Timespec`] and [`std::time::Duration`].
//!
//! On wasm32, [`Buffer`] is the host-held WIT resource; on other targets it is the
//! mock host's in-memory buffer ([`crate::testing::Buffer`], made with
//! `Buffer::new(bytes)`), so the same operator code runs in native unit tests.

use std::time::Duration;

use crate::bindings::imports::wasm_graph::processor::{hybrid_logical_clock, types};

#[cfg(not(target_arch = "wasm32"))]
pub use crate::testing::Buffer;
pub use hybrid_logical_clock::{HybridLogicalClock, Nanoseconds, Seconds, Timespec};
#[cfg(target_arch = "wasm32")]
pub use types::Buffer;
pub use types::{
    BufferOrBytes, BufferOrString, DataModel, Error, InlineSchema, Message, MessageProperties, MessageSchema,
    ModuleConfiguration, ModuleSchema, Snapshot, Timestamp,
};

impl BufferOrBytes {
    /// The bytes, whichever variant holds them (a host buffer is copied into
    /// module memory).
    pub fn read(&self) -> Vec<u8> {
        match self {
            BufferOrBytes::Buffer(buffer) => buffer.read(),
            BufferOrBytes::Bytes(bytes) => bytes.clone(),
        }
    }
}

impl BufferOrString {
    /// The bytes of the string, whichever variant holds it.
    pub fn read(&self) -> Vec<u8> {
        match self {
            BufferOrString::Buffer(buffer) => buffer.read(),
            BufferOrString::String(string) => string.as_bytes().to_vec(),
        }
    }

    /// The text, with invalid UTF-8 replaced by U+FFFD.
    pub fn read_string(&self) -> String {
        match self {
            BufferOrString::Buffer(buffer) => String::from_utf8_lossy(&buffer.read()).into_owned(),
            BufferOrString::String(string) => string.clone(),
        }
    }
}

impl From<Vec<u8>> for BufferOrBytes {
    fn from(bytes: Vec<u8>) -> Self {
        BufferOrBytes::Bytes(bytes)
    }
}

impl From<String> for BufferOrString {
    fn from(string: String) -> Self {
        BufferOrString::String(string)
    }
}

impl From<&str> for BufferOrString {
    fn from(string: &str) -> Self {
        BufferOrString::String(string.to_owned())
    }
}

impl From<Timespec> for Duration {
    /// Time since the Unix epoch. Nanoseconds of a second or more carry into the
    /// seconds (saturating instead of overflowing).
    fn from(time: Timespec) -> Self {
        Duration::from_secs(time.secs).saturating_add(Duration::from_nanos(u64::from(time.nanos)))
    }
}

impl From<Duration> for Timespec {
    fn from(duration: Duration) -> Self {
        Timespec { secs: duration.as_secs(), nanos: duration.subsec_nanos() }
    }
}

impl PartialEq for Timespec {
    fn eq(&self, other: &Self) -> bool {
        (self.secs, self.nanos) == (other.secs, other.nanos)
    }
}

impl Eq for Timespec {}

impl PartialOrd for Timespec {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timespec {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        Duration::from(*self).cmp(&Duration::from(*other))
    }
}

impl PartialEq for HybridLogicalClock {
    fn eq(&self, other: &Self) -> bool {
        self.timestamp == other.timestamp && self.counter == other.counter && self.node_id == other.node_id
    }
}

impl Eq for HybridLogicalClock {}

impl PartialEq for ModuleSchema {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.content_type == other.content_type && self.content == other.content
    }
}

impl PartialEq for ModuleConfiguration {
    fn eq(&self, other: &Self) -> bool {
        self.properties == other.properties && self.module_schemas == other.module_schemas
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error { message: message.into() }
    }
}

//! Records and their data model.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::Hlc;

/// One record in flight: its time, its place in the source order, and its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record's time. The engine keeps `Message.timestamp` and
    /// `Snapshot.timestamp` equal to it.
    pub time: Hlc,
    /// Position of the source message this record derives from, in the order the
    /// source read them. The engine uses it to order records that share a time,
    /// so output does not depend on how many workers ran.
    pub seq: u64,
    /// What the operators see.
    pub data: DataModel,
}

impl Record {
    /// A record holding a message, with the message's timestamp set to `time`.
    pub fn message(time: Hlc, seq: u64, mut message: Message) -> Self {
        message.timestamp = time.clone();
        Record { time, seq, data: DataModel::Message(message) }
    }

    /// Move the record to `time`, keeping the embedded timestamp in step.
    pub fn set_time(&mut self, time: Hlc) {
        match &mut self.data {
            DataModel::Message(m) => m.timestamp = time.clone(),
            DataModel::Snapshot(s) => s.timestamp = time.clone(),
            DataModel::BufferOrBytes(_) => {}
        }
        self.time = time;
    }
}

/// The WIT `data-model`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DataModel {
    /// Raw bytes with no envelope.
    BufferOrBytes(Bytes),
    /// An MQTT or Kafka message.
    Message(Message),
    /// An image frame.
    Snapshot(Snapshot),
}

impl DataModel {
    /// The bytes a sink writes: a message's payload, a snapshot's frame, or the raw bytes.
    pub fn payload(&self) -> &Bytes {
        match self {
            DataModel::BufferOrBytes(b) => b,
            DataModel::Message(m) => &m.payload,
            DataModel::Snapshot(s) => &s.frame,
        }
    }

    /// An empty message at `time`: the `staged` value an accumulate starts from.
    pub fn empty_message(time: Hlc) -> Self {
        DataModel::Message(Message { timestamp: time, ..Message::default() })
    }
}

/// The WIT `message` record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The message's time.
    pub timestamp: Hlc,
    /// Topic it arrived on or goes to.
    pub topic: Bytes,
    /// MQTT content type, if any.
    pub content_type: Option<String>,
    /// The payload.
    pub payload: Bytes,
    /// MQTT 5 user properties, in order (keys may repeat).
    pub user_properties: Vec<(String, String)>,
    /// The schema of the payload, if known.
    pub schema: Option<MessageSchema>,
}

impl Default for Message {
    fn default() -> Self {
        Message {
            timestamp: Hlc::new(0, 0, ""),
            topic: Bytes::new(),
            content_type: None,
            payload: Bytes::new(),
            user_properties: Vec::new(),
            schema: None,
        }
    }
}

/// The WIT `message-schema`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MessageSchema {
    /// An id in the schema registry.
    RegistryReference(String),
    /// A schema carried with the message.
    Inline {
        /// Schema name.
        name: String,
        /// Schema text.
        content: String,
    },
}

/// The WIT `snapshot` record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The frame's time.
    pub timestamp: Hlc,
    /// Pixel format, e.g. `rgb24`.
    pub format: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixels.
    pub frame: Bytes,
}

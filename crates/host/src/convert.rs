//! Conversions between `wasmgraph_types` and the generated WIT types.
//!
//! Host to module: a message payload and a snapshot frame go as host `buffer`
//! resources (the module copies them only if it calls `read()`); the raw
//! `buffer-or-bytes` data model goes as a buffer too. Small fields (topic, content
//! type, user properties, node id, schema, snapshot format) go inline as
//! `bytes`/`string`, which is cheaper than a resource plus a `read()` call.
//!
//! Module to host: a returned `buffer` handle is taken back out of the resource
//! table and its `Bytes` reused without copying; returned `bytes`/`string` values
//! are taken as they are (the `Vec<u8>` becomes `Bytes` without a copy).

use std::sync::Arc;

use bytes::Bytes;
use wasmgraph_types::{DataModel, Hlc, Message, MessageSchema, Snapshot};
use wasmtime::component::{Resource, ResourceTable};

use crate::bindings::imports::hybrid_logical_clock as hlc;
use crate::bindings::imports::types as wit;
use crate::resources::HostBuffer;

/// A module's output the host cannot accept.
#[derive(Debug)]
pub(crate) struct InvalidOutput(pub String);

pub(crate) fn hlc_to_wit(h: &Hlc) -> hlc::HybridLogicalClock {
    let (secs, nanos) = h.secs_nanos();
    hlc::HybridLogicalClock {
        timestamp: hlc::Timespec { secs, nanos },
        counter: h.counter,
        node_id: h.node_id.to_string(),
    }
}

pub(crate) fn hlc_from_wit(h: hlc::HybridLogicalClock) -> Hlc {
    Hlc::from_secs_nanos(h.timestamp.secs, h.timestamp.nanos, h.counter, h.node_id)
}

/// The WIT form of a data model, with payloads pushed into `table` as buffers.
pub(crate) fn lower(table: &mut ResourceTable, d: &DataModel) -> wasmtime::Result<wit::DataModel> {
    Ok(match d {
        DataModel::BufferOrBytes(b) => wit::DataModel::BufferOrBytes(buffer(table, b)?),
        DataModel::Message(m) => wit::DataModel::Message(wit::Message {
            timestamp: timestamp(&m.timestamp),
            topic: wit::BufferOrBytes::Bytes(m.topic.to_vec()),
            content_type: m.content_type.clone().map(wit::BufferOrString::String),
            payload: buffer(table, &m.payload)?,
            properties: wit::MessageProperties {
                user_properties: m
                    .user_properties
                    .iter()
                    .map(|(k, v)| (wit::BufferOrString::String(k.clone()), wit::BufferOrString::String(v.clone())))
                    .collect(),
            },
            schema: m.schema.as_ref().map(|s| match s {
                MessageSchema::RegistryReference(r) => {
                    wit::MessageSchema::RegistryReference(wit::BufferOrString::String(r.clone()))
                }
                MessageSchema::Inline { name, content } => wit::MessageSchema::Inline(wit::InlineSchema {
                    name: wit::BufferOrString::String(name.clone()),
                    content: wit::BufferOrString::String(content.clone()),
                }),
            }),
        }),
        DataModel::Snapshot(s) => wit::DataModel::Snapshot(wit::Snapshot {
            timestamp: timestamp(&s.timestamp),
            format: wit::BufferOrString::String(s.format.clone()),
            width: s.width,
            height: s.height,
            frame: buffer(table, &s.frame)?,
        }),
    })
}

fn buffer(table: &mut ResourceTable, b: &Bytes) -> wasmtime::Result<wit::BufferOrBytes> {
    let r: Resource<HostBuffer> = table.push(HostBuffer(b.clone()))?;
    Ok(wit::BufferOrBytes::Buffer(r))
}

fn timestamp(h: &Hlc) -> wit::Timestamp {
    let (secs, nanos) = h.secs_nanos();
    wit::Timestamp {
        timestamp: hlc::Timespec { secs, nanos },
        counter: h.counter,
        node_id: wit::BufferOrString::String(h.node_id.to_string()),
    }
}

/// The host form of a data model a module returned.
pub(crate) fn lift(table: &mut ResourceTable, d: wit::DataModel) -> Result<DataModel, InvalidOutput> {
    Ok(match d {
        wit::DataModel::BufferOrBytes(b) => DataModel::BufferOrBytes(bytes(table, b, "data")?),
        wit::DataModel::Message(m) => {
            let mut user_properties = Vec::with_capacity(m.properties.user_properties.len());
            for (k, v) in m.properties.user_properties {
                user_properties
                    .push((string(table, k, "user property key")?, string(table, v, "user property value")?));
            }
            DataModel::Message(Message {
                timestamp: lift_timestamp(table, m.timestamp)?,
                topic: bytes(table, m.topic, "topic")?,
                content_type: m.content_type.map(|c| string(table, c, "content type")).transpose()?,
                payload: bytes(table, m.payload, "payload")?,
                user_properties,
                schema: match m.schema {
                    None => None,
                    Some(wit::MessageSchema::RegistryReference(r)) => {
                        Some(MessageSchema::RegistryReference(string(table, r, "schema reference")?))
                    }
                    Some(wit::MessageSchema::Inline(s)) => Some(MessageSchema::Inline {
                        name: string(table, s.name, "schema name")?,
                        content: string(table, s.content, "schema content")?,
                    }),
                },
            })
        }
        wit::DataModel::Snapshot(s) => DataModel::Snapshot(Snapshot {
            timestamp: lift_timestamp(table, s.timestamp)?,
            format: string(table, s.format, "snapshot format")?,
            width: s.width,
            height: s.height,
            frame: bytes(table, s.frame, "snapshot frame")?,
        }),
    })
}

fn lift_timestamp(table: &mut ResourceTable, t: wit::Timestamp) -> Result<Hlc, InvalidOutput> {
    let node: Arc<str> = string(table, t.node_id, "timestamp node id")?.into();
    Ok(Hlc::from_secs_nanos(t.timestamp.secs, t.timestamp.nanos, t.counter, node))
}

fn take(table: &mut ResourceTable, r: Resource<HostBuffer>, field: &str) -> Result<Bytes, InvalidOutput> {
    table
        .delete(r)
        .map(|b| b.0)
        .map_err(|e| InvalidOutput(format!("the {field} is a buffer handle the host does not know: {e}")))
}

fn bytes(table: &mut ResourceTable, b: wit::BufferOrBytes, field: &str) -> Result<Bytes, InvalidOutput> {
    match b {
        wit::BufferOrBytes::Buffer(r) => take(table, r, field),
        wit::BufferOrBytes::Bytes(v) => Ok(Bytes::from(v)),
    }
}

fn string(table: &mut ResourceTable, s: wit::BufferOrString, field: &str) -> Result<String, InvalidOutput> {
    match s {
        wit::BufferOrString::String(s) => Ok(s),
        wit::BufferOrString::Buffer(r) => {
            let b = take(table, r, field)?;
            String::from_utf8(b.to_vec())
                .map_err(|_| InvalidOutput(format!("the {field} is a buffer whose bytes are not UTF-8")))
        }
    }
}

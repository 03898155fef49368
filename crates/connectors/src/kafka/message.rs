//! The one mapping between a Kafka record and a [`Message`], both ways.
//!
//! | Kafka record | message |
//! | --- | --- |
//! | topic | `topic` |
//! | value | `payload` (an absent value, a tombstone, is an empty payload) |
//! | key | user property [`KEY`] |
//! | header `__ts` | the message's time (`<ms>:<counter>:<node>`, as MQTT's `__ts`) |
//! | header [`CONTENT_TYPE`] | `content_type` |
//! | other headers | user properties, in order (names may repeat) |
//! | timestamp | the message's time when there is no `__ts` header |
//! | headers `__protVer`, `__srcId` | dropped on the way in; written by the sink after `__ts` ([`crate::aio`]) |
//!
//! Kafka keys and header values are bytes, user properties are text: bytes
//! that are not UTF-8 travel base64-encoded under the name prefixed with
//! [`BASE64_PREFIX`] (a binary key as `__base64:__key`), and the sink decodes
//! them back, so a record goes through a graph unchanged. A header with no
//! value becomes an empty property (Kafka's null and empty become one).
//! Incoming headers named like the reserved properties ([`KEY`] or the
//! [`BASE64_PREFIX`] ones) are dropped with a warning: they would be taken
//! for the key on the way out.

use base64::Engine as _;
use wasmgraph_types::{Bytes, DataModel, Hlc, Message, Record};

use super::config::SinkKey;
use crate::aio;

/// The header and user property carrying a message's hybrid logical clock time.
pub const TIMESTAMP: &str = "__ts";
/// The reserved user property carrying the record's key (UTF-8).
pub const KEY: &str = "__key";
/// The header carrying a message's content type (MQTT has a field for it,
/// Kafka does not).
pub const CONTENT_TYPE: &str = "__content_type";
/// Prefix of the user property holding, base64-encoded, a key or header value
/// that is not UTF-8: `__base64:<header name>`, `__base64:__key`.
pub const BASE64_PREFIX: &str = "__base64:";

/// A Kafka record as the connectors see it, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaRecord {
    /// The topic.
    pub topic: String,
    /// The key, if any.
    pub key: Option<Vec<u8>>,
    /// The value (`None`: a tombstone).
    pub payload: Option<Bytes>,
    /// Headers in order; a `None` value is a header without value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The record's timestamp in milliseconds since the epoch, if it has one.
    pub timestamp_ms: Option<i64>,
}

fn b64() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::STANDARD
}

/// `(name, value)` as a user property: text as it is, other bytes base64
/// under the prefixed name.
fn property(name: &str, value: &[u8]) -> (String, String) {
    match std::str::from_utf8(value) {
        Ok(text) => (name.to_owned(), text.to_owned()),
        Err(_) => (format!("{BASE64_PREFIX}{name}"), b64().encode(value)),
    }
}

/// The message for a Kafka record, and its time: the `__ts` header, else the
/// record's timestamp as physical time (counter 0), else none (the engine
/// stamps the host clock).
pub fn to_message(record: KafkaRecord) -> (Message, Option<Hlc>) {
    let mut ts_header = None;
    let mut content_type = None;
    let mut user_properties = Vec::with_capacity(record.headers.len() + 1);
    if let Some(key) = &record.key {
        user_properties.push(property(KEY, key));
    }
    for (name, value) in &record.headers {
        let value = value.as_deref().unwrap_or_default();
        match name.as_str() {
            TIMESTAMP => ts_header = Some(String::from_utf8_lossy(value).into_owned()),
            CONTENT_TYPE => content_type = Some(String::from_utf8_lossy(value).into_owned()),
            KEY => tracing::warn!(topic = record.topic, "dropping a Kafka header named {KEY} (reserved for the key)"),
            _ if aio::is_stamped(name) => {}
            _ if name.starts_with(BASE64_PREFIX) => {
                tracing::warn!(topic = record.topic, header = name, "dropping a Kafka header with a reserved name")
            }
            _ => user_properties.push(property(name, value)),
        }
    }
    let from_header = ts_header.and_then(|text| {
        let parsed = Hlc::parse_wire(&text);
        if parsed.is_none() {
            tracing::warn!(topic = record.topic, value = text, "ignoring a malformed __ts header");
        }
        parsed
    });
    let time = from_header.or_else(|| {
        let ms = u64::try_from(record.timestamp_ms?).ok()?;
        Some(Hlc::new(ms.checked_mul(1_000_000)?, 0, ""))
    });
    let message = Message {
        timestamp: time.clone().unwrap_or_else(|| Hlc::new(0, 0, "")),
        topic: Bytes::from(record.topic.into_bytes()),
        content_type,
        payload: record.payload.unwrap_or_default(),
        user_properties,
        schema: None,
    };
    (message, time)
}

/// What the sink produces for a record: everything but the destination topic
/// (the sink's template makes that from `topic`, the input topic here).
/// Headers: the user properties except the key's (prefixed ones decoded),
/// the content type as [`CONTENT_TYPE`], and `__ts` with the record's time
/// (an incoming `__ts` property is replaced), then `__protVer` and (when
/// given) `__srcId` = `source_id`, likewise replacing any the record carries.
/// The Kafka timestamp is the record time's milliseconds.
pub fn from_record(record: &Record, key_mode: &SinkKey, source_id: Option<&str>) -> KafkaRecord {
    let mut out = KafkaRecord {
        payload: Some(record.data.payload().clone()),
        timestamp_ms: i64::try_from(record.time.nanos / 1_000_000).ok(),
        ..KafkaRecord::default()
    };
    let mut key = None;
    if let DataModel::Message(message) = &record.data {
        out.topic = String::from_utf8_lossy(&message.topic).into_owned();
        for (name, value) in &message.user_properties {
            let (name, value) = match name.strip_prefix(BASE64_PREFIX) {
                Some(real) => match b64().decode(value) {
                    Ok(bytes) => (real, bytes),
                    Err(_) => (name.as_str(), value.clone().into_bytes()),
                },
                None => (name.as_str(), value.clone().into_bytes()),
            };
            match name {
                KEY => key = Some(value),
                TIMESTAMP => {}
                _ if aio::is_stamped(name) => {}
                _ => out.headers.push((name.to_owned(), Some(value))),
            }
        }
        if let Some(content_type) = &message.content_type {
            out.headers.push((CONTENT_TYPE.to_owned(), Some(content_type.clone().into_bytes())));
        }
    }
    out.key = match key_mode {
        SinkKey::Preserve => key,
        SinkKey::None => None,
        SinkKey::Topic => (!out.topic.is_empty()).then(|| out.topic.clone().into_bytes()),
        SinkKey::Property(wanted) => {
            out.headers.iter().find(|(name, _)| name == wanted).and_then(|(_, value)| value.clone())
        }
    };
    out.headers.push((TIMESTAMP.to_owned(), Some(record.time.to_wire().into_bytes())));
    out.headers.extend(aio::stamp(source_id).map(|(k, v)| (k.to_owned(), Some(v.as_bytes().to_vec()))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka_record(key: &[u8], headers: &[(&str, &[u8])]) -> KafkaRecord {
        KafkaRecord {
            topic: "plant.line1.temperature".into(),
            key: Some(key.to_vec()),
            payload: Some(Bytes::from_static(b"{\"t\":21.5}")),
            headers: headers.iter().map(|(n, v)| (n.to_string(), Some(v.to_vec()))).collect(),
            timestamp_ms: Some(1_700_000_000_123),
        }
    }

    /// Kafka -> message -> Kafka gives the same key, headers (order and
    /// repeats kept), payload and topic; `__ts` carries the time through, and
    /// `__protVer`/`__srcId` are those of the last hop.
    #[test]
    fn round_trip_keeps_key_headers_and_time() {
        let binary = [0xff, 0x00, 0xfe];
        let incoming = kafka_record(
            b"device-7",
            &[
                ("unit", b"C"),
                ("unit", b"K"),
                ("raw", &binary),
                ("__ts", b"1700000000999:3:node-a"),
                ("__protVer", b"1.0"),
                ("__srcId", b"upstream"),
            ],
        );
        let (message, time) = to_message(incoming.clone());
        let time = time.expect("a time from __ts");
        assert_eq!((time.nanos, time.counter, &*time.node_id), (1_700_000_000_999_000_000, 3, "node-a"));
        assert_eq!(
            message.user_properties,
            vec![
                (KEY.to_string(), "device-7".to_string()),
                ("unit".into(), "C".into()),
                ("unit".into(), "K".into()),
                ("__base64:raw".into(), b64().encode(binary)),
            ]
        );
        let record = Record::message(time.clone(), 0, message);
        let out = from_record(&record, &SinkKey::Preserve, Some("this-graph"));
        assert_eq!(out.topic, incoming.topic);
        assert_eq!(out.key, incoming.key);
        assert_eq!(out.payload, incoming.payload);
        let mut expected = incoming.headers.clone();
        expected.last_mut().unwrap().1 = Some(b"this-graph".to_vec());
        assert_eq!(out.headers, expected, "headers, then __ts, __protVer and __srcId");
        assert_eq!(out.timestamp_ms, Some(1_700_000_000_999));
        // And once more: the produced record reads back as the same message.
        let (again, again_time) = to_message(out);
        assert_eq!(again_time, Some(time));
        assert_eq!(again.user_properties, to_message(incoming).0.user_properties);
    }

    #[test]
    fn binary_key_round_trips_through_base64() {
        let key = [0x80u8, 0x81, 0x00];
        let (message, _) = to_message(kafka_record(&key, &[]));
        assert_eq!(message.user_properties, vec![("__base64:__key".to_string(), b64().encode(key))]);
        let out = from_record(&Record::message(Hlc::new(5_000_000, 0, ""), 0, message), &SinkKey::Preserve, None);
        assert_eq!(out.key.as_deref(), Some(&key[..]));
        assert_eq!(
            out.headers,
            vec![(TIMESTAMP.to_string(), Some(b"5:0:".to_vec())), ("__protVer".to_string(), Some(b"1.0".to_vec()))]
        );
    }

    #[test]
    fn without_ts_the_record_timestamp_is_the_time() {
        let (message, time) = to_message(kafka_record(b"k", &[("__ts", b"garbage")]));
        let time = time.expect("the record timestamp");
        assert_eq!((time.nanos, time.counter), (1_700_000_000_123_000_000, 0));
        assert_eq!(message.timestamp, time);
        let none = KafkaRecord { timestamp_ms: None, ..KafkaRecord::default() };
        assert_eq!(to_message(none).1, None);
    }

    #[test]
    fn content_type_and_reserved_headers() {
        let (message, _) = to_message(kafka_record(b"k", &[("__content_type", b"application/json"), ("__key", b"x")]));
        assert_eq!(message.content_type.as_deref(), Some("application/json"));
        assert_eq!(message.user_properties, vec![(KEY.to_string(), "k".to_string())]);
        let out = from_record(&Record::message(Hlc::new(0, 0, ""), 0, message), &SinkKey::Preserve, None);
        assert!(out.headers.contains(&(CONTENT_TYPE.to_string(), Some(b"application/json".to_vec()))));
    }

    #[test]
    fn key_modes() {
        let message = Message {
            topic: Bytes::from_static(b"sensors/1/temp"),
            user_properties: vec![(KEY.into(), "old".into()), ("device".into(), "d1".into())],
            ..Message::default()
        };
        let record = Record::message(Hlc::new(0, 0, ""), 0, message);
        let key = |mode: SinkKey| from_record(&record, &mode, None).key;
        assert_eq!(key(SinkKey::Preserve), Some(b"old".to_vec()));
        assert_eq!(key(SinkKey::None), None);
        assert_eq!(key(SinkKey::Topic), Some(b"sensors/1/temp".to_vec()));
        assert_eq!(key(SinkKey::Property("device".into())), Some(b"d1".to_vec()));
        assert_eq!(key(SinkKey::Property("missing".into())), None);
    }

    #[test]
    fn raw_bytes_carry_only_the_time() {
        let record = Record {
            time: Hlc::new(2_000_000, 1, "n"),
            seq: 0,
            data: DataModel::BufferOrBytes(Bytes::from_static(b"x")),
        };
        let out = from_record(&record, &SinkKey::Preserve, Some("g"));
        assert_eq!((out.topic.as_str(), out.key, out.payload), ("", None, Some(Bytes::from_static(b"x"))));
        let names: Vec<&str> = out.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec![TIMESTAMP, "__protVer", "__srcId"]);
        assert_eq!(out.headers[0].1.as_deref(), Some(&b"2:1:n"[..]));
    }
}

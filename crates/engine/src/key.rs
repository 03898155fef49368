//! Partition keys: how a keyed operation's records are split between workers.
//!
//! Without a key, an accumulate gathers every record of one time on one
//! worker (one result per time), and an operation that uses the state store
//! gets every record on one worker, in time order. With a key, records are
//! exchanged by the key's hash instead (a timely exchange across the whole
//! cluster), so each key's records meet on one worker and different keys are
//! worked on in parallel: an accumulate folds each (time, key) group into one
//! result, and any keyed operation sees one key's records in time order.
//!
//! The hash is FNV-1a over the key's bytes: the same on every process of a
//! cluster and in every build, unlike the standard library's hasher.

use std::borrow::Cow;

use wasmgraph_types::{DataModel, Record};

/// Where a record's partition key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionKey {
    /// The value of the first MQTT 5 user property with this name.
    UserProperty(String),
    /// One level of the topic, counted from 1 (`a/b/c`: level 2 is `b`).
    TopicLevel(usize),
    /// A member of a JSON payload, named by a JSON pointer (`/sensor/id`). A
    /// string is the key as is; another value is its JSON text.
    JsonField(String),
}

impl PartitionKey {
    /// The key of `record`; `None` when the record does not have one (not a
    /// message, no such property, topic level or field, a payload that is not
    /// JSON). Records without a key form one group of their own.
    pub fn of<'r>(&self, record: &'r Record) -> Option<Cow<'r, str>> {
        let message = match &record.data {
            DataModel::Message(m) => m,
            DataModel::Snapshot(_) | DataModel::BufferOrBytes(_) => return None,
        };
        match self {
            PartitionKey::UserProperty(name) => {
                message.user_properties.iter().find(|(k, _)| k == name).map(|(_, v)| Cow::Borrowed(v.as_str()))
            }
            PartitionKey::TopicLevel(level) => {
                let topic = std::str::from_utf8(&message.topic).ok()?;
                topic.split('/').nth(level.checked_sub(1)?).map(Cow::Borrowed)
            }
            PartitionKey::JsonField(pointer) => {
                let value: serde_json::Value = serde_json::from_slice(&message.payload).ok()?;
                match value.pointer(pointer)? {
                    serde_json::Value::String(s) => Some(Cow::Owned(s.clone())),
                    other => Some(Cow::Owned(other.to_string())),
                }
            }
        }
    }

    /// The worker-choosing hash of `record`'s key (see [`key_hash`]).
    pub(crate) fn hash(&self, record: &Record) -> u64 {
        key_hash(self.of(record).as_deref())
    }
}

impl std::fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartitionKey::UserProperty(name) => write!(f, "user property '{name}'"),
            PartitionKey::TopicLevel(level) => write!(f, "topic level {level}"),
            PartitionKey::JsonField(pointer) => write!(f, "JSON field '{pointer}'"),
        }
    }
}

/// FNV-1a of the key (records without a key hash like the empty key), mixed
/// so that consecutive keys spread over few workers evenly.
pub(crate) fn key_hash(key: Option<&str>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.unwrap_or_default().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash ^ (hash >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgraph_types::{Bytes, Hlc, Message};

    fn record(topic: &str, payload: &str, props: &[(&str, &str)]) -> Record {
        let message = Message {
            topic: Bytes::from(topic.to_string()),
            payload: Bytes::from(payload.to_string()),
            user_properties: props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Message::default()
        };
        Record { time: Hlc::new(1, 0, "t"), seq: 0, data: DataModel::Message(message) }
    }

    #[test]
    fn keys_come_from_properties_topic_levels_and_json_fields() {
        let r = record("plant/line-2/oven", r#"{"sensor":{"id":"s7","n":3}}"#, &[("site", "a"), ("site", "b")]);
        assert_eq!(PartitionKey::UserProperty("site".into()).of(&r).as_deref(), Some("a"));
        assert_eq!(PartitionKey::UserProperty("other".into()).of(&r), None);
        assert_eq!(PartitionKey::TopicLevel(2).of(&r).as_deref(), Some("line-2"));
        assert_eq!(PartitionKey::TopicLevel(0).of(&r), None);
        assert_eq!(PartitionKey::TopicLevel(4).of(&r), None);
        assert_eq!(PartitionKey::JsonField("/sensor/id".into()).of(&r).as_deref(), Some("s7"));
        assert_eq!(PartitionKey::JsonField("/sensor/n".into()).of(&r).as_deref(), Some("3"));
        assert_eq!(PartitionKey::JsonField("/sensor".into()).of(&r).as_deref(), Some(r#"{"id":"s7","n":3}"#));
        assert_eq!(PartitionKey::JsonField("/none".into()).of(&r), None);
        assert_eq!(PartitionKey::JsonField("/sensor".into()).of(&record("t", "not json", &[])), None);
    }

    #[test]
    fn the_hash_is_fixed_and_spreads_keys() {
        // Fixed across processes and builds: a changed hash would split a
        // key between the processes of a cluster running two builds.
        assert_eq!(key_hash(None), key_hash(Some("")));
        assert_eq!(key_hash(Some("s1")), 71_613_059_490_944_301);
        let workers: std::collections::BTreeSet<u64> = (0..32).map(|i| key_hash(Some(&format!("s{i}"))) % 6).collect();
        assert_eq!(workers.len(), 6, "{workers:?}");
    }
}

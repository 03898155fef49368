//! The one mapping between MQTT PUBLISH packets and wasmgraph messages.
//!
//! Incoming: topic, payload, content type and user properties map one to one;
//! `__ts` becomes the record time (taken out of the user properties); the
//! response topic and correlation data (no field in the WIT `message`) become
//! the reserved user properties [`RESPONSE_TOPIC`] and [`CORRELATION_DATA`]
//! (base64). Outgoing is the reverse, and `__ts` is the record's time,
//! followed by AIO's `__protVer` and `__srcId` (see [`crate::aio`]); incoming
//! `__protVer`/`__srcId` are taken out, since they describe the publishing hop.

use base64::Engine as _;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use wasmgraph_types::{Bytes, DataModel, Hlc, Message, Record};

use super::{CORRELATION_DATA, RESPONSE_TOPIC, TIMESTAMP};
use crate::aio;

/// The message for a PUBLISH, and its `__ts` time if it carries one.
pub fn to_message(publish: Publish) -> (Message, Option<Hlc>) {
    let mut time = None;
    let mut user_properties = Vec::new();
    let mut content_type = None;
    if let Some(props) = publish.properties {
        for (key, value) in props.user_properties {
            if key == TIMESTAMP {
                match Hlc::parse_wire(&value) {
                    Some(t) => time = Some(t),
                    None => tracing::warn!(value, "ignoring a malformed __ts user property"),
                }
            } else if !aio::is_stamped(&key) {
                user_properties.push((key, value));
            }
        }
        if let Some(topic) = props.response_topic {
            user_properties.push((RESPONSE_TOPIC.to_owned(), topic));
        }
        if let Some(data) = props.correlation_data {
            user_properties
                .push((CORRELATION_DATA.to_owned(), base64::engine::general_purpose::STANDARD.encode(&data)));
        }
        content_type = props.content_type;
    }
    let message = Message {
        timestamp: time.clone().unwrap_or_else(|| Hlc::new(0, 0, "")),
        topic: publish.topic,
        content_type,
        payload: publish.payload,
        user_properties,
        schema: None,
    };
    (message, time)
}

/// Payload and MQTT properties for a record: reserved user properties become
/// the response topic and correlation data, `__ts` is the record's time, then
/// `__protVer` and (when given) `__srcId` = `source_id`, replacing any the
/// record carries.
pub fn to_publish<'r>(record: &'r Record, source_id: Option<&str>) -> (Option<&'r Bytes>, Bytes, PublishProperties) {
    let mut props = PublishProperties::default();
    let topic = match &record.data {
        DataModel::Message(m) => {
            props.content_type = m.content_type.clone();
            for (k, v) in &m.user_properties {
                match k.as_str() {
                    TIMESTAMP => {}
                    _ if aio::is_stamped(k) => {}
                    RESPONSE_TOPIC => props.response_topic = Some(v.clone()),
                    CORRELATION_DATA => match base64::engine::general_purpose::STANDARD.decode(v) {
                        Ok(data) => props.correlation_data = Some(Bytes::from(data)),
                        Err(_) => props.correlation_data = Some(Bytes::from(v.clone().into_bytes())),
                    },
                    _ => props.user_properties.push((k.clone(), v.clone())),
                }
            }
            Some(&m.topic)
        }
        DataModel::Snapshot(_) | DataModel::BufferOrBytes(_) => None,
    };
    props.user_properties.push((TIMESTAMP.to_owned(), record.time.to_wire()));
    props.user_properties.extend(aio::stamp(source_id).map(|(k, v)| (k.to_owned(), v.to_owned())));
    (topic, record.data.payload().clone(), props)
}

#[cfg(test)]
mod tests {
    use rumqttc::v5::mqttbytes::QoS;

    use super::*;

    #[test]
    fn a_message_survives_the_round_trip() {
        let props = PublishProperties {
            content_type: Some("application/json".into()),
            response_topic: Some("reply/here".into()),
            correlation_data: Some(Bytes::from_static(&[0, 159, 146, 150])),
            user_properties: vec![
                ("site".into(), "7".into()),
                (TIMESTAMP.into(), "1700000000123:4:node-a".into()),
                ("site".into(), "8".into()),
                ("__protVer".into(), "1.0".into()),
                ("__srcId".into(), "upstream-graph".into()),
            ],
            ..PublishProperties::default()
        };
        let publish = Publish::new("sensors/1/t", QoS::AtLeastOnce, "{\"t\":1}", Some(props));
        let (message, time) = to_message(publish);
        let time = time.expect("the __ts time");
        assert_eq!(time.to_wire(), "1700000000123:4:node-a");
        let names: Vec<&str> = message.user_properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["site", "site", RESPONSE_TOPIC, CORRELATION_DATA], "__ts, __protVer, __srcId taken out");
        let record = Record::message(time.clone(), 0, message.clone());
        let (topic, payload, back) = to_publish(&record, Some("this-graph"));
        assert_eq!(topic.map(|t| &t[..]), Some(&b"sensors/1/t"[..]));
        assert_eq!(&payload[..], b"{\"t\":1}");
        assert_eq!(back.content_type.as_deref(), Some("application/json"));
        assert_eq!(back.response_topic.as_deref(), Some("reply/here"));
        assert_eq!(back.correlation_data.as_deref(), Some(&[0u8, 159, 146, 150][..]));
        let user: Vec<(&str, &str)> = back.user_properties.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            user,
            vec![
                ("site", "7"),
                ("site", "8"),
                (TIMESTAMP, "1700000000123:4:node-a"),
                ("__protVer", "1.0"),
                ("__srcId", "this-graph"),
            ]
        );
        // Through a second hop: one of each, the new source's id.
        let again = Publish::new("sensors/1/t", QoS::AtLeastOnce, payload, Some(back));
        let (message2, _) = to_message(again);
        assert_eq!(message2.user_properties, message.user_properties);
        let (_, _, twice) = to_publish(&Record::message(time, 1, message2), Some("next-graph"));
        let stamped: Vec<(&str, &str)> = twice
            .user_properties
            .iter()
            .filter(|(k, _)| k.starts_with("__"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            stamped,
            vec![(TIMESTAMP, "1700000000123:4:node-a"), ("__protVer", "1.0"), ("__srcId", "next-graph")]
        );
    }

    #[test]
    fn a_malformed_time_is_ignored_not_fatal() {
        let props =
            PublishProperties { user_properties: vec![(TIMESTAMP.into(), "soon".into())], ..Default::default() };
        let (message, time) = to_message(Publish::new("a", QoS::AtMostOnce, "x", Some(props)));
        assert!(time.is_none());
        assert!(message.user_properties.is_empty());
    }

    #[test]
    fn properties_and_time_come_across() {
        let mut publish = Publish::new(
            "a/b",
            QoS::AtLeastOnce,
            b"{}".to_vec(),
            Some(PublishProperties {
                user_properties: vec![("k".into(), "v".into()), ("__ts".into(), "1700000000123:4:n1".into())],
                content_type: Some("application/json".into()),
                response_topic: Some("reply/here".into()),
                correlation_data: Some(Bytes::from_static(&[1, 2, 3])),
                ..PublishProperties::default()
            }),
        );
        publish.pkid = 7;
        let (m, time) = to_message(publish);
        let time = time.unwrap();
        assert_eq!((time.nanos, time.counter, &*time.node_id), (1_700_000_000_123_000_000, 4, "n1"));
        assert_eq!(&m.topic[..], b"a/b");
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            m.user_properties,
            vec![
                ("k".to_string(), "v".to_string()),
                (RESPONSE_TOPIC.to_string(), "reply/here".to_string()),
                (CORRELATION_DATA.to_string(), "AQID".to_string()),
            ]
        );
    }

    #[test]
    fn reserved_properties_become_mqtt_properties() {
        let msg = Message {
            topic: Bytes::from_static(b"in/1"),
            payload: Bytes::from_static(b"p"),
            content_type: Some("text/plain".into()),
            user_properties: vec![
                ("k".into(), "v".into()),
                ("__ts".into(), "1:1:old".into()),
                ("__srcId".into(), "set-by-an-operator".into()),
                (RESPONSE_TOPIC.into(), "r/t".into()),
                (CORRELATION_DATA.into(), "AQID".into()),
            ],
            ..Message::default()
        };
        let record = Record::message(Hlc::new(5_000_000, 2, "n"), 0, msg);
        let (topic, payload, props) = to_publish(&record, None);
        assert_eq!(&topic.unwrap()[..], b"in/1");
        assert_eq!(&payload[..], b"p");
        assert_eq!(props.response_topic.as_deref(), Some("r/t"));
        assert_eq!(props.correlation_data.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(props.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            props.user_properties,
            vec![
                ("k".to_string(), "v".to_string()),
                ("__ts".to_string(), "5:2:n".to_string()),
                ("__protVer".to_string(), "1.0".to_string()),
            ],
            "without a source id no __srcId is written (and the operator's is replaced)"
        );
    }
}

//! The MQTT <-> message mapping on bytes off the wire: any bytes either fail
//! to decode as an MQTT 5 packet or, for a PUBLISH, map to a message and a
//! record and back to a PUBLISH that encodes, decodes again, and carries the
//! same topic, payload, content type and user properties; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish};
use rumqttc::v5::mqttbytes::QoS;
use wasmgraph_connectors::mqtt::message::{to_message, to_publish};
use wasmgraph_types::{Bytes, Hlc, Record};

const MAX: u32 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut wire = bytes::BytesMut::from(data);
    let Ok(Packet::Publish(publish)) = Packet::read(&mut wire, Some(MAX)) else { return };
    let (message, time) = to_message(publish);
    let record = Record::message(time.unwrap_or_else(|| Hlc::new(1, 0, "fuzz")), 0, message.clone());
    let (topic, payload, props) = to_publish(&record, Some("fuzz"));
    let topic: Bytes = topic.cloned().unwrap_or_default();
    let again = Publish { dup: false, qos: QoS::AtLeastOnce, retain: false, topic, pkid: 1, payload, properties: Some(props) };
    let mut out = bytes::BytesMut::new();
    Packet::Publish(again).write(&mut out, Some(u32::MAX)).expect("a mapped PUBLISH encodes");
    let Ok(Packet::Publish(back)) = Packet::read(&mut out, Some(u32::MAX)) else { panic!("a mapped PUBLISH decodes") };
    let (round, _) = to_message(back);
    assert_eq!(round.topic, message.topic);
    assert_eq!(round.payload, message.payload);
    assert_eq!(round.content_type, message.content_type);
    assert_eq!(round.user_properties, message.user_properties);
});

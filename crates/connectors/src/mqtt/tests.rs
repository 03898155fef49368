//! The MQTT source and sink against a real mosquitto (started on a free port,
//! as the CLI's tests do): batching, acknowledgements and reconnects.

use std::time::{Duration, Instant};

use wasmgraph_types::{Bytes, DataModel, Hlc, Message, Record};

use wasmgraph_test_mosquitto::{free_port, Mosquitto};

use super::*;
use crate::{Poll, Sink, Source};

fn connection(port: u16, id: &str) -> MqttConnection {
    let mut c = MqttConnection::new("127.0.0.1", port, id);
    c.reconnect_min = Duration::from_millis(50);
    c.reconnect_max = Duration::from_millis(200);
    c
}

fn record(i: usize) -> Record {
    let message = Message {
        topic: Bytes::from(format!("in/{i}").into_bytes()),
        payload: Bytes::from(format!("m{i:05}").into_bytes()),
        ..Message::default()
    };
    Record::message(Hlc::new(1_000_000 * (i as u64 + 1), 0, "t"), i as u64, message)
}

fn source(port: u16, id: &str, topic: &str) -> MqttSource {
    let source = MqttSource::connect(MqttSourceConfig::new(connection(port, id), vec![topic.into()])).unwrap();
    assert!(source.wait_subscribed(Duration::from_secs(10)), "the source did not subscribe");
    source
}

/// Poll until `n` messages came (acknowledging each batch when `ack`); their payloads.
fn receive(source: &mut MqttSource, n: usize, ack: bool) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < until, "received {} of {n}", got.len());
        match source.poll(100, Duration::from_millis(100)).unwrap() {
            Poll::Data(items) => {
                let tokens = super::test_support::take_payloads(items, &mut got);
                if ack {
                    source.ack(&tokens).unwrap();
                }
            }
            Poll::Idle => {}
            Poll::End => panic!("the source ended"),
        }
    }
    got
}

#[test]
fn sink_to_source_with_time_and_acknowledgements() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let mut out = source(broker.port, "t-reader", "out/#");
    let mut sink =
        MqttSink::connect(MqttSinkConfig::new(connection(broker.port, "t-writer"), "out/${inputTopic.2}")).unwrap();
    sink.wait_connected(Duration::from_secs(10)).unwrap();
    const N: usize = 3000;
    for i in 0..N {
        sink.write(&record(i)).unwrap();
        if i % 700 == 699 {
            sink.flush().unwrap();
        }
    }
    sink.flush().unwrap();
    assert_eq!(sink.published().load(std::sync::atomic::Ordering::Relaxed), N as u64);
    let got = receive(&mut out, N, true);
    let expected: Vec<String> = (0..N).map(|i| format!("m{i:05}")).collect();
    assert_eq!(got, expected, "every message once, in order");
    // The time travels in __ts and comes back as the message's time.
    let probe = record(7);
    sink.write(&probe).unwrap();
    sink.flush().unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let item = loop {
        assert!(Instant::now() < until);
        if let Poll::Data(mut items) = out.poll(1, Duration::from_millis(100)).unwrap() {
            break items.remove(0);
        }
    };
    assert_eq!(item.time.map(|t| t.nanos), Some(probe.time.nanos));
    out.ack(&[item.ack.unwrap()]).unwrap();
    drop(out);
    drop(sink);
}

#[test]
fn unacknowledged_messages_come_again() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let mut first = source(broker.port, "t-again", "again/#");
    let mut sink =
        MqttSink::connect(MqttSinkConfig::new(connection(broker.port, "t-again-writer"), "again/x")).unwrap();
    for i in 0..10 {
        sink.write(&record(i)).unwrap();
    }
    sink.flush().unwrap();
    let mut got = Vec::new();
    let mut tokens = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while got.len() < 10 {
        assert!(Instant::now() < until);
        if let Poll::Data(items) = first.poll(100, Duration::from_millis(100)).unwrap() {
            for item in items {
                tokens.push(item.ack.unwrap());
                let DataModel::Message(m) = item.data else { panic!() };
                got.push(String::from_utf8_lossy(&m.payload).into_owned());
            }
        }
    }
    // Acknowledge the first four only, out of order: PUBACKs go in order, so
    // exactly those four are released.
    first.ack(&[tokens[2], tokens[0], tokens[3], tokens[1], tokens[6]]).unwrap();
    drop(first);
    let counters_again = {
        let mut again = source(broker.port, "t-again", "again/#");
        let counters = again.counters();
        let more = receive(&mut again, 6, true);
        let expected: Vec<String> = (4..10).map(|i| format!("m{i:05}")).collect();
        assert_eq!(more, expected);
        counters
    };
    assert_eq!(counters_again.acked.load(std::sync::atomic::Ordering::Relaxed), 6);
}

#[test]
fn flush_waits_through_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Mosquitto::start(dir.path(), free_port());
    let port = broker.port;
    // A persistent subscriber, gone while the broker restarts: its messages wait there.
    drop(source(port, "t-restart-reader", "restart/#"));
    let mut sink = MqttSink::connect(MqttSinkConfig::new(connection(port, "t-restart-writer"), "restart/x")).unwrap();
    sink.wait_connected(Duration::from_secs(10)).unwrap();
    for i in 0..200 {
        sink.write(&record(i)).unwrap();
    }
    sink.flush().unwrap();
    broker.stop();
    // Written while the broker is down: flush returns once it is back and acknowledged them.
    for i in 200..400 {
        sink.write(&record(i)).unwrap();
    }
    let conf = broker.conf.clone();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        Mosquitto::spawn(conf, port)
    });
    sink.flush().unwrap();
    let _broker = restarter.join().unwrap();
    let mut reader = source(port, "t-restart-reader", "restart/#");
    let got = receive(&mut reader, 400, true);
    let mut distinct = got.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 400, "every message arrived");
}

#[test]
fn refused_connection_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("passwd"), "").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous false\nlog_dest none\n")).unwrap();
    let _broker = Mosquitto::spawn(conf, port);
    let mut source =
        MqttSource::connect(MqttSourceConfig::new(connection(port, "t-refused"), vec!["x".into()])).unwrap();
    assert!(!source.wait_subscribed(Duration::from_secs(10)));
    let err = source.poll(10, Duration::from_millis(10)).unwrap_err().to_string();
    assert!(err.contains("refused the connection"), "{err}");
    let sink = MqttSink::connect(MqttSinkConfig::new(connection(port, "t-refused-sink"), "x")).unwrap();
    let err = sink.wait_connected(Duration::from_secs(10)).unwrap_err().to_string();
    assert!(err.contains("refused the connection"), "{err}");
}

#[test]
fn qos0_publishes_are_sent_by_flush_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let mut reader = source(broker.port, "t-q0-reader", "q0/#");
    let mut config = MqttSinkConfig::new(connection(broker.port, "t-q0-writer"), "q0/x");
    config.qos = 0;
    let mut sink = MqttSink::connect(config).unwrap();
    sink.wait_connected(Duration::from_secs(10)).unwrap();
    for i in 0..50 {
        sink.write(&record(i)).unwrap();
    }
    sink.flush().unwrap();
    // Written, never flushed: dropping the sink still sends them.
    for i in 50..100 {
        sink.write(&record(i)).unwrap();
    }
    drop(sink);
    let got = receive(&mut reader, 100, true);
    assert_eq!(got, (0..100).map(|i| format!("m{i:05}")).collect::<Vec<_>>());
}

/// What a sink with a source id puts on the wire, seen by a plain MQTT 5
/// client: the user properties, then `__ts`, `__protVer` 1.0 and `__srcId`.
/// Our own source takes `__ts` (as the time), `__protVer` and `__srcId` out.
#[test]
fn sink_stamps_aio_properties_and_the_source_takes_them_out() {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{Client, Event, Incoming, MqttOptions};

    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let mut ours = source(broker.port, "t-stamp-reader", "stamp/#");
    let (raw, mut wire) = Client::new(MqttOptions::new("t-stamp-raw", "127.0.0.1", broker.port), 10);
    raw.subscribe("stamp/#", QoS::AtLeastOnce).unwrap();
    let mut next_packet = || loop {
        match wire.recv_timeout(Duration::from_secs(10)).expect("an MQTT event in time") {
            Ok(Event::Incoming(packet)) => break packet,
            Ok(Event::Outgoing(_)) => {}
            Err(e) => panic!("raw client: {e}"),
        }
    };
    while !matches!(next_packet(), Incoming::SubAck(_)) {}

    let config = MqttSinkConfig {
        source_id: Some("plant-graph".into()),
        ..MqttSinkConfig::new(connection(broker.port, "t-stamp-writer"), "stamp/out")
    };
    let mut sink = MqttSink::connect(config).unwrap();
    let message = Message {
        topic: Bytes::from_static(b"in/1"),
        payload: Bytes::from_static(b"{}"),
        user_properties: vec![("site".into(), "7".into()), ("__srcId".into(), "left-by-an-operator".into())],
        ..Message::default()
    };
    sink.write(&Record::message(Hlc::new(5_000_000, 2, "n"), 0, message)).unwrap();
    sink.flush().unwrap();

    let publish = loop {
        if let Incoming::Publish(p) = next_packet() {
            break p;
        }
    };
    let props = publish.properties.expect("user properties");
    let user: Vec<(&str, &str)> = props.user_properties.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(user, vec![("site", "7"), ("__ts", "5:2:n"), ("__protVer", "1.0"), ("__srcId", "plant-graph")]);

    let until = Instant::now() + Duration::from_secs(10);
    let item = loop {
        assert!(Instant::now() < until, "our source received nothing");
        if let Poll::Data(mut items) = ours.poll(1, Duration::from_millis(100)).unwrap() {
            break items.remove(0);
        }
    };
    let DataModel::Message(m) = item.data else { panic!("not a message") };
    assert_eq!(m.user_properties, vec![("site".to_string(), "7".to_string())]);
    assert_eq!(item.time.map(|t| (t.nanos, t.counter)), Some((5_000_000, 2)));
}

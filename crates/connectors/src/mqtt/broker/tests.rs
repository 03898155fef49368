//! The embedded broker's drain, end to end in one process: a real rumqttd
//! behind its proxy, a publisher through the proxy, the MQTT source on it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, Incoming as Packet, MqttOptions};

use super::EmbeddedBroker;
use crate::mqtt::test_support::take_payloads;
use crate::mqtt::{MqttConnection, MqttSource, MqttSourceConfig};
use crate::{Poll, Source};

/// A QoS 1 publisher through the proxy, counting the broker's PUBACKs.
struct Publisher {
    rt: tokio::runtime::Runtime,
    client: AsyncClient,
    acks: Arc<AtomicU64>,
    disconnects: Arc<AtomicU64>,
}

impl Publisher {
    fn connect(port: u16) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let options = MqttOptions::new("publisher", "127.0.0.1", port);
        let (client, mut eventloop) = {
            let _g = rt.enter();
            AsyncClient::new(options, 50_000)
        };
        let (acks, disconnects) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (a, d) = (acks.clone(), disconnects.clone());
        rt.spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        a.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        d.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Publisher { rt, client, acks, disconnects }
    }

    fn publish(&self, topic: &str, payload: &str) {
        let client = self.client.clone();
        let (topic, payload) = (topic.to_string(), payload.to_string());
        self.rt.block_on(async move { client.publish(topic, QoS::AtLeastOnce, false, payload).await }).unwrap();
    }
}

fn source_on(broker: &EmbeddedBroker, topic: &str) -> MqttSource {
    let internal = broker.internal_addr();
    let mut connection = MqttConnection::new(internal.ip().to_string(), internal.port(), "drain-source");
    connection.freeze = Some(broker.freeze_handle());
    let source = MqttSource::connect(MqttSourceConfig::new(connection, vec![topic.into()])).unwrap();
    assert!(source.wait_subscribed(Duration::from_secs(10)), "the source did not subscribe");
    source
}

/// Poll (acknowledging) until `done` says so or the source ends; the payloads.
fn read(source: &mut MqttSource, got: &mut Vec<String>, done: impl Fn(&[String]) -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(60);
    while !done(got) {
        assert!(Instant::now() < until, "read {} message(s), then nothing for too long", got.len());
        match source.poll(256, Duration::from_millis(50)).unwrap() {
            Poll::Data(items) => {
                let tokens = take_payloads(items, got);
                source.ack(&tokens).unwrap();
            }
            Poll::Idle => {}
            Poll::End => return true,
        }
    }
    false
}

/// Issue 18: SIGTERM during a burst lost ~15,000 publishes rumqttd had
/// acknowledged. Now the stop freezes the broker and the source reads all it
/// accepted: every acknowledged publish is read, the rest were refused
/// (their publisher still holds them).
#[test]
fn a_stop_during_a_burst_reads_every_publish_the_broker_acknowledged() {
    let broker = EmbeddedBroker::start(0).unwrap();
    let mut source = source_on(&broker, "burst/#");
    let publisher = Publisher::connect(broker.addr().port());
    // Publish without pause until told to stop, so the stop comes mid-burst.
    const MOST: usize = 200_000;
    let (client, stop_publishing) = (publisher.client.clone(), Arc::new(AtomicBool::new(false)));
    let stop = stop_publishing.clone();
    let publishing = publisher.rt.spawn(async move {
        let mut sent = 0;
        while sent < MOST && !stop.load(Ordering::SeqCst) {
            client.publish("burst/a", QoS::AtLeastOnce, false, format!("m{sent}")).await.unwrap();
            sent += 1;
        }
        sent
    });
    let mut got = Vec::new();
    read(&mut source, &mut got, |g| g.len() >= 2_000);
    source.stop_handle().store(true, Ordering::Release);
    let ended = read(&mut source, &mut got, |_| false);
    assert!(ended, "the source ends once drained");
    stop_publishing.store(true, Ordering::SeqCst);
    let sent = publisher.rt.block_on(publishing).unwrap();
    // PUBACKs sent before the freeze may still be on their way.
    std::thread::sleep(Duration::from_millis(500));
    let acked = publisher.acks.load(Ordering::SeqCst) as usize;
    let disconnects = publisher.disconnects.load(Ordering::SeqCst);
    println!(
        "burst: {sent} published, {acked} acknowledged, {} read, publisher disconnected {disconnects} time(s)",
        got.len()
    );
    assert!(acked < sent, "the stop came during the burst ({acked} of {sent} acknowledged)");
    assert!(publisher.disconnects.load(Ordering::SeqCst) > 0, "the frozen broker refused the publisher");
    // rumqttd acknowledges one connection's publishes in order: the first `acked`.
    let read: std::collections::HashSet<&str> = got.iter().map(String::as_str).collect();
    let lost: Vec<usize> = (0..acked).filter(|i| !read.contains(format!("m{i}").as_str())).collect();
    assert!(lost.is_empty(), "{} acknowledged publish(es) never read, first m{}", lost.len(), lost[0]);
    assert!(
        !got.iter().any(|p| p.starts_with("wasmgraph-drain")),
        "markers are not handed on: {:?}",
        got.iter().filter(|p| p.starts_with("wasmgraph-drain")).collect::<Vec<_>>()
    );
}

/// A later run in the same process on the same port gets the same broker,
/// taking publishes again.
#[test]
fn a_broker_started_again_on_its_port_thaws() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let first = EmbeddedBroker::start(port).unwrap();
    assert_eq!(first.addr().port(), port);
    let mut source = source_on(&first, "again");
    source.stop_handle().store(true, Ordering::Release);
    assert!(read(&mut source, &mut Vec::new(), |_| false), "an idle broker drains at once");
    assert!(first.inner.gate.is_frozen());
    drop(source);
    let second = EmbeddedBroker::start(port).unwrap();
    assert!(Arc::ptr_eq(&first.inner, &second.inner));
    assert!(!second.inner.gate.is_frozen(), "taking publishes again");
    drop(first);
    let mut source = source_on(&second, "again");
    let publisher = Publisher::connect(port);
    publisher.publish("again", "after the restart");
    let mut got = Vec::new();
    read(&mut source, &mut got, |g| !g.is_empty());
    assert_eq!(got, ["after the restart"]);
}

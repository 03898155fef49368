//! The Kafka source and sink against a real Kafka-protocol broker (tansu,
//! started by each test on 127.0.0.1, see `wasmgraph-test-kafka`). Behind the
//! `kafka-integration-tests` feature. Every test prints its counts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wasmgraph_test_kafka::Tansu;
use wasmgraph_types::{Bytes, DataModel, Hlc, Message, Record};

use super::*;
use crate::{Incoming, Poll, Sink, Source};

/// Longest a test waits for records or a rebalance before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// The broker's endpoint for consumers: heartbeats every 500 ms so a
/// rebalance reaches every member quickly.
fn consumer_endpoint(broker: &Tansu) -> KafkaEndpoint {
    let mut endpoint = KafkaEndpoint::new(&broker.bootstrap());
    endpoint.properties.insert("heartbeat.interval.ms".into(), "500".into());
    endpoint.properties.insert("session.timeout.ms".into(), "6000".into());
    endpoint
}

fn source(broker: &Tansu, topic: &str, group: &str) -> KafkaSource {
    let mut config = KafkaSourceConfig::new([topic]);
    config.consumer_group = Some(group.into());
    KafkaSource::connect(&consumer_endpoint(broker), &config, "wasmgraph-test").unwrap()
}

fn sink(broker: &Tansu, topic: &str) -> KafkaSink {
    KafkaSink::connect(&KafkaEndpoint::new(&broker.bootstrap()), &KafkaSinkConfig::new(topic), "wasmgraph-test")
        .unwrap()
}

/// A message on `topic` with key `key` (as the reserved property) and payload `payload`.
fn keyed(topic: &str, key: &str, payload: &str) -> Message {
    Message {
        topic: Bytes::from(topic.to_owned()),
        payload: Bytes::from(payload.to_owned()),
        user_properties: vec![(KEY.into(), key.into())],
        ..Message::default()
    }
}

/// Write `n` keyed records (`k<i>` / `r<i>`, time `i` s after 1 s) and flush.
fn produce(broker: &Tansu, topic: &str, n: u64) {
    let mut sink = sink(broker, topic);
    for i in 0..n {
        let time = Hlc::new((i + 1) * 1_000_000_000, 0, "test");
        sink.write(&Record::message(time, i, keyed("in", &format!("k{i}"), &format!("r{i}")))).unwrap();
    }
    sink.flush().unwrap();
    assert_eq!(sink.counters().delivered.load(Ordering::Relaxed), n);
}

fn payload(incoming: &Incoming) -> String {
    String::from_utf8_lossy(incoming.data.payload()).into_owned()
}

fn message(incoming: &Incoming) -> &Message {
    match &incoming.data {
        DataModel::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Poll once (up to 100 ms) and append what came.
fn pump(source: &mut KafkaSource, into: &mut Vec<Incoming>) {
    match source.poll(500, Duration::from_millis(100)).unwrap() {
        Poll::Data(batch) => into.extend(batch),
        Poll::Idle => {}
        Poll::End => panic!("the source ended"),
    }
}

/// Poll until `want` records came (more may come in the last batch).
fn collect(source: &mut KafkaSource, want: usize) -> Vec<Incoming> {
    let until = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.len() < want {
        assert!(Instant::now() < until, "only {} of {want} records after {PATIENCE:?}", got.len());
        pump(source, &mut got);
    }
    got
}

/// Poll for `quiet` and return whatever came (to check nothing more does).
fn drain(source: &mut KafkaSource, quiet: Duration) -> Vec<Incoming> {
    let until = Instant::now() + quiet;
    let mut got = Vec::new();
    while Instant::now() < until {
        pump(source, &mut got);
    }
    got
}

fn tokens(records: &[Incoming]) -> Vec<u64> {
    records.iter().map(|r| r.ack.expect("a token")).collect()
}

fn payloads(records: &[Incoming]) -> BTreeSet<String> {
    records.iter().map(payload).collect()
}

/// Key, headers, content type and `__ts` go through sink -> broker -> source
/// unchanged; a binary key too; a record over the size limit is skipped and
/// the stream goes on; a stop ends the source.
#[test]
fn records_round_trip_through_the_broker() {
    let broker = Tansu::start();
    broker.create_topic("round-trip", 1);
    let sent = [
        Message {
            topic: Bytes::from_static(b"plant/line1/temp"),
            content_type: Some("application/json".into()),
            payload: Bytes::from_static(b"{\"t\":21.5}"),
            user_properties: vec![
                (KEY.into(), "device-7".into()),
                ("unit".into(), "C".into()),
                ("unit".into(), "K".into()),
                ("__base64:raw".into(), "/wD+".into()),
            ],
            ..Message::default()
        },
        Message {
            payload: Bytes::from(vec![b'x'; 2048]),
            user_properties: vec![(KEY.into(), "too-large".into())],
            ..Message::default()
        },
        Message {
            payload: Bytes::from_static(b"no key"),
            user_properties: vec![("__base64:__key".into(), "gIEA".into())],
            ..Message::default()
        },
    ];
    let times = [
        Hlc::new(1_700_000_000_001_000_000, 4, "node-a"),
        Hlc::new(1_700_000_000_002_000_000, 0, "n"),
        Hlc::new(1_700_000_000_003_000_000, 9, "node-b"),
    ];
    let mut out = sink(&broker, "round-trip");
    for (i, (message, time)) in sent.iter().zip(&times).enumerate() {
        out.write(&Record::message(time.clone(), i as u64, message.clone())).unwrap();
    }
    out.flush().unwrap();

    let mut config = KafkaSourceConfig::new(["round-trip"]);
    config.max_message_size = 1024;
    let mut input = KafkaSource::connect(&consumer_endpoint(&broker), &config, "round-trip-group").unwrap();
    let got = collect(&mut input, 2);
    assert_eq!(got.len(), 2, "the large record is skipped");
    for (incoming, i) in got.iter().zip([0, 2]) {
        let received = message(incoming);
        assert_eq!(received.topic, "round-trip", "the topic is the Kafka topic");
        assert_eq!(received.payload, sent[i].payload);
        assert_eq!(received.content_type, sent[i].content_type);
        assert_eq!(received.user_properties, sent[i].user_properties);
        let time = incoming.time.as_ref().expect("a time from __ts");
        assert_eq!((time.nanos, time.counter, &*time.node_id), (times[i].nanos, times[i].counter, &*times[i].node_id));
    }
    let counters = input.counters();
    assert_eq!(counters.oversized.load(Ordering::Relaxed), 1);
    input.stop_handle().store(true, Ordering::Release);
    assert!(matches!(input.poll(10, Duration::from_millis(10)).unwrap(), Poll::End));
    println!("round trip: {}", input.summary().unwrap());
}

/// Poll 40 records, acknowledge the first 20, drop the source, reconnect in
/// the same group: exactly the other 20 come again.
#[test]
fn unacknowledged_records_come_again_after_a_reconnect() {
    let broker = Tansu::start();
    broker.create_topic("replay", 4);
    produce(&broker, "replay", 40);
    let mut first = source(&broker, "replay", "replay-group");
    let got = collect(&mut first, 40);
    assert_eq!(got.len(), 40);
    let (acked, unacked) = got.split_at(20);
    first.ack(&tokens(acked)).unwrap();
    let counters = first.counters();
    drop(first); // closing waits for the commits in flight
    assert_eq!(counters.committed.load(Ordering::Relaxed), 20);

    let mut second = source(&broker, "replay", "replay-group");
    let mut again = collect(&mut second, 20);
    again.extend(drain(&mut second, Duration::from_secs(2)));
    println!(
        "reconnect: first read {}, acknowledged {}, committed {}; second read {}",
        got.len(),
        acked.len(),
        counters.committed.load(Ordering::Relaxed),
        again.len()
    );
    assert_eq!(payloads(&again), payloads(unacked), "exactly the unacknowledged records come again");
    assert_eq!(again.len(), 20, "and each once");
}

/// Pump both sources until the group has given each some of the topic's
/// partitions and together all of them.
fn wait_split(a: &mut KafkaSource, b: &mut KafkaSource, partitions: usize) -> (Vec<Incoming>, Vec<Incoming>) {
    let until = Instant::now() + PATIENCE;
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    loop {
        pump(a, &mut from_a);
        pump(b, &mut from_b);
        let (pa, pb) = (a.assignment(), b.assignment());
        if !pa.is_empty() && !pb.is_empty() && pa.len() + pb.len() == partitions {
            assert!(pa.iter().all(|p| !pb.contains(p)), "both own a partition: {pa:?} {pb:?}");
            return (from_a, from_b);
        }
        assert!(Instant::now() < until, "no split after {PATIENCE:?}: {pa:?} / {pb:?}");
    }
}

/// Two consumers in one group on a 4-partition topic split the partitions and
/// together see every record, each once.
#[test]
fn two_consumers_in_a_group_split_the_partitions() {
    let broker = Tansu::start();
    broker.create_topic("split", 4);
    let mut a = source(&broker, "split", "split-group");
    let mut b = source(&broker, "split", "split-group");
    assert!(a.wait_assigned(PATIENCE).unwrap());
    wait_split(&mut a, &mut b, 4);
    produce(&broker, "split", 200);
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    let until = Instant::now() + PATIENCE;
    while from_a.len() + from_b.len() < 200 {
        assert!(Instant::now() < until, "only {} of 200 records", from_a.len() + from_b.len());
        pump(&mut a, &mut from_a);
        pump(&mut b, &mut from_b);
    }
    a.ack(&tokens(&from_a)).unwrap();
    b.ack(&tokens(&from_b)).unwrap();
    println!(
        "split: consumer A {:?} read {}, consumer B {:?} read {}",
        a.assignment(),
        from_a.len(),
        b.assignment(),
        from_b.len()
    );
    assert!(!from_a.is_empty() && !from_b.is_empty(), "both consumers read records");
    let (set_a, set_b) = (payloads(&from_a), payloads(&from_b));
    assert!(set_a.is_disjoint(&set_b), "no record read by both");
    assert_eq!(set_a.len() + set_b.len(), 200, "every record once");
    assert_eq!(from_a.len() + from_b.len(), 200, "no duplicates");
}

/// A rebalance while records are unacknowledged: the tokens from before it
/// commit nothing, the records of partitions that moved are read by their new
/// owner, and when that owner goes without acknowledging, they come back to
/// the remaining consumer. Nothing is lost at any step.
#[test]
fn a_rebalance_redelivers_unacknowledged_records() {
    let broker = Tansu::start();
    broker.create_topic("rebalance", 4);
    produce(&broker, "rebalance", 100);
    let all: BTreeSet<String> = (0..100).map(|i| format!("r{i}")).collect();

    // A alone reads everything and acknowledges only the first 30.
    let mut a = source(&broker, "rebalance", "rebalance-group");
    let read_alone = collect(&mut a, 100);
    let (acked, unacked) = read_alone.split_at(30);
    a.ack(&tokens(acked)).unwrap();

    // B joins: the partitions are split while 70 records are unacknowledged.
    let mut b = source(&broker, "rebalance", "rebalance-group");
    let (mut a_again, mut from_b) = wait_split(&mut a, &mut b, 4);
    // A acknowledges its old tokens only now: every one is stale.
    a.ack(&tokens(unacked)).unwrap();
    let counters = a.counters();
    assert_eq!(counters.stale_acks.load(Ordering::Relaxed), 70, "no token from before the rebalance commits");
    let until = Instant::now() + PATIENCE;
    let committed: BTreeSet<String> = payloads(acked);
    loop {
        let seen: BTreeSet<String> =
            committed.iter().chain(&payloads(&a_again)).chain(&payloads(&from_b)).cloned().collect();
        if seen == all {
            break;
        }
        assert!(Instant::now() < until, "lost {:?}", all.difference(&seen).collect::<Vec<_>>());
        pump(&mut a, &mut a_again);
        pump(&mut b, &mut from_b);
    }
    a.ack(&tokens(&a_again)).unwrap();
    let b_partitions = b.assignment();
    println!(
        "rebalance: A read {} alone and acknowledged {}; after B joined A read {} again ({} stale acks), B {:?} read {}",
        read_alone.len(),
        acked.len(),
        a_again.len(),
        counters.stale_acks.load(Ordering::Relaxed),
        b_partitions,
        from_b.len()
    );
    assert!(payloads(&from_b).is_disjoint(&committed), "B does not re-read what A committed");

    // B leaves without acknowledging: its partitions go back to A, which
    // reads exactly B's records again.
    drop(b);
    let mut back = Vec::new();
    let until = Instant::now() + PATIENCE;
    while payloads(&back) != payloads(&from_b) {
        assert!(Instant::now() < until, "A got {} of B's {} records back", back.len(), from_b.len());
        pump(&mut a, &mut back);
    }
    println!("rebalance: after B left, A read B's {} records again", back.len());
    assert_eq!(a.assignment().len(), 4);
}

/// `flush` returns once the broker has every record: a consumer that starts
/// afterwards reads all of them.
#[test]
fn sink_flush_confirms_durability() {
    let broker = Tansu::start();
    broker.create_topic("durable", 3);
    let mut out = sink(&broker, "durable");
    let started = Instant::now();
    for i in 0..2_000u64 {
        out.write(&Record::message(
            Hlc::new(1_000_000 * (i + 1), 0, ""),
            i,
            keyed("in", &format!("k{i}"), &format!("r{i}")),
        ))
        .unwrap();
    }
    out.flush().unwrap();
    let flushed = started.elapsed();
    let counters = out.counters();
    assert_eq!(counters.delivered.load(Ordering::Relaxed), 2_000, "every delivery report seen when flush returns");
    assert_eq!(counters.failed.load(Ordering::Relaxed), 0);
    let mut input = source(&broker, "durable", "durable-group");
    let got = collect(&mut input, 2_000);
    println!(
        "flush: 2000 records written and acknowledged in {flushed:?}; {}; read back {}",
        out.summary().unwrap(),
        got.len()
    );
    assert_eq!(payloads(&got).len(), 2_000);
}

/// `startFrom`: `latest` skips what was there before the group joined; a
/// timestamp starts at the first record at or after it.
#[test]
fn start_positions() {
    let broker = Tansu::start();
    broker.create_topic("start", 1);
    // Record i at (i + 1) s, each in a batch of its own: tansu answers a
    // lookup by time with the first batch whose newest record is at or after
    // it (Kafka with the exact record).
    let mut out = sink(&broker, "start");
    for i in 0..10u64 {
        let time = Hlc::new((i + 1) * 1_000_000_000, 0, "test");
        out.write(&Record::message(time, i, keyed("in", &format!("k{i}"), &format!("r{i}")))).unwrap();
        out.flush().unwrap();
    }
    let endpoint = consumer_endpoint(&broker);

    let mut config = KafkaSourceConfig::new(["start"]);
    config.start_from = StartFrom::Timestamp(6_000);
    let mut from_time = KafkaSource::connect(&endpoint, &config, "start-time").unwrap();
    let got = collect(&mut from_time, 5);
    let got: BTreeMap<String, u64> =
        got.iter().map(|r| (payload(r), r.time.as_ref().unwrap().nanos / 1_000_000)).collect();
    println!("start from 6000 ms: {got:?}");
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), (5..10).map(|i| format!("r{i}")).collect());
    assert_eq!(from_time.counters().before_start.load(Ordering::Relaxed), 5);

    config.start_from = StartFrom::Latest;
    let mut latest = KafkaSource::connect(&endpoint, &config, "start-latest").unwrap();
    assert!(latest.wait_assigned(PATIENCE).unwrap());
    // The group has joined: a poll past the start fixes its position at the end.
    let before = drain(&mut latest, Duration::from_secs(1));
    produce(&broker, "start", 3);
    let after = collect(&mut latest, 3);
    println!("start from latest: {} before joining, {} after", before.len(), after.len());
    assert!(before.is_empty());
    assert_eq!(after.len(), 3);
}

/// A `^pattern` subscription reads every matching topic, and a sink topic
/// template sends each record to a topic named after the one it came from.
#[test]
fn pattern_subscription_and_topic_template() {
    let broker = Tansu::start();
    for topic in ["pat-a", "pat-b", "other", "copy.pat-a", "copy.pat-b"] {
        broker.create_topic(topic, 2);
    }
    produce(&broker, "pat-a", 5);
    produce(&broker, "pat-b", 7);
    produce(&broker, "other", 3);
    let mut config = KafkaSourceConfig::new(["^pat-.*"]);
    config.consumer_group = Some("pattern-group".into());
    let mut input = KafkaSource::connect(&consumer_endpoint(&broker), &config, "pattern").unwrap();
    let mut got = collect(&mut input, 12);
    got.extend(drain(&mut input, Duration::from_secs(1)));
    let mut per_topic: BTreeMap<String, usize> = BTreeMap::new();
    for incoming in &got {
        *per_topic.entry(String::from_utf8_lossy(&message(incoming).topic).into_owned()).or_default() += 1;
    }
    println!("pattern ^pat-.*: {per_topic:?}");
    assert_eq!(per_topic, BTreeMap::from([("pat-a".to_string(), 5), ("pat-b".to_string(), 7)]));

    let endpoint = KafkaEndpoint::new(&broker.bootstrap());
    let mut copy = KafkaSink::connect(&endpoint, &KafkaSinkConfig::new("copy.${inputTopic}"), "copier").unwrap();
    for (i, incoming) in got.iter().enumerate() {
        let time = incoming.time.clone().unwrap();
        copy.write(&Record::message(time, i as u64, message(incoming).clone())).unwrap();
    }
    copy.flush().unwrap();
    input.ack(&tokens(&got)).unwrap();
    let mut copied = source(&broker, "copy.pat-b", "copy-group");
    let again = collect(&mut copied, 7);
    assert_eq!(again.len(), 7);
    let keys: BTreeSet<String> = again.iter().map(|r| message(r).user_properties[0].1.clone()).collect();
    assert_eq!(keys, (0..7).map(|i| format!("k{i}")).collect(), "keys kept through the copy");
}

/// Write `n` records, one flush (so one record batch) each, numbered from `first`.
///
/// One batch per record because tansu answers a ListOffsets for the latest
/// offset with one past the last *batch*'s base offset (20 records written
/// in one batch give a high watermark of 1, where Kafka says 20); with a
/// record per batch both agree.
fn produce_one_by_one(broker: &Tansu, topic: &str, first: u64, n: u64) {
    let mut sink = sink(broker, topic);
    for i in first..first + n {
        let time = Hlc::new((i + 1) * 1_000_000_000, 0, "test");
        sink.write(&Record::message(time, i, keyed("in", &format!("k{i}"), &format!("r{i}")))).unwrap();
        sink.flush().unwrap();
    }
}

/// The lag of the source's one partition, as telemetry reads it.
fn lag_of(probe: &dyn crate::LagProbe) -> Vec<(String, i32, u64)> {
    probe.lag().into_iter().map(|l| (l.topic, l.partition, l.messages)).collect()
}

/// The lag telemetry reads is the high watermark minus the offset the
/// source commits next: records read and not yet acknowledged count (they
/// are not committed), acknowledged ones stop counting, and records produced
/// and not read yet count before the source sees them.
#[test]
fn lag_is_the_watermark_minus_the_next_offset_to_commit() {
    const N: u64 = 20;
    let broker = Tansu::start();
    broker.create_topic("lag", 1);
    produce_one_by_one(&broker, "lag", 0, N);
    let mut source = source(&broker, "lag", "lag-group");
    let probe = source.lag_probe().expect("a Kafka source reports its lag");
    assert!(source.wait_assigned(PATIENCE).unwrap());
    let mut got = collect(&mut source, N as usize);
    got.extend(drain(&mut source, Duration::from_millis(300)));
    assert_eq!(got.len() as u64, N, "every record once");
    let all = |n| vec![("lag".to_string(), 0, n)];
    assert_eq!(lag_of(&*probe), all(N), "read, none acknowledged: all {N} uncommitted");
    source.ack(&tokens(&got[..8])).unwrap();
    assert_eq!(lag_of(&*probe), all(N - 8), "8 acknowledged");
    source.ack(&tokens(&got[8..])).unwrap();
    assert_eq!(lag_of(&*probe), all(0), "all acknowledged");
    produce_one_by_one(&broker, "lag", N, 5);
    let until = Instant::now() + PATIENCE;
    while lag_of(&*probe) != all(5) {
        assert!(Instant::now() < until, "lag {:?} after producing 5 more", lag_of(&*probe));
        std::thread::sleep(Duration::from_millis(50));
    }
    let more = collect(&mut source, 5);
    assert_eq!(lag_of(&*probe), all(5), "read, in flight: still uncommitted");
    source.ack(&tokens(&more)).unwrap();
    assert_eq!(lag_of(&*probe), all(0));
    drop(source);
    assert!(probe.lag().is_empty(), "a dropped source has no lag to report");
    eprintln!(
        "kafka lag: {N} produced -> {N} while in flight, {} after acknowledging 8, 0 after all; 5 more -> 5",
        N - 8
    );
}

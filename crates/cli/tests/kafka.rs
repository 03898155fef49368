//! `wasmgraph run DEPLOYMENT` end to end with Kafka (issue 13's "Must
//! show"): a tansu Kafka-protocol broker started by each test on 127.0.0.1
//! (`wasmgraph-test-kafka`; `scripts/setup.sh` installs it), mosquitto for the
//! MQTT side, and the `wasmgraph` binary under test as a child process.
//!
//! The graph is the simple example (`examples/graphs/simple.yaml`: the
//! temperature map, Fahrenheit to Celsius), built by
//! `scripts/build-examples.sh`. The tests' own producer and consumer use
//! rdkafka directly, so what they see does not depend on wasmgraph's
//! connectors. Behind the `kafka-integration-tests` feature
//! (`scripts/test.sh` turns it on); every test prints its counts
//! (`cargo test -- --nocapture` shows them).
#![cfg(feature = "kafka-integration-tests")]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{root, Client, Runtime};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use wasmgraph_test_kafka::Tansu;
use wasmgraph_test_mosquitto::{free_port, Mosquitto};

/// Longest a test waits for records, a start or a rebalance.
const PATIENCE: Duration = Duration::from_secs(120);

/// The example temperature operator; the tests need it built.
fn require_example_operator() {
    let module = root().join("examples/operators/temperature/bin/x86_64/release/temperature.wasm");
    assert!(module.exists(), "{} is missing: run scripts/build-examples.sh (scripts/test.sh does)", module.display());
}

fn key(i: usize) -> String {
    format!("k{i:05}")
}

/// Reading `i`: `i` degrees Fahrenheit.
fn reading(i: usize) -> String {
    format!(r#"{{"temperature":{{"value":{i},"unit":"F"}}}}"#)
}

/// Panics unless `payload` is reading `i` converted to Celsius by the graph.
fn assert_celsius(payload: &str, i: usize) {
    let v: serde_json::Value =
        serde_json::from_str(payload).unwrap_or_else(|e| panic!("output is not JSON ({e}): {payload}"));
    let t = &v["temperature"];
    let expected = (i as f64 - 32.0) * 5.0 / 9.0;
    assert_eq!(t["unit"], "C", "not converted: {payload}");
    assert!((t["value"].as_f64().unwrap() - expected).abs() < 1e-9, "{payload}: expected {expected} C");
}

// ---- The tests' own Kafka clients (rdkafka, independent of wasmgraph) ----

/// Where a produced record landed.
#[derive(Debug, Clone, Copy)]
struct Placed {
    partition: i32,
    offset: i64,
}

/// Delivery reports of the test producer, by record key.
#[derive(Default)]
struct Deliveries {
    placed: Mutex<HashMap<String, Placed>>,
    failed: Mutex<Vec<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                let placed = Placed { partition: m.partition(), offset: m.offset() };
                self.placed.lock().unwrap().insert(key, placed);
            }
            Err((e, m)) => self.failed.lock().unwrap().push(format!("{}: {e}", m.topic())),
        }
    }
}

/// A producer (acks=all) that remembers where each keyed record landed.
struct TestProducer(BaseProducer<Deliveries>);

impl TestProducer {
    fn new(broker: &Tansu) -> Self {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .set("acks", "all")
            .set("linger.ms", "5")
            .create_with_context(Deliveries::default())
            .expect("creating the test producer");
        TestProducer(producer)
    }

    /// Queue one record; waits while librdkafka's queue is full.
    fn send(&self, topic: &str, key: Option<&str>, payload: &[u8], headers: &[(&str, &str)]) {
        let mut owned = OwnedHeaders::new();
        for (name, value) in headers {
            owned = owned.insert(Header { key: name, value: Some(*value) });
        }
        let mut record = BaseRecord::to(topic).payload(payload).headers(owned);
        if let Some(key) = key {
            record = record.key(key);
        }
        loop {
            match self.0.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.0.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("producing to {topic}: {e}"),
            }
        }
    }

    /// Readings `range` to `topic`, keyed `k<i>`.
    fn readings(&self, topic: &str, range: std::ops::Range<usize>) {
        for i in range {
            self.send(topic, Some(&key(i)), reading(i).as_bytes(), &[]);
        }
        self.flush();
    }

    /// Wait until the broker acknowledged everything sent: 1 ms polls for
    /// the delivery reports (rdkafka's own waiting flush takes 100 ms steps).
    fn flush(&self) {
        let until = Instant::now() + PATIENCE;
        while let Err(e) = self.0.flush(Duration::ZERO) {
            assert!(Instant::now() < until, "flushing the test producer: {e}");
            self.0.poll(Duration::from_millis(1));
        }
        let failed = self.0.context().failed.lock().unwrap();
        assert!(failed.is_empty(), "the broker refused test records: {failed:?}");
    }

    fn placed(&self) -> HashMap<String, Placed> {
        self.0.context().placed.lock().unwrap().clone()
    }
}

/// A record the test consumer read.
#[derive(Debug, Clone)]
struct Got {
    topic: String,
    key: Option<String>,
    payload: String,
    headers: Vec<(String, String)>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads every partition of some topics from the beginning (assigned, no
/// group) on a thread of its own, collecting what comes.
struct Collector {
    got: Arc<Mutex<Vec<Got>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// `topics`: (name, number of partitions).
    fn start(broker: &Tansu, topics: &[(&str, i32)]) -> Self {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .set("group.id", "wasmgraph-test-collector")
            .set("enable.auto.commit", "false")
            .create()
            .expect("creating the test consumer");
        let mut assignment = TopicPartitionList::new();
        for (topic, partitions) in topics {
            for p in 0..*partitions {
                assignment.add_partition_offset(topic, p, Offset::Beginning).unwrap();
            }
        }
        consumer.assign(&assignment).expect("assigning the test consumer");
        let (got, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (g, s) = (got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => g.lock().unwrap().push(Got {
                        topic: m.topic().to_owned(),
                        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                        payload: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                        headers: m
                            .headers()
                            .map(|h| {
                                h.iter()
                                    .map(|h| {
                                        (h.key.to_owned(), String::from_utf8_lossy(h.value.unwrap_or_default()).into())
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    }),
                    Some(Err(e)) => eprintln!("test consumer: {e}"),
                    None => {}
                }
            }
        });
        Collector { got, stop, thread: Some(thread) }
    }

    fn len(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    /// Records read from `topic` so far.
    fn count(&self, topic: &str) -> usize {
        self.got.lock().unwrap().iter().filter(|r| r.topic == topic).count()
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// What was read once nothing more came for a second.
    fn settle(&self) -> Vec<Got> {
        let until = Instant::now() + PATIENCE;
        let mut seen = self.got().len();
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let now = self.got();
            if now.len() == seen {
                return now;
            }
            assert!(Instant::now() < until, "records kept coming for {PATIENCE:?}");
            seen = now.len();
        }
    }

    /// Wait (up to [`PATIENCE`]) until `done` holds for what was read.
    fn wait(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let until = Instant::now() + PATIENCE;
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(Instant::now() < until, "timed out waiting for {what}: {} record(s) read", got.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Per key, how often it was read.
fn counts<'a>(records: impl IntoIterator<Item = &'a Got>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in records {
        *counts.entry(r.key.clone().unwrap_or_default()).or_insert(0) += 1;
    }
    counts
}

/// The offsets `group` committed for `topic`'s partitions (0 where none).
fn committed(broker: &Tansu, group: &str, topic: &str, partitions: i32) -> HashMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating the offset reader");
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition(topic, p);
    }
    let found = consumer.committed_offsets(list, Duration::from_secs(10)).expect("reading committed offsets");
    found.elements().iter().map(|e| (e.partition(), if let Offset::Offset(o) = e.offset() { o } else { 0 })).collect()
}

// ---- Deployment files ----

/// A wasmgraph deployment of the simple example graph in `dir`, with two
/// Kafka endpoints on `broker`: `kafka-in` for sources (quick heartbeats and
/// a short session, so a killed or stopped member's partitions move on within
/// seconds) and `kafka` for sinks.
fn deployment(dir: &Path, broker: &Tansu, name: &str, sections: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    let text = format!(
        "kind: Deployment\nname: {name}\ngraph: {graph}\nmodules: {modules}\n{sections}\
         endpoints:\n  kafka-in:\n    type: kafka\n    host: {host}\n    properties:\n      \
         heartbeat.interval.ms: \"500\"\n      session.timeout.ms: \"6000\"\n  \
         kafka:\n    type: kafka\n    host: {host}\n",
        graph = root().join("examples/graphs/simple.yaml").display(),
        modules = root().join("examples/operators").display(),
        host = broker.bootstrap(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn kafka_source(topic: &str, extra: &str) -> String {
    format!("source:\n  type: kafka\n  endpoint: kafka-in\n  topics: [{topic}]\n{extra}")
}

fn kafka_sink(topic: &str) -> String {
    format!("sink:\n  type: kafka\n  endpoint: kafka\n  topic: {topic}\n")
}

/// The partitions of `topic` a process owns now, from its log's
/// "partitions assigned" / "partitions revoked" lines.
fn owned(log: &str, topic: &str) -> BTreeSet<i32> {
    let mut owned = BTreeSet::new();
    let pattern = format!("{topic}[");
    for line in log.lines() {
        let assigned = line.contains("partitions assigned");
        if !assigned && !line.contains("partitions revoked") {
            continue;
        }
        for part in line.split(&pattern).skip(1) {
            if let Some(Ok(p)) = part.split(']').next().map(str::parse::<i32>) {
                if assigned {
                    owned.insert(p);
                } else {
                    owned.remove(&p);
                }
            }
        }
    }
    owned
}

/// The number before `label` in a summary line (`..., 12 committed, ...`).
fn summary_number(line: &str, label: &str) -> u64 {
    let at = line.find(&format!(" {label}")).unwrap_or_else(|| panic!("'{label}' not in '{line}'"));
    line[..at]
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before '{label}' in '{line}'"))
}

/// The `kafka:` summary line a stopped process printed.
fn kafka_summary(log: &str) -> &str {
    log.lines().find(|l| l.starts_with("kafka:")).unwrap_or("(no kafka summary line)")
}

// ---- The tests ----

/// 20,000 records Kafka -> F->C map -> Kafka, SIGKILL mid-stream, restart:
/// every input comes out, and the only duplicates are records at or after
/// the group's committed offset at the kill (the uncommitted window).
#[test]
fn sigkill_mid_stream_loses_nothing_and_repeats_only_the_uncommitted_window() {
    const N: usize = 20_000;
    require_example_operator();
    let dir = tempfile::tempdir().unwrap();
    let broker = Tansu::start();
    broker.create_topic("readings", 2);
    broker.create_topic("celsius", 1);
    let deployment =
        deployment(dir.path(), &broker, "kill-test", &(kafka_source("readings", "") + &kafka_sink("celsius")));
    let producer = TestProducer::new(&broker);
    producer.readings("readings", 0..N);
    let placed = producer.placed();
    assert_eq!(placed.len(), N);
    let out = Collector::start(&broker, &[("celsius", 1)]);
    let started = Instant::now();
    let runtime = Runtime::start(&deployment, dir.path(), "1");
    // Kill early: the graph is fast, and the kill must fall mid-stream.
    let until = Instant::now() + PATIENCE;
    while out.len() < N / 10 {
        assert!(Instant::now() < until, "no output after {PATIENCE:?}:\n{}", runtime.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    runtime.kill();
    // Produce requests already in the dead process's socket buffers still
    // reach the broker: the first run's output is what the test consumer
    // has read once nothing more comes for a second.
    let first_run = out.settle();
    let before_kill = first_run.len();
    assert!(before_kill < N, "the graph had finished before the kill");
    let at_kill = committed(&broker, "wasmgraph-kill-test", "readings", 2);
    // The uncommitted window: written by the first run, not committed.
    let window: BTreeSet<String> = first_run
        .iter()
        .filter_map(|r| r.key.clone())
        .filter(|k| placed[k].offset >= at_kill[&placed[k].partition])
        .collect();
    // What was committed had been written: the commit never ran ahead.
    let written: BTreeSet<&str> = first_run.iter().filter_map(|r| r.key.as_deref()).collect();
    let ahead =
        placed.iter().filter(|(k, p)| p.offset < at_kill[&p.partition] && !written.contains(k.as_str())).count();
    assert_eq!(ahead, 0, "{ahead} record(s) committed at the kill but never written");
    let runtime = Runtime::start(&deployment, dir.path(), "2");
    let got = out.wait("every input in the output", |g| counts(g).len() >= N);
    let log = runtime.stop();
    let c = counts(&got);
    let missing: Vec<String> = (0..N).map(key).filter(|k| !c.contains_key(k)).collect();
    let duplicates: usize = c.values().map(|n| n - 1).sum();
    let outside: Vec<&String> = c.iter().filter(|(k, &n)| n > 1 && !window.contains(*k)).map(|(k, _)| k).collect();
    println!(
        "kill test: {N} records in, {} out ({before_kill} before SIGKILL), distinct {}, missing {}, duplicates {duplicates}; \
         committed at the kill {} of {N}; uncommitted window (written, not committed) {} record(s); {:.1?} in all",
        got.len(),
        c.len(),
        missing.len(),
        at_kill.values().sum::<i64>(),
        window.len(),
        started.elapsed()
    );
    println!("after restart: {}", kafka_summary(&log));
    assert!(missing.is_empty(), "lost {} record(s), e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert!(
        outside.is_empty(),
        "{} duplicate(s) outside the uncommitted window, e.g. {:?}",
        outside.len(),
        &outside[..outside.len().min(5)]
    );
    assert!(c.values().all(|&n| n <= 2), "a record came more than twice");
    // And the whole window was redone: uncommitted means read again.
    assert_eq!(duplicates, window.len(), "every record of the uncommitted window comes again");
    for r in got.iter().take(3).chain(got.last()) {
        let i: usize = r.key.as_deref().unwrap()[1..].parse().unwrap();
        assert_celsius(&r.payload, i);
    }
}

/// How process B leaves the group in the group tests.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Leave {
    /// SIGTERM: B finishes and commits what it read, then leaves the group.
    Stop,
    /// SIGKILL: B's partitions move once its session times out (6 s here),
    /// and what it read but did not commit is redone by A.
    Kill,
}

/// Two processes in one consumer group on a 4-partition topic, each writing
/// to its own output topic (so the test sees who processed what). While both
/// run, each partition belongs to one of them and every record comes out
/// once; B stops (SIGTERM) mid-stream, A takes its partitions over; records
/// around that rebalance may come twice, none is lost; afterwards A handles
/// everything, once.
#[test]
fn two_processes_in_one_group_share_partitions_and_survive_one_stopping() {
    group_takeover(Leave::Stop);
}

/// The same with B killed (SIGKILL): records processed by both processes
/// are exactly records B wrote and had not committed.
#[test]
fn two_processes_in_one_group_share_partitions_and_survive_one_dying() {
    group_takeover(Leave::Kill);
}

fn group_takeover(leave: Leave) {
    // Phase 2 is large enough that B is still busy with it when it leaves.
    const PHASE: [std::ops::Range<usize>; 3] = [0..6_000, 6_000..26_000, 26_000..30_000];
    require_example_operator();
    let dir = tempfile::tempdir().unwrap();
    let broker = Tansu::start();
    broker.create_topic("shared-in", 4);
    broker.create_topic("out-a", 1);
    broker.create_topic("out-b", 1);
    let source = kafka_source("shared-in", "  consumerGroup: shared\n");
    let dep_a = deployment(dir.path(), &broker, "member-a", &(source.clone() + &kafka_sink("out-a")));
    let dep_b = deployment(dir.path(), &broker, "member-b", &(source + &kafka_sink("out-b")));
    let out = Collector::start(&broker, &[("out-a", 1), ("out-b", 1)]);
    let a = Runtime::start(&dep_a, dir.path(), "a");
    let b = Runtime::start(&dep_b, dir.path(), "b");
    let b_partitions = wait_split(&a, &b);
    let producer = TestProducer::new(&broker);

    // Phase 1: both run.
    producer.readings("shared-in", PHASE[0].clone());
    let got = out.wait("phase 1", |g| counts(g).len() >= PHASE[0].len());
    let b1 = check_split(&got, &producer.placed());

    // Phase 2: B leaves mid-stream, while records keep coming; A takes over.
    let (b_log, at_kill) = std::thread::scope(|s| {
        s.spawn(|| {
            for from in PHASE[1].clone().step_by(2_000) {
                producer.readings("shared-in", from..from + 2_000);
            }
        });
        let until = Instant::now() + PATIENCE;
        while out.count("out-b") < b1 + 500 {
            assert!(Instant::now() < until, "process B wrote nothing of phase 2");
            std::thread::sleep(Duration::from_millis(5));
        }
        match leave {
            Leave::Stop => (Some(b.stop()), None),
            Leave::Kill => {
                b.kill();
                // B's partitions stay B's until its session expires: their
                // committed offsets are where A will resume.
                (None, Some(committed(&broker, "shared", "shared-in", 4)))
            }
        }
    });
    let until = Instant::now() + PATIENCE;
    while owned(&a.log(), "shared-in").len() < 4 {
        assert!(Instant::now() < until, "process A did not take all partitions over:\n{}", a.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = out.wait("phase 2", |g| counts(g).len() >= PHASE[1].end);
    let phase2: Vec<&Got> = got.iter().filter(|r| in_phase(r, &PHASE[1])).collect();
    let duplicates = report_takeover(&phase2);

    // Phase 3: A alone.
    producer.readings("shared-in", PHASE[2].clone());
    let got = out.wait("phase 3", |g| counts(g).len() >= PHASE[2].end);
    let a_log = a.stop();
    let phase3: Vec<&Got> = got.iter().filter(|r| in_phase(r, &PHASE[2])).collect();
    let c = counts(got.iter());
    let missing = (0..PHASE[2].end).filter(|&i| !c.contains_key(&key(i))).count();
    println!(
        "group ({leave:?}), phase 3 (A alone): {} records, process A {}, process B {}; all phases: missing {missing}",
        PHASE[2].len(),
        phase3.iter().filter(|r| r.topic == "out-a").count(),
        phase3.iter().filter(|r| r.topic == "out-b").count(),
    );
    println!("process A: {}", kafka_summary(&a_log));
    assert_eq!(missing, 0, "records were lost");
    assert_eq!(phase3.len(), PHASE[2].len(), "after the rebalance, a record came twice");
    assert!(phase3.iter().all(|r| r.topic == "out-a"), "process B wrote after it left");
    let placed = producer.placed();
    match (b_log, at_kill) {
        (Some(b_log), _) => stopped_duplicates_explained(duplicates, &a_log, &b_log),
        (None, Some(at_kill)) => killed_duplicates_explained(&phase2, &placed, &b_partitions, &at_kill, &a_log),
        (None, None) => unreachable!(),
    }
}

/// After a clean stop, every duplicate is a record some process read and
/// did not commit: on a clean stop every record read is acknowledged, and
/// those acknowledged after their partition was revoked commit nothing.
fn stopped_duplicates_explained(duplicates: usize, a_log: &str, b_log: &str) {
    println!("process B: {}", kafka_summary(b_log));
    let uncommitted: u64 = [a_log, b_log]
        .iter()
        .map(|log| summary_number(kafka_summary(log), "acknowledged") - summary_number(kafka_summary(log), "committed"))
        .sum();
    assert!(
        duplicates as u64 <= uncommitted,
        "{duplicates} duplicates, but only {uncommitted} records went uncommitted"
    );
}

/// After B was killed, every record both processes wrote is one of B's
/// partitions at or after its committed offset at the kill (B's uncommitted
/// window), and A's own repeats are records it acknowledged after a
/// revocation (its stale acknowledgements).
fn killed_duplicates_explained(
    phase2: &[&Got],
    placed: &HashMap<String, Placed>,
    b_partitions: &BTreeSet<i32>,
    at_kill: &HashMap<i32, i64>,
    a_log: &str,
) {
    let mut by: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for r in phase2 {
        by.entry(r.key.as_deref().unwrap_or_default()).or_default().insert(&r.topic);
    }
    let both: Vec<&str> = by.iter().filter(|(_, t)| t.len() > 1).map(|(k, _)| *k).collect();
    let outside: Vec<&&str> = both
        .iter()
        .filter(|k| {
            let p = placed[**k];
            !b_partitions.contains(&p.partition) || p.offset < at_kill[&p.partition]
        })
        .collect();
    let a_repeats: usize = counts(phase2.iter().copied().filter(|r| r.topic == "out-a")).values().map(|n| n - 1).sum();
    let a_uncommitted =
        summary_number(kafka_summary(a_log), "acknowledged") - summary_number(kafka_summary(a_log), "committed");
    println!(
        "group (Kill): B's partitions {b_partitions:?} committed at the kill {:?}; written by both {}, all in B's uncommitted window: {}",
        b_partitions.iter().map(|p| at_kill[p]).collect::<Vec<_>>(),
        both.len(),
        outside.is_empty()
    );
    assert!(outside.is_empty(), "records written by both outside B's uncommitted window: {outside:?}");
    assert!(
        a_repeats as u64 <= a_uncommitted,
        "A repeated {a_repeats} records but left only {a_uncommitted} uncommitted"
    );
}

/// Phase 1 of the group test: each record came out once, each partition was
/// read by one process, both processes got some. Returns B's count.
fn check_split(got: &[Got], placed: &HashMap<String, Placed>) -> usize {
    assert!(counts(got).values().all(|&n| n == 1), "a record came twice while both processes ran");
    let mut owners: BTreeMap<i32, BTreeSet<&str>> = BTreeMap::new();
    for r in got {
        owners.entry(placed[r.key.as_deref().unwrap()].partition).or_default().insert(&r.topic);
    }
    let (a, b) = (got.iter().filter(|r| r.topic == "out-a").count(), got.iter().filter(|r| r.topic == "out-b").count());
    println!(
        "group, phase 1 (both run): {} records, process A {a}, process B {b}; partition owners {owners:?}",
        got.len()
    );
    assert!(a > 0 && b > 0, "one process got no records");
    assert!(owners.values().all(|o| o.len() == 1), "a partition was read by both processes: {owners:?}");
    b
}

/// Phase 2 of the group test (B stops mid-stream), printed; returns the
/// number of duplicates.
fn report_takeover(phase2: &[&Got]) -> usize {
    let by = |topic: &str| phase2.iter().filter(|r| r.topic == topic).count();
    let redone = |topic: &str| -> usize {
        counts(phase2.iter().copied().filter(|r| r.topic == topic)).values().map(|n| n - 1).sum()
    };
    let duplicates: usize = counts(phase2.iter().copied()).values().map(|n| n - 1).sum();
    println!(
        "group, phase 2 (B leaves mid-stream): {} records out, process A {}, process B {}, processed by both {}, \
         duplicates {duplicates} (redone by A {}, by B {})",
        phase2.len(),
        by("out-a"),
        by("out-b"),
        both_processes(phase2),
        redone("out-a"),
        redone("out-b"),
    );
    duplicates
}

/// Wait until A and B between them own all 4 partitions, none twice;
/// returns B's.
fn wait_split(a: &Runtime, b: &Runtime) -> BTreeSet<i32> {
    let until = Instant::now() + PATIENCE;
    loop {
        let (oa, ob) = (owned(&a.log(), "shared-in"), owned(&b.log(), "shared-in"));
        if !oa.is_empty() && !ob.is_empty() && oa.is_disjoint(&ob) && oa.len() + ob.len() == 4 {
            println!("group: process A owns partitions {oa:?}, process B {ob:?}");
            return ob;
        }
        assert!(Instant::now() < until, "the group did not split the partitions: A {oa:?}, B {ob:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn in_phase(r: &Got, phase: &std::ops::Range<usize>) -> bool {
    r.key.as_deref().and_then(|k| k[1..].parse::<usize>().ok()).is_some_and(|i| phase.contains(&i))
}

/// Records that came out of both processes.
fn both_processes(records: &[&Got]) -> usize {
    let mut by: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for r in records {
        by.entry(r.key.as_deref().unwrap_or_default()).or_default().insert(&r.topic);
    }
    by.values().filter(|s| s.len() > 1).count()
}

/// A record the map rejects (not JSON) goes to a Kafka dead-letter topic
/// with the operation, failure kind and error as headers; the records after
/// it still come out, in order.
#[test]
fn rejected_record_goes_to_a_kafka_dead_letter_topic_and_the_stream_goes_on() {
    require_example_operator();
    let dir = tempfile::tempdir().unwrap();
    let broker = Tansu::start();
    for topic in ["dl-in", "dl-out", "dead-letters"] {
        broker.create_topic(topic, 1);
    }
    let errors = "errors:\n  policy: deadLetter\n  topic: dead-letters\n";
    let sections = kafka_source("dl-in", "") + &kafka_sink("dl-out") + errors;
    let deployment = deployment(dir.path(), &broker, "dead-letter-test", &sections);
    let runtime = Runtime::start(&deployment, dir.path(), "1");
    let producer = TestProducer::new(&broker);
    let bad = [(1, "not json at all"), (4, "{\"temperature\": ")];
    for i in 0..8 {
        let payload = bad.iter().find(|(n, _)| *n == i).map(|(_, p)| p.to_string()).unwrap_or_else(|| reading(i));
        producer.send("dl-in", Some(&key(i)), payload.as_bytes(), &[("site", "7")]);
    }
    producer.flush();
    let out = Collector::start(&broker, &[("dl-out", 1), ("dead-letters", 1)]);
    let got = out.wait("six results and two dead letters", |g| g.len() >= 8);
    let log = runtime.stop();
    let results: Vec<&Got> = got.iter().filter(|r| r.topic == "dl-out").collect();
    let dead: Vec<&Got> = got.iter().filter(|r| r.topic == "dead-letters").collect();
    println!(
        "dead letters: 8 records in ({} not JSON), {} results {:?}, {} dead letter(s) with headers {:?}; {}",
        bad.len(),
        results.len(),
        results.iter().map(|r| r.key.as_deref().unwrap_or("")).collect::<Vec<_>>(),
        dead.len(),
        dead.first().map(|d| &d.headers),
        log.lines().find(|l| l.contains("failed call(s)")).unwrap_or("")
    );
    let keys: Vec<&str> = results.iter().map(|r| r.key.as_deref().unwrap_or("")).collect();
    assert_eq!(keys, ["k00000", "k00002", "k00003", "k00005", "k00006", "k00007"]);
    for r in &results {
        assert_celsius(&r.payload, r.key.as_deref().unwrap()[1..].parse().unwrap());
        assert_eq!(r.header("site"), Some("7"), "headers are carried through: {:?}", r.headers);
    }
    assert_eq!(dead.len(), 2);
    for d in &dead {
        assert_eq!(d.header("__operation"), Some("module-temperature/map"), "{:?}", d.headers);
        assert_eq!(d.header("__error_kind"), Some("error"), "{:?}", d.headers);
        assert!(d.header("__error").is_some_and(|e| e.contains("not JSON")), "{:?}", d.headers);
        let doc: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
        assert_eq!(doc["operation"], "module-temperature/map");
    }
    assert!(dead[0].payload.contains("not json at all"), "the failed record is in the document: {}", dead[0].payload);
    assert!(log.contains("2 failed call(s)"), "{log}");
}

// ---- The example deployments (examples/deployments/kafka) ----

/// Copies of the example files in `dir`, in the same layout relative to
/// `examples/` (graphs and operators linked), with the brokers' addresses
/// put in: `replace` pairs must each occur in their file.
struct Staged {
    dir: PathBuf,
}

impl Staged {
    fn new(dir: &Path) -> Self {
        let examples = dir.join("examples");
        std::fs::create_dir_all(examples.join("deployments/kafka/aio")).unwrap();
        for linked in ["graphs", "operators"] {
            std::os::unix::fs::symlink(root().join("examples").join(linked), examples.join(linked)).unwrap();
        }
        Staged { dir: dir.to_path_buf() }
    }

    fn copy(&self, example: &str, replace: &[(&str, String)]) -> PathBuf {
        let mut text = std::fs::read_to_string(root().join(example)).unwrap();
        for (from, to) in replace {
            assert!(text.contains(from), "{example} no longer contains '{from}': update this test");
            text = text.replace(from, to);
        }
        let path = self.dir.join(example);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// The brokers of one example run: tansu with the examples' topics, and mosquitto.
struct Brokers {
    kafka: Tansu,
    mqtt: Mosquitto,
    _dir: tempfile::TempDir,
}

impl Brokers {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mqtt = Mosquitto::start(dir.path(), free_port());
        let kafka = Tansu::start();
        for topic in ["temperature-celsius", "temperature-fahrenheit", "temperature-errors"] {
            kafka.create_topic(topic, 1);
        }
        Brokers { kafka, mqtt, _dir: dir }
    }

    /// What the wasmgraph deployments' endpoints become.
    fn native(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "{type: mqtt, embedded: true, port: 1883}",
                format!("{{type: mqtt, host: 127.0.0.1, port: {}}}", self.mqtt.port),
            ),
            ("host: localhost:9092", format!("host: {}", self.kafka.bootstrap())),
        ]
    }

    /// What the AIO companion file becomes (`default` is mosquitto).
    fn companion(&self) -> Vec<(&'static str, String)> {
        vec![
            ("endpoints:\n", format!("endpoints:\n  default: {{host: 127.0.0.1, port: {}}}\n", self.mqtt.port)),
            ("host: localhost:9092", format!("host: {}", self.kafka.bootstrap())),
        ]
    }
}

/// MQTT readings on sensors/<i>/temperature through `deployment` come out
/// converted on the Kafka topic temperature-celsius; returns them.
fn run_mqtt_to_kafka(brokers: &Brokers, deployment: &Path, dir: &Path, tag: &str) -> Vec<Got> {
    const N: usize = 10;
    let out = Collector::start(&brokers.kafka, &[("temperature-celsius", 1)]);
    let runtime = Runtime::start(deployment, dir, tag);
    let client = Client::connect(brokers.mqtt.port, &format!("probe-{tag}"), &[]);
    for i in 0..N {
        client.publish(&format!("sensors/{i}/temperature"), reading(100 + i), vec![]);
    }
    let got = out.wait("converted readings on Kafka", |g| g.len() >= N);
    let log = runtime.stop();
    println!(
        "{tag}: {N} MQTT messages in, {} Kafka records out; {}",
        got.len(),
        log.lines().find(|l| l.contains("published")).unwrap_or("")
    );
    assert_eq!(got.len(), N, "each reading once");
    // One publisher, QoS 1, one partition: the order is kept.
    for (n, r) in got.iter().enumerate() {
        assert_celsius(&r.payload, 100 + n);
    }
    got
}

/// Kafka readings on temperature-fahrenheit through `deployment` come out
/// converted on MQTT; returns them.
fn run_kafka_to_mqtt(brokers: &Brokers, deployment: &Path, dir: &Path, tag: &str, bad: bool) -> Vec<common::Received> {
    const N: usize = 10;
    let client = Client::connect(brokers.mqtt.port, &format!("probe-{tag}"), &["processed/#"]);
    let runtime = Runtime::start(deployment, dir, tag);
    let producer = TestProducer::new(&brokers.kafka);
    for i in 0..N {
        producer.send("temperature-fahrenheit", Some(&key(i)), reading(200 + i).as_bytes(), &[]);
        if bad && i == 4 {
            producer.send("temperature-fahrenheit", Some("bad"), b"<not json>", &[]);
        }
    }
    producer.flush();
    let got = client.wait_received("converted readings on MQTT", PATIENCE, |r| r.len() >= N);
    let log = runtime.stop();
    println!(
        "{tag}: {N} Kafka records in, {} MQTT messages out on {:?}",
        got.len(),
        got.iter().map(|m| m.topic.as_str()).collect::<BTreeSet<_>>()
    );
    println!("{tag}: {}", kafka_summary(&log));
    assert_eq!(got.len(), N, "each reading once");
    for (n, m) in got.iter().enumerate() {
        assert_celsius(&m.payload, 200 + n);
    }
    got
}

#[test]
fn example_deployments_mqtt_to_kafka_native_and_aio() {
    require_example_operator();
    let dir = tempfile::tempdir().unwrap();
    let staged = Staged::new(dir.path());
    let brokers = Brokers::start();
    let native = staged.copy("examples/deployments/kafka/mqtt-to-kafka.yaml", &brokers.native());
    let got = run_mqtt_to_kafka(&brokers, &native, dir.path(), "mqtt-to-kafka");
    // `key: topic`: each record keyed by its MQTT topic.
    assert!(
        got.iter().enumerate().all(|(i, r)| r.key.as_deref() == Some(&format!("sensors/{i}/temperature"))),
        "{got:?}"
    );
    assert!(got.iter().all(|r| r.header("__ts").is_some()), "the record time goes out as __ts");

    let brokers = Brokers::start();
    staged.copy("examples/deployments/kafka/aio/endpoints.yaml", &brokers.companion());
    let aio = staged.copy("examples/deployments/kafka/aio/mqtt-to-kafka.yaml", &[]);
    run_mqtt_to_kafka(&brokers, &aio, dir.path(), "aio-mqtt-to-kafka");
}

#[test]
fn example_deployments_kafka_to_mqtt_native_and_aio() {
    require_example_operator();
    let dir = tempfile::tempdir().unwrap();
    let staged = Staged::new(dir.path());
    let brokers = Brokers::start();
    let native = staged.copy("examples/deployments/kafka/kafka-to-mqtt.yaml", &brokers.native());
    let dead = Collector::start(&brokers.kafka, &[("temperature-errors", 1)]);
    let got = run_kafka_to_mqtt(&brokers, &native, dir.path(), "kafka-to-mqtt", true);
    assert!(got.iter().all(|m| m.topic == "processed/temperature-fahrenheit"), "{got:?}");
    // The rejected record went to the Kafka dead-letter sink of this MQTT-out deployment.
    let dead = dead.wait("the dead letter", |g| !g.is_empty());
    println!("kafka-to-mqtt: dead letters on Kafka: {} with headers {:?}", dead.len(), dead[0].headers);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].header("__operation"), Some("module-temperature/map"));
    assert!(dead[0].header("__error").is_some_and(|e| e.contains("not JSON")));

    let brokers = Brokers::start();
    staged.copy("examples/deployments/kafka/aio/endpoints.yaml", &brokers.companion());
    let aio = staged.copy("examples/deployments/kafka/aio/kafka-to-mqtt.yaml", &[]);
    let got = run_kafka_to_mqtt(&brokers, &aio, dir.path(), "aio-kafka-to-mqtt", false);
    assert!(got.iter().all(|m| m.topic == "processed/temperature"), "{got:?}");
    // AIO's consumerGroupId is the group the source joined and committed in.
    let committed = committed(&brokers.kafka, "aio-temperature", "temperature-fahrenheit", 1);
    println!("aio-kafka-to-mqtt: group aio-temperature committed offset {}", committed[&0]);
    assert_eq!(committed[&0], 10);
}

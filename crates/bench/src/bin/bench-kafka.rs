//! Issue 13 item 6: Kafka end to end against a Kafka-protocol broker on
//! loopback (tansu, in memory, started here on a free 127.0.0.1 port;
//! `scripts/setup.sh` installs it).
//!
//! Three paths on the same broker, interleaved in the same run, each fed the
//! same N readings by one producer (acks=all) and timed from the first send
//! to the N-th record read by one consumer:
//!
//! * **graph**: `bench-in` -> wasmgraph (Kafka source -> the simple example
//!   graph's F->C map -> Kafka sink, one worker; built by
//!   `wasmgraph_runtime::Pipeline` exactly as `wasmgraph run` builds it) ->
//!   `bench-out`;
//! * **relay**, the limit: `relay-in` -> a plain consume->produce relay in
//!   rdkafka with the same guarantees and no graph (a consumer group member
//!   and an idempotent acks=all producer; each polled batch of up to 1024
//!   records, the engine's in-flight window of 4 polls of 256, is produced,
//!   flushed, then its offsets committed) -> `relay-out`. Records cross the
//!   broker twice, as on the graph's path;
//! * **broker**: `direct`, producer -> broker -> consumer, one hop (for scale).
//!
//! `kafka.ratio` is graph / relay. Options besides `--quick`:
//! `--messages N`, `--reps N`, `--relay-batch N`, `--workers N` (the graph's).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use wasmgraph_bench::*;
use wasmgraph_connectors::kafka::{KafkaEndpoint, KafkaSinkConfig, KafkaSourceConfig};
use wasmgraph_connectors::{EndpointSpec, SinkSpec, SourceSpec, StopHandle};
use wasmgraph_runtime::{HostSettings, Pipeline, Running};
use wasmgraph_test_kafka::Tansu;

/// Topics the consumer reads: the three paths' outputs.
const OUTPUTS: [&str; 3] = ["bench-out", "relay-out", "direct"];

/// Records the consumer has read, per topic, with the arrival time of the last.
#[derive(Default)]
struct Arrivals {
    count: HashMap<String, u64>,
    last: HashMap<String, Instant>,
}

/// One consumer reading every output topic from its start, on its own thread.
struct Reader {
    arrivals: Arc<Mutex<Arrivals>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    fn start(bootstrap: &str) -> Result<Self> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "bench-reader")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()?;
        let mut assignment = TopicPartitionList::new();
        for topic in OUTPUTS {
            assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;
        let (arrivals, stop) = (Arc::new(Mutex::new(Arrivals::default())), Arc::new(AtomicBool::new(false)));
        let (a, s) = (arrivals.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                    let now = Instant::now();
                    let mut a = a.lock().unwrap_or_else(|e| e.into_inner());
                    *a.count.entry(m.topic().to_owned()).or_default() += 1;
                    a.last.insert(m.topic().to_owned(), now);
                }
            }
        });
        Ok(Reader { arrivals, stop, thread: Some(thread) })
    }

    fn count(&self, topic: &str) -> u64 {
        self.arrivals.lock().unwrap_or_else(|e| e.into_inner()).count.get(topic).copied().unwrap_or(0)
    }

    fn last(&self, topic: &str) -> Option<Instant> {
        self.arrivals.lock().unwrap_or_else(|e| e.into_inner()).last.get(topic).copied()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A producer with `acks=all`; `linger_ms` 0 for the relay (as wasmgraph's
/// sink, which flushes after every batch), 5 (librdkafka's default) for the
/// bench's feeder.
fn producer(bootstrap: &str, idempotent: bool, linger_ms: u32) -> Result<BaseProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", idempotent.to_string())
        .set("linger.ms", linger_ms.to_string())
        .create()?)
}

/// Queue a record, polling while librdkafka's queue is full.
fn send(producer: &BaseProducer, topic: &str, payload: &[u8]) -> Result<()> {
    let mut record = BaseRecord::<(), [u8]>::to(topic).payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => bail!("producing to {topic}: {e}"),
        }
    }
}

/// Wait until everything produced is acknowledged, as wasmgraph's Kafka sink
/// does: a zero-timeout flush (sends what lingers) and 1 ms polls for the
/// delivery reports. (rdkafka's waiting `flush` polls in 100 ms slices that
/// run to their end, so every flush would take 100 ms or more.)
fn flush(producer: &BaseProducer) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        match producer.flush(Duration::ZERO) {
            Ok(()) => return Ok(()),
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) if Instant::now() < until => {
                producer.poll(Duration::from_millis(1));
            }
            Err(e) => bail!("flushing the relay's producer: {e}"),
        }
    }
}

/// What the plain relay did: cycles (poll a batch, produce, flush, commit),
/// records, and time spent waiting in flush.
#[derive(Debug, Default)]
struct RelayStats {
    cycles: AtomicU64,
    records: AtomicU64,
    flush_ns: AtomicU64,
}

/// The plain relay: `from` -> `to`, at least once (produce a polled batch,
/// flush it, then commit its offsets), until stopped.
fn relay(
    bootstrap: &str,
    from: &str,
    to: &str,
    batch: usize,
    stats: Arc<RelayStats>,
) -> Result<(Arc<AtomicBool>, JoinHandle<Result<()>>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-relay")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    consumer.subscribe(&[from])?;
    let out = producer(bootstrap, true, 0)?;
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let to = to.to_owned();
    let thread = std::thread::spawn(move || -> Result<()> {
        while !s.load(Ordering::Relaxed) {
            let mut next: HashMap<(String, i32), i64> = HashMap::new();
            let mut wait = Duration::from_millis(20);
            for _ in 0..batch {
                let Some(polled) = consumer.poll(wait) else { break };
                let m = polled?;
                send(&out, &to, m.payload().unwrap_or_default())?;
                next.insert((m.topic().to_owned(), m.partition()), m.offset() + 1);
                stats.records.fetch_add(1, Ordering::Relaxed);
                wait = Duration::ZERO;
            }
            if next.is_empty() {
                continue;
            }
            let started = Instant::now();
            flush(&out)?;
            stats.flush_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            stats.cycles.fetch_add(1, Ordering::Relaxed);
            let mut offsets = TopicPartitionList::new();
            for ((topic, partition), offset) in next {
                offsets.add_partition_offset(&topic, partition, Offset::Offset(offset))?;
            }
            consumer.commit(&offsets, CommitMode::Async)?;
        }
        Ok(())
    });
    Ok((stop, thread))
}

/// The graph: `bench-in` -> simple.yaml (F->C map) -> `bench-out`, as
/// `wasmgraph run` would run it from a deployment with these settings.
fn graph(bootstrap: &str) -> Result<(StopHandle, Running)> {
    let mut endpoints = BTreeMap::new();
    endpoints.insert("kafka".to_owned(), EndpointSpec::Kafka(KafkaEndpoint::new(bootstrap)));
    let source =
        SourceSpec::Kafka(KafkaSourceConfig { endpoint: Some("kafka".into()), ..KafkaSourceConfig::new(["bench-in"]) });
    let sink = SinkSpec::Kafka(KafkaSinkConfig { endpoint: Some("kafka".into()), ..KafkaSinkConfig::new("bench-out") });
    let mut pipeline =
        Pipeline::new(root().join("examples/graphs/simple.yaml"), root().join("examples/operators"), source, sink);
    pipeline.name = "bench-kafka".into();
    pipeline.endpoints = endpoints;
    pipeline.ready_timeout = Some(Duration::from_secs(30));
    pipeline.workers = arg("--workers", 1);
    pipeline.host = HostSettings { cache_dir: Some(bench_cache_dir()), ..HostSettings::default() };
    let running = pipeline.start()?;
    if !running.ready() {
        bail!("the graph's Kafka source got no partitions within 30 s");
    }
    let stop = running.stop_handle().context("the Kafka source cannot be stopped")?;
    Ok((stop, running))
}

/// Records/s from the first send to `topic_in` until `n` more records were
/// read from `topic_out`.
fn measure(p: &BaseProducer, reader: &Reader, topic_in: &str, topic_out: &str, n: u64) -> Result<f64> {
    let before = reader.count(topic_out);
    let start = Instant::now();
    for _ in 0..n {
        send(p, topic_in, READING.as_bytes())?;
    }
    p.flush(Duration::from_secs(60))?;
    let until = start + Duration::from_secs(180);
    while reader.count(topic_out) < before + n {
        if Instant::now() > until {
            bail!("only {} of {n} records arrived on {topic_out}", reader.count(topic_out) - before);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let last = reader.last(topic_out).context("no arrivals")?;
    Ok(n as f64 / (last - start).as_secs_f64())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    quantile(&mut v, 0.5)
}

fn main() -> Result<()> {
    println!("== bench-kafka: Kafka end to end (tansu on loopback, acks=all) ==");
    note_load("kafka");
    let n: u64 = if quick() { 3_000 } else { arg("--messages", 20_000) };
    let reps = if quick() { 1 } else { arg("--reps", 3) };
    if !example_wasm("temperature").exists() {
        bail!("{} is missing: run scripts/build-examples.sh", example_wasm("temperature").display());
    }
    let broker = Tansu::start();
    for topic in ["bench-in", "relay-in"].into_iter().chain(OUTPUTS) {
        broker.create_topic(topic, 1);
    }
    let bootstrap = broker.bootstrap();
    let reader = Reader::start(&bootstrap)?;
    let relay_stats = Arc::new(RelayStats::default());
    let (relay_stop, relay_thread) =
        relay(&bootstrap, "relay-in", "relay-out", arg("--relay-batch", 1024), relay_stats.clone())?;
    let (graph_stop, running) = graph(&bootstrap)?;
    let p = producer(&bootstrap, false, 5)?;

    // Warm up every path (connections, group joins, the module's first calls).
    for (input, output) in [("direct", "direct"), ("relay-in", "relay-out"), ("bench-in", "bench-out")] {
        measure(&p, &reader, input, output, 1_000)?;
    }
    let (mut direct, mut relayed, mut graphed) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        direct.push(measure(&p, &reader, "direct", "direct", n)?);
        relayed.push(measure(&p, &reader, "relay-in", "relay-out", n)?);
        graphed.push(measure(&p, &reader, "bench-in", "bench-out", n)?);
    }
    let (direct, relayed, graphed) = (median(&direct), median(&relayed), median(&graphed));
    figure("kafka.broker_rate", direct, "records/s", "broker alone: producer -> tansu -> consumer, one hop");
    figure(
        "kafka.relay_rate",
        relayed,
        "records/s",
        "no graph: producer -> tansu -> plain consume->produce relay (at least once) -> tansu -> consumer",
    );
    figure(
        "kafka.graph_rate",
        graphed,
        "records/s",
        "graph: producer -> tansu -> Kafka source -> F->C map -> Kafka sink -> tansu -> consumer",
    );
    figure("kafka.ratio", graphed / relayed, "of relay", "graph / plain relay rate (same broker work)");
    figure("kafka.ratio_broker", graphed / direct, "of broker", "graph / broker-alone rate (one hop less)");

    let n = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let cycles = n(&relay_stats.cycles).max(1.0);
    figure(
        "kafka.relay_batch",
        n(&relay_stats.records) / cycles,
        "records",
        "plain relay: records per poll-produce-flush-commit cycle",
    );
    figure(
        "kafka.relay_flush_ms",
        n(&relay_stats.flush_ns) / cycles / 1e6,
        "ms",
        "plain relay: time a flush (acks=all) waits, per cycle",
    );

    graph_stop.stop();
    relay_stop.store(true, Ordering::Relaxed);
    let outcome = running.wait()?;
    for line in &outcome.summaries {
        println!("  {line}");
    }
    match relay_thread.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => println!("  (the relay ended with: {e})"),
        Err(_) => println!("  (the relay thread panicked)"),
    }
    Ok(())
}

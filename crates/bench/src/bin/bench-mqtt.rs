//! Issue 6 item 3: MQTT end to end against mosquitto on loopback, QoS 1.
//!
//! A mosquitto of our own on a free 127.0.0.1 port. The limit is the broker
//! relaying the same messages with no graph in between (publisher -> topic ->
//! subscriber), measured in the same run, interleaved with the graph runs:
//! publisher -> `bench/in` -> MQTT source -> F->C map -> MQTT sink -> `bench/out`
//! -> subscriber. Latency: publishing paced at half the graph's maximum rate,
//! from the scheduled send time to the subscriber's receipt (messages are
//! matched by order: one publisher, QoS 1, order-preserving path).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use wasmgraph_bench::*;
use wasmgraph_connectors::mqtt::{MqttConnection, MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig};
use wasmgraph_engine::wasm::WasmOperatorFactory;
use wasmgraph_engine::{Input, Node, NodeKind, Plan, RunOptions, Stats};
use wasmgraph_host::{OperatorConfig, OperatorKind, Runtime};

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_broker(dir: &Path, port: u16) -> Result<Broker> {
    std::fs::create_dir_all(dir)?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 1000\n\
             max_queued_messages 0\nset_tcp_nodelay true\nlog_dest none\n"
        ),
    )?;
    let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context("mosquitto is not installed (scripts/setup.sh installs it)")?;
    let child = Command::new(bin).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let until = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > until {
            bail!("mosquitto did not start on port {port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Broker(child))
}

/// TCP_NODELAY on a bench client, as the wasmgraph connectors use.
fn nodelay(eventloop: &mut rumqttc::EventLoop) {
    let mut network = eventloop.network_options();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
}

/// A subscriber counting messages on `topic` and noting when each arrived.
struct Subscriber {
    received: Arc<AtomicU64>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
}

fn subscribe(rt: &tokio::runtime::Runtime, port: u16, id: &str, topic: &str) -> Result<Subscriber> {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    nodelay(&mut eventloop);
    let received = Arc::new(AtomicU64::new(0));
    let arrivals = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
    let stop = Arc::new(AtomicBool::new(false));
    let subscribed = Arc::new(AtomicBool::new(false));
    let (r, a, s, sub) = (received.clone(), arrivals.clone(), stop.clone(), subscribed.clone());
    let topic = topic.to_string();
    rt.spawn(async move {
        let _ = client.subscribe(topic, QoS::AtLeastOnce).await;
        while !s.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(_)))) => {
                    let now = Instant::now();
                    a.lock().unwrap_or_else(|e| e.into_inner()).push(now);
                    r.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => sub.store(true, Ordering::Release),
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    let until = Instant::now() + Duration::from_secs(5);
    while !subscribed.load(Ordering::Acquire) {
        if Instant::now() > until {
            bail!("subscriber {id} got no SUBACK");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(Subscriber { received, arrivals, stop })
}

impl Subscriber {
    fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.arrivals.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
    fn wait_for(&self, n: u64, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while self.received.load(Ordering::Relaxed) < n {
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A plain MQTT relay (no graph): subscribes to `from` with QoS 1 and
/// publishes every message to `to` with QoS 1. Messages then cross the broker
/// twice, as they do through a graph: the limit of the graph's path.
fn relay(rt: &tokio::runtime::Runtime, port: u16, from: &str, to: &str) -> Result<Arc<AtomicBool>> {
    let mut opts = MqttOptions::new("bench-relay", "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(opts, 100_000);
    nodelay(&mut eventloop);
    let stop = Arc::new(AtomicBool::new(false));
    let subscribed = Arc::new(AtomicBool::new(false));
    let (s, sub) = (stop.clone(), subscribed.clone());
    let (from, to) = (from.to_string(), to.to_string());
    rt.spawn(async move {
        let _ = client.subscribe(from, QoS::AtLeastOnce).await;
        while !s.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    let _ = client.try_publish(to.clone(), QoS::AtLeastOnce, false, p.payload);
                }
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => sub.store(true, Ordering::Release),
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    let until = Instant::now() + Duration::from_secs(5);
    while !subscribed.load(Ordering::Acquire) {
        if Instant::now() > until {
            bail!("the relay got no SUBACK");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(stop)
}

/// A QoS 1 publisher.
struct Publisher {
    client: AsyncClient,
    stop: Arc<AtomicBool>,
}

fn publisher(rt: &tokio::runtime::Runtime, port: u16, id: &str) -> Publisher {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
    nodelay(&mut eventloop);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    rt.spawn(async move {
        while !s.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await {
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                _ => {}
            }
        }
    });
    Publisher { client, stop }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Publish `n` readings to `topic`, as fast as possible (`interval` None) or
/// paced; returns the scheduled send times.
fn publish(rt: &tokio::runtime::Runtime, p: &Publisher, topic: &str, n: usize, interval: Option<Duration>) -> Vec<Instant> {
    let mut sent = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let at = match interval {
            Some(d) => {
                let at = start + d * i as u32;
                wait_until(at);
                at
            }
            None => Instant::now(),
        };
        sent.push(at);
        let c = p.client.clone();
        let t = topic.to_string();
        let _ = rt.block_on(async move { c.publish(t, QoS::AtLeastOnce, false, READING.as_bytes().to_vec()).await });
    }
    sent
}

/// Messages/s from the first send to the `n`-th receipt.
fn measure(rt: &tokio::runtime::Runtime, p: &Publisher, sub: &Subscriber, topic: &str, n: usize) -> Result<f64> {
    sub.reset();
    let sent = publish(rt, p, topic, n, None);
    if !sub.wait_for(n as u64, Duration::from_secs(120)) {
        bail!("only {} of {n} messages arrived on the subscriber of {topic}", sub.received.load(Ordering::Relaxed));
    }
    let last = *sub.arrivals.lock().unwrap_or_else(|e| e.into_inner()).last().context("no arrivals")?;
    Ok(n as f64 / (last - sent[0]).as_secs_f64())
}

/// p50 and p99 latency (ms) at `rate` messages/s for `n` messages.
fn latency(rt: &tokio::runtime::Runtime, p: &Publisher, sub: &Subscriber, topic: &str, n: usize, rate: f64) -> Result<(f64, f64)> {
    sub.reset();
    let sent = publish(rt, p, topic, n, Some(Duration::from_secs_f64(1.0 / rate)));
    if !sub.wait_for(n as u64, Duration::from_secs(120)) {
        bail!("only {} of {n} paced messages arrived", sub.received.load(Ordering::Relaxed));
    }
    let arrivals = sub.arrivals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut ms: Vec<f64> = sent.iter().zip(&arrivals).map(|(s, a)| a.saturating_duration_since(*s).as_secs_f64() * 1e3).collect();
    Ok((quantile(&mut ms, 0.5), quantile(&mut ms, 0.99)))
}

fn plan(rt: &Runtime) -> Result<Plan> {
    let module = rt.load(&example_wasm("temperature"))?;
    let factory = Arc::new(WasmOperatorFactory::new(
        rt.clone(),
        module,
        OperatorConfig { operation: "module-temperature/map".into(), kind: OperatorKind::Map, properties: vec![], schemas: vec![] },
    ));
    Ok(Plan {
        nodes: vec![
            Node { name: "source".into(), kind: NodeKind::Source, inputs: vec![], factory: None, sequential: false },
            Node { name: "map".into(), kind: NodeKind::Map, inputs: vec![Input { from: 0, arm: None }], factory: Some(factory), sequential: false },
            Node { name: "sink".into(), kind: NodeKind::Sink, inputs: vec![Input { from: 1, arm: None }], factory: None, sequential: false },
        ],
    })
}

fn main() -> Result<()> {
    println!("== bench-mqtt: MQTT end to end (mosquitto on loopback, QoS 1) ==");
    note_load("mqtt");
    let n = if quick() { 5_000 } else { arg("--messages", 30_000) };
    let reps = if quick() { 1 } else { arg("--reps", 3) };
    let port = free_port()?;
    let dir = root().join("target/bench/mqtt");
    let _broker = start_broker(&dir, port)?;
    let tokio_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;

    // The graph, running until stopped.
    let host = runtime(Some(bench_cache_dir()))?;
    let source = MqttSource::connect(MqttSourceConfig::new(MqttConnection::new("127.0.0.1", port, "bench-graph-in"), vec!["bench/in".into()]))?;
    if !source.wait_subscribed(Duration::from_secs(10)) {
        bail!("the graph's MQTT source did not subscribe");
    }
    let stop = source.stop_handle();
    let sink = MqttSink::connect(MqttSinkConfig::new(MqttConnection::new("127.0.0.1", port, "bench-graph-out"), "bench/out"))?;
    let plan = plan(&host)?;
    let stats = Arc::new(Stats::for_plan(&plan));
    let engine = std::thread::spawn(move || {
        wasmgraph_engine::run(plan, Box::new(source), Box::new(sink), stats, RunOptions {
            workers: 1,
            batch: arg("--batch", RunOptions::default().batch),
            poll_wait: Duration::from_millis(arg("--poll-wait-ms", RunOptions::default().poll_wait.as_millis() as u64)),
            ..RunOptions::default()
        })
    });

    let pubr = publisher(&tokio_rt, port, "bench-publisher");
    let relay_sub = subscribe(&tokio_rt, port, "bench-sub-relay", "bench/relay")?;
    let out_sub = subscribe(&tokio_rt, port, "bench-sub-out", "bench/out")?;
    let relay_stop = relay(&tokio_rt, port, "bench/hop1", "bench/hop2")?;
    let hop_sub = subscribe(&tokio_rt, port, "bench-sub-hop2", "bench/hop2")?;

    // Warm up both paths.
    measure(&tokio_rt, &pubr, &relay_sub, "bench/relay", 1000)?;
    measure(&tokio_rt, &pubr, &out_sub, "bench/in", 1000)?;
    measure(&tokio_rt, &pubr, &hop_sub, "bench/hop1", 1000)?;

    let (mut broker_rates, mut graph_rates, mut hop_rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        broker_rates.push(measure(&tokio_rt, &pubr, &relay_sub, "bench/relay", n)?);
        graph_rates.push(measure(&tokio_rt, &pubr, &out_sub, "bench/in", n)?);
        hop_rates.push(measure(&tokio_rt, &pubr, &hop_sub, "bench/hop1", n)?);
    }
    let broker = quantile(&mut broker_rates, 0.5);
    let graph = quantile(&mut graph_rates, 0.5);
    let hops = quantile(&mut hop_rates, 0.5);
    figure("mqtt.broker_rate", broker, "msgs/s", "broker alone: publisher -> mosquitto -> subscriber, QoS 1");
    figure("mqtt.graph_rate", graph, "msgs/s", "graph: publisher -> mosquitto -> source -> F->C map -> sink -> mosquitto -> subscriber");
    figure("mqtt.ratio", graph / broker, "of broker", "graph / broker-only relay rate (target >= 0.80)");
    figure("mqtt.two_hop_rate", hops, "msgs/s", "no graph, two broker hops: publisher -> mosquitto -> plain relay client -> mosquitto -> subscriber");
    figure("mqtt.ratio_two_hop", graph / hops, "of two-hop relay", "graph / plain two-hop relay (the same broker work as the graph path)");

    let rate = graph / 2.0;
    let secs = if quick() { 1.0 } else { arg("--latency-secs", 5.0) };
    let m = ((rate * secs) as usize).max(500);
    let (p50, p99) = latency(&tokio_rt, &pubr, &out_sub, "bench/in", m, rate)?;
    let (b50, b99) = latency(&tokio_rt, &pubr, &relay_sub, "bench/relay", m, rate)?;
    figure("mqtt.latency_rate", rate, "msgs/s", "paced rate for latency (half the graph's maximum)");
    figure("mqtt.graph_p50_ms", p50, "ms", "graph end-to-end latency p50 at half load");
    figure("mqtt.graph_p99_ms", p99, "ms", "graph end-to-end latency p99 at half load (target < 5)");
    figure("mqtt.broker_p50_ms", b50, "ms", "broker-only latency p50 at the same rate");
    figure("mqtt.broker_p99_ms", b99, "ms", "broker-only latency p99 at the same rate");

    stop.store(true, Ordering::Relaxed);
    relay_stop.store(true, Ordering::Relaxed);
    drop(pubr);
    match engine.join() {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => println!("  (graph ended with: {e})"),
        Err(_) => println!("  (graph thread panicked)"),
    }
    Ok(())
}

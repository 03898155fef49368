//! Shared pieces of the wasmgraph benchmarks (issue 6).
//!
//! Every bench binary prints human-readable lines and, for each figure, one
//! machine-readable line
//!
//! ```text
//! FIGURE<TAB>key<TAB>value<TAB>unit<TAB>what it is
//! ```
//!
//! that `scripts/bench.sh` collects into `target/bench/results.tsv`. Figures are
//! ratios against a limit measured in the same process and run wherever that
//! is possible, because the machine is shared and absolute times drift.

mod graphs;
pub use graphs::{map_filter_plan, process_cpu_secs, run_plan, RunFigures};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use wasmgraph_config::ParameterValues;
use wasmgraph_connectors::{ConnectorError, Incoming, Sink};
use wasmgraph_engine::Plan;
use wasmgraph_host::{HostConfig, Runtime, Services};
use wasmgraph_types::{Bytes, DataModel, Hlc, Message, Record};

/// The reading of issue 6.
pub const READING: &str = r#"{"temperature":{"value":1209,"unit":"F"}}"#;

/// The workspace root.
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| here.to_path_buf())
}

/// A built example operator: `examples/operators/<name>/bin/x86_64/release/<name>.wasm`.
pub fn example_wasm(name: &str) -> PathBuf {
    root().join(format!("examples/operators/{name}/bin/x86_64/release/{name}.wasm"))
}

/// A built test guest: `crates/test-guests/<n>/bin/x86_64/release/test-guest-<n>.wasm`.
pub fn guest_wasm(name: &str) -> PathBuf {
    root().join(format!("crates/test-guests/{name}/bin/x86_64/release/test-guest-{name}.wasm"))
}

/// Print one figure (and a readable line).
pub fn figure(key: &str, value: f64, unit: &str, what: &str) {
    let shown = if value.abs() >= 100.0 { format!("{value:.0}") } else { format!("{value:.3}") };
    println!("  {what}: {shown} {unit}");
    println!("FIGURE\t{key}\t{shown}\t{unit}\t{what}");
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Print the load average as a figure, so every result file says how busy the machine was.
pub fn note_load(bench: &str) {
    figure(&format!("{bench}.load"), load_average(), "", &format!("1-minute load average when {bench} started"));
}

/// The `q` quantile (0..=1) of `v` (sorted in place).
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i]
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}

/// A host runtime with default settings and the given compile cache directory.
pub fn runtime(cache_dir: Option<PathBuf>) -> Result<Runtime> {
    let config = HostConfig { cache_dir, announce_compiles: false, ..HostConfig::default() };
    Ok(Runtime::new(config, Services::default())?)
}

/// The compile cache the benches share (warm after the first bench).
pub fn bench_cache_dir() -> PathBuf {
    root().join("target/bench/cache")
}

/// A message record like an MQTT source makes: topic, payload, one user property.
pub fn message(seq: u64, payload: &str) -> Record {
    let time = Hlc::new(1_000_000_000 + seq, 0, "bench");
    Record::message(
        time.clone(),
        seq,
        Message {
            timestamp: time,
            topic: Bytes::from_static(b"sensors/temperature"),
            content_type: Some("application/json".into()),
            payload: Bytes::from(payload.as_bytes().to_vec()),
            user_properties: vec![("source".into(), "bench".into())],
            schema: None,
        },
    )
}

/// `n` messages for a memory source, no own time (the engine stamps them).
pub fn incoming(n: usize, payload: &str) -> Vec<Incoming> {
    let bytes = Bytes::from(payload.as_bytes().to_vec());
    (0..n)
        .map(|i| Incoming {
            data: DataModel::Message(Message {
                topic: Bytes::from_static(b"sensors/temperature"),
                payload: bytes.clone(),
                user_properties: vec![("seq".into(), i.to_string())],
                ..Message::default()
            }),
            time: None,
            ack: None,
        })
        .collect()
}

// ---- The F->C logic of examples/operators/temperature, natively ----

/// `{"temperature": {...}}` (the same serde types as the example operator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemperatureReading {
    pub temperature: Temperature,
}

/// One reading (field order is the wire order of the example operator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub max: f64,
    #[serde(default)]
    pub min: f64,
    #[serde(default)]
    pub average: f64,
    #[serde(default)]
    pub last: f64,
    pub unit: Unit,
    #[serde(default)]
    pub overtemp: bool,
}

/// Celsius or Fahrenheit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    #[serde(rename = "C")]
    Celsius,
    #[serde(rename = "F")]
    Fahrenheit,
}

/// Requests counted by the native map (the wasm one counts through the metrics host API).
pub static NATIVE_REQUESTS: AtomicU64 = AtomicU64::new(0);

/// The example temperature map's logic as a plain Rust function on a host
/// record: is it a temperature reading (parse as `Value`), parse it, convert,
/// serialize, and return a new message with the new payload.
pub fn native_f2c(record: &Record) -> std::result::Result<DataModel, String> {
    NATIVE_REQUESTS.fetch_add(1, Ordering::Relaxed);
    let DataModel::Message(message) = &record.data else { return Err("expected a message".into()) };
    let value: serde_json::Value = serde_json::from_slice(&message.payload).map_err(|e| e.to_string())?;
    if value.get("temperature").is_none() {
        return Ok(record.data.clone());
    }
    let mut reading: TemperatureReading = serde_json::from_slice(&message.payload).map_err(|e| e.to_string())?;
    if reading.temperature.unit == Unit::Fahrenheit {
        let f = reading.temperature.value.ok_or("temperature reading without a value")?;
        reading.temperature.value = Some((f - 32.0) * 5.0 / 9.0);
        reading.temperature.unit = Unit::Celsius;
        let bytes = serde_json::to_vec(&reading).map_err(|e| e.to_string())?;
        let mut out = message.clone();
        out.payload = Bytes::from(bytes);
        return Ok(DataModel::Message(out));
    }
    Ok(record.data.clone())
}

#[derive(Serialize, Deserialize)]
struct LeanReading {
    temperature: LeanTemperature,
}

#[derive(Serialize, Deserialize)]
struct LeanTemperature {
    value: f64,
    unit: String,
}

/// The logic of the bench guest `crates/bench/guests/f2c`, natively: parse,
/// convert, serialize, new message with the new payload.
pub fn lean_f2c(record: &Record) -> std::result::Result<DataModel, String> {
    let DataModel::Message(message) = &record.data else { return Err("expected a message".into()) };
    let mut reading: LeanReading = serde_json::from_slice(&message.payload).map_err(|e| e.to_string())?;
    if reading.temperature.unit == "F" {
        reading.temperature.value = (reading.temperature.value - 32.0) * 5.0 / 9.0;
        reading.temperature.unit = "C".into();
        let bytes = serde_json::to_vec(&reading).map_err(|e| e.to_string())?;
        let mut out = message.clone();
        out.payload = Bytes::from(bytes);
        return Ok(DataModel::Message(out));
    }
    Ok(record.data.clone())
}

/// The bench guest: `crates/bench/guests/f2c/bin/x86_64/release/bench-f2c.wasm`.
pub fn bench_guest_wasm() -> PathBuf {
    root().join("crates/bench/guests/f2c/bin/x86_64/release/bench-f2c.wasm")
}

/// The example temperature filter's logic natively: keep Celsius readings
/// strictly between -40 and 3422.
pub fn native_filter(record: &Record) -> std::result::Result<bool, String> {
    let reading: TemperatureReading = serde_json::from_slice(record.data.payload()).map_err(|e| e.to_string())?;
    let v = reading.temperature.value.unwrap_or(f64::NAN);
    Ok(v > -40.0 && v < 3422.0)
}

// ---- Graphs ----

/// Validate a graph definition, load its modules and build the plan, as
/// `wasmgraph run` does (through the runtime crate).
pub fn load_plan(graph_path: &Path, modules: &Path, values: &ParameterValues, runtime: &Runtime) -> Result<Plan> {
    load_plan_timed(graph_path, modules, values, runtime).map(|(plan, _)| plan)
}

/// [`load_plan`], also returning how long validating the graph took.
pub fn load_plan_timed(
    graph_path: &Path,
    modules: &Path,
    values: &ParameterValues,
    runtime: &Runtime,
) -> Result<(Plan, Duration)> {
    let trace = std::env::var_os("BENCH_TRACE").is_some();
    let t0 = Instant::now();
    let graph = wasmgraph_runtime::load_graph(graph_path, modules, values)?;
    let validated = t0.elapsed();
    if trace {
        eprintln!("load_plan: graph validated in {validated:?}");
    }
    let plan = wasmgraph_runtime::plan_for_graph(&graph, runtime)?;
    if trace {
        eprintln!("load_plan: modules loaded after {:?}", t0.elapsed());
    }
    Ok((plan, validated))
}

/// The messages `wasmgraph run` makes of the files of `dir` (file *i* at *i*
/// seconds plus 1 ms, `.raw` on `snapshot_simulation`, others on `probe/1`),
/// repeated `times` times with the clock running on.
pub fn file_messages(dir: &Path, times: usize) -> Result<Vec<Incoming>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    files.sort();
    let contents: Vec<(Bytes, bool)> = files
        .iter()
        .map(|p| {
            let raw = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("raw"));
            Ok((Bytes::from(std::fs::read(p)?), raw))
        })
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(contents.len() * times);
    let mut index = 0u64;
    for _ in 0..times {
        for (payload, raw) in &contents {
            let time = Hlc::new(1_000_000 + index * 1_000_000_000, 0, "file-source");
            index += 1;
            out.push(Incoming {
                data: DataModel::Message(Message {
                    timestamp: time.clone(),
                    topic: Bytes::from_static(if *raw { b"snapshot_simulation" } else { b"probe/1" }),
                    payload: payload.clone(),
                    ..Message::default()
                }),
                time: Some(time),
                ack: None,
            });
        }
    }
    Ok(out)
}

/// What a [`CountingSink`] saw; shared with the caller.
#[derive(Debug, Default)]
pub struct SinkSeen {
    /// Records written.
    pub count: AtomicU64,
    /// When the first record was written.
    pub first: Mutex<Option<Instant>>,
    /// RSS (KiB) when the first record was written.
    pub rss_at_first_kib: AtomicU64,
}

/// A sink that only counts (no memory growth, no I/O).
#[derive(Debug, Clone, Default)]
pub struct CountingSink(pub Arc<SinkSeen>);

impl Sink for CountingSink {
    fn write(&mut self, _record: &Record) -> std::result::Result<(), ConnectorError> {
        if self.0.count.fetch_add(1, Ordering::Relaxed) == 0 {
            *self.0.first.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            self.0.rss_at_first_kib.store(proc_status_kib("VmRSS:"), Ordering::Relaxed);
        }
        Ok(())
    }
    fn flush(&mut self) -> std::result::Result<(), ConnectorError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "counting".into()
    }
}

/// Run `f` on `threads` threads at once for `per_thread` iterations each;
/// returns iterations per second over all threads. Used to measure how much
/// parallelism the (shared) machine actually gives right now.
pub fn parallel_rate(threads: usize, per_thread: usize, f: fn() -> u64) -> f64 {
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let mut acc = 0u64;
                for _ in 0..per_thread {
                    acc = acc.wrapping_add(f());
                }
                acc
            })
        })
        .collect();
    let mut acc = 0;
    for h in handles {
        acc ^= h.join().unwrap_or(0);
    }
    std::hint::black_box(acc);
    (threads * per_thread) as f64 / started.elapsed().as_secs_f64()
}

/// Parse `--name value` style arguments with a default.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Whether `--quick` was given (short runs for debugging the benches).
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick") || std::env::var_os("BENCH_QUICK").is_some()
}

/// Sleep-free busy wait until `deadline` (for pacing at high rates).
pub fn wait_until(deadline: Instant) {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let left = deadline - now;
        if left > Duration::from_micros(200) {
            std::thread::sleep(left - Duration::from_micros(100));
        } else {
            std::hint::spin_loop();
        }
    }
}

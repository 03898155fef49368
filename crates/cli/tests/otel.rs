//! OpenTelemetry end to end: `wasmgraph run` of the example deployment
//! `examples/deployments/otel/file-to-otel.yaml` (temperature files -> the
//! otel-telemetry operator -> an OpenTelemetry destination) delivering to an
//! OTLP receiver the test starts on 127.0.0.1 (gRPC and HTTP/protobuf, built
//! from the OpenTelemetry project's proto definitions: `wasmgraph-test-otlp`),
//! and the runtime's own OTLP metrics push (`--otlp-endpoint`) into another.
//!
//! Enabled by the feature `otel-integration-tests` (it needs only the guest
//! toolchain that builds the example operator).
#![cfg(feature = "otel-integration-tests")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{built_guest, root};
use wasmgraph_test_otlp::opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use wasmgraph_test_otlp::{attributes, free_addr, Collector, Receiver};

/// Readings in the input folder: `900 + 25 i` F, so those from i = 5 on are
/// above the operator's 1000 F limit and also make a warn log.
const READINGS: u64 = 12;
const HOT: u64 = 7;
/// Files that are not readings: the module fails on them (kind `error`).
const BROKEN: u64 = 3;

/// The input folder: one message per file, in name order.
fn input(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for i in 0..READINGS {
        let reading = format!(r#"{{"temperature": {{"value": {}, "unit": "F"}}}}"#, 900 + 25 * i);
        std::fs::write(data.join(format!("reading-{i:02}.json")), reading).unwrap();
    }
    for i in 0..BROKEN {
        std::fs::write(data.join(format!("z-broken-{i}.json")), format!(r#"{{"humidity": {i}}}"#)).unwrap();
    }
    data
}

/// The example deployment, its paths made absolute, reading `data` and
/// exporting to `addr` with `protocol`. Every replaced line must be there,
/// so a change to the example shows here.
fn deployment(dir: &Path, data: &Path, addr: std::net::SocketAddr, protocol: &str) -> std::path::PathBuf {
    let example = root().join("examples/deployments/otel/file-to-otel.yaml");
    let mut text = std::fs::read_to_string(&example).unwrap();
    let examples = root().join("examples");
    for (from, to) in [
        ("graph: ../../graphs/".to_string(), format!("graph: {}/graphs/", examples.display())),
        ("modules: ../../operators".to_string(), format!("modules: {}/operators", examples.display())),
        ("path: ../../data/temperature".to_string(), format!("path: {}", data.display())),
        ("host: localhost:4318".to_string(), format!("host: {addr}")),
        ("protocol: http/protobuf".to_string(), format!("protocol: {protocol}")),
    ] {
        assert!(text.contains(&from), "{} no longer has {from:?}", example.display());
        text = text.replace(&from, &to);
    }
    let path = dir.join(format!("file-to-otel-{}.yaml", protocol.replace('/', "-")));
    std::fs::write(&path, text).unwrap();
    path
}

/// `wasmgraph run` to the end of the input; its stderr.
fn run(deployment: &Path, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
        .arg("run")
        .arg(deployment)
        .args(args)
        .current_dir(root())
        .env("WASMGRAPH_CACHE_DIR", dir.join("cache"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "wasmgraph run failed:\n{log}");
    log
}

/// Points per metric name, and log records, as the receiver got them.
fn received(collector: &Collector) -> (BTreeMap<String, usize>, usize) {
    let mut points = BTreeMap::new();
    for metric in collector.all_metrics() {
        *points.entry(metric.name.clone()).or_default() += data_points(&metric);
    }
    (points, collector.all_logs().len())
}

fn data_points(metric: &Metric) -> usize {
    match metric.data.as_ref() {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        _ => 0,
    }
}

#[test]
fn run_delivers_exactly_the_telemetry_of_n_readings_over_grpc_and_http() {
    built_guest("examples/operators/otel-telemetry");
    let dir = tempfile::tempdir().unwrap();
    let data = input(dir.path());
    for protocol in ["grpc", "http/protobuf"] {
        let addr = free_addr();
        let receiver = match protocol {
            "grpc" => Receiver::grpc(addr, Collector::default()),
            _ => Receiver::http(addr, Collector::default()),
        };
        let log = run(&deployment(dir.path(), &data, addr, protocol), dir.path(), &[]);
        let (points, logs) = received(&receiver.collector);
        println!("{protocol}: {points:?}, {logs} log record(s)");
        let n = READINGS as usize;
        let want: BTreeMap<String, usize> =
            ["temperature", "temperature.distribution", "temperature.readings"].map(|m| (m.to_string(), n)).into();
        assert_eq!(points, want, "{protocol}: one point per reading and metric\n{log}");
        assert_eq!(logs, HOT as usize, "{protocol}: one warn log per hot reading\n{log}");
        let mut temperatures: Vec<f64> = receiver
            .collector
            .all_metrics()
            .iter()
            .filter(|m| m.name == "temperature")
            .flat_map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.iter().map(|p| p.value).collect(),
                _ => Vec::new(),
            })
            .map(|v| match v {
                Some(number_data_point::Value::AsDouble(d)) => d,
                other => panic!("a temperature is a double: {other:?}"),
            })
            .collect();
        temperatures.sort_by(f64::total_cmp);
        let sent: Vec<f64> = (0..READINGS).map(|i| (900 + 25 * i) as f64).collect();
        assert_eq!(temperatures, sent, "{protocol}: the values as read");
        let summary = log.lines().find(|l| l.starts_with("otel: ")).unwrap_or_default();
        assert!(
            summary.starts_with(&format!("otel: received {READINGS} message(s), exported {READINGS} ")),
            "{protocol}: the sink's summary line: {summary:?}\n{log}"
        );
    }
}

/// Attributes of one series.
type Series = BTreeMap<String, String>;

/// The last (cumulative) value of each series of `name`.
fn last_values(collector: &Collector, name: &str) -> BTreeMap<Series, f64> {
    let mut out = BTreeMap::new();
    for metric in collector.all_metrics().iter().filter(|m| m.name == name) {
        let points = match &metric.data {
            Some(Data::Sum(s)) => s.data_points.clone(),
            Some(Data::Gauge(g)) => g.data_points.clone(),
            _ => Vec::new(),
        };
        for p in points {
            let value = match p.value {
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                Some(number_data_point::Value::AsDouble(d)) => d,
                None => continue,
            };
            out.insert(attributes(&p.attributes).into_iter().collect(), value);
        }
    }
    out
}

/// The value of the one series of `name` whose attributes include `with`.
fn value(collector: &Collector, name: &str, with: &[(&str, &str)]) -> Option<f64> {
    let all = last_values(collector, name);
    let matches = |s: &Series| with.iter().all(|(k, v)| s.get(*k).map(String::as_str) == Some(*v));
    let found: Vec<f64> = all.iter().filter(|(s, _)| matches(s)).map(|(_, v)| *v).collect();
    assert!(found.len() <= 1, "{name} {with:?}: more than one series in {all:?}");
    found.first().copied()
}

#[test]
fn otlp_push_carries_the_runs_operation_counters_and_module_counter() {
    built_guest("examples/operators/otel-telemetry");
    let dir = tempfile::tempdir().unwrap();
    let data = input(dir.path());
    let destination = free_addr();
    let _destination = Receiver::http(destination, Collector::default());
    let push = Receiver::http(free_addr(), Collector::default());
    let endpoint = format!("http://{}", push.addr);
    let deployment = deployment(dir.path(), &data, destination, "http/protobuf");
    let log = run(&deployment, dir.path(), &["--otlp-endpoint", &endpoint, "--otlp-interval", "1"]);
    let c = &push.collector;
    let map = "module-otel-telemetry/map";
    let (total, readings) = (Some((READINGS + BROKEN) as f64), Some(READINGS as f64));
    let op = |name: &str, operation: &str| value(c, name, &[("graph", "plant-telemetry"), ("operation", operation)]);
    println!("otlp push: records in {:?}", last_values(c, "wasmgraph.operation.records_in"));
    println!("otlp push: module counter {:?}", last_values(c, "requests"));
    assert_eq!(op("wasmgraph.operation.records_in", "source"), total, "{log}");
    assert_eq!(op("wasmgraph.operation.records_in", map), total, "{log}");
    assert_eq!(op("wasmgraph.operation.records_out", map), readings, "{log}");
    assert_eq!(op("wasmgraph.operation.records_in", "sink"), readings, "{log}");
    assert_eq!(op("wasmgraph.operation.calls", map), total, "every call timed");
    let errors = |kind| value(c, "wasmgraph.operation.errors", &[("operation", map), ("kind", kind)]);
    assert_eq!(errors("error"), Some(BROKEN as f64), "the broken files fail with kind `error`");
    assert_eq!(errors("trap"), Some(0.0), "every kind is exported");
    let module = value(c, "requests", &[("graph", "plant-telemetry"), ("module", map)]);
    assert_eq!(module, total, "the module's own counter, with its label and the graph's");
    let graph = [("graph", "plant-telemetry")];
    assert_eq!(value(c, "wasmgraph.source.messages_received", &graph), total);
    assert_eq!(value(c, "wasmgraph.sink.records_published", &graph), readings);
    let resource = c.metrics.lock().unwrap()[0].resource_metrics[0].resource.clone().unwrap_or_default();
    assert!(attributes(&resource.attributes).contains(&("service.name".into(), "wasmgraph".into())), "{resource:?}");
}

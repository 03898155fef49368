//! The OpenTelemetry sink against OTLP receivers each test starts on
//! 127.0.0.1 (`wasmgraph-test-otlp`): a gRPC server implementing
//! opentelemetry-proto's generated `MetricsService` and `LogsService`
//! (tonic), and an HTTP/1 server (hyper) decoding
//! `ExportMetricsServiceRequest` / `ExportLogsServiceRequest` protobuf bodies
//! posted to `/v1/metrics` and `/v1/logs`, as a collector's OTLP receiver does. Behind the `otel-integration-tests` feature. Every
//! test prints its counts and timings.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, AggregationTemporality};
use serde_json::json;
use wasmgraph_test_otlp::{attributes, free_addr, Code, Collector, Receiver};
use wasmgraph_types::{Bytes, Hlc, Message, Record};

use super::payload::METRIC_KINDS;
use super::*;
use crate::Sink;

/// Longest a test waits for something to happen before it fails.
const PATIENCE: Duration = Duration::from_secs(30);
/// The first message's timestamp (ns); message i is `BASE + i` µs later.
const BASE: u64 = 1_754_851_200_000_000_000;

fn start_receiver(protocol: OtelProtocol, addr: SocketAddr, collector: Collector) -> Receiver {
    match protocol {
        OtelProtocol::Grpc => Receiver::grpc(addr, collector),
        OtelProtocol::HttpProtobuf => Receiver::http(addr, collector),
    }
}

fn endpoint(protocol: OtelProtocol, addr: SocketAddr) -> OtelEndpoint {
    let mut endpoint = OtelEndpoint::new(addr.to_string(), protocol);
    endpoint.headers.insert("authorization".into(), "Bearer test-token".into());
    endpoint.timeout = Duration::from_secs(2);
    endpoint.retry = OtelRetry { initial_backoff: Duration::from_millis(50), max_backoff: Duration::from_millis(400) };
    endpoint
}

fn record(i: u64, payload: String) -> Record {
    let message =
        Message { topic: Bytes::from("plant/telemetry"), payload: Bytes::from(payload), ..Message::default() };
    Record::message(Hlc::new(BASE + 1_000_000_000 + i, 0, "test"), i, message)
}

/// Message `i`: one metric of the `i % 9`-th type, and a log every third
/// message; values, attributes and timestamps derived from `i`.
fn telemetry(i: u64) -> serde_json::Value {
    let (type_name, _) = METRIC_KINDS[(i % 9) as usize];
    let value = if type_name.starts_with('f') { json!(i as f64 + 0.25) } else { json!(i) };
    let mut payload = json!({"metrics": [{
        "name": format!("plant.{type_name}"), "type": type_name, "value": value,
        "description": "test metric", "timestamp": BASE + i * 1000,
        "attributes": [{"key": "line", "value": format!("l{}", i % 3)}, {"key": "seq", "value": i.to_string()}]
    }]});
    if i.is_multiple_of(3) {
        payload["logs"] = json!([{"value": format!("reading {i}"), "level": "warn", "timestamp": BASE + i * 1000 + 1,
                                  "attributes": [{"key": "seq", "value": i.to_string()}]}]);
    }
    payload
}

/// A received point or log as comparable text: name, shape, value, time, attributes.
type Seen = (String, String, String, u64, Vec<(String, String)>);

fn number(value: Option<number_data_point::Value>) -> String {
    match value {
        Some(number_data_point::Value::AsInt(i)) => format!("int {i}"),
        Some(number_data_point::Value::AsDouble(d)) => format!("double {d}"),
        None => "none".into(),
    }
}

/// Every data point and log record the receiver got, sorted by time.
fn seen(collector: &Collector) -> Vec<Seen> {
    let delta = AggregationTemporality::Delta as i32;
    let mut out = Vec::new();
    for request in collector.metrics.lock().unwrap().iter() {
        for metric in request.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
            let name = metric.name.clone();
            match metric.data.as_ref() {
                Some(Data::Sum(s)) => s.data_points.iter().for_each(|p| {
                    let shape =
                        format!("sum monotonic={} delta={}", s.is_monotonic, s.aggregation_temporality == delta);
                    out.push((name.clone(), shape, number(p.value), p.time_unix_nano, attributes(&p.attributes)))
                }),
                Some(Data::Gauge(g)) => g.data_points.iter().for_each(|p| {
                    out.push((
                        name.clone(),
                        "gauge".into(),
                        number(p.value),
                        p.time_unix_nano,
                        attributes(&p.attributes),
                    ))
                }),
                Some(Data::Histogram(h)) => h.data_points.iter().for_each(|p| {
                    let value = format!("count {} sum {:?}", p.count, p.sum);
                    out.push((name.clone(), "histogram".into(), value, p.time_unix_nano, attributes(&p.attributes)))
                }),
                other => panic!("unexpected metric data {other:?}"),
            }
        }
    }
    for request in collector.logs.lock().unwrap().iter() {
        for log in request.resource_logs.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records) {
            let body = match log.body.as_ref().and_then(|b| b.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => format!("{other:?}"),
            };
            let shape = format!("log {} {}", log.severity_number, log.severity_text);
            out.push((body, shape, String::new(), log.time_unix_nano, attributes(&log.attributes)));
        }
    }
    out.sort_by(|a, b| (a.3, &a.0).cmp(&(b.3, &b.0)));
    out
}

/// What messages `0..n` must become, sorted by time.
fn expected(n: u64) -> Vec<Seen> {
    let mut out = Vec::new();
    for i in 0..n {
        let (type_name, _) = METRIC_KINDS[(i % 9) as usize];
        let shape = match type_name {
            t if t.ends_with("_up_down_counter") => "sum monotonic=false delta=true".to_string(),
            t if t.ends_with("_counter") => "sum monotonic=true delta=true".to_string(),
            t if t.ends_with("_gauge") => "gauge".to_string(),
            _ => "histogram".to_string(),
        };
        let value = match (type_name.starts_with('f'), shape.as_str()) {
            (f, "histogram") => format!("count 1 sum {:?}", Some(if f { i as f64 + 0.25 } else { i as f64 })),
            (true, _) => format!("double {}", i as f64 + 0.25),
            (false, _) => format!("int {i}"),
        };
        let attributes = vec![("line".to_string(), format!("l{}", i % 3)), ("seq".to_string(), i.to_string())];
        out.push((format!("plant.{type_name}"), shape, value, BASE + i * 1000, attributes));
        if i.is_multiple_of(3) {
            let shape = "log 13 WARN".to_string();
            out.push((
                format!("reading {i}"),
                shape,
                String::new(),
                BASE + i * 1000 + 1,
                vec![("seq".into(), i.to_string())],
            ));
        }
    }
    out.sort_by(|a, b| (a.3, &a.0).cmp(&(b.3, &b.0)));
    out
}

fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// N messages and one non-conforming message in the middle, written and
/// flushed: the receiver holds exactly the N messages' telemetry.
fn exactly_n(protocol: OtelProtocol) {
    const N: u64 = 90;
    let addr = free_addr();
    let receiver = start_receiver(protocol, addr, Collector::default());
    let mut sink = OtelSink::connect(&endpoint(protocol, addr), "otel-test").unwrap();
    let started = Instant::now();
    for i in 0..N {
        if i == N / 2 {
            let bad = json!({"metrics": [{"name": "broken", "type": "f32_gauge", "value": 1}]});
            sink.write(&record(1_000_000, bad.to_string())).unwrap();
        }
        sink.write(&record(i, telemetry(i).to_string())).unwrap();
    }
    sink.flush().unwrap();
    let took = started.elapsed();
    let got = seen(&receiver.collector);
    assert_eq!(got, expected(N), "the receiver holds exactly what the messages said");
    let c = sink.counters();
    assert_eq!((count(&c.received), count(&c.invalid), count(&c.exported)), (N + 1, 1, N));
    assert_eq!((count(&c.metric_points), count(&c.log_records)), (N, N / 3));
    let auth = receiver.collector.authorization.lock().unwrap().clone();
    assert!(!auth.is_empty() && auth.iter().all(|a| a == "Bearer test-token"), "headers reach the collector: {auth:?}");
    eprintln!(
        "otel {}: {N} messages + 1 invalid -> {} points and {} log records in {} request(s), invalid {}, in {took:?}",
        protocol.name(),
        count(&c.metric_points),
        count(&c.log_records),
        count(&c.requests),
        count(&c.invalid)
    );
}

#[test]
fn grpc_receiver_gets_exactly_the_telemetry_of_n_messages() {
    exactly_n(OtelProtocol::Grpc);
}

#[test]
fn http_receiver_gets_exactly_the_telemetry_of_n_messages() {
    exactly_n(OtelProtocol::HttpProtobuf);
}

/// The collector is down when the sink flushes: `flush` keeps retrying
/// (nothing acknowledged), and once a receiver starts on that address
/// everything arrives, once.
fn down_then_up(protocol: OtelProtocol) {
    const N: u64 = 30;
    let addr = free_addr();
    let mut sink = OtelSink::connect(&endpoint(protocol, addr), "otel-test").unwrap();
    let counters = sink.counters();
    let started = Instant::now();
    let writer = std::thread::spawn(move || {
        for i in 0..N {
            sink.write(&record(i, telemetry(i).to_string()))?;
        }
        sink.flush().map(|()| started.elapsed())
    });
    while count(&counters.retries) < 6 {
        assert!(started.elapsed() < PATIENCE, "the sink never retried");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!writer.is_finished(), "flush returned while the collector was down");
    assert_eq!(count(&counters.exported), 0);
    let down_for = started.elapsed();
    let receiver = start_receiver(protocol, addr, Collector::default());
    let flushed_after = writer.join().unwrap().unwrap();
    assert_eq!(seen(&receiver.collector), expected(N), "nothing lost, nothing twice");
    assert_eq!(count(&counters.exported), N);
    eprintln!(
        "otel {}: collector down {down_for:?} ({} failed tries), flush returned {flushed_after:?} after the first \
         write; {} points and {} log records delivered",
        protocol.name(),
        count(&counters.retries),
        count(&counters.metric_points),
        count(&counters.log_records)
    );
}

#[test]
fn grpc_receiver_down_for_a_while_loses_nothing() {
    down_then_up(OtelProtocol::Grpc);
}

#[test]
fn http_receiver_down_for_a_while_loses_nothing() {
    down_then_up(OtelProtocol::HttpProtobuf);
}

#[test]
fn requests_carry_at_most_max_messages() {
    let addr = free_addr();
    let receiver = Receiver::http(addr, Collector::default());
    let mut endpoint = endpoint(OtelProtocol::HttpProtobuf, addr);
    endpoint.batching.max_messages = 10;
    let mut sink = OtelSink::connect(&endpoint, "otel-test").unwrap();
    for i in 0..25 {
        let one = json!({"metrics": [{"name": "n", "type": "u64_gauge", "value": i, "timestamp": BASE + i}]});
        sink.write(&record(i, one.to_string())).unwrap();
    }
    let before_flush = receiver.collector.metrics.lock().unwrap().len();
    sink.flush().unwrap();
    let sizes: Vec<usize> = receiver.collector.metrics.lock().unwrap().iter().map(points).collect();
    assert_eq!((before_flush, sizes.as_slice()), (2, &[10, 10, 5][..]));
    eprintln!("otel batching: 25 messages, maxMessages 10 -> requests of {sizes:?} points");
}

fn points(request: &ExportMetricsServiceRequest) -> usize {
    let metrics = request.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics);
    metrics
        .map(|m| match m.data.as_ref() {
            Some(Data::Gauge(g)) => g.data_points.len(),
            _ => 0,
        })
        .sum()
}

#[test]
fn refused_data_is_dropped_and_refused_credentials_stop_the_sink() {
    let one = || record(1, json!({"metrics": [{"name": "n", "type": "f64_gauge", "value": 1.5}]}).to_string());
    let addr = free_addr();
    let refusing = Collector { refuse: Some(Code::InvalidArgument), ..Collector::default() };
    let _receiver = Receiver::grpc(addr, refusing);
    let mut sink = OtelSink::connect(&endpoint(OtelProtocol::Grpc, addr), "otel-test").unwrap();
    sink.write(&one()).unwrap();
    sink.flush().unwrap();
    assert_eq!((count(&sink.counters().rejected), count(&sink.counters().retries)), (1, 0));

    let addr = free_addr();
    let locked = Collector { refuse: Some(Code::Unauthenticated), ..Collector::default() };
    let _receiver = Receiver::grpc(addr, locked);
    let mut sink = OtelSink::connect(&endpoint(OtelProtocol::Grpc, addr), "otel-test").unwrap();
    sink.write(&one()).unwrap();
    let error = sink.flush().unwrap_err().to_string();
    assert!(error.contains("Unauthenticated"), "{error}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate signed
/// by it (openssl, P-256 keys): `ca.pem`, `server.{pem,key}`, `client.{pem,key}`.
fn certificates(dir: &std::path::Path) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output();
        let out = out.expect("openssl runs (scripts/setup.sh installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca = ["req", "-x509", "-days", "2", "-subj", "/CN=otel test CA", "-keyout", "ca.key", "-out", "ca.pem"];
    let ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"];
    openssl(&[&ca[..], &ec[..], &ca_ext[..]].concat());
    for (name, usage, san) in [("server", "serverAuth", "IP:127.0.0.1"), ("client", "clientAuth", "DNS:client")] {
        let csr = format!("{name}.csr");
        let key = format!("{name}.key");
        openssl(&[&["req", "-subj", &format!("/CN={name}"), "-keyout", &key, "-out", &csr][..], &ec[..]].concat());
        let ext = format!("{name}.ext");
        let text = format!("basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\nsubjectAltName={san}\n");
        std::fs::write(dir.join(&ext), text).unwrap();
        let pem = format!("{name}.pem");
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-extfile",
            &ext,
        ]);
    }
}

#[test]
fn tls_with_a_ca_file_and_a_client_certificate() {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    for protocol in [OtelProtocol::Grpc, OtelProtocol::HttpProtobuf] {
        let addr = free_addr();
        let receiver = match protocol {
            OtelProtocol::Grpc => Receiver::grpc_tls(addr, Collector::default(), certs.path()),
            OtelProtocol::HttpProtobuf => Receiver::http_tls(addr, Collector::default(), certs.path()),
        };
        let mut endpoint = endpoint(protocol, addr);
        endpoint.tls = Some(OtelTls {
            ca_file: Some(certs.path().join("ca.pem")),
            cert_file: Some(certs.path().join("client.pem")),
            key_file: Some(certs.path().join("client.key")),
        });
        assert!(endpoint.describe().contains("https://127.0.0.1"), "{}", endpoint.describe());
        let mut sink = OtelSink::connect(&endpoint, "otel-test").unwrap();
        for i in 0..9 {
            sink.write(&record(i, telemetry(i).to_string())).unwrap();
        }
        sink.flush().unwrap();
        assert_eq!(seen(&receiver.collector), expected(9), "{} over TLS", protocol.name());
        assert_eq!(count(&sink.counters().retries), 0);
        eprintln!("otel {} over mutual TLS: 9 messages delivered", protocol.name());
    }
}

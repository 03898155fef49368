//! The runtime's own metrics, scraped by a real Prometheus: `wasmgraph run
//! --metrics-addr` on live MQTT messages (a mosquitto of the test's own),
//! Debian's `prometheus` started here on 127.0.0.1 scraping it every second,
//! and its HTTP query API asked until it holds the values the run produced:
//! the per-operation counters (compared with the summary the run prints when
//! it stops) and the example temperature module's own `requests` counter.
//!
//! Needs mosquitto and prometheus (scripts/setup.sh installs both): enabled by
//! the feature `prometheus-integration-tests`.
#![cfg(feature = "prometheus-integration-tests")]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{root, Client, Runtime};
use wasmgraph_test_mosquitto::{free_port, Mosquitto};

/// The example temperature operator (scripts/build-examples.sh builds it),
/// built with `wasmgraph build` when missing.
fn temperature_module() -> PathBuf {
    let dir = root().join("examples/operators/temperature");
    let wasm = dir.join("bin/x86_64/release/temperature.wasm");
    if !wasm.exists() {
        let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph")).arg("build").arg(&dir).output().unwrap();
        assert!(out.status.success(), "wasmgraph build {}:\n{}", dir.display(), String::from_utf8_lossy(&out.stderr));
    }
    assert!(wasm.exists(), "{} was not built", wasm.display());
    wasm
}

/// Prometheus on 127.0.0.1, scraping one target every second; killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, target: &str) -> Self {
        let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("prometheus is missing: install it with scripts/setup.sh (apt-get install prometheus)");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: wasmgraph\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = dir.join("prometheus.log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let me = Prometheus { child, port, log };
        let until = Instant::now() + Duration::from_secs(60);
        while me.get("/-/ready").is_none_or(|(status, _)| status != 200) {
            assert!(Instant::now() < until, "prometheus did not get ready:\n{}", me.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        me
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A plain HTTP/1.0 GET (Prometheus answers it unchunked and closes).
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Some((status, body))
    }

    /// The instant vector of `query`: each series' labels and value.
    fn query(&self, query: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let (status, body) = self.get(&format!("/api/v1/query?query={}", encode(query))).expect("prometheus answers");
        assert_eq!(status, 200, "query {query}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let labels =
                    r["metric"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()));
                (labels.collect(), r["value"][1].as_str().unwrap().parse().unwrap())
            })
            .collect()
    }

    /// `metric` by the value of label `by`.
    fn by(&self, metric: &str, by: &str) -> BTreeMap<String, u64> {
        self.query(metric)
            .into_iter()
            .map(|(labels, v)| (labels.get(by).cloned().unwrap_or_default(), v as u64))
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encode a query for a URL.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The summary table `wasmgraph run` prints when it stops: operation -> (in, out, errors).
fn summary_table(log: &str) -> BTreeMap<String, (u64, u64, u64)> {
    let rows = log.lines().skip_while(|l| !l.starts_with("operation ")).skip(1);
    rows.map_while(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        let [name, i, o, e] = w[..] else { return None };
        Some((name.to_string(), (i.parse().ok()?, o.parse().ok()?, e.parse().ok()?)))
    })
    .collect()
}

const GRAPH: &str = "metadata:\n  $schema: x\n  name: metrics\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: map\n    name: convert\n    module: temperature\n  - operationType: filter\n    name: keep\n    module: temperature\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {name: source}\n    to: {name: convert}\n  - from: {name: convert}\n    to: {name: keep}\n  - from: {name: keep}\n    to: {name: sink}\n";

/// Poll until `done` holds for what Prometheus returns, or panic with the last answer.
fn wait_for<T: std::fmt::Debug>(what: &str, mut get: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let got = get();
        if done(&got) {
            return got;
        }
        assert!(Instant::now() < until, "prometheus never returned {what}; last: {got:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_the_operation_counters_and_module_metrics_of_a_live_run() {
    // 40 readings (5 too hot for the filter's 3422 C bound), 7 payloads that are not JSON.
    const READINGS: u64 = 40;
    const HOT: u64 = 5;
    const BROKEN: u64 = 7;
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    std::fs::create_dir_all(dir.path().join("modules")).unwrap();
    std::fs::copy(temperature_module(), dir.path().join("modules/temperature.wasm")).unwrap();
    std::fs::write(dir.path().join("graph.yaml"), GRAPH).unwrap();
    let deployment = dir.path().join("deployment.yaml");
    std::fs::write(
        &deployment,
        format!(
            "kind: Deployment\nname: metrics-test\ngraph: graph.yaml\nmodules: modules\n\
             source:\n  endpoint: broker\n  topics: ['in/#']\n  qos: 1\n\
             sink:\n  endpoint: broker\n  topic: out/${{inputTopic}}\n\
             endpoints:\n  broker:\n    host: 127.0.0.1\n    port: {}\n    clientId: metrics-test\n",
            broker.port
        ),
    )
    .unwrap();
    let metrics_port = free_port();
    let collector = Client::connect(broker.port, "collector", &["out/#"]);
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let runtime = Runtime::start_with(&deployment, dir.path(), "prom", &["--metrics-addr", &metrics_addr]);
    let prometheus = Prometheus::start(dir.path(), &metrics_addr);
    let started = Instant::now();

    let publisher = Client::connect(broker.port, "publisher", &[]);
    for i in 0..READINGS {
        let f = if i < HOT { 10_000 + i } else { 32 + i };
        publisher.publish("in/t", format!(r#"{{"temperature":{{"value":{f},"unit":"F"}}}}"#), vec![]);
    }
    for i in 0..BROKEN {
        publisher.publish("in/t", format!("not json {i}"), vec![]);
    }
    publisher.wait_acks(READINGS + BROKEN, Duration::from_secs(30));
    let kept = (READINGS - HOT) as usize;
    collector.wait_received("the kept readings", Duration::from_secs(60), |r| r.len() >= kept);

    // Prometheus holds the final figures once the sink's count has reached it.
    wait_for(
        "the sink's input",
        || prometheus.by("wasmgraph_operation_records_in_total", "operation"),
        |m| m.get("sink") == Some(&(kept as u64)),
    );
    let records_in = prometheus.by("wasmgraph_operation_records_in_total", "operation");
    let records_out = prometheus.by("wasmgraph_operation_records_out_total", "operation");
    let errors = prometheus.by(r#"sum by (operation) (wasmgraph_operation_errors_total)"#, "operation");
    let by_kind = prometheus.by(r#"wasmgraph_operation_errors_total{operation="convert"}"#, "kind");
    let requests = prometheus.by(r#"requests_total{graph="metrics-test"}"#, "module");
    let calls = prometheus.by("wasmgraph_operation_call_duration_seconds_count", "operation");
    let received = prometheus.by("wasmgraph_source_messages_received_total", "job");
    let published = prometheus.by("wasmgraph_sink_records_published_total", "job");
    let scraped_after = started.elapsed();

    let log = runtime.stop();
    let summary = summary_table(&log);
    println!(
        "prometheus: after {scraped_after:.1?}: in {records_in:?} out {records_out:?} errors {errors:?} ({by_kind:?})"
    );
    println!("prometheus: module requests {requests:?}, calls {calls:?}, source received {received:?}, sink published {published:?}");
    println!("run summary: {summary:?}");
    assert_eq!(summary.len(), 4, "the run's summary table:\n{log}");
    for (op, (i, o, e)) in &summary {
        assert_eq!(records_in.get(op), Some(i), "records in of {op}");
        assert_eq!(records_out.get(op), Some(o), "records out of {op}");
        assert_eq!(errors.get(op), Some(e), "errors of {op}");
    }
    // What the run did, as the test knows it.
    let total = READINGS + BROKEN;
    assert_eq!(summary["convert"], (total, READINGS, BROKEN));
    assert_eq!(summary["keep"], (READINGS, kept as u64, 0));
    assert_eq!(by_kind.get("error"), Some(&BROKEN), "the module's returned errors are of kind \"error\"");
    assert_eq!(by_kind.values().sum::<u64>(), BROKEN);
    // The temperature module counts every call of its map and filter in `requests`.
    assert_eq!(requests.get("module-temperature/map"), Some(&total), "{requests:?}");
    assert_eq!(requests.values().sum::<u64>(), total + READINGS, "{requests:?}");
    assert_eq!(calls.get("convert"), Some(&total));
    assert_eq!(calls.get("keep"), Some(&READINGS));
    assert_eq!(received.get("wasmgraph"), Some(&total));
    assert_eq!(published.get("wasmgraph"), Some(&(kept as u64)));
    assert!(prometheus.log().contains("Server is ready"), "{}", prometheus.log());
}

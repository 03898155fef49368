//! `wasmgraph run` as a timely cluster of several processes on 127.0.0.1, and
//! the state store across restarts and processes (issue 17):
//! - 3 processes x 2 workers over the sample files give the same bytes as
//!   1 process x 1 worker, for the complex graph and for the keyed example
//!   (an accumulate with a `partitionKey`; also 1 x 2);
//! - 2 processes on live MQTT (mosquitto): one is SIGKILLed mid-stream, the
//!   other stops by itself with an error naming the lost peer, both restart,
//!   and every message is in the output (duplicates counted and printed); the
//!   MQTT sink writes on every process, and each publishes its share;
//! - a state key an operator set is there after a restart (embedded store)
//!   and seen by an operator in another process (Redis).
//!
//! They need mosquitto and redis-server (scripts/setup.sh installs both) and
//! the example operators (scripts/build-examples.sh): enabled by the feature
//! `cluster-integration-tests`.
#![cfg(feature = "cluster-integration-tests")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{root, Client, Received};
use wasmgraph_test_mosquitto::{free_port, Mosquitto};
use wasmgraph_test_redis::RedisServer;

/// One `wasmgraph run` process, its stderr in `<dir>/<tag>.log`.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(dir: &Path, tag: &str, args: &[&str]) -> Self {
        let log = dir.join(format!("{tag}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
            .arg("run")
            .args(args)
            .current_dir(root())
            .env("WASMGRAPH_CACHE_DIR", dir.join("cache"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait for the exit, at most `timeout`; panics with the log if it is still running.
    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "wasmgraph did not exit in {timeout:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&mut self, text: &str, timeout: Duration) {
        common::wait_for_text(&mut self.child, &self.log, text, timeout);
    }

    fn signal(&self, signal: &str) {
        common::signal(self.child.id(), signal);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hosts file for `n` processes on free ports of 127.0.0.1.
fn hosts_file(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("hosts.txt");
    let lines: Vec<String> = (0..n).map(|_| format!("127.0.0.1:{}", free_port())).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn require_examples_built() {
    let module = root().join("examples/operators/temperature/bin/x86_64/release/temperature.wasm");
    assert!(module.exists(), "{} is missing: run scripts/build-examples.sh first", module.display());
}

fn complex_args(out: &Path) -> Vec<String> {
    let mut args: Vec<String> =
        ["examples/graphs/complex.yaml", "--modules", "examples/operators"].iter().map(|s| s.to_string()).collect();
    args.extend(["--input".into(), "examples/data/mixed".into(), "--output".into(), out.display().to_string()]);
    args
}

#[test]
fn three_processes_of_two_workers_write_what_one_worker_writes() {
    require_examples_built();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let single = complex_args(&dir.path().join("1x1"));
    let refs: Vec<&str> = single.iter().map(String::as_str).collect();
    let status = Proc::spawn(dir.path(), "1x1", &refs).wait(Duration::from_secs(120));
    assert!(status.success());
    let one = std::fs::read(dir.path().join("1x1/output.jsonl")).unwrap();
    let single_took = started.elapsed();

    let hosts = hosts_file(dir.path(), 3);
    let started = Instant::now();
    let mut procs: Vec<Proc> = (0..3)
        .map(|i| {
            let mut args = complex_args(&dir.path().join("3x2"));
            args.extend(["--workers", "2", "--processes", "3", "--process"].map(String::from));
            args.extend([i.to_string(), "--hosts".into(), hosts.display().to_string()]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            Proc::spawn(dir.path(), &format!("3x2-{i}"), &refs)
        })
        .collect();
    for p in &mut procs {
        let status = p.wait(Duration::from_secs(180));
        assert!(status.success(), "a cluster process failed ({status}):\n{}", p.log());
    }
    let three = std::fs::read(dir.path().join("3x2/output.jsonl")).unwrap();
    println!(
        "cluster files: 1x1 {} byte(s), {} line(s) in {single_took:.1?}; 3x2 {} byte(s) in {:.1?}",
        one.len(),
        one.iter().filter(|&&b| b == b'\n').count(),
        three.len(),
        started.elapsed()
    );
    assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), 5, "{}", String::from_utf8_lossy(&one));
    assert!(
        one == three,
        "3x2 output differs:\n1x1:\n{}\n3x2:\n{}",
        String::from_utf8_lossy(&one),
        String::from_utf8_lossy(&three)
    );
    // A file sink is gathered: only process 0 writes it; the others never
    // created a file there.
    assert_eq!(std::fs::read_dir(dir.path().join("3x2")).unwrap().count(), 1);
}

/// `wasmgraph run` of the keyed example over the sensor files into `out`,
/// as `shape` = (processes, workers); waits for every process.
fn run_keyed(dir: &Path, out: &Path, shape: (usize, usize)) {
    let (processes, workers) = shape;
    let hosts = (processes > 1).then(|| hosts_file(dir, processes));
    let tag = format!("keyed-{processes}x{workers}");
    let mut procs: Vec<Proc> = (0..processes)
        .map(|i| {
            let mut args: Vec<String> = ["examples/graphs/keyed.yaml", "--modules", "examples/operators"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.extend([
                "--input".into(),
                "examples/data/sensors".into(),
                "--output".into(),
                out.display().to_string(),
            ]);
            args.extend(["--workers".into(), workers.to_string()]);
            if let Some(hosts) = &hosts {
                args.extend(["--processes".into(), processes.to_string(), "--process".into(), i.to_string()]);
                args.extend(["--hosts".into(), hosts.display().to_string()]);
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            Proc::spawn(dir, &format!("{tag}-{i}"), &refs)
        })
        .collect();
    for p in &mut procs {
        let status = p.wait(Duration::from_secs(180));
        assert!(status.success(), "{tag}: a process failed ({status}):\n{}", p.log());
    }
}

#[test]
fn a_keyed_accumulate_writes_the_same_for_1x1_1x2_and_3x2() {
    require_examples_built();
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for shape in [(1, 1), (1, 2), (3, 2)] {
        let out = dir.path().join(format!("{}x{}", shape.0, shape.1));
        run_keyed(dir.path(), &out, shape);
        outputs.push(std::fs::read(out.join("output.jsonl")).unwrap());
    }
    let text = String::from_utf8_lossy(&outputs[0]).into_owned();
    let summaries: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).collect();
    let payloads: Vec<serde_json::Value> =
        summaries.iter().map(|v| serde_json::from_str(v["payload"].as_str().unwrap()).unwrap()).collect();
    let counts: Vec<u64> = payloads.iter().map(|p| p["temperature"]["count"].as_u64().unwrap()).collect();
    println!("keyed example: {} summaries, readings per summary {counts:?}", summaries.len());
    // 24 readings of 3 sensors: every reading in exactly one summary, and
    // one summary per sensor and window (a window without a key would mix them).
    assert_eq!(counts.iter().sum::<u64>(), 24, "{text}");
    assert_eq!(summaries.len() % 3, 0, "{text}");
    assert!(counts.iter().all(|&c| c <= 4), "a summary covers more than one sensor's window: {text}");
    assert!(outputs[1] == outputs[0], "1x2 differs:\n{text}\n---\n{}", String::from_utf8_lossy(&outputs[1]));
    assert!(outputs[2] == outputs[0], "3x2 differs:\n{text}\n---\n{}", String::from_utf8_lossy(&outputs[2]));
}

/// The `kinds` test guest, built when missing.
fn kinds_module() -> PathBuf {
    common::built_guest("crates/test-guests/kinds")
}

const FILTER_GRAPH: &str = "metadata:\n  $schema: x\n  name: filter\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: filter\n    name: keep\n    module: kinds\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {name: source}\n    to: {name: keep}\n  - from: {name: keep}\n    to: {name: sink}\n";

/// A deployment on mosquitto at `port` with a `cluster:` section naming `hosts`.
fn mqtt_cluster_deployment(dir: &Path, port: u16, hosts: &Path) -> PathBuf {
    let deployment = format!(
        "kind: Deployment\nname: clustered\ngraph: graph.yaml\nmodules: modules\n\
             source:\n  endpoint: broker\n  topics: ['in/#']\n\
             sink:\n  endpoint: broker\n  topic: out/${{inputTopic}}\n\
             endpoints:\n  broker:\n    host: 127.0.0.1\n    port: {port}\n\
             cluster:\n  hostsFile: {}\n",
        hosts.display()
    );
    common::deployment_folder(dir, FILTER_GRAPH, &[("kinds", kinds_module())], "deployment.yaml", &deployment)
}

fn counts(seen: &[Received]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in seen {
        *m.entry(r.payload.clone()).or_insert(0) += 1;
    }
    m
}

/// Start process `i` of the 2-process cluster of `deployment`.
fn member(dir: &Path, deployment: &Path, i: usize, round: u32) -> Proc {
    let d = deployment.display().to_string();
    Proc::spawn(dir, &format!("mqtt-{round}-{i}"), &[&d, "--process", &i.to_string()])
}

#[test]
fn a_killed_process_stops_the_cluster_and_a_restart_loses_nothing() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let hosts = hosts_file(dir.path(), 2);
    let deployment = mqtt_cluster_deployment(dir.path(), broker.port, &hosts);
    let collector = Client::connect(broker.port, "collector", &["out/#"]);
    let mut first: Vec<Proc> = (0..2).map(|i| member(dir.path(), &deployment, i, 1)).collect();
    for p in &mut first {
        p.wait_for(common::READY, Duration::from_secs(120));
    }
    let publisher = Client::connect(broker.port, "publisher", &[]);
    let started = Instant::now();
    for i in 0..N {
        publisher.publish("in/cluster", format!("m{i:05}"), vec![]);
    }
    publisher.wait_acks(N as u64, Duration::from_secs(60));
    collector.wait_received("a fifth of the output", Duration::from_secs(60), |r| r.len() >= N / 5);
    let before_kill = collector.received().len();
    // SIGKILL process 1: process 0 must notice and stop by itself, with an
    // error that names the lost process, instead of hanging.
    let mut killed = first.pop().unwrap();
    killed.signal("KILL");
    let _ = killed.wait(Duration::from_secs(10));
    let mut survivor = first.pop().unwrap();
    let status = survivor.wait(Duration::from_secs(60));
    let log = survivor.log();
    assert!(!status.success(), "process 0 exited successfully after losing process 1:\n{log}");
    assert!(
        log.contains("lost the connection to process 1"),
        "process 0's error does not name the lost process:\n{log}"
    );
    let stopped_after = started.elapsed();

    let mut second: Vec<Proc> = (0..2).map(|i| member(dir.path(), &deployment, i, 2)).collect();
    for p in &mut second {
        p.wait_for(common::READY, Duration::from_secs(120));
    }
    let seen = collector.wait_received("every input in the output", Duration::from_secs(120), |r| counts(r).len() >= N);
    for p in &second {
        p.signal("TERM");
    }
    let mut published = Vec::new();
    for p in &mut second {
        let status = p.wait(Duration::from_secs(60));
        assert!(status.success(), "a cluster process failed to stop ({status}):\n{}", p.log());
        published.push(published_count(&p.log()));
    }
    let c = counts(&seen);
    let missing: Vec<String> = (0..N).map(|i| format!("m{i:05}")).filter(|m| !c.contains_key(m)).collect();
    let duplicates: usize = c.values().map(|n| n - 1).sum();
    println!(
        "cluster kill test: published {N}, output {} record(s) ({before_kill} before SIGKILL), distinct {}, \
         missing {}, duplicates {duplicates}; process 0 stopped {:.1?} after the start; all in {:.1?}",
        seen.len(),
        c.len(),
        missing.len(),
        stopped_after,
        started.elapsed()
    );
    println!(
        "process 0's error: {}",
        log.lines().filter(|l| l.contains("lost the connection")).collect::<Vec<_>>().join(" ")
    );
    println!("after the restart, records published by process 0 and 1: {published:?}");
    assert!(missing.is_empty(), "lost {} message(s), e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert!(c.values().all(|&n| n <= 2), "a message came more than twice");
    // The MQTT sink writes on every process: each published its own share.
    assert!(published.iter().all(|&n| n > 0), "a process published nothing: {published:?}");
}

/// The `N record(s) published` a live run prints when it stops.
fn published_count(log: &str) -> u64 {
    let line = log.lines().rev().find(|l| l.contains(" record(s) published"));
    let n = line.and_then(|l| l.split_whitespace().next()).and_then(|n| n.parse().ok());
    n.unwrap_or_else(|| panic!("no `record(s) published` line in:\n{log}"))
}

/// The `stateenrich` example module (numbers messages in the state store
/// key `stateenrich/count`) in a deployment over `input`, with `state_store`.
fn state_deployment(dir: &Path, name: &str, input: &Path, state_store: &str) -> PathBuf {
    let module = root().join("examples/operators/stateenrich/bin/x86_64/release/stateenrich.wasm");
    assert!(module.exists(), "{} is missing: run scripts/build-examples.sh first", module.display());
    let graph = "metadata:\n  $schema: x\n  name: state\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
         operations:\n  - operationType: source\n    name: source\n  - operationType: map\n    name: number\n    module: stateenrich\n  - operationType: sink\n    name: sink\n\
         connections:\n  - from: {name: source}\n    to: {name: number}\n  - from: {name: number}\n    to: {name: sink}\n";
    let deployment = format!(
        "kind: Deployment\nname: {name}\ngraph: graph.yaml\nmodules: modules\n\
             source:\n  type: file\n  path: {}\n\
             sink:\n  type: file\n  path: out-{name}.jsonl\n\
             stateStore:\n{state_store}",
        input.display()
    );
    common::deployment_folder(dir, graph, &[("stateenrich", module)], &format!("{name}.yaml"), &deployment)
}

/// The `sequence` user property of every output line of `file`.
fn sequences(file: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let seq = &v["properties"]["user-properties"]["sequence"];
            seq.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no sequence in {line}"))
        })
        .collect()
}

/// Run `deployment` to the end of its files, as a process of its own.
fn run_to_end(dir: &Path, tag: &str, deployment: &Path) {
    let d = deployment.display().to_string();
    let mut p = Proc::spawn(dir, tag, &[&d]);
    let status = p.wait(Duration::from_secs(120));
    assert!(status.success(), "{tag} failed ({status}):\n{}", p.log());
}

/// Four input files in `dir/in`.
fn four_inputs(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..4 {
        std::fs::write(input.join(format!("{i}.json")), format!("{{\"n\":{i}}}")).unwrap();
    }
    input
}

#[test]
fn an_embedded_state_key_is_there_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let input = four_inputs(dir.path());
    let deployment = state_deployment(dir.path(), "embedded", &input, "  type: embedded\n  path: state.redb\n");
    run_to_end(dir.path(), "embedded-1", &deployment);
    let first = sequences(&dir.path().join("out-embedded.jsonl"));
    run_to_end(dir.path(), "embedded-2", &deployment);
    let second = sequences(&dir.path().join("out-embedded.jsonl"));
    println!("embedded state store: first run numbered {first:?}, the restart {second:?}");
    assert_eq!(first, vec![1, 2, 3, 4]);
    // The key the operator set in the first process's run is read back after the restart.
    assert_eq!(second, vec![5, 6, 7, 8]);
}

#[test]
fn a_redis_state_key_set_in_one_process_is_seen_in_another() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let input = four_inputs(dir.path());
    let store = format!("  type: redis\n  url: {}\n  keyPrefix: 'shared:'\n", redis.url());
    let a = state_deployment(dir.path(), "a", &input, &store);
    let b = state_deployment(dir.path(), "b", &input, &store);
    // Process A runs to its end; then process B, another process with another
    // deployment on the same server, goes on from the count A left.
    let (da, db) = (a.display().to_string(), b.display().to_string());
    let mut pa = Proc::spawn(dir.path(), "redis-a", &[&da]);
    assert!(pa.wait(Duration::from_secs(120)).success(), "{}", pa.log());
    let mut pb = Proc::spawn(dir.path(), "redis-b", &[&db]);
    assert!(pb.wait(Duration::from_secs(120)).success(), "{}", pb.log());
    let (sa, sb) = (sequences(&dir.path().join("out-a.jsonl")), sequences(&dir.path().join("out-b.jsonl")));
    println!("redis state store: process A numbered {sa:?}, process B {sb:?}");
    assert_eq!(sa, vec![1, 2, 3, 4]);
    assert_eq!(sb, vec![5, 6, 7, 8], "process B did not see the count process A set");
}

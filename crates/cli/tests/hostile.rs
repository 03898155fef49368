//! Hostile input and hostile modules (issue 18), end to end: `wasmgraph run`
//! against mosquitto started here on a free port of 127.0.0.1.
//!
//! Operators are test guests (`crates/test-guests/*`), built with
//! `wasmgraph build` when missing. Enabled by the feature
//! `hostile-integration-tests` (`scripts/test.sh` turns it on); every test
//! prints what it saw (`cargo test -- --nocapture`).
#![cfg(feature = "hostile-integration-tests")]

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{built_guest, Client, Runtime};
use wasmgraph_test_mosquitto::{free_port, Mosquitto};

/// source -> delay to the end of the record's second -> accumulate (joins a
/// second's payloads with commas) -> sink: output appears only when a
/// window closes, which needs the clock to move.
const WINDOW_GRAPH: &str = "metadata:\n  $schema: x\n  name: windows\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: delay\n    name: second\n    module: kinds\n  - operationType: accumulate\n    name: join\n    module: kinds\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {name: source}\n    to: {name: second}\n  - from: {name: second}\n    to: {name: join}\n  - from: {name: join}\n    to: {name: sink}\n";

/// A folder with `graph`, the modules `(name, component)` and a deployment on
/// mosquitto at `port` (`in/#` to `sink_topic`), plus `extra` YAML.
fn setup(dir: &Path, graph: &str, modules: &[(&str, PathBuf)], port: u16, sink_topic: &str, extra: &str) -> PathBuf {
    let deployment = format!(
        "kind: Deployment\nname: t\ngraph: graph.yaml\nmodules: modules\n\
             source:\n  endpoint: broker\n  topics: ['in/#']\n\
             sink:\n  endpoint: broker\n  topic: {sink_topic}\n\
             endpoints:\n  broker:\n    host: 127.0.0.1\n    port: {port}\n    clientId: hostile\n{extra}"
    );
    common::deployment_folder(dir, graph, modules, "deployment.yaml", &deployment)
}

/// Every payload part (comma-separated window contents) received so far.
fn parts(client: &Client) -> Vec<String> {
    client.received().iter().flat_map(|m| m.payload.split(',').map(String::from).collect::<Vec<_>>()).collect()
}

#[test]
fn a_far_future_time_does_not_stall_windows() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let kinds = built_guest("crates/test-guests/kinds");
    let deployment = setup(dir.path(), WINDOW_GRAPH, &[("kinds", kinds)], broker.port, "out/windows", "");
    let collector = Client::connect(broker.port, "collector", &["out/#"]);
    let runtime = Runtime::start(&deployment, dir.path(), "clock");
    let publisher = Client::connect(broker.port, "publisher", &[]);
    // Year 2554: before the clock bound, this moved the source clock there
    // for good and no window closed until shutdown.
    publisher.publish("in/x", "future", vec![("__ts".into(), "18446744073709:0:x".into())]);
    publisher.wait_acks(1, Duration::from_secs(10));
    collector.wait_received("the far-future message's window", Duration::from_secs(20), |_| {
        parts(&collector).contains(&"future".to_string())
    });
    let sent = Instant::now();
    for payload in ["a", "b", "c"] {
        publisher.publish("in/x", payload, vec![]);
    }
    collector.wait_received("the later messages' windows", Duration::from_secs(20), |_| {
        let seen = parts(&collector);
        ["a", "b", "c"].iter().all(|p| seen.contains(&p.to_string()))
    });
    let latency = sent.elapsed();
    let log = runtime.stop();
    println!("clock bound: the messages after a far-future __ts came out {latency:?} after publishing");
    assert!(latency < Duration::from_secs(5), "windows after the far-future message took {latency:?}");
    assert!(log.contains("too far ahead of the host clock"), "the refused time is logged:\n{log}");
    assert!(
        log.contains("1 message(s) had a time too far ahead of the host clock"),
        "and counted in the summary:\n{log}"
    );
}

const MAP_GRAPH: &str = "metadata:\n  $schema: x\n  name: map\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: map\n    name: same\n    module: passthrough\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {name: source}\n    to: {name: same}\n  - from: {name: same}\n    to: {name: sink}\n";

#[test]
fn a_record_the_sink_cannot_write_is_a_dead_letter_not_a_poison_message() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let passthrough = built_guest("crates/test-guests/passthrough");
    let deployment = setup(
        dir.path(),
        MAP_GRAPH,
        &[("passthrough", passthrough)],
        broker.port,
        "out/${inputTopic.3}",
        "errors:\n  policy: deadLetter\n  topic: dead/letters\n",
    );
    let collector = Client::connect(broker.port, "collector", &["out/#", "dead/letters"]);
    let publisher = Client::connect(broker.port, "publisher", &[]);
    let count = |topic: &str| collector.received().iter().filter(|m| m.topic == topic).count();
    let mut runtime = Runtime::start(&deployment, dir.path(), "sink-1");
    // `in/a` has no level 3 for `out/${inputTopic.3}`: before, the run ended
    // on it unacknowledged, and every restart ended on it again.
    publisher.publish("in/a", "bad", vec![]);
    publisher.publish("in/a/b", "good-1", vec![]);
    collector.wait_received("the good message and the dead letter", Duration::from_secs(20), |_| {
        count("out/b") == 1 && count("dead/letters") == 1
    });
    runtime.wait_for("the input topic 'in/a' has no level 3", Duration::from_secs(5));
    let log = runtime.stop();
    // A restart does not meet the bad message again: it was acknowledged.
    let runtime = Runtime::start(&deployment, dir.path(), "sink-2");
    publisher.publish("in/x/y", "good-2", vec![]);
    collector.wait_received("the message after the restart", Duration::from_secs(20), |_| count("out/y") == 1);
    std::thread::sleep(Duration::from_secs(1));
    let log_2 = runtime.stop();
    let dead = collector.received().into_iter().find(|m| m.topic == "dead/letters").unwrap();
    println!(
        "sink failure: 1 dead letter ({}), good messages before and after a restart delivered; dead letters after the restart: {}",
        dead.user_properties.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
        count("dead/letters")
    );
    assert_eq!(count("dead/letters"), 1, "the bad message was not redelivered after the restart");
    assert!(dead.payload.contains("\"bad\"") || dead.payload.contains("YmFk"), "{}", dead.payload);
    assert!(dead.user_properties.contains(&("__operation".into(), "sink".into())), "{:?}", dead.user_properties);
    assert!(log.lines().any(|l| l.starts_with("sink ") && l.trim_end().ends_with(" 1")), "1 error on the sink:\n{log}");
    assert!(!log_2.contains("no level 3"), "{log_2}");
}

/// The embedded broker acknowledges publishes on receipt and keeps them in
/// memory only: SIGTERM during a burst lost ~15,000 acknowledged publishes.
/// Now the stop refuses new publishes and drains what the broker accepted
/// through the graph: every acknowledged publish comes out, the stop is
/// prompt and clean, and what a crash would still lose is stated at start.
#[test]
fn sigterm_during_a_burst_on_the_embedded_broker_drains_what_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let passthrough = built_guest("crates/test-guests/passthrough");
    let deployment = setup(dir.path(), MAP_GRAPH, &[("passthrough", passthrough)], port, "out/${inputTopic}", "");
    let text = std::fs::read_to_string(&deployment).unwrap().replace("    host: 127.0.0.1\n", "    embedded: true\n");
    std::fs::write(&deployment, text).unwrap();
    let runtime = Runtime::start(&deployment, dir.path(), "burst");
    assert!(
        runtime.log().contains("limits:   it acknowledges publishes on receipt"),
        "the embedded broker states its limits where it starts:\n{}",
        runtime.log()
    );
    let collector = Client::connect(port, "collector", &["out/#"]);
    let publisher = Client::connect(port, "publisher", &[]);
    const BURST: u64 = 20_000;
    for i in 0..BURST {
        publisher.publish("in/burst", format!("m{i}"), vec![]);
    }
    publisher.wait_acks(BURST / 10, Duration::from_secs(60));
    let stopping = Instant::now();
    let log = runtime.stop();
    let stopped_in = stopping.elapsed();
    // PUBACKs sent before the freeze may still be on their way.
    std::thread::sleep(Duration::from_millis(500));
    let acked = publisher.acks();
    let outputs: HashSet<String> = collector.received().into_iter().map(|m| m.payload).collect();
    // The broker acknowledges one connection's publishes in order: the first `acked`.
    let lost: Vec<u64> = (0..acked).filter(|i| !outputs.contains(&format!("m{i}"))).collect();
    println!(
        "embedded broker burst: published {BURST}, SIGTERM after {} PUBACKs; {acked} acknowledged in all, \
         {} distinct output(s), {} acknowledged but lost; stopped in {stopped_in:?}",
        BURST / 10,
        outputs.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged publishes lost, first m{}:\n{log}", lost[0]);
    assert!(log.contains("the embedded MQTT broker is drained"), "{log}");
    assert!(stopped_in < Duration::from_secs(30), "the stop took {stopped_in:?}");
    assert!(log.contains("record(s) published"), "a clean stop prints its summary:\n{log}");
}

// ---------------------------------------------------------------------------
// Hostile modules (crates/test-guests/hostile): each is contained by a host
// cap, counted, and the records around it come out unchanged. These runs read
// files (no broker): one input file per record, in name order.

/// One map operation `hostile` running the hostile guest.
const HOSTILE_GRAPH: &str = "metadata:\n  $schema: x\n  name: hostile\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: map\n    name: hostile\n    module: hostile\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {name: source}\n    to: {name: hostile}\n  - from: {name: hostile}\n    to: {name: sink}\n";

/// What a file run left behind.
struct FileRun {
    status: std::process::ExitStatus,
    /// stderr: logs, warnings and the run summary.
    log: String,
    /// The output records' payloads, in order.
    outputs: Vec<String>,
    /// errors.jsonl, one JSON object per failed record.
    errors: Vec<serde_json::Value>,
    /// Peak resident memory of the `wasmgraph run` process (VmHWM), in MiB.
    peak_rss_mib: u64,
    elapsed: Duration,
}

/// The peak resident set of `pid` so far, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `wasmgraph run` of [`HOSTILE_GRAPH`] over `inputs` (payloads) with `args`;
/// fails the test if it runs longer than `limit`.
fn run_hostile(inputs: &[&str], args: &[&str], env: &[(&str, &str)], limit: Duration) -> FileRun {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(built_guest("crates/test-guests/hostile"), modules.join("hostile.wasm")).unwrap();
    std::fs::write(dir.path().join("graph.yaml"), HOSTILE_GRAPH).unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for (i, payload) in inputs.iter().enumerate() {
        std::fs::write(input.join(format!("{i:04}.txt")), payload).unwrap();
    }
    let (out, log) = (dir.path().join("out"), dir.path().join("stderr.log"));
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
        .arg("run")
        .arg(dir.path().join("graph.yaml"))
        .args(["--modules".as_ref(), modules.as_os_str(), "--input".as_ref(), input.as_os_str()])
        .args(["--output".as_ref(), out.as_os_str()])
        .args(args)
        .envs(env.iter().copied())
        .env("WASMGRAPH_CACHE_DIR", dir.path().join("cache"))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("wasmgraph run did not end within {limit:?}:\n{}", std::fs::read_to_string(&log).unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let lines = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(out.join(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let outputs = lines("output.jsonl").iter().map(|v| v["payload"].as_str().unwrap_or("").to_string()).collect();
    FileRun {
        status,
        log: std::fs::read_to_string(&log).unwrap(),
        outputs,
        errors: lines("errors.jsonl"),
        peak_rss_mib: peak / 1024,
        elapsed: started.elapsed(),
    }
}

/// The value of the host's cap counter for operation `hostile` in the run
/// summary's module metrics (0 when absent).
fn limit_hits(log: &str, limit: &str) -> u64 {
    let series = format!("wasmgraph_host_limit_hits{{limit={limit},operation=hostile}} = ");
    log.lines().find_map(|l| l.split_once(&series).map(|(_, n)| n.trim().parse().unwrap())).unwrap_or(0)
}

#[test]
fn a_module_that_floods_its_log_is_capped_and_the_graph_keeps_running() {
    // The long lines first: a line dropped by the rate is not cut as well.
    let inputs = ["a", "huge-line", "huge-stdout", "flood", "stdout-flood", "b"];
    let run = run_hostile(&inputs, &["--limit-log-lines-per-second", "100"], &[], Duration::from_secs(300));
    let flood_lines = run.log.lines().filter(|l| l.contains("flood line")).count() as u64;
    let longest = run.log.lines().map(str::len).max().unwrap_or(0);
    let (rate, size) = (limit_hits(&run.log, "log-rate"), limit_hits(&run.log, "log-line-size"));
    println!(
        "log flood: 200,000 lines and two 32 MiB lines asked for; {flood_lines} flood line(s) logged in {:?}, \
         longest log line {longest} bytes; counted: log-rate {rate}, log-line-size {size}; peak RSS {} MiB",
        run.elapsed, run.peak_rss_mib
    );
    assert!(run.status.success(), "{}", run.log);
    assert_eq!(run.outputs, inputs, "every record comes out unchanged");
    // 100 lines per second per instance (+1 for a second boundary mid-run).
    assert!(flood_lines <= 100 * (run.elapsed.as_secs() + 2), "{flood_lines} lines in {:?}", run.elapsed);
    assert!(rate >= 200_000 - flood_lines, "dropped lines are counted: {rate}");
    assert_eq!(size, 2, "both 32 MiB lines were cut");
    assert!(longest < 16 * 1024 + 512, "lines are cut to 16 KiB: longest {longest}");
    assert!(run.log.contains("bytes cut]"), "a cut line says so");
    assert!(run.log.contains("lines per second; the excess is dropped"), "one warning when dropping starts");
    assert_eq!(run.log.matches("lines per second; the excess is dropped").count(), 1, "only one");
}

#[test]
fn a_module_that_grows_the_state_store_is_refused_beyond_its_cap() {
    // 20 records asking for 100 new 100 KiB keys each: 200 MiB in the store
    // without a cap. The same run with a cap above that shows what the cap saves.
    let inputs: Vec<&str> = std::iter::repeat_n("state-grow", 20).chain(["after"]).collect();
    let capped = run_hostile(&inputs, &["--limit-state-bytes", "10485760"], &[], Duration::from_secs(300));
    let uncapped = run_hostile(&inputs, &["--limit-state-bytes", "1073741824"], &[], Duration::from_secs(300));
    let refused = |run: &FileRun| -> u64 {
        run.outputs.iter().filter_map(|p| p.strip_prefix("state-grow: ")?.split(' ').next()?.parse::<u64>().ok()).sum()
    };
    println!(
        "state growth: 2,000 sets of 100 KiB asked for; with a 10 MiB cap {} refused (counted {}), peak RSS {} MiB; \
         with a 1 GiB cap {} refused, peak RSS {} MiB",
        refused(&capped),
        limit_hits(&capped.log, "state-store"),
        capped.peak_rss_mib,
        refused(&uncapped),
        uncapped.peak_rss_mib
    );
    assert!(capped.status.success(), "{}", capped.log);
    assert_eq!(capped.outputs.len(), 21);
    assert_eq!(capped.outputs[20], "after", "the graph keeps running");
    // 10 MiB holds 102 values of 100 KiB (plus their keys).
    assert_eq!(refused(&capped), 2_000 - 102);
    assert_eq!(limit_hits(&capped.log, "state-store"), 2_000 - 102);
    assert!(capped.outputs[1].contains("state-store limit: operation \\\"hostile\\\""), "{}", capped.outputs[1]);
    assert_eq!(refused(&uncapped), 0);
    assert!(
        capped.peak_rss_mib + 150 < uncapped.peak_rss_mib,
        "the cap bounds host memory: {} MiB capped, {} MiB not",
        capped.peak_rss_mib,
        uncapped.peak_rss_mib
    );
}

#[test]
fn a_module_that_leaks_resources_fails_that_call_and_the_graph_keeps_running() {
    let inputs = ["a", "leak", "b", "leak", "c"];
    let run = run_hostile(&inputs, &[], &[], Duration::from_secs(300));
    let kinds: Vec<&str> = run.errors.iter().map(|e| e["kind"].as_str().unwrap_or("")).collect();
    println!(
        "resource leak: 2 calls creating 20,000 handles each; errors {kinds:?}, counted {}; outputs {:?}; peak RSS {} MiB",
        limit_hits(&run.log, "resources"),
        run.outputs,
        run.peak_rss_mib
    );
    assert_eq!(run.outputs, ["a", "b", "c"], "the records around the leaks come out");
    assert_eq!(kinds, ["resource-limit", "resource-limit"]);
    assert_eq!(limit_hits(&run.log, "resources"), 2);
    let message = run.errors[0]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("10000 resource handles"), "a clear message: {}", run.errors[0]);
}

#[test]
fn a_module_that_creates_metric_series_without_bound_is_capped() {
    let inputs = ["metrics-grow", "metrics-grow", "metrics-grow", "after"];
    let run = run_hostile(&inputs, &["--limit-metric-series", "1000"], &[], Duration::from_secs(300));
    let series = run.log.lines().filter(|l| l.contains("hostile_series{")).count();
    println!(
        "metric series: 1,500 new label sets asked for; {series} kept, {} dropped and counted",
        limit_hits(&run.log, "metric-series")
    );
    assert!(run.status.success(), "{}", run.log);
    assert_eq!(run.outputs, inputs);
    assert_eq!(series, 1000);
    assert_eq!(limit_hits(&run.log, "metric-series"), 500);
}

#[test]
fn a_module_whose_init_loops_forever_ends_in_a_clear_error_within_its_budget() {
    let env = [("WASMGRAPH_CALL_TIMEOUT_MS", "1000")];
    let run = run_hostile(&["a"], &["--param", "hostile.loopInit=true"], &env, Duration::from_secs(120));
    println!(
        "looping init: the run ended after {:?} with {}; last line: {}",
        run.elapsed,
        run.status,
        run.log.lines().last().unwrap_or("")
    );
    assert!(!run.status.success());
    assert!(run.log.contains("init of module hostile.wasm failed"), "{}", run.log);
    assert!(run.log.contains("ran longer than its budget of 1s"), "{}", run.log);
    assert!(run.outputs.is_empty());
}

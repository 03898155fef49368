//! Hostile input and hostile modules (issue 18), end to end: `wasmgraph run`
//! against mosquitto started here on a free port of 127.0.0.1.
//!
//! Operators are test guests (`crates/test-guests/*`), built with
//! `wasmgraph build` when missing. Enabled by the feature
//! `hostile-integration-tests` (`scripts/test.sh` turns it on); every test
//! prints what it saw (`cargo test -- --nocapture`).
#![cfg(feature = "hostile-integration-tests")]

mod common;

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
    std::fs::create_dir_all(dir.join("modules")).unwrap();
    for (name, component) in modules {
        std::fs::copy(component, dir.join(format!("modules/{name}.wasm"))).unwrap();
    }
    std::fs::write(dir.join("graph.yaml"), graph).unwrap();
    let deployment = dir.join("deployment.yaml");
    std::fs::write(
        &deployment,
        format!(
            "kind: Deployment\nname: t\ngraph: graph.yaml\nmodules: modules\n\
             source:\n  endpoint: broker\n  topics: ['in/#']\n\
             sink:\n  endpoint: broker\n  topic: {sink_topic}\n\
             endpoints:\n  broker:\n    host: 127.0.0.1\n    port: {port}\n    clientId: hostile\n{extra}"
        ),
    )
    .unwrap();
    deployment
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
/// memory only: SIGTERM during a burst loses what the graph had not taken.
/// That limit is stated when it starts; the stop itself is clean and prompt.
#[test]
fn sigterm_during_a_burst_on_the_embedded_broker_states_its_limits_and_stops_cleanly() {
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
    std::thread::sleep(Duration::from_millis(500));
    let outputs = collector.received().len() as u64;
    println!(
        "embedded broker burst: published {BURST}, SIGTERM after {} PUBACKs; {outputs} output(s) seen; stopped in {stopped_in:?}",
        BURST / 10
    );
    assert!(stopped_in < Duration::from_secs(30), "the stop took {stopped_in:?}");
    assert!(outputs <= BURST, "{outputs} outputs for {BURST} messages");
    assert!(log.contains("record(s) published"), "a clean stop prints its summary:\n{log}");
}

//! Graphs and modules from a real OCI registry, through the `wasmgraph`
//! binary: Debian's docker-registry started by the test on 127.0.0.1 with
//! htpasswd auth and TLS from a throw-away CA (feature `oci-integration-tests`).
#![cfg(feature = "oci-integration-tests")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasmgraph_test_registry::{TestRegistry, PASSWORD, USER};

use common::root;

fn module(name: &str) -> PathBuf {
    let m = root().join(format!("examples/operators/{name}/bin/x86_64/release/{name}.wasm"));
    assert!(m.exists(), "{} is missing: run scripts/build-examples.sh (scripts/test.sh does)", m.display());
    m
}

/// `wasmgraph` with the registry's credentials and CA, and its own cache.
fn wasmgraph(registry: &TestRegistry, cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasmgraph"));
    c.current_dir(root())
        .env("WASMGRAPH_CACHE_DIR", cache)
        .env("WASMGRAPH_REGISTRY_USER", USER)
        .env("WASMGRAPH_REGISTRY_PASSWORD", PASSWORD)
        .env("WASMGRAPH_REGISTRY_CA", registry.ca_file());
    c
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Push `file` to `reference`; the digest printed.
fn push(registry: &TestRegistry, cache: &Path, file: &Path, reference: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
        .env("WASMGRAPH_CACHE_DIR", cache)
        .args(["push"])
        .arg(file)
        .arg(reference)
        .args(["--registry-user", USER, "--registry-password", PASSWORD, "--registry-ca"])
        .arg(registry.ca_file())
        .output()
        .unwrap();
    let digest = ok(out, &format!("push {}", file.display())).trim().to_string();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "push prints the digest: {digest}");
    digest
}

/// `run` of the complex example over the sample files, output.jsonl's text.
fn run(mut cmd: Command, graph: &str, out: &Path, extra: &[&str]) -> String {
    cmd.args(["run", graph, "--input", "examples/data/mixed", "--output"]).arg(out).args(extra);
    ok(cmd.output().unwrap(), &format!("run {graph}"));
    std::fs::read_to_string(out.join("output.jsonl")).unwrap()
}

fn blobs(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("oci/blobs/sha256")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_graph_run_by_reference_matches_the_file_run_and_survives_a_registry_outage() {
    let mut registry = TestRegistry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let push_cache = dir.path().join("push-cache");
    for name in ["window", "temperature", "humidity", "collection", "enrichment"] {
        push(&registry, &push_cache, &module(name), &format!("{host}/wasmgraph/examples/{name}:1.0.0"));
    }
    let graph = root().join("examples/graphs/complex.yaml");
    let graph_ref = format!("{host}/wasmgraph/graphs/complex:1.0.0");
    let graph_digest = push(&registry, &push_cache, &graph, &graph_ref);

    let by_file = {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wasmgraph"));
        c.current_dir(root()).env("WASMGRAPH_CACHE_DIR", dir.path().join("file-cache"));
        run(c, "examples/graphs/complex.yaml", &dir.path().join("by-file"), &["--modules", "examples/operators"])
    };
    assert_eq!(by_file.lines().count(), 5, "{by_file}");

    // A fresh cache: the graph and its five modules come from the registry.
    let cache = dir.path().join("fresh-cache");
    let by_reference =
        run(wasmgraph(&registry, &cache), &graph_ref, &dir.path().join("by-ref"), &["--registry", &host]);
    assert_eq!(by_reference, by_file, "the run by reference writes what the file-based run writes");
    // The graph's manifest and layer, and each module's (configs are not pulled).
    assert_eq!(blobs(&cache), 12, "six artifacts, manifest and layer each");

    // pull verifies and writes the same bytes.
    let pulled = dir.path().join("pulled.yaml");
    let mut c = wasmgraph(&registry, &cache);
    c.args(["pull", &graph_ref, "-o"]).arg(&pulled);
    assert_eq!(ok(c.output().unwrap(), "pull").trim(), graph_digest);
    assert_eq!(std::fs::read(&pulled).unwrap(), std::fs::read(&graph).unwrap());

    // The registry goes away: a restart runs from the cache.
    registry.stop();
    let offline = run(wasmgraph(&registry, &cache), &graph_ref, &dir.path().join("offline"), &["--registry", &host]);
    assert_eq!(offline, by_file, "a restart without the registry runs from the cache");
    println!("by reference == by file ({} records); offline run from the cache == by file", by_file.lines().count());
}

#[test]
fn a_tampered_module_is_refused_and_nothing_is_cached() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{host}/wasmgraph/examples/temperature:1.0.0");
    push(&registry, &dir.path().join("push-cache"), &module("temperature"), &reference);
    // Find the layer's digest through a pull into a throw-away cache, then
    // flip one byte of the registry's copy (same length, other content).
    let probe = dir.path().join("probe-cache");
    let mut c = wasmgraph(&registry, &probe);
    c.args(["pull", &reference, "-o"]).arg(dir.path().join("ok.wasm"));
    let stderr = String::from_utf8(c.output().unwrap().stderr).unwrap();
    let layer = stderr.split("layer ").nth(1).and_then(|s| s.split_whitespace().next()).expect(&stderr).to_string();
    let data = registry.blob_data(&layer);
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();

    let cache = dir.path().join("cache");
    let mut c = wasmgraph(&registry, &cache);
    c.args(["pull", &reference, "-o"]).arg(dir.path().join("tampered.wasm"));
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a tampered blob must be refused");
    assert!(stderr.contains("digest mismatch") && stderr.contains(&layer), "{stderr}");
    assert_eq!(blobs(&cache), 0, "nothing is cached");
    assert!(!dir.path().join("tampered.wasm").exists());
    println!("refused: {}", stderr.trim());
}

/// One module operation between MQTT topics, its module pulled by tag from
/// the registry and watched every second.
fn live_deployment(dir: &Path, registry: &TestRegistry, broker_port: u16) -> PathBuf {
    let graph = "metadata:\n  $schema: x\n  name: live\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: map\n    name: op\n    module: live/op:1\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {name: source}\n    to: {name: op}\n  - from: {name: op}\n    to: {name: sink}\n";
    std::fs::write(dir.join("graph.yaml"), graph).unwrap();
    let deployment = dir.join("deployment.yaml");
    std::fs::write(
        &deployment,
        format!(
            "kind: Deployment\nname: live\ngraph: graph.yaml\n\
             registry:\n  host: {host}\n  authentication:\n    method: Basic\n    username: {USER}\n    password: {PASSWORD}\n\
             \x20 tls:\n    caFile: {ca}\n  pollIntervalSeconds: 1\n\
             source:\n  endpoint: broker\n  topics: ['in/#']\n\
             sink:\n  endpoint: broker\n  topic: out/${{inputTopic}}\n\
             endpoints:\n  broker:\n    host: 127.0.0.1\n    port: {broker_port}\n",
            host = registry.host(),
            ca = registry.ca_file().display(),
        ),
    )
    .unwrap();
    deployment
}

/// Which version processed reading `i`: v1 (passthrough) keeps
/// `{"temperature":{"value":i}}`, v2 (celsius-to-fahrenheit) writes
/// `{"temperature":{"value_fahrenheit":..,"original_celsius":i}}`.
fn version_and_index(payload: &str) -> (u8, u64) {
    let v: serde_json::Value = serde_json::from_str(payload).unwrap_or_else(|e| panic!("{payload}: {e}"));
    let t = &v["temperature"];
    match (t["value"].as_f64(), t["original_celsius"].as_f64()) {
        (Some(i), None) => (1, i as u64),
        (None, Some(i)) => (2, i as u64),
        _ => panic!("unexpected output {payload}"),
    }
}

#[test]
fn a_module_pushed_under_the_same_tag_is_swapped_in_while_running() {
    use common::{Client, Runtime};
    use std::time::Duration;
    use wasmgraph_test_mosquitto::{free_port, Mosquitto};

    let registry = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let tag = format!("{}/live/op:1", registry.host());
    let push_cache = dir.path().join("push-cache");
    let v1 = push(&registry, &push_cache, &common::built_guest("crates/test-guests/passthrough"), &tag);
    let deployment = live_deployment(dir.path(), &registry, broker.port);
    let mut rt = Runtime::start(&deployment, dir.path(), "live");
    let client = Client::connect(broker.port, "live-test", &["out/#"]);

    // 100 readings a second; v2 goes up at 150, v3 (whose init fails) once v2 runs.
    let total = 700u64;
    let mut v2 = String::new();
    let mut v3 = String::new();
    for i in 0..total {
        client.publish("in/t", format!("{{\"temperature\":{{\"value\":{i}}}}}"), vec![]);
        std::thread::sleep(Duration::from_millis(10));
        if i == 150 {
            v2 = push(&registry, &push_cache, &module("celsius-to-fahrenheit"), &tag);
        }
        if i == 400 {
            rt.wait_for(&format!("switching from {v1} to {v2}"), Duration::from_secs(30));
            v3 = push(&registry, &push_cache, &common::built_guest("crates/test-guests/init-false"), &tag);
        }
        if i == 550 {
            rt.wait_for(&format!("refusing {v3}"), Duration::from_secs(30));
        }
    }
    client.wait_acks(total, Duration::from_secs(30));
    let received = client.wait_received("every result", Duration::from_secs(60), |r| r.len() as u64 >= total);
    let log = rt.stop();

    let outputs: Vec<(u8, u64)> = received.iter().map(|r| version_and_index(&r.payload)).collect();
    let mut seen: Vec<u64> = outputs.iter().map(|(_, i)| *i).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..total).collect::<Vec<_>>(), "every reading exactly once");
    let indexes: Vec<u64> = outputs.iter().map(|(_, i)| *i).collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "results in input order");
    let switch = outputs.iter().position(|(v, _)| *v == 2).expect("v2 processed some readings");
    assert!(switch > 0, "v1 processed the first readings");
    assert!(outputs[switch..].iter().all(|(v, _)| *v == 2), "after the switch only v2 (v3 was refused)");
    assert!(outputs[switch..].iter().any(|(_, i)| *i > 560), "v2 kept running after v3 was refused");
    assert!(log.contains(&format!("switching from {v1} to {v2}")), "{log}");
    assert!(log.contains(&format!("refusing {v3}")) && log.contains("keeps running"), "{log}");
    // The exact boundary: the switch is scheduled at a record time; every
    // record before it went through v1, every record at or after it through v2.
    let boundary = switch_time(&log, &v1, &v2);
    for (r, (version, i)) in received.iter().zip(&outputs) {
        let ts = record_millis(r);
        assert_eq!(
            *version == 2,
            ts >= boundary,
            "reading {i} at {ts} ms (switch at {boundary} ms) went through v{version}"
        );
    }
    println!(
        "{total} readings in, {} results out, each once and in order; v1 processed 0..{}, v2 from {} on \
         (record time {boundary} ms on); v3 refused",
        outputs.len(),
        outputs[switch].1,
        outputs[switch].1
    );
}

/// The record time (ms) the log says the switch from `v1` to `v2` applies from.
fn switch_time(log: &str, v1: &str, v2: &str) -> u64 {
    let said = format!("switching from {v1} to {v2} for records from time ");
    let time = log.lines().find_map(|l| l.split_once(&said).map(|(_, t)| t.to_string()));
    let ms = time.as_deref().and_then(|t| t.split(':').next()?.trim().parse().ok());
    ms.unwrap_or_else(|| panic!("no switch time in the log:\n{log}"))
}

/// A result's record time in ms, from its `__ts` user property.
fn record_millis(r: &common::Received) -> u64 {
    let ts = r.user_properties.iter().find(|(k, _)| k == "__ts").map(|(_, v)| v.as_str());
    let ms = ts.and_then(|t| t.split(':').next()?.parse().ok());
    ms.unwrap_or_else(|| panic!("a result without __ts: {:?}", r.user_properties))
}

/// A graph of one map between MQTT topics whose module is `module`.
fn map_graph(module: &str) -> String {
    format!(
        "metadata:\n  $schema: x\n  name: live-graph\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: map\n    name: op\n    module: {module}\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {{name: source}}\n    to: {{name: op}}\n  - from: {{name: op}}\n    to: {{name: sink}}\n"
    )
}

/// sha256 of a file, as the registry's content digest (`sha256sum`).
fn sha256_of(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    let text = ok(out, "sha256sum");
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

#[test]
fn a_graph_pushed_under_the_same_tag_restarts_the_run_with_nothing_lost() {
    use common::{Client, Runtime};
    use std::time::Duration;
    use wasmgraph_test_mosquitto::{free_port, Mosquitto};

    let registry = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let host = registry.host();
    let push_cache = dir.path().join("push-cache");
    push(
        &registry,
        &push_cache,
        &common::built_guest("crates/test-guests/passthrough"),
        &format!("{host}/live/pass:1"),
    );
    push(&registry, &push_cache, &module("celsius-to-fahrenheit"), &format!("{host}/live/c2f:1"));
    let (g1, g2) = (dir.path().join("g1.yaml"), dir.path().join("g2.yaml"));
    std::fs::write(&g1, map_graph("live/pass:1")).unwrap();
    std::fs::write(&g2, map_graph("live/c2f:1")).unwrap();
    let graph_tag = format!("{host}/live/graph:1");
    push(&registry, &push_cache, &g1, &graph_tag);
    let deployment = live_deployment(dir.path(), &registry, broker.port);
    let text = std::fs::read_to_string(&deployment).unwrap().replace("graph: graph.yaml", "graph: live/graph:1");
    std::fs::write(&deployment, text).unwrap();
    let mut rt = Runtime::start(&deployment, dir.path(), "graph-change");
    let client = Client::connect(broker.port, "graph-change-test", &["out/#"]);

    // 100 readings a second; the graph's tag moves to g2 at reading 150.
    let total = 500u64;
    let changed = format!("graph definition changed from {} to {}", sha256_of(&g1), sha256_of(&g2));
    for i in 0..total {
        client.publish("in/t", format!("{{\"temperature\":{{\"value\":{i}}}}}"), vec![]);
        std::thread::sleep(Duration::from_millis(10));
        if i == 150 {
            push(&registry, &push_cache, &g2, &graph_tag);
        }
        if i == 350 {
            rt.wait_for(&changed, Duration::from_secs(30));
        }
    }
    client.wait_acks(total, Duration::from_secs(30));
    client.wait_received("every result", Duration::from_secs(60), |r| r.len() as u64 >= total);
    // Anything repeated would come right behind.
    std::thread::sleep(Duration::from_secs(1));
    let received = client.received();
    let log = rt.stop();

    let outputs: Vec<(u8, u64)> = received.iter().map(|r| version_and_index(&r.payload)).collect();
    let mut seen: Vec<u64> = outputs.iter().map(|(_, i)| *i).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..total).collect::<Vec<_>>(), "every reading exactly once across the restart");
    let switch = outputs.iter().position(|(v, _)| *v == 2).expect("the new graph processed some readings");
    assert!(switch > 0, "the first graph processed the first readings");
    assert!(outputs[switch..].iter().all(|(v, _)| *v == 2), "after the restart only the new graph");
    assert!(log.contains(&changed), "both digests are logged:\n{log}");
    assert_eq!(log.matches("wasmgraph: reading ").count(), 2, "one restart:\n{log}");
    println!(
        "{total} readings in, {} results out, each once; graph 1 processed {switch}, graph 2 the other {} ({changed})",
        outputs.len(),
        outputs.len() - switch
    );
}

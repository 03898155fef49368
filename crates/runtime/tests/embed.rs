//! The runtime as an embedder uses it: a pipeline built in a few lines, run on
//! real components (the example operators and test guests built by
//! scripts/build-examples.sh).

use std::path::{Path, PathBuf};

use wasmgraph_connectors::file::{FileSinkSpec, FileSourceSpec};
use wasmgraph_connectors::{SinkSpec, SourceSpec};
use wasmgraph_runtime::{HostSettings, Pipeline};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_graph_runs_from_rust_in_a_few_lines() {
    let out = tempfile::tempdir().unwrap();
    let source = SourceSpec::File(FileSourceSpec::new(root().join("examples/data/temperature")));
    let sink = SinkSpec::File(FileSinkSpec { path: out.path().join("output.jsonl") });
    let mut pipeline =
        Pipeline::new(root().join("examples/graphs/simple.yaml"), root().join("examples/operators"), source, sink);
    pipeline.host = HostSettings { cache_dir: Some(out.path().join("cache")), ..HostSettings::default() };
    let outcome = pipeline.run().unwrap();

    let inputs = std::fs::read_dir(root().join("examples/data/temperature")).unwrap().count();
    let records = lines(&out.path().join("output.jsonl"));
    assert_eq!(records.len(), inputs, "one output per input file");
    assert_eq!(outcome.stats.written.load(std::sync::atomic::Ordering::Relaxed), inputs as u64);
    let first = records[0]["payload"].as_str().unwrap();
    assert!(first.contains("\"C\""), "the map converted to Celsius: {first}");
}

#[test]
fn malformed_module_output_is_reported_as_invalid_output() {
    let dir = tempfile::tempdir().unwrap();
    let built = root().join("crates/test-guests/invalid-output/bin/x86_64/release/test_guest_invalid_output.wasm");
    let built = if built.exists() { built } else { built.with_file_name("test-guest-invalid-output.wasm") };
    assert!(built.exists(), "{} is missing: run scripts/build-examples.sh first", built.display());
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(&built, modules.join("invalid-output.wasm")).unwrap();
    let graph = dir.path().join("graph.yaml");
    std::fs::write(&graph, GRAPH).unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("1"), "text").unwrap();
    std::fs::write(input.join("2"), [0xff, 0xfe, 0x00]).unwrap();
    std::fs::write(input.join("3"), "more text").unwrap();

    let mut pipeline = Pipeline::files(&graph, &modules, &input, dir.path().join("out"));
    pipeline.host = HostSettings { cache_dir: Some(dir.path().join("cache")), ..HostSettings::default() };
    let outcome = pipeline.run().unwrap();

    let errors = lines(&dir.path().join("out/errors.jsonl"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["operation"], "bad-map");
    assert_eq!(errors[0]["kind"], "invalid-output", "malformed output is not a trap: {errors:?}");
    // The instance was kept: its call counter went on (call 3, not call 1).
    let payloads: Vec<_> = lines(&dir.path().join("out/output.jsonl")).iter().map(|r| r["payload"].clone()).collect();
    assert_eq!(payloads, ["call 1", "call 3"]);
    assert_eq!(outcome.stats.errors(), 1);
}

const GRAPH: &str = r#"metadata:
  $schema: "https://www.schemastore.org/aio-wasm-graph-config-1.0.0.json"
  name: "invalid output"
  version: "1.0.0"
moduleRequirements:
  apiVersion: "1.1.0"
  runtimeVersion: "1.1.0"
operations:
  - operationType: "source"
    name: "source"
  - operationType: "map"
    name: "bad-map"
    module: "invalid-output:1.0.0"
  - operationType: "sink"
    name: "sink"
connections:
  - from: {name: "source"}
    to: {name: "bad-map"}
  - from: {name: "bad-map"}
    to: {name: "sink"}
"#;

//! What a running pipeline hands the telemetry exporters
//! ([`wasmgraph_runtime::Running::figures`]): the same counts as the run's
//! own stats, call times when asked for, and the modules' metrics.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use wasmgraph_connectors::file::{FileSinkSpec, FileSourceSpec};
use wasmgraph_connectors::{SinkSpec, SourceSpec};
use wasmgraph_runtime::{HostSettings, Pipeline};
use wasmgraph_telemetry::Collect;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[test]
fn figures_match_the_run_and_include_call_times_and_module_counters() {
    let out = tempfile::tempdir().unwrap();
    let data = root().join("examples/data/temperature");
    let inputs = std::fs::read_dir(&data).unwrap().count() as u64;
    let source = SourceSpec::File(FileSourceSpec::new(&data));
    let sink = SinkSpec::File(FileSinkSpec { path: out.path().join("output.jsonl") });
    let mut pipeline =
        Pipeline::new(root().join("examples/graphs/simple.yaml"), root().join("examples/operators"), source, sink);
    pipeline.host = HostSettings { cache_dir: Some(out.path().join("cache")), ..HostSettings::default() };
    pipeline.name = "simple".into();
    pipeline.time_calls = true;
    let running = pipeline.start().unwrap();
    let figures = running.figures();
    let outcome = running.wait().unwrap();
    let snap = figures.collect();

    assert_eq!(snap.graph, "simple");
    assert_eq!(snap.operations.len(), outcome.stats.nodes.len());
    for (op, (name, stats)) in snap.operations.iter().zip(&outcome.stats.nodes) {
        let (i, o, e) = stats.get();
        assert_eq!((&op.name, op.records_in, op.records_out), (name, i, o));
        assert_eq!(op.errors.iter().map(|(_, n)| n).sum::<u64>(), e, "{op:?}");
        assert_eq!(op.errors.len(), wasmgraph_types::FailureKind::ALL.len(), "every failure kind is listed: {op:?}");
    }
    let map = snap.operations.iter().find(|o| o.name == "module-temperature/map").unwrap();
    let calls = map.calls.as_ref().expect("module calls are timed");
    assert_eq!(calls.count, inputs);
    assert!(calls.sum > 0.0);
    assert!(snap.operations.iter().filter(|o| o.name == "source" || o.name == "sink").all(|o| o.calls.is_none()));
    assert_eq!(snap.sources[0].received, inputs);
    assert_eq!(snap.sources[0].in_flight, 0, "{:?}", snap.sources[0]);
    assert_eq!(snap.sinks[0].published, outcome.stats.written.load(Ordering::Relaxed));
    assert_eq!(snap.sinks[0].failed, 0);
    let requests: u64 = snap.module_counters.iter().filter(|c| c.name == "requests").map(|c| c.value).sum();
    assert_eq!(requests, inputs, "{:?}", snap.module_counters);
    let text = wasmgraph_telemetry::prometheus::encode(&snap);
    assert!(text.contains(&format!("wasmgraph_operation_call_duration_seconds_count{{graph=\"simple\",operation=\"module-temperature/map\"}} {inputs}\n")), "{text}");
}

#[test]
fn calls_are_not_timed_unless_asked() {
    let out = tempfile::tempdir().unwrap();
    let mut pipeline = Pipeline::files(
        root().join("examples/graphs/simple.yaml"),
        root().join("examples/operators"),
        root().join("examples/data/temperature"),
        out.path(),
    );
    pipeline.host = HostSettings { cache_dir: Some(out.path().join("cache")), ..HostSettings::default() };
    let running = pipeline.start().unwrap();
    let figures = running.figures();
    running.wait().unwrap();
    assert!(figures.collect().operations.iter().all(|o| o.calls.is_none()));
}

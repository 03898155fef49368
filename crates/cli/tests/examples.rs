//! End to end through the `wasmgraph` binary with the example operators, built
//! from source by `scripts/build-examples.sh` (which `scripts/test.sh` runs first).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn wasmgraph() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
}

fn require_examples_built() {
    let module = root().join("examples/operators/temperature/bin/x86_64/release/temperature.wasm");
    assert!(
        module.exists(),
        "{} is missing: run scripts/build-examples.sh (scripts/test.sh does) before these tests",
        module.display()
    );
}

fn run_complex(workers: &str, out: &Path) -> String {
    let root = root();
    let status = wasmgraph()
        .current_dir(&root)
        .args([
            "run",
            "examples/graphs/complex.yaml",
            "--modules",
            "examples/operators",
            "--input",
            "examples/data/mixed",
        ])
        .arg("--output")
        .arg(out)
        .args(["--workers", workers])
        .output()
        .unwrap();
    assert!(status.status.success(), "wasmgraph run failed: {}", String::from_utf8_lossy(&status.stderr));
    std::fs::read_to_string(out.join("output.jsonl")).unwrap()
}

#[test]
fn complex_example_output_is_identical_for_one_and_two_workers() {
    require_examples_built();
    let dir = tempfile::tempdir().unwrap();
    let one = run_complex("1", &dir.path().join("w1"));
    let two = run_complex("2", &dir.path().join("w2"));
    // 48 readings over 48 seconds: windows ending at 10, 20, 30, 40, 50 s.
    assert_eq!(one.lines().count(), 5, "{one}");
    assert_eq!(one, two);
}

#[test]
fn more_workers_than_the_default_instance_pool_still_finish() {
    // The complex example has 8 module operations: 13 workers need more than
    // the host's default pool of 100 instances; the pool is sized from the
    // graph and the worker count, so the run finishes (it used to hang).
    require_examples_built();
    let dir = tempfile::tempdir().unwrap();
    let one = run_complex("1", &dir.path().join("w1"));
    let many = run_complex("13", &dir.path().join("w13"));
    assert_eq!(one, many);
}

#[test]
fn run_reports_a_broken_graph_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let graph = dir.path().join("g.yaml");
    std::fs::write(
        &graph,
        "metadata:\n  $schema: x\n  name: g\n  version: '1'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\noperations:\n  - operationType: source\n    name: source\n  - operationType: mapp\n    name: m\n  - operationType: sink\n    name: sink\nconnections:\n  - from: {name: source}\n    to: {name: sink}\n",
    )
    .unwrap();
    let out = wasmgraph()
        .args(["run"])
        .arg(&graph)
        .args(["--input", "."])
        .arg("--output")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("g.yaml:11"), "{stderr}");
    assert!(stderr.contains("mapp"), "{stderr}");
}

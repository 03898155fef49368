//! Python operators through the `wasmgraph` binary: building (and build errors),
//! a Python operator that raises on some records, the mixed Python/Rust graph,
//! and `wasmgraph new`.
//!
//! Components are built from source when missing or older than their source
//! (componentize-py is installed on first use into the repository's
//! `.wasmgraph/python/`; needs `python3` and PyPI the first time).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn wasmgraph() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmgraph"));
    cmd.current_dir(repo()).env("NO_COLOR", "1").env("RUST_BACKTRACE", "0");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("wasmgraph runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Builds `examples/operators/<name>` unless its component is newer than
/// every source file.
fn ensure_built(name: &str) -> PathBuf {
    let dir = repo().join("examples/operators").join(name);
    let wasm = dir.join(format!("bin/x86_64/release/{name}.wasm"));
    let built = std::fs::metadata(&wasm).and_then(|m| m.modified()).ok();
    let newest_source = walk(&dir)
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            !s.contains("/bin/") && !s.contains("/.wasmgraph/") && !s.contains("/target/")
        })
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max();
    if built.is_none() || newest_source > built {
        let out = run(wasmgraph().arg("build").arg(&dir));
        assert!(out.status.success(), "building {name}:\n{}", text(&out));
    }
    wasm
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn scratch(name: &str) -> tempfile::TempDir {
    // Inside the repository, so builds share its componentize-py environment.
    let parent = repo().join("target/python-cli-tests");
    std::fs::create_dir_all(&parent).unwrap();
    tempfile::Builder::new().prefix(name).tempdir_in(parent).unwrap()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn payload(record: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(record["payload"].as_str().unwrap()).unwrap()
}

/// The summary row of `operation`: (in, out, errors).
fn summary_row(output: &str, operation: &str) -> (u64, u64, u64) {
    let row = output
        .lines()
        .find(|l| l.split_whitespace().next() == Some(operation))
        .unwrap_or_else(|| panic!("no summary row for {operation} in:\n{output}"));
    let n: Vec<u64> = row.split_whitespace().skip(1).map(|v| v.parse().unwrap()).collect();
    (n[0], n[1], n[2])
}

#[test]
fn python_exceptions_fail_only_their_record_and_the_instance_is_recreated() {
    ensure_built("raises_py");
    let out_dir = scratch("raises");
    let out = run(wasmgraph()
        .args([
            "run",
            "examples/graphs/python-raises.yaml",
            "--modules",
            "examples/operators",
            "--input",
            "examples/data/python-errors",
            "--output",
        ])
        .arg(out_dir.path()));
    let all = text(&out);
    assert!(out.status.success(), "{all}");

    // Counted: 6 in, 4 out, 2 errors.
    assert_eq!(summary_row(&all, "module-raises-py/map"), (6, 4, 2), "{all}");
    // Logged with the Python exception's text and the operation.
    for n in [2, 4] {
        let line = all
            .lines()
            .find(|l| l.contains(&format!("RuntimeError: record {n} asked to explode")))
            .unwrap_or_else(|| panic!("no log line with the exception of record {n}:\n{all}"));
        assert!(line.contains("module-raises-py/map"), "{line}");
    }
    // The failed records are kept, as traps.
    let errors = lines(&out_dir.path().join("errors.jsonl"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (error, n) in errors.iter().zip([2, 4]) {
        assert_eq!(error["operation"], "module-raises-py/map");
        assert_eq!(error["kind"], "trap");
        assert_eq!(payload(&error["records"][0])["n"], n);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("RuntimeError: record {n} asked to explode")),
            "the error record carries the Python exception: {message}"
        );
    }
    // Later records are processed, each failure by a fresh instance: its
    // module-level call count starts again.
    let output = lines(&out_dir.path().join("output.jsonl"));
    let got: Vec<(u64, u64)> = output
        .iter()
        .map(|r| {
            let p = payload(r);
            (p["n"].as_u64().unwrap(), p["calls"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(got, vec![(1, 1), (3, 1), (5, 1), (6, 2)]);
}

#[test]
fn mixed_python_and_rust_graph_routes_both_arms() {
    ensure_built("map_py");
    ensure_built("branch_py");
    ensure_built("temperature");
    let out_dir = scratch("mixed");
    let out = run(wasmgraph()
        .args([
            "run",
            "examples/graphs/python-mixed.yaml",
            "--modules",
            "examples/operators",
            "--input",
            "examples/data/python",
            "--output",
        ])
        .arg(out_dir.path()));
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    // 7 readings; the Rust filter keeps 100, 10 and 50 C; the Python branch
    // sends 100 and 50 (>= 30) to "True", 10 to "False".
    assert_eq!(summary_row(&all, "module-map-py/map"), (7, 7, 0), "{all}");
    assert_eq!(summary_row(&all, "module-temperature/filter"), (7, 3, 0), "{all}");
    assert_eq!(summary_row(&all, "sink-hot").0, 2, "{all}");
    assert_eq!(summary_row(&all, "sink-normal").0, 1, "{all}");
    let values: Vec<f64> = lines(&out_dir.path().join("output.jsonl"))
        .iter()
        .map(|r| payload(r)["temperature"]["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![100.0, 10.0, 50.0]);
}

#[test]
fn build_errors_say_what_is_wrong() {
    let dir = scratch("broken");
    let op = dir.path().join("broken_op");
    std::fs::create_dir(&op).unwrap();
    std::fs::write(
        op.join("broken_op.py"),
        "from map_impl import exports\n\nclass Map(exports.Map):\n    def init(self, configuration) -> bool:\n        return True\n\n    def process(self, message)\n        return message\n",
    )
    .unwrap();
    let out = run(wasmgraph().arg("build").arg(&op));
    let all = text(&out);
    assert!(!out.status.success());
    assert!(all.contains("broken_op.py:7: syntax error: expected ':'"), "{all}");

    std::fs::write(
        op.join("broken_op.py"),
        "from map_impl import exports\n\nclass Map(exports.Map):\n    def init(self, configuration) -> bool:\n        return True\n\n    def process(self, message):\n        return message\n",
    )
    .unwrap();
    let out = run(wasmgraph().arg("build").arg(&op).args(["--app-type", "branch"]));
    let all = text(&out);
    assert!(!out.status.success());
    assert!(all.contains("imports `map_impl` (the map world) but --app-type is branch"), "{all}");
}

#[test]
fn new_python_operators_pass_their_own_tests_and_build() {
    let dir = scratch("new");
    for kind in ["map", "filter", "branch", "accumulate", "delay"] {
        let name = format!("my_{kind}");
        let op = dir.path().join(&name);
        let out = run(wasmgraph().args(["new", "--lang", "python", "--type", kind]).arg(&op));
        assert!(out.status.success(), "{}", text(&out));
        let test = Command::new("python3").arg(format!("test_{name}.py")).current_dir(&op).output().unwrap();
        let report = text(&test);
        assert!(test.status.success(), "{report}");
        assert!(report.contains("0 failed"), "{report}");
    }
    let out = run(wasmgraph().arg("build").arg(dir.path().join("my_accumulate")));
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("my_accumulate/bin/x86_64/release/my_accumulate.wasm").is_file());
}

#[test]
fn new_rust_operator_passes_its_own_test() {
    let dir = scratch("new-rust");
    let op = dir.path().join("my-counter");
    let out = run(wasmgraph().args(["new", "--lang", "rust", "--type", "accumulate"]).arg(&op));
    assert!(out.status.success(), "{}", text(&out));
    let manifest = std::fs::read_to_string(op.join("Cargo.toml")).unwrap();
    // Inside this repository the SDK is a relative path dependency.
    let path = manifest
        .split("wasm_graph_sdk = { path = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no path dependency on the SDK:\n{manifest}"));
    assert!(path.starts_with("../"), "{path}");
    assert!(op.join(path).join("src/testing").is_dir(), "{path} is not the SDK");
    // Its own target folder: the outer `cargo test` holds the workspace's lock.
    let test = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["test", "--quiet"])
        .current_dir(&op)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .output()
        .unwrap();
    let report = text(&test);
    assert!(test.status.success(), "{report}");
    assert!(report.contains("1 passed"), "{report}");
}

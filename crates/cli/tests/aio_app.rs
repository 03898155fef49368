//! AIO's application folder conventions through the `wasmgraph` binary, on
//! `examples/aio-app` (a graph with `statestore.json` and `hostapp.env.list`
//! beside it) and the example operators `schemafilter` and `stateenrich`,
//! built from source by `scripts/build-examples.sh` (which `scripts/test.sh`
//! runs first).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn require_operators_built() {
    for name in ["schemafilter", "stateenrich"] {
        let module = root().join(format!("examples/operators/{name}/bin/x86_64/release/{name}.wasm"));
        assert!(
            module.exists(),
            "{} is missing: run scripts/build-examples.sh (scripts/test.sh does) before these tests",
            module.display()
        );
    }
}

/// `wasmgraph <args>` from the repository root, with the example operators.
fn wasmgraph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
        .current_dir(root())
        .args(args)
        .args(["--modules", "examples/operators"])
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A copy of the example application folder to change.
fn app_copy() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&root().join("examples/aio-app"), dir.path());
    dir
}

#[test]
fn the_aio_app_folder_passes_its_valid_and_invalid_cases() {
    require_operators_built();
    for args in [&["test", "--app", "examples/aio-app"][..], &["test", "examples/aio-app"][..]] {
        let out = wasmgraph(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{args:?}:\n{stdout}\n{stderr}");
        for case in ["valid readings pass", "invalid readings are dropped", "only the valid readings"] {
            assert!(stdout.lines().any(|l| l.starts_with("PASS") && l.contains(case)), "{case}:\n{stdout}");
        }
        assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
    }
}

#[test]
fn filter_selects_cases_and_keep_state_carries_the_store_over() {
    require_operators_built();
    let out = wasmgraph(&["test", "--app", "examples/aio-app", "--filter", "mixed"]);
    let (stdout, _) = text(&out);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed, 2 not selected by --filter"), "{stdout}");

    // The map numbers messages in the state store: each case starts at 1 from
    // statestore.json, unless --keep-state carries the count from the case before.
    let out = wasmgraph(&["test", "--app", "examples/aio-app", "--keep-state"]);
    let (stdout, _) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("2 passed, 1 failed"), "{stdout}");
    assert!(stdout.contains(r#"[0].properties.user-properties.sequence: expected "1", got "3""#), "{stdout}");
}

#[test]
fn the_schema_and_parameters_come_from_hostapp_env_list() {
    require_operators_built();
    let app = app_copy();
    let dir = app.path().to_str().unwrap();
    let env_file = app.path().join("hostapp.env.list");

    // Without TK_SCHEMA_CONFIG_PATH the filter gets no schema and refuses to start.
    std::fs::remove_file(&env_file).unwrap();
    let out = wasmgraph(&["test", dir, "--filter", "mixed"]);
    let (stdout, _) = text(&out);
    assert!(!out.status.success());
    assert!(stdout.contains("module-schemafilter/filter") && stdout.contains("init returned false"), "{stdout}");

    // Other enrichment keys; an unknown setting is a warning, not an error.
    let settings = "TK_SCHEMA_CONFIG_PATH=schemas/reading.schema.json\nRUST_LOG=debug\n\
                    TK_CONFIGURATION_PARAMETERS=enrichKeys=machineId\n";
    std::fs::write(&env_file, settings).unwrap();
    let out = wasmgraph(&["test", dir, "--filter", "mixed"]);
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("hostapp.env.list:2: RUST_LOG is not a setting wasmgraph uses"), "{stderr}");
    assert!(stdout.contains(r#"[0].properties.user-properties.machineId: unexpected "machineA""#), "{stdout}");
    assert!(stdout.contains(r#"[0].properties.user-properties.lineId: expected "line7", but there was nothing"#));
}

#[test]
fn a_broken_graph_lists_its_problems_under_each_case() {
    let app = app_copy();
    let graph = app.path().join("graph.dataflow.yaml");
    let text_before = std::fs::read_to_string(&graph).unwrap();
    std::fs::write(&graph, text_before.replace("operationType: \"map\"", "operationType: \"mapp\"")).unwrap();
    let out = wasmgraph(&["test", app.path().to_str().unwrap(), "--filter", "invalid"]);
    let (stdout, _) = text(&out);
    assert!(!out.status.success());
    let problem = "/graph.dataflow.yaml:30:20: unknown operationType `mapp`; did you mean `map`?";
    assert!(
        stdout.lines().any(|l| l.starts_with("    /") && l.ends_with(problem)),
        "expected {problem:?} in:\n{stdout}"
    );
}

#[test]
fn run_seeds_and_configures_from_the_graphs_folder() {
    require_operators_built();
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().to_str().unwrap();
    let graph = "examples/aio-app/graph.dataflow.yaml";
    let out = wasmgraph(&["run", graph, "--input", "examples/aio-app/data/mixed", "--output", output]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let lines = std::fs::read_to_string(out_dir.path().join("output.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 2, "the invalid reading is dropped: {lines}");
    for (i, record) in records.iter().enumerate() {
        let props = &record["properties"]["user-properties"];
        assert_eq!(props["factoryId"], "factoryA", "{record}");
        assert_eq!(props["lineId"], "line7", "{record}");
        assert_eq!(props["sequence"], (i + 1).to_string(), "{record}");
        assert!(props.get("machineId").is_none(), "TK_CONFIGURATION_PARAMETERS chose the keys: {record}");
    }
}

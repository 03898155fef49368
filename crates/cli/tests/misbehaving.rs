//! Modules that panic, loop forever or allocate without bound fail only the
//! record they were called for; the run goes on and reports them. Uses the
//! fixtures of crates/test-guests, built by scripts/build-examples.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A modules directory holding the fixtures as `<name>.wasm`.
fn modules(dir: &Path) -> PathBuf {
    let out = dir.join("modules");
    std::fs::create_dir_all(&out).unwrap();
    for name in ["panic-every-third", "infinite-loop", "alloc-forever"] {
        let built = root().join(format!("crates/test-guests/{name}/bin/x86_64/release/test-guest-{name}.wasm"));
        assert!(built.exists(), "{} is missing: run scripts/build-examples.sh first", built.display());
        std::fs::copy(&built, out.join(format!("{name}.wasm"))).unwrap();
    }
    out
}

#[test]
fn panics_timeouts_and_memory_exhaustion_fail_only_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("crates/cli/tests/data/misbehaving");
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
        .arg("run")
        .arg(data.join("graph.yaml"))
        .arg("--modules")
        .arg(modules(dir.path()))
        .arg("--input")
        .arg(data.join("input"))
        .arg("--output")
        .arg(dir.path().join("out"))
        .args(["--cache-dir"])
        .arg(dir.path().join("cache"))
        .env("WASMGRAPH_CALL_TIMEOUT_MS", "500")
        .env("WASMGRAPH_MEMORY_LIMIT_MB", "32")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    // r3, r6 and r9 hit the panic (calls 3, 6, 9); "r2 loop" the time budget;
    // "r4 grow" the memory limit. Everything else comes through, in order.
    let output = std::fs::read_to_string(dir.path().join("out/output.jsonl")).unwrap();
    let payloads: Vec<String> = output
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["payload"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(payloads, ["r1", "r5", "r7", "r8"], "{stderr}");

    let summary_row = |op: &str| -> Vec<String> {
        let line = stderr.lines().find(|l| l.starts_with(op) && l.split_whitespace().count() == 4);
        line.unwrap_or_else(|| panic!("no summary row for {op}: {stderr}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(summary_row("panics"), ["panics", "9", "6", "3"]);
    assert_eq!(summary_row("loops"), ["loops", "6", "5", "1"]);
    assert_eq!(summary_row("grows"), ["grows", "5", "4", "1"]);

    let errors = std::fs::read_to_string(dir.path().join("out/errors.jsonl")).unwrap();
    let kinds: Vec<(String, String)> = errors
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["operation"].as_str().unwrap().to_string(), v["kind"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(kinds.iter().filter(|(op, k)| op == "panics" && k == "trap").count(), 3, "{errors}");
    assert!(kinds.contains(&("loops".into(), "timeout".into())), "{errors}");
    assert!(kinds.contains(&("grows".into(), "out-of-memory".into())), "{errors}");
    assert!(errors.contains("multiple of three"), "the panic message reaches the error record: {errors}");
    // Each failure was logged with the operation's name.
    assert!(stderr.contains("panics") && stderr.contains("trap"), "{stderr}");
}

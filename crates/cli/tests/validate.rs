//! `wasmgraph validate` end to end: exit codes and `file:line:col: message` output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn config_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tests/data").join(rel)
}

fn validate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph")).arg("validate").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn a_valid_graph_is_ok() {
    let file = config_data("valid/graph-complex.yaml");
    let (code, stdout, _) = validate(&[file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout.trim(), format!("{}: ok (15 operations, 16 connections)", file.display()));
}

#[test]
fn every_broken_file_fails_with_located_messages() {
    let dir = config_data("invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Module rules need the test's generated module folder; the rest need nothing.
        let (code, stdout, stderr) = validate(&[file.to_str().unwrap()]);
        let module_rule = text.contains("# expect: unresolved-module") || text.contains("# expect: missing-export");
        if module_rule {
            assert_eq!(code, 0, "{}: {stdout}{stderr}", file.display());
            continue;
        }
        assert_eq!(code, 1, "{}: {stdout}{stderr}", file.display());
        let prefix = format!("{}:", file.display());
        for line in stdout.lines() {
            assert!(line.starts_with(&prefix), "{line}");
        }
        for expect in text.lines().filter_map(|l| l.strip_prefix("# expect: ")) {
            let (_, rest) = expect.split_once(" @ ").unwrap();
            let (line, substring) = rest.split_once(": ").unwrap();
            assert!(
                stdout.lines().any(|l| l.starts_with(&format!("{prefix}{line}:")) && l.contains(substring)),
                "{}: no line {line} error containing {substring:?} in\n{stdout}",
                file.display()
            );
        }
    }
}

#[test]
fn modules_and_params_are_checked() {
    let file = config_data("invalid/missing-required-parameter.yaml");
    let (code, _, _) = validate(&[file.to_str().unwrap(), "--param", "convert.unit=celsius"]);
    assert_eq!(code, 0);
    let (code, stdout, _) =
        validate(&[file.to_str().unwrap(), "--param", "convert.unit=celsius", "--param", "nope.x=1"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("no operation named `nope`"), "{stdout}");

    let empty = tempfile::tempdir().unwrap();
    let file = config_data("valid/graph-simple.yaml");
    let (code, stdout, _) = validate(&[file.to_str().unwrap(), "--modules", empty.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.contains("cannot be found") && stdout.contains("temperature.wasm"), "{stdout}");
}

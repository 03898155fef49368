//! Loading case files and checking outputs against them.

use serde_json::json;
use wasmgraph_test_cases::{discover, TestCase};

fn case(dir: &std::path::Path, expected: &str, extra: &str) -> TestCase {
    std::fs::write(dir.join("expected.json"), expected).unwrap();
    let file = dir.join("x.test.yaml");
    std::fs::write(
        &file,
        format!(
            "name: \"x\"\ngraph: \"g.yaml\"\ninput: \"./in\"\nexpected: \"./expected.json\"\ntimeout: 5000\n{extra}"
        ),
    )
    .unwrap();
    TestCase::load(&file).unwrap()
}

#[test]
fn single_expected_object_is_compared_with_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let c = case(dir.path(), r#"{"payload": "{\"v\": 2}"}"#, "select: [\"payload\"]\n");
    assert_eq!(c.graph, dir.path().join("g.yaml"));
    let out = [json!({"payload": "{\"v\":1}", "topic": "a"}), json!({"payload": "{\"v\":2.0}", "topic": "b"})];
    assert!(c.check(&out).unwrap().is_ok());
    let mismatch = c.check(&out[..1]).unwrap().unwrap_err();
    assert_eq!(mismatch[0].path, "payload.v");
}

#[test]
fn empty_array_means_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let c = case(dir.path(), "[]", "");
    assert!(c.check(&[]).unwrap().is_ok());
    assert!(c.check(&[json!({"payload": "x"})]).unwrap().is_err());
}

#[test]
fn arrays_compare_in_order_with_ignores() {
    let dir = tempfile::tempdir().unwrap();
    let c = case(
        dir.path(),
        r#"[{"payload": "{\"a\":1}"}, {"payload": "{\"a\":2}"}]"#,
        "select: [\"payload\"]\nignores: [\"payload.noise\"]\n",
    );
    let out = [json!({"payload": "{\"a\":1,\"noise\":7}"}), json!({"payload": "{\"a\":2}"})];
    assert!(c.check(&out).unwrap().is_ok());
    let swapped = [out[1].clone(), out[0].clone()];
    assert!(c.check(&swapped).unwrap().is_err());
}

#[test]
fn unknown_keys_and_missing_files_are_errors_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.test.yaml");
    std::fs::write(&file, "name: x\ngraph: g\ninput: i\nexpected: e\nbogus: 1\n").unwrap();
    let err = TestCase::load(&file).unwrap_err().to_string();
    assert!(err.contains("bad.test.yaml") && err.contains("bogus"), "{err}");
    let found = discover(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(found, [file]);
}

#[test]
fn a_select_or_ignores_path_matching_nothing_is_an_error_naming_file_case_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = [json!({"payload": "{\"a\":1}", "topic": "t"})];
    let c = case(dir.path(), r#"{"payload": "{\"a\":1}"}"#, "select: [\"paylod\"]\n");
    let err = c.check(&out).unwrap_err().to_string();
    assert!(err.contains("x.test.yaml") && err.contains("case 'x'") && err.contains("select path 'paylod'"), "{err}");
    let c = case(dir.path(), r#"{"payload": "{\"a\":1}"}"#, "ignores: [\"payload.noise\"]\n");
    let err = c.check(&out).unwrap_err().to_string();
    assert!(err.contains("ignores path 'payload.noise'"), "{err}");
    // A path present on one side only is fine: it is what the comparison is for.
    let c = case(dir.path(), r#"{"payload": "{\"a\":1, \"b\":2}"}"#, "select: [\"payload.b\"]\n");
    assert!(c.check(&out).unwrap().is_err(), "payload.b is expected but missing: a mismatch");
    let c = case(dir.path(), "[]", "select: [\"payload\"]\n");
    assert!(c.check(&[]).unwrap().is_ok(), "no records at all: nothing to name");
}

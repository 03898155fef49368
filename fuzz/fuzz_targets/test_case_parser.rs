//! `wasmgraph test` case files: any text loads or is refused with an error,
//! never a panic; a loaded case's path check and comparison do not panic on
//! any expected/actual JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmgraph_test_cases::TestCase;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (case_text, output) = text.split_once("\n---output---\n").unwrap_or((text, "[]"));
    let Ok(case) = TestCase::parse(case_text, std::path::Path::new("fuzz.test.yaml")) else { return };
    let Ok(serde_json::Value::Array(records)) = serde_json::from_str(output) else { return };
    let _ = case.check_with(&serde_json::Value::Array(records.clone()), &records);
});

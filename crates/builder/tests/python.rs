//! Building Python operators with componentize-py (installed on first use into
//! the repository's `.wasmgraph/python/`; needs `python3` and PyPI, or an
//! existing environment).

use std::path::{Path, PathBuf};
use std::process::Command;

use wasmgraph_builder::{build, is_component, AppType, BuildError, BuildMode, BuildOptions, Lang};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn opts(app_type: Option<AppType>) -> BuildOptions {
    BuildOptions { quiet: true, app_type, ..BuildOptions::default() }
}

/// A fresh operator folder inside the repository (so the componentize-py
/// environment is shared with every other build), removed at the end.
fn operator_dir(name: &str, file: &str, text: &str) -> tempfile::TempDir {
    let parent = repo().join("target/python-builder-tests");
    std::fs::create_dir_all(&parent).unwrap();
    let dir = tempfile::Builder::new().prefix(name).tempdir_in(parent).unwrap();
    std::fs::write(dir.path().join(file), text).unwrap();
    dir
}

const AIO_STYLE_MAP: &str = r#"import json
from map_impl import exports
from map_impl import imports
from map_impl.imports import types

class Map(exports.Map):
    def init(self, configuration) -> bool:
        imports.logger.log(imports.logger.Level.INFO, "doc/map", "Init invoked")
        return True

    def process(self, message: types.DataModel) -> types.DataModel:
        payload = message.value.payload
        data = payload.value.read() if isinstance(payload, types.BufferOrBytes_Buffer) else payload.value
        message.value.payload = types.BufferOrBytes_Bytes(value=json.dumps(json.loads(data)).encode())
        return message
"#;

#[test]
fn builds_the_example_map_with_detected_language_and_kind() {
    let dir = repo().join("examples/operators/map_py");
    let out = build(&dir, &opts(None)).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(out.lang, Lang::Python);
    assert_eq!(out.name, "map_py");
    assert_eq!(out.wasm, dir.join("bin/x86_64/release/map_py.wasm"));
    assert!(is_component(&std::fs::read(&out.wasm).unwrap()));
    // Bindings and the test helpers, for editors and `python3 test_*.py`.
    assert!(dir.join(".wasmgraph/bindings/map_impl/imports/types.py").is_file());
    assert!(dir.join(".wasmgraph/bindings/wasmgraph_testing.py").is_file());

    // What a `test_<name>.py` does: import the operator on those bindings.
    let script = r#"
import sys
sys.path[:0] = [sys.argv[1] + "/.wasmgraph/bindings", sys.argv[1]]
import wasmgraph_testing as t
import map_py
out = map_py.Map().process(t.message({"temperature": {"value": 212}}, as_buffer=True))
assert t.payload_json(out) == {"temperature": {"value": 100, "unit": "C"}}, t.payload(out)
assert map_py.Map().init(t.configuration())
assert t.logs[-1][0] == "INFO", t.logs
print("ok")
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn aio_style_file_in_aio_layout_builds_in_debug_mode() {
    let parent = operator_dir("aio", "unused.txt", "");
    let dir = parent.path().join("doc_map");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("doc_map.py"), AIO_STYLE_MAP).unwrap();
    // Stub bindings left in the folder by AIO's flow must not end up in the component.
    std::fs::create_dir_all(dir.join("map_impl")).unwrap();
    std::fs::write(dir.join("map_impl/__init__.py"), "raise ImportError('stub')\n").unwrap();
    let out = build(&dir, &BuildOptions { mode: BuildMode::Debug, ..opts(Some(AppType::Map)) })
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(out.wasm, dir.join("bin/x86_64/debug/doc_map.wasm"));
    assert!(dir.join("bin/x86_64/debug/doc_map.py").is_file());
}

#[test]
fn wit_world_naming_builds_too() {
    let text = AIO_STYLE_MAP.replace("map_impl", "wit_world");
    let dir = operator_dir("witworld", "newer.py", &text);
    let out = build(dir.path(), &opts(None)).unwrap_or_else(|err| panic!("{err}"));
    assert!(is_component(&std::fs::read(&out.wasm).unwrap()));
}

#[test]
fn syntax_error_says_file_and_line_before_componentize() {
    let text = AIO_STYLE_MAP.replace("def init(self, configuration) -> bool:", "def init(self, configuration) -> bool");
    let dir = operator_dir("syntax", "broken.py", &text);
    let err = build(dir.path(), &BuildOptions { lang: Some(Lang::Python), ..opts(Some(AppType::Map)) }).unwrap_err();
    assert!(matches!(err, BuildError::Source { line: Some(7), .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("broken.py:7: syntax error: expected ':'"), "{text}");
}

#[test]
fn class_that_does_not_match_app_type() {
    let dir = operator_dir("mismatch", "op.py", AIO_STYLE_MAP);
    let err = build(dir.path(), &opts(Some(AppType::Filter))).unwrap_err().to_string();
    assert!(err.contains("op.py"), "{err}");
    assert!(err.contains("imports `map_impl` (the map world) but --app-type is filter"), "{err}");

    let text = "from filter_impl import exports\nclass Map(exports.Map):\n    def init(self, c): return True\n    def process(self, m): return m\n";
    let dir = operator_dir("mismatch", "op.py", text);
    let err = build(dir.path(), &opts(None)).unwrap_err().to_string();
    assert!(err.contains("mixes operator kinds (filter, map)"), "{err}");
}

#[test]
fn import_error_at_load_is_explained() {
    let text = AIO_STYLE_MAP.replace("import json\n", "import json\nimport not_a_module_anywhere\n");
    let dir = operator_dir("importerr", "op.py", &text);
    let err = build(dir.path(), &opts(None)).unwrap_err().to_string();
    assert!(err.contains("No module named 'not_a_module_anywhere'"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains("Stack backtrace"), "{err}");
}

/// Writes a minimal pure-Python wheel (`wgdemo`, one function) with Python's
/// zipfile, so the test needs no package index.
fn write_wheel(dir: &Path) -> String {
    let name = "wgdemo-1.0-py3-none-any.whl";
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("wgdemo/__init__.py", "def shout(data):\n    return data.upper()\n")
    z.writestr("wgdemo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: wgdemo\nVersion: 1.0\n")
    z.writestr("wgdemo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("wgdemo-1.0.dist-info/RECORD", "")
"#;
    let status = Command::new("python3").arg("-c").arg(script).arg(dir.join(name)).status().unwrap();
    assert!(status.success());
    name.to_owned()
}

#[test]
fn packages_in_requirements_txt_are_bundled() {
    let text = AIO_STYLE_MAP
        .replace("import json\n", "import json\nimport wgdemo\n")
        .replace("json.dumps(json.loads(data)).encode()", "wgdemo.shout(data)");
    let dir = operator_dir("requirements", "op.py", &text);
    let wheel = write_wheel(dir.path());
    std::fs::write(dir.path().join("requirements.txt"), format!("--no-index\n./{wheel}\n")).unwrap();
    let out = build(dir.path(), &opts(None)).unwrap_or_else(|e| panic!("{e}"));
    assert!(is_component(&std::fs::read(&out.wasm).unwrap()));
    // Without the file the same operator cannot load its import.
    std::fs::remove_file(dir.path().join("requirements.txt")).unwrap();
    let err = build(dir.path(), &opts(None)).unwrap_err().to_string();
    assert!(err.contains("No module named 'wgdemo'"), "{err}");
    assert!(err.contains("requirements.txt"), "the hint names the way out: {err}");
}

#[test]
fn a_requirement_without_a_pure_python_wheel_is_explained() {
    let dir = operator_dir("requirements-bad", "op.py", AIO_STYLE_MAP);
    std::fs::write(dir.path().join("requirements.txt"), "--no-index\nwgdemo-no-such-package==1.0\n").unwrap();
    let err = build(dir.path(), &opts(None)).unwrap_err();
    assert!(matches!(err, BuildError::Source { .. }), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("requirements.txt"), "names the file: {err}");
    assert!(err.contains("wgdemo-no-such-package"), "says which: {err}");
    assert!(err.contains("pure-Python"), "says why: {err}");
}

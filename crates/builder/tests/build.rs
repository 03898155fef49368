//! The builder's checks and a real guest build.

use std::path::{Path, PathBuf};

use wasmgraph_builder::{build, BuildError, BuildMode, BuildOptions};

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn not_an_operator(dir: &Path) -> Vec<String> {
    match build(dir, &BuildOptions { quiet: true, ..BuildOptions::default() }) {
        Err(BuildError::NotAnOperator { reasons, .. }) => reasons,
        other => panic!("expected NotAnOperator, got {other:?}"),
    }
}

#[test]
fn folder_without_cargo_toml_is_not_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("main.py", "print(1)\n")]);
    let reasons = not_an_operator(dir.path());
    assert!(reasons[0].contains("no Cargo.toml"), "{reasons:?}");
    let message = build(dir.path(), &BuildOptions::default()).unwrap_err().to_string();
    assert!(message.contains("is not an operator crate"), "{message}");
}

#[test]
fn missing_folder_is_not_an_operator() {
    let reasons = not_an_operator(Path::new("/nonexistent/operator"));
    assert_eq!(reasons, ["it is not a folder"]);
}

#[test]
fn plain_library_without_sdk_is_not_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("Cargo.toml", "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
            ("src/lib.rs", "pub fn f() {}\n"),
        ],
    );
    let reasons = not_an_operator(dir.path());
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("an operator must be a cdylib"), "{reasons:?}");
    assert!(reasons[1].contains("neither wasm_graph_sdk nor wit-bindgen"), "{reasons:?}");
}

#[test]
fn relative_paths_work() {
    // cargo runs in the crate's folder, so a relative path must not be passed on as is.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let parent = crate_dir.parent().unwrap();
    std::env::set_current_dir(parent).unwrap();
    let reasons = not_an_operator(Path::new("builder"));
    assert!(reasons.iter().any(|r| r.contains("an operator must be a cdylib")), "{reasons:?}");
}

#[test]
fn binary_crate_is_not_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n\
                 [dependencies]\nwit-bindgen = \"0.46\"\n",
            ),
            ("src/main.rs", "fn main() {}\n"),
        ],
    );
    let reasons = not_an_operator(dir.path());
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("no library target"), "{reasons:?}");
}

#[test]
fn build_mode_and_lang_parse() {
    assert_eq!("debug".parse::<BuildMode>(), Ok(BuildMode::Debug));
    assert!("fast".parse::<BuildMode>().unwrap_err().contains("release"));
    assert!("cobol".parse::<wasmgraph_builder::Lang>().unwrap_err().contains("rust"));
}

/// Builds the celsius-to-fahrenheit example for real (a minute or more the first
/// time: the Debian fallback compiles the standard library).
#[test]
#[ignore = "builds a wasm32-wasip2 guest; run with --ignored"]
fn builds_the_example_map_operator() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/operators/celsius-to-fahrenheit")
        .canonicalize()
        .unwrap();
    let out = build(&crate_dir, &BuildOptions { quiet: true, ..BuildOptions::default() })
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(out.wasm, crate_dir.join("bin/x86_64/release/celsius-to-fahrenheit.wasm"));
    let bytes = std::fs::read(&out.wasm).unwrap();
    assert!(wasmgraph_builder::is_component(&bytes));
}

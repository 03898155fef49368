//! The builder's checks and a real guest build.

use std::path::{Path, PathBuf};

use wasmgraph_builder::{build, BuildError, BuildMode, BuildOptions, Lang};

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

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// With the Debian fallback the standard library is built once per toolchain
/// into the cache: a second crate's build reuses it (same sysroot, nothing
/// built). With a toolchain that has the target there is nothing to check.
#[test]
fn a_second_crate_reuses_the_standard_library() {
    let opts = BuildOptions { quiet: true, ..BuildOptions::default() };
    let first =
        build(&repo().join("crates/test-guests/jsonschema-filter"), &opts).unwrap_or_else(|err| panic!("{err}"));
    let Some((_, sysroot)) = first.toolchain.split_once("standard library from ") else {
        eprintln!("toolchain {} ships the target's standard library; nothing to reuse", first.toolchain);
        return;
    };
    let sysroot = sysroot.split(';').next().unwrap().to_owned();
    assert!(Path::new(&sysroot).join("lib/rustlib/wasm32-wasip2/lib/.complete").is_file(), "{sysroot}");
    let second = build(&repo().join("crates/test-guests/image-map"), &opts).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(second.std_built_in, None, "the second crate built the standard library again");
    assert!(second.toolchain.contains(&sysroot), "{} does not use {sysroot}", second.toolchain);
    eprintln!(
        "first crate: {:.1} s (standard library: {:?}); second crate: {:.1} s",
        first.elapsed.as_secs_f64(),
        first.std_built_in,
        second.elapsed.as_secs_f64()
    );
}

/// `build_app` finds and builds a Rust operator (depending on the vendored
/// SDK, as `wasmgraph new` writes it outside a checkout) and a Python one.
#[test]
fn an_application_folder_builds_every_operator() {
    // Inside the repository, so the Python operator shares its componentize-py.
    let scratch = repo().join(".wasmgraph/test-apps");
    std::fs::create_dir_all(&scratch).unwrap();
    let app = tempfile::tempdir_in(&scratch).unwrap();
    let rusty = app.path().join("operators/upper");
    wasmgraph_builder::rust::sdk::vendor(&rusty.join("vendor")).unwrap();
    let manifest = format!(
        "[package]\nname = \"upper\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n\
         [dependencies]\nwasm_graph_sdk = \"{}\"\n\n[workspace]\nexclude = [\"vendor\"]\n\n{}",
        wasmgraph_builder::rust::sdk::version(),
        wasmgraph_builder::rust::sdk::patch_section("vendor")
    );
    write(
        &rusty,
        &[
            ("Cargo.toml", manifest.as_str()),
            (
                "src/lib.rs",
                "use wasm_graph_sdk::macros::map_operator;\n\n#[map_operator]\nfn upper(input: DataModel) -> \
                 Result<DataModel, Error> {\n    Ok(input)\n}\n",
            ),
        ],
    );
    write(
        &app.path().join("operators/keep_all"),
        &[(
            "keep_all.py",
            "from filter_impl import exports\n\nclass Filter(exports.Filter):\n    def init(self, configuration) \
             -> bool:\n        return True\n\n    def process(self, message) -> bool:\n        return True\n",
        )],
    );
    write(app.path(), &[("graph.yaml", "metadata: {}\n")]);

    // A target folder that outlives the test, so a second run is quick.
    let opts = BuildOptions {
        quiet: true,
        target_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("app-guests")),
        ..BuildOptions::default()
    };
    let mut seen = Vec::new();
    let builds = wasmgraph_builder::build_app(app.path(), &opts, |dir, outcome| {
        if outcome.is_none() {
            seen.push(dir.file_name().unwrap().to_string_lossy().into_owned());
        }
    })
    .unwrap();
    assert_eq!(seen, ["keep_all", "upper"]);
    for b in &builds {
        let out = b.result.as_ref().unwrap_or_else(|err| panic!("{}: {err}", b.dir.display()));
        assert!(out.wasm.starts_with(b.dir.join("bin/x86_64/release")), "{}", out.wasm.display());
        assert!(wasmgraph_builder::is_component(&std::fs::read(&out.wasm).unwrap()));
    }
    assert_eq!(builds.iter().map(|b| b.lang).collect::<Vec<_>>(), [Lang::Python, Lang::Rust]);
}

//! `wasmgraph build`: an operator's source folder to a WebAssembly component,
//! or with `--app DIR` every operator of an application folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use wasmgraph_builder::{AppType, BuildError, BuildMode, BuildOptions, BuildOutput, Lang};

/// Arguments of `wasmgraph build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The operator's folder (a Rust crate with `crate-type = ["cdylib"]` that
    /// depends on wasm_graph_sdk, or a Python operator `<folder>.py`).
    #[arg(default_value = ".")]
    pub path: PathBuf,

    /// Build every operator (Rust crates and Python operators) found under this
    /// application folder, each into its own `bin/<ARCH>/<MODE>/`, as AIO's
    /// `build --app` does.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["path", "lang", "app_type"])]
    pub app: Option<PathBuf>,

    /// `release` (optimized) or `debug`.
    #[arg(long, default_value = "release", value_name = "MODE")]
    pub build_mode: BuildMode,

    /// The folder name under bin/ for the output (`bin/<ARCH>/<MODE>/<name>.wasm`).
    #[arg(long, default_value = "x86_64")]
    pub arch: String,

    /// The operator's language; detected from the folder when not given.
    #[arg(long, value_name = "LANG")]
    pub lang: Option<Lang>,

    /// Python: the operator kind (map, filter, branch, accumulate, delay);
    /// detected from the class the file defines when not given.
    #[arg(long, value_name = "KIND")]
    pub app_type: Option<AppType>,
}

impl BuildArgs {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let opts = BuildOptions {
            mode: self.build_mode,
            arch: self.arch.clone(),
            lang: self.lang,
            app_type: self.app_type,
            ..BuildOptions::default()
        };
        if let Some(app) = &self.app {
            return build_app(app, &opts);
        }
        let out = wasmgraph_builder::build(&self.path, &opts)?;
        report(&out, opts.mode);
        println!("{}", out.wasm.display());
        Ok(ExitCode::SUCCESS)
    }
}

/// Says how the build went: the standard library's one-time build (Debian
/// fallback) and the total time.
fn report(out: &BuildOutput, mode: BuildMode) {
    if let Some(took) = out.std_built_in {
        eprintln!("standard library built once for this toolchain in {} (later builds reuse it)", seconds(took));
    }
    eprintln!("built {} in {} ({}, {})", out.name, seconds(out.elapsed), mode, out.toolchain);
}

fn seconds(took: Duration) -> String {
    format!("{:.1} s", took.as_secs_f64())
}

/// `--app DIR`: builds every operator, prints each component's path on stdout,
/// and fails when any operator failed (after trying them all).
fn build_app(app: &Path, opts: &BuildOptions) -> anyhow::Result<ExitCode> {
    let builds = wasmgraph_builder::build_app(app, opts, |dir, outcome| match outcome {
        None => eprintln!("==> {}", dir.display()),
        Some(Ok(out)) => report(out, opts.mode),
        Some(Err(err)) => eprintln!("error: {err}"),
    })?;
    let failed: Vec<(&Path, &BuildError)> =
        builds.iter().filter_map(|b| b.result.as_ref().err().map(|e| (b.dir.as_path(), e))).collect();
    for build in &builds {
        if let Ok(out) = &build.result {
            println!("{}", out.wasm.display());
        }
    }
    let total: Duration = builds.iter().filter_map(|b| b.result.as_ref().ok()).map(|o| o.elapsed).sum();
    eprintln!(
        "{} of {} operators under {} built in {}",
        builds.len() - failed.len(),
        builds.len(),
        app.display(),
        seconds(total)
    );
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for (dir, _) in &failed {
        eprintln!("  failed: {}", dir.display());
    }
    Ok(ExitCode::FAILURE)
}

/// The fixtures whose dependencies reach pthread functions (thread spawning,
/// parking, condition variables), which Debian's wasi-libc lacks: each is
/// built with `wasmgraph build` and run through a graph with `wasmgraph run`
/// over files, both parsed and dispatched exactly as the binary does.
#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use clap::Parser;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
    }

    fn wasmgraph(args: &[&dyn AsRef<std::ffi::OsStr>]) -> ExitCode {
        let argv: Vec<OsString> =
            std::iter::once("wasmgraph".into()).chain(args.iter().map(|a| a.as_ref().to_owned())).collect();
        let cli = crate::args::Cli::try_parse_from(&argv).unwrap_or_else(|err| panic!("{err}"));
        cli.command.execute().unwrap_or_else(|err| panic!("wasmgraph {argv:?}: {err:#}"))
    }

    /// Builds `crates/test-guests/<name>` and returns a modules folder in
    /// `scratch` holding it as `<name>.wasm`.
    fn built(name: &str, scratch: &Path) -> PathBuf {
        let dir = repo().join("crates/test-guests").join(name);
        assert_eq!(wasmgraph(&[&"build", &dir]), ExitCode::SUCCESS);
        let modules = scratch.join("modules");
        std::fs::create_dir_all(&modules).unwrap();
        let wasm = dir.join(format!("bin/x86_64/release/test-guest-{name}.wasm"));
        std::fs::copy(&wasm, modules.join(format!("{name}.wasm"))).unwrap();
        modules
    }

    /// A graph source -> `<kind>` operation `op` of module `<module>` -> sink.
    fn graph(scratch: &Path, kind: &str, module: &str) -> PathBuf {
        let path = scratch.join("graph.yaml");
        let text = format!(
            "metadata:\n  $schema: \"https://www.schemastore.org/aio-wasm-graph-config-1.0.0.json\"\n  name: \"{module}\"\n  \
             version: \"1.0.0\"\nmoduleRequirements:\n  apiVersion: \"1.1.0\"\n  runtimeVersion: \"1.1.0\"\noperations:\n  \
             - {{ operationType: source, name: source }}\n  - {{ operationType: {kind}, name: op, module: \"{module}:1.0.0\" }}\n  \
             - {{ operationType: sink, name: sink }}\nconnections:\n  - {{ from: {{ name: source }}, to: {{ name: op }} }}\n  \
             - {{ from: {{ name: op }}, to: {{ name: sink }} }}\n"
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `wasmgraph run` over the files of `input`; the records written.
    fn run(scratch: &Path, graph: &Path, modules: &Path, input: &Path) -> Vec<serde_json::Value> {
        let output = scratch.join("out");
        let cache = scratch.join("cache");
        let code = wasmgraph(&[
            &"run",
            &graph,
            &"--modules",
            &modules,
            &"--input",
            &input,
            &"--output",
            &output,
            &"--cache-dir",
            &cache,
        ]);
        assert_eq!(code, ExitCode::SUCCESS);
        let errors = std::fs::read_to_string(output.join("errors.jsonl")).unwrap_or_default();
        assert!(errors.trim().is_empty(), "records failed: {errors}");
        let text = std::fs::read_to_string(output.join("output.jsonl")).unwrap();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    #[test]
    fn jsonschema_filter_with_a_lazy_mutex_builds_and_filters() {
        let scratch = tempfile::tempdir().unwrap();
        let modules = built("jsonschema-filter", scratch.path());
        let input = scratch.path().join("input");
        std::fs::create_dir_all(&input).unwrap();
        for (name, text) in [
            ("1.json", r#"{"temperature": 21.5}"#),
            ("2.json", r#"{"temperature": "hot"}"#),
            ("3.json", r#"{"humidity": 40}"#),
            ("4.json", r#"{"temperature": -3}"#),
        ] {
            std::fs::write(input.join(name), text).unwrap();
        }
        let graph = graph(scratch.path(), "filter", "jsonschema-filter");
        let records = run(scratch.path(), &graph, &modules, &input);
        let payloads: Vec<&str> = records.iter().map(|r| r["payload"].as_str().unwrap()).collect();
        assert_eq!(payloads, [r#"{"temperature": 21.5}"#, r#"{"temperature": -3}"#]);
    }

    #[test]
    fn image_map_builds_and_turns_a_png_gray() {
        let scratch = tempfile::tempdir().unwrap();
        let modules = built("image-map", scratch.path());
        let input = scratch.path().join("input");
        std::fs::create_dir_all(&input).unwrap();
        let source = repo().join("crates/test-guests/image-map/data/red-4x3.png");
        std::fs::copy(source, input.join("1.png")).unwrap();
        let graph = graph(scratch.path(), "map", "image-map");
        let records = run(scratch.path(), &graph, &modules, &input);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["content-type"], "image/png");
        assert_eq!(records[0]["payload_encoding"], "base64");
        let png = base64_decode(records[0]["payload"].as_str().unwrap());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height kept, colour type 0 (grayscale), 8 bits.
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!((&png[16..20], &png[20..24]), (&[0, 0, 0, 4][..], &[0, 0, 0, 3][..]));
        assert_eq!((png[24], png[25]), (8, 0));
    }

    /// The stubs' single-threaded semantics, seen from inside a component (the
    /// Debian fallback; rustup's target brings wasi-libc's own functions).
    #[test]
    fn pthread_calls_answer_as_a_single_thread_must() {
        let scratch = tempfile::tempdir().unwrap();
        let modules = built("pthread-semantics", scratch.path());
        let input = scratch.path().join("input");
        std::fs::create_dir_all(&input).unwrap();
        std::fs::write(input.join("1.txt"), "go").unwrap();
        let graph = graph(scratch.path(), "map", "pthread-semantics");
        let records = run(scratch.path(), &graph, &modules, &input);
        let report: serde_json::Value = serde_json::from_str(records[0]["payload"].as_str().unwrap()).unwrap();
        let dir = repo().join("crates/test-guests/pthread-semantics");
        let toolchain = wasmgraph_builder::rust::toolchain::find(&dir, wasmgraph_builder::ToolchainChoice::Auto);
        if !matches!(toolchain, Ok(wasmgraph_builder::rust::Toolchain::Debian { .. })) {
            eprintln!("not the Debian fallback: wasi-libc's own pthreads answered {report}");
            return;
        }
        // WASI errno values: EDEADLK 16, EBUSY 10, ETIMEDOUT 73, EPERM 63.
        let expected = serde_json::json!({
            "lock": 0, "relock": 16, "trylock": 10, "cond_wait": 16, "timedwait": 73,
            "unlock": 0, "unlock_again": 63, "recursive": [0, 0, 0, 0], "key": [0, 0, 0x1234],
            "spawn": "Unsupported",
        });
        for (field, value) in expected.as_object().unwrap() {
            assert_eq!(&report[field], value, "{field} in {report}");
        }
        assert!(report["waited_ms"].as_u64().unwrap() >= 20, "the timed wait ended before its deadline: {report}");
    }

    /// Standard base64 (what the file sink writes for binary payloads).
    fn base64_decode(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for c in text.bytes().filter(|&c| c != b'=') {
            let value = ALPHABET.iter().position(|&a| a == c).unwrap_or_else(|| panic!("not base64: {c}"));
            bits = (bits << 6) | value as u32;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        out
    }
}

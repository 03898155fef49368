//! Python operators: one module built into a component by componentize-py.
//!
//! Steps of [`build`]:
//! 1. find the operator file (`<folder>.py`, else the one file defining an
//!    operator class) and check it with Python's `ast` ([`source`]): a syntax
//!    error or a class that does not match `--app-type` stops here, with the
//!    file and line;
//! 2. install componentize-py into the project's virtual environment if it is
//!    not there yet ([`toolchain`], pinned to [`COMPONENTIZE_PY_VERSION`]);
//! 3. copy the operator's Python sources (not generated bindings, tests or
//!    `bin/`) and the WIT package into `.wasmgraph/build/<name>/<mode>/`;
//! 4. generate bindings into `.wasmgraph/bindings/` (for editors and for
//!    `wasmgraph_testing`, which is written beside them);
//! 5. install the packages of a `requirements.txt` beside the operator (pure
//!    Python only, [`requirements`]);
//! 6. `componentize-py componentize` into `bin/<arch>/<mode>/<name>.wasm`, with
//!    the operator's sources and those packages.
//!
//! Both namings of the bindings module work with every componentize-py version:
//! files written for AIO (`from map_impl import exports, imports`) get
//! `--world-module map_impl` on 0.17 and later, and files written for newer
//! componentize-py (`from wit_world import ...`) get a small alias package on
//! 0.14.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use crate::{AppType, BuildError, BuildMode, BuildOptions, BuildOutput, Lang};

pub mod requirements;
pub mod source;
pub mod toolchain;
pub mod wit;

pub use source::OperatorFile;
pub use toolchain::{ComponentizePy, COMPONENTIZE_PY_VERSION};

/// The test helper module written beside the bindings.
pub const TESTING_PY: &str = include_str!("wasmgraph_testing.py");

/// Folders and files of an operator folder that are not its sources.
fn is_source_entry(name: &str, is_dir: bool) -> bool {
    if name.starts_with('.') || name == "__pycache__" || name == "bin" || name == "build" {
        return false;
    }
    if is_dir {
        let generated = AppType::ALL.iter().any(|k| name == k.world_module())
            || name == source::WIT_WORLD
            || name == "componentize_py_async_support";
        return !generated && !matches!(name, "venv" | "env" | "tests" | "node_modules");
    }
    name.ends_with(".py")
        && !name.starts_with("test_")
        && !name.ends_with("_test.py")
        && !matches!(name, "wasmgraph_testing.py" | "poll_loop.py" | "componentize_py_types.py" | "conftest.py")
}

/// Builds the Python operator in `dir`; see the module docs.
pub fn build(dir: &Path, opts: &BuildOptions) -> Result<BuildOutput, BuildError> {
    let begun = Instant::now();
    // componentize-py runs in the build folder: every path it gets is absolute.
    let dir = &absolute(dir)?;
    let quiet = opts.quiet;
    let mut say = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let op = source::find(dir, opts.app_type)?;
    if op.detected {
        say(&format!(
            "{}: a {} operator (class {}), building the {} world",
            op.file.display(),
            op.app_type,
            op.app_type.class_name(),
            op.app_type.world()
        ));
    }
    let tool = toolchain::ensure(dir, &mut say)?;

    let meta = dir.join(".wasmgraph");
    let work = meta.join("build").join(&op.module).join(opts.mode.as_str());
    let src = work.join("src");
    let wit_dir = work.join("wit");
    io(wit::write_to(&wit_dir), || format!("cannot write the WIT package into {}", wit_dir.display()))?;
    stage_sources(dir, &src)?;
    if op.world_module == source::WIT_WORLD && !tool.world_module_option {
        write_wit_world_alias(&src, op.app_type)?;
    }

    // Global arguments shared by `bindings` and `componentize`.
    let world = op.app_type.world();
    let mut global: Vec<String> = vec!["-d".into(), path_arg(&wit_dir), "-w".into(), world.clone()];
    if tool.world_module_option {
        global.push("--world-module".into());
        global.push(op.world_module.clone());
    }

    // Bindings for editors and tests; not used by the component itself.
    let bindings = write_bindings_with(&tool, &global, &op, &src, &dir.join(".wasmgraph"))?;

    let deps = requirements::install(&tool, dir, &work, &mut say)?;
    let artifact = work.join(format!("{}.wasm", op.module));
    let _ = std::fs::remove_file(&artifact);
    let started = Instant::now();
    say(&format!("componentizing {} ({}, {} world, {})", op.file.display(), tool.describe(), world, opts.mode));
    let mut args: Vec<String> = vec!["componentize".into(), "-p".into(), path_arg(&src)];
    if let Some(deps) = &deps {
        args.extend(["-p".into(), path_arg(deps)]);
    }
    args.extend(["-o".into(), path_arg(&artifact), op.module.clone()]);
    run_tool(&tool, &global, &args, &op, &src, "componentize")?;
    let bytes = std::fs::read(&artifact).map_err(|err| {
        BuildError::Artifact(format!("{} succeeded but {} cannot be read ({err})", tool.describe(), artifact.display()))
    })?;
    if !crate::is_component(&bytes) {
        return Err(BuildError::Artifact(format!("{} is not a WebAssembly component", artifact.display())));
    }

    let out_dir = dir.join("bin").join(&opts.arch).join(opts.mode.as_str());
    io(std::fs::create_dir_all(&out_dir), || format!("cannot create {}", out_dir.display()))?;
    let wasm = out_dir.join(format!("{}.wasm", op.module));
    io(std::fs::write(&wasm, &bytes), || format!("cannot write {}", wasm.display()))?;
    if opts.mode == BuildMode::Debug {
        // The exact sources in the component, so traceback line numbers can be
        // followed after the folder has moved on.
        let copy = out_dir.join(format!("{}.py", op.module));
        io(std::fs::copy(&op.file, &copy).map(|_| ()), || format!("cannot write {}", copy.display()))?;
    }
    say(&format!(
        "{} MB in {:.1} s; bindings for editors and tests in {}",
        bytes.len() / 1_000_000,
        started.elapsed().as_secs_f64(),
        bindings.display()
    ));
    Ok(BuildOutput {
        wasm,
        artifact,
        name: op.module,
        lang: Lang::Python,
        toolchain: tool.describe(),
        std_built_in: None,
        elapsed: begun.elapsed(),
    })
}

fn io<T>(result: std::io::Result<T>, what: impl FnOnce() -> String) -> Result<T, BuildError> {
    result.map_err(|source| BuildError::Io { what: what(), source })
}

fn absolute(dir: &Path) -> Result<PathBuf, BuildError> {
    io(dir.canonicalize(), || format!("cannot find {}", dir.display()))
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Copies the operator's sources (top-level `.py` files and package folders)
/// into `to`, replacing what was there.
fn stage_sources(dir: &Path, to: &Path) -> Result<(), BuildError> {
    let _ = std::fs::remove_dir_all(to);
    io(std::fs::create_dir_all(to), || format!("cannot create {}", to.display()))?;
    let entries = io(std::fs::read_dir(dir), || format!("cannot read {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_dir = path.is_dir();
        if !is_source_entry(&name, is_dir) {
            continue;
        }
        if is_dir {
            if path.join("__init__.py").is_file() {
                copy_tree(&path, &to.join(&name))?;
            }
        } else {
            io(std::fs::copy(&path, to.join(&name)).map(|_| ()), || format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), BuildError> {
    io(std::fs::create_dir_all(to), || format!("cannot create {}", to.display()))?;
    let entries = io(std::fs::read_dir(from), || format!("cannot read {}", from.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            io(std::fs::copy(&path, to.join(&name)).map(|_| ()), || format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

/// For componentize-py 0.14, whose bindings module is always `<kind>_impl`: a
/// `wit_world` package (and `componentize_py_types`) that alias it, so files
/// written for 0.17+ naming import unchanged.
fn write_wit_world_alias(src: &Path, kind: AppType) -> Result<(), BuildError> {
    let real = kind.world_module();
    let package = src.join(source::WIT_WORLD);
    io(std::fs::create_dir_all(&package), || format!("cannot create {}", package.display()))?;
    let init = format!(
        "# Written by wasmgraph build: `wit_world` is `{real}` under componentize-py 0.14.\n\
         import sys\n\
         import {real}\n\
         import {real}.exports\n\
         import {real}.imports\n\
         for _sub in ('types', 'hybrid_logical_clock', 'logger', 'metrics', 'state_store', 'state_store_types'):\n\
         \x20   __import__('{real}.imports.' + _sub)\n\
         from {real} import *\n\
         from {real} import exports, imports\n\
         for _name, _module in list(sys.modules.items()):\n\
         \x20   if _name.startswith('{real}.'):\n\
         \x20       sys.modules['wit_world' + _name[len('{real}'):]] = _module\n"
    );
    io(std::fs::write(package.join("__init__.py"), init), || "cannot write the wit_world alias".to_owned())?;
    let types = src.join("componentize_py_types.py");
    if !types.exists() {
        io(std::fs::write(&types, format!("from {real}.types import Ok, Err, Some, Result\n")), || {
            "cannot write componentize_py_types.py".to_owned()
        })?;
    }
    Ok(())
}

/// Generates bindings into `<meta>/bindings` and writes `wasmgraph_testing.py`
/// beside them; returns the folder.
fn write_bindings_with(
    tool: &ComponentizePy,
    global: &[String],
    op: &OperatorFile,
    src: &Path,
    meta: &Path,
) -> Result<PathBuf, BuildError> {
    let bindings = meta.join("bindings");
    let _ = std::fs::remove_dir_all(&bindings);
    let world_module = if tool.world_module_option { op.world_module.clone() } else { op.app_type.world_module() };
    run_tool(tool, global, &["bindings".into(), path_arg(&bindings)], op, src, "generating bindings")?;
    if !bindings.join(&world_module).is_dir() {
        return Err(BuildError::Artifact(format!(
            "{} did not write the `{world_module}` bindings into {}",
            tool.describe(),
            bindings.display()
        )));
    }
    let testing = bindings.join("wasmgraph_testing.py");
    io(std::fs::write(&testing, TESTING_PY), || format!("cannot write {}", testing.display()))?;
    Ok(bindings)
}

/// Generates the bindings (and `wasmgraph_testing.py`) for the operator file
/// in `dir` without building it: what `wasmgraph new` does so that a new
/// operator's tests run at once. Installs componentize-py if needed.
pub fn write_bindings(dir: &Path, app_type: Option<AppType>, quiet: bool) -> Result<PathBuf, BuildError> {
    let dir = &absolute(dir)?;
    let mut say = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let op = source::find(dir, app_type)?;
    let tool = toolchain::ensure(dir, &mut say)?;
    let meta = dir.join(".wasmgraph");
    let wit_dir = meta.join("wit");
    io(wit::write_to(&wit_dir), || format!("cannot write the WIT package into {}", wit_dir.display()))?;
    let mut global: Vec<String> = vec!["-d".into(), path_arg(&wit_dir), "-w".into(), op.app_type.world()];
    if tool.world_module_option {
        global.push("--world-module".into());
        global.push(op.world_module.clone());
    }
    write_bindings_with(&tool, &global, &op, dir, &meta)
}

/// Runs componentize-py in `src`, mapping a failure to a readable
/// [`BuildError::Compile`].
fn run_tool(
    tool: &ComponentizePy,
    global: &[String],
    args: &[String],
    op: &OperatorFile,
    src: &Path,
    step: &str,
) -> Result<(), BuildError> {
    let out = tool
        .command()
        .args(global)
        .args(args)
        .current_dir(src)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Io { what: format!("cannot run {}", tool.describe()), source })?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Err(BuildError::Compile {
        name: op.module.clone(),
        toolchain: format!("{}, {step}", tool.describe()),
        output: explain(&text, op, src),
    })
}

/// The useful part of componentize-py's failure output: the Python error
/// (with paths pointing at the user's files), without the tool's own Rust
/// backtrace and launcher traceback, plus a hint for errors we recognize.
pub fn explain(text: &str, op: &OperatorFile, src: &Path) -> String {
    let body = text.split("\nStack backtrace:").next().unwrap_or(text);
    let body = match body.find("AssertionError:") {
        Some(at) => &body[at + "AssertionError:".len()..],
        None => body,
    };
    let dir = op.file.parent().unwrap_or(Path::new("."));
    let mut lines: Vec<String> = Vec::new();
    for line in body.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        // componentize-py shows the app folder as `/0/` (the first -p entry).
        let line = line
            .replace("\"/0/", &format!("\"{}/", dir.display()))
            .replace(&src.display().to_string(), &dir.display().to_string());
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = lines.join("\n");
    let hint = if out.contains("ModuleNotFoundError") || out.contains("No module named") {
        Some(
            "a module the operator imports is not in its folder; componentize-py bundles the \
             operator's folder, the Python standard library and the pure-Python packages of a \
             requirements.txt beside the operator only (list the package there)"
                .to_owned(),
        )
    } else if out.contains("has no attribute") && out.contains(&format!("'{}'", op.app_type.class_name())) {
        Some(format!("{} must define `class {}` at top level", op.file.display(), op.app_type.class_name()))
    } else {
        None
    };
    if let Some(hint) = hint {
        out.push_str("\nhint: ");
        out.push_str(&hint);
    }
    if out.trim().is_empty() {
        out = "componentize-py failed without a message".to_owned();
    }
    out
}

/// Whether `dir` looks like a Python operator: a top-level `.py` file that
/// imports generated bindings or defines an operator class. A cheap text scan
/// for language detection; [`build`] checks properly.
pub fn looks_like_operator(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".py") || !is_source_entry(&name, false) {
            return false;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else { return false };
        let imports_world =
            AppType::ALL.iter().any(|k| text.contains(&k.world_module())) || text.contains(source::WIT_WORLD);
        let defines_class = AppType::ALL.iter().any(|k| text.contains(&format!("class {}(", k.class_name())));
        imports_world || defines_class
    })
}

/// The bindings folder `build` writes for the operator in `dir`.
pub fn bindings_dir(dir: &Path) -> PathBuf {
    dir.join(".wasmgraph").join("bindings")
}

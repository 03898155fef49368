//! Builds an operator's source folder into a WebAssembly component
//! (`wasm32-wasip2`), the way `wasmgraph build` does.
//!
//! ```no_run
//! use std::path::Path;
//! use wasmgraph_builder::{build, BuildOptions};
//!
//! let out = build(Path::new("examples/operators/temperature"), &BuildOptions::default())?;
//! // examples/operators/temperature/bin/x86_64/release/temperature.wasm
//! println!("{}", out.wasm.display());
//! # Ok::<(), wasmgraph_builder::BuildError>(())
//! ```
//!
//! **Rust** ([`Lang::Rust`]): the folder must hold a crate whose library is a
//! `cdylib` and which depends on `wasm_graph_sdk` (or `wit-bindgen`). The
//! toolchain is picked by itself ([`ToolchainChoice::Auto`]):
//!
//! 1. *plain*: when the active `rustc` has the standard library for
//!    `wasm32-wasip2` (`rustup target add wasm32-wasip2`), `cargo build --target
//!    wasm32-wasip2`;
//! 2. *Debian*: otherwise Debian's `rustc-web`/`cargo-web` in `/usr/bin`, with
//!    the standard library compiled from `rust-web-src` once per toolchain into
//!    a shared cache ([`rust::sysroot`]), linking with `lld-19`'s `wasm-ld`
//!    against `wasi-libc` and the builder's single-threaded pthread stubs;
//! 3. neither: [`BuildError::NoToolchain`], whose message names what to install.
//!
//! Guest builds use their own cargo target directory, `<cargo target
//! dir>/wasm-guests` (the workspace's when the crate is in one, else the crate's
//! own `target/`), so they never wait on the lock of host builds. The component is
//! copied to `<crate>/bin/<arch>/<mode>/<package name>.wasm`, where AIO's
//! builders put it.
//!
//! **Python** ([`Lang::Python`]): the folder holds an operator module
//! (`<folder>.py`, or the one `.py` file defining e.g. `class Map(exports.Map)`),
//! built by componentize-py, which is installed on demand into a project-local
//! virtual environment; see the [`python`] module.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod app;
mod app_type;
mod error;
pub mod python;
pub mod rust;

pub use app::{build_app, find_operators, AppBuild};
pub use app_type::AppType;
pub use error::BuildError;

/// Release (optimized, the default) or debug.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BuildMode {
    #[default]
    Release,
    Debug,
}

impl BuildMode {
    /// `"release"` or `"debug"`: cargo's profile folder and the `bin/` folder.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildMode::Release => "release",
            BuildMode::Debug => "debug",
        }
    }
}

impl fmt::Display for BuildMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BuildMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "release" => Ok(BuildMode::Release),
            "debug" => Ok(BuildMode::Debug),
            other => Err(format!("unknown build mode `{other}`; use `release` or `debug`")),
        }
    }
}

/// The operator's source language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lang {
    /// A cargo crate using `wasm_graph_sdk` (or `wit-bindgen`).
    Rust,
    /// A Python module built with componentize-py.
    Python,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lang::Rust => f.write_str("rust"),
            Lang::Python => f.write_str("python"),
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rust" => Ok(Lang::Rust),
            "python" => Ok(Lang::Python),
            other => Err(format!("unknown operator language `{other}`; use `rust` or `python`")),
        }
    }
}

/// Which Rust toolchain builds the guest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ToolchainChoice {
    /// The plain target if the active toolchain has it, else the Debian fallback.
    #[default]
    Auto,
    /// Only `cargo build --target wasm32-wasip2` with the active toolchain.
    Plain,
    /// Only the Debian fallback (`/usr/bin/cargo`, `-Zbuild-std`).
    Debian,
}

/// How to build. `BuildOptions::default()` is a release build for `x86_64`, with
/// the language and toolchain detected.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Release (default) or debug.
    pub mode: BuildMode,
    /// The folder name under `bin/` (default `x86_64`, as AIO's builders use; the
    /// component itself is the same for every architecture).
    pub arch: String,
    /// The language; `None` detects it from the folder's files.
    pub lang: Option<Lang>,
    /// Which toolchain (default: detect).
    pub toolchain: ToolchainChoice,
    /// Cargo target directory for the guest build; `None` uses
    /// `<cargo target dir>/wasm-guests`.
    pub target_dir: Option<PathBuf>,
    /// Capture the compiler's output instead of letting it through to stderr; it
    /// is then part of the error when the build fails. For tests and tools.
    pub quiet: bool,
    /// Python only: the operator kind (`--app-type`); `None` detects it from
    /// the class the file defines.
    pub app_type: Option<AppType>,
    /// Where the Debian fallback keeps the standard library it builds once per
    /// toolchain; `None`: `WASMGRAPH_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmgraph`,
    /// else `~/.cache/wasmgraph`.
    pub cache_dir: Option<PathBuf>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            mode: BuildMode::Release,
            arch: "x86_64".to_owned(),
            lang: None,
            toolchain: ToolchainChoice::Auto,
            target_dir: None,
            quiet: false,
            app_type: None,
            cache_dir: None,
        }
    }
}

/// What a build produced.
#[derive(Clone, Debug)]
pub struct BuildOutput {
    /// The component: `<crate>/bin/<arch>/<mode>/<name>.wasm`.
    pub wasm: PathBuf,
    /// The same file where cargo left it.
    pub artifact: PathBuf,
    /// The operator's name (the cargo package name).
    pub name: String,
    /// The language it was built from.
    pub lang: Lang,
    /// How it was built, for messages (e.g. `"cargo 1.96.0 from Debian, standard
    /// library from ~/.cache/wasmgraph/std/<key>/sysroot"`).
    pub toolchain: String,
    /// How long compiling the standard library took, when this build had to do
    /// it first (the Debian fallback, once per toolchain); `None` otherwise.
    pub std_built_in: Option<Duration>,
    /// How long the whole build took (the standard library's included).
    pub elapsed: Duration,
}

/// Build the operator in `dir` into a component; see the crate docs.
pub fn build(dir: &Path, opts: &BuildOptions) -> Result<BuildOutput, BuildError> {
    if !dir.is_dir() {
        return Err(BuildError::NotAnOperator {
            dir: dir.to_path_buf(),
            reasons: vec!["it is not a folder".to_owned()],
        });
    }
    let lang = match opts.lang {
        Some(lang) => lang,
        None => detect_lang(dir)?,
    };
    match lang {
        Lang::Rust => rust::build(dir, opts),
        Lang::Python => python::build(dir, opts),
    }
}

/// The language of the operator in `dir`, from its files.
pub fn detect_lang(dir: &Path) -> Result<Lang, BuildError> {
    if dir.join("Cargo.toml").is_file() {
        return Ok(Lang::Rust);
    }
    if python::looks_like_operator(dir) {
        return Ok(Lang::Python);
    }
    Err(BuildError::NotAnOperator {
        dir: dir.to_path_buf(),
        reasons: vec![
            "it has no Cargo.toml (a Rust operator is a cargo crate with \
             `crate-type = [\"cdylib\"]` that depends on wasm_graph_sdk)"
                .to_owned(),
            "no .py file in it imports operator bindings or defines an operator class (a \
             Python operator is e.g. `class Map(exports.Map)` in `<folder>.py`)"
                .to_owned(),
        ],
    })
}

/// Whether `bytes` start like a WebAssembly component (not a core module).
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [0x0d, 0x00, 0x01, 0x00]
}

//! `wasmgraph build`: an operator's source folder to a WebAssembly component.

use std::path::PathBuf;
use std::process::ExitCode;

use wasmgraph_builder::{AppType, BuildMode, BuildOptions, Lang};

/// Arguments of `wasmgraph build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The operator's folder (a Rust crate with `crate-type = ["cdylib"]` that
    /// depends on wasm_graph_sdk, or a Python operator `<folder>.py`).
    #[arg(default_value = ".")]
    pub path: PathBuf,

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
            arch: self.arch,
            lang: self.lang,
            app_type: self.app_type,
            ..BuildOptions::default()
        };
        let out = wasmgraph_builder::build(&self.path, &opts)?;
        eprintln!("built {} ({}, {})", out.name, opts.mode, out.toolchain);
        println!("{}", out.wasm.display());
        Ok(ExitCode::SUCCESS)
    }
}

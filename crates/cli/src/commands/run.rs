//! `wasmgraph run`: run a graph over a directory of files.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::graph::{run_files, summary, FileRun};

/// Arguments of `wasmgraph run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The graph definition (YAML).
    pub graph: PathBuf,
    /// Where module references resolve: `<name>.wasm`, `<name>-<version>.wasm`
    /// or an operator folder's `<name>/bin/<arch>/<mode>/<name>.wasm`.
    #[arg(long, default_value = ".")]
    pub modules: PathBuf,
    /// Directory whose files, in name order, are the input messages.
    #[arg(long)]
    pub input: PathBuf,
    /// Directory for `output.jsonl` (and `errors.jsonl` for failed records).
    #[arg(long, default_value = "output")]
    pub output: PathBuf,
    /// A parameter value for an operation's init: OPERATION.KEY=VALUE (repeatable).
    #[arg(long = "param", value_name = "OPERATION.KEY=VALUE")]
    pub params: Vec<String>,
    /// Seed the state store from a JSON list of single-key objects.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Where compiled modules are cached (default: ~/.cache/wasmgraph).
    #[arg(long, env = "WASMGRAPH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl RunArgs {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let result = run_files(&FileRun {
            graph: self.graph,
            modules: self.modules,
            input: self.input,
            output: self.output,
            params: self.params,
            state: self.state,
            workers: self.workers,
            cache_dir: self.cache_dir,
            quiet: false,
        })?;
        eprint!("{}", summary(&result.stats));
        let errors = result.stats.errors();
        eprintln!(
            "wrote {} record(s) to {} in {:.2?}",
            result.stats.written.load(std::sync::atomic::Ordering::Relaxed),
            result.output_file.display(),
            result.elapsed
        );
        if let Some(path) = &result.errors_file {
            eprintln!("{errors} failed call(s); the records are in {}", path.display());
        }
        Ok(ExitCode::SUCCESS)
    }
}

//! `wasmgraph build`.

use std::process::ExitCode;

/// Arguments of `wasmgraph build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The operator's folder.
    #[arg(default_value = ".")]
    pub path: std::path::PathBuf,
}

impl BuildArgs {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        anyhow::bail!("`wasmgraph build` is being written")
    }
}

//! `wasmgraph pull`: a module or graph definition from an OCI registry,
//! verified against its digest.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::registry::RegistryArgs;

/// Arguments of `wasmgraph pull`.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// What to pull: `host[:port]/repository:tag` or `...@sha256:<digest>`
    /// (or `repository:tag` with `--registry`).
    pub reference: String,
    /// Where to write it (default: `<name>.wasm` or `<name>.yaml` here).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The module cache the pulled content is also kept in (under `oci/`).
    #[arg(long, env = "WASMGRAPH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl PullArgs {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let registry = self.registry.client(Some(&self.reference), self.cache_dir.as_ref())?;
        let reference = registry.resolve(&self.reference)?;
        let pulled = registry.pull(&reference)?;
        let output = self
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.{}", reference.name(), pulled.kind.extension())));
        std::fs::copy(&pulled.path, &output).with_context(|| format!("writing {}", output.display()))?;
        let source = if pulled.from_cache { " (from the cache)" } else { "" };
        eprintln!(
            "pulled {} {}{source} to {}; layer {} verified",
            pulled.kind.as_str(),
            reference,
            output.display(),
            pulled.layer_digest
        );
        println!("{}", pulled.manifest_digest);
        Ok(ExitCode::SUCCESS)
    }
}

//! `wasmgraph push`: a module or graph definition to an OCI registry, as ORAS
//! pushes them for AIO.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use wasmgraph_oci::ArtifactKind;

use super::registry::RegistryArgs;

/// Arguments of `wasmgraph push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// A module (`.wasm` component) or a graph definition (YAML), told apart by content.
    pub file: PathBuf,
    /// Where to push it: `host[:port]/repository:tag` (or `repository:tag` with `--registry`).
    pub reference: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl PushArgs {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let bytes = std::fs::read(&self.file).with_context(|| format!("reading {}", self.file.display()))?;
        let kind = ArtifactKind::of_content(&bytes);
        check(kind, &self.file, &bytes)?;
        let registry = self.registry.client(Some(&self.reference), None)?;
        let reference = registry.resolve(&self.reference)?;
        let pushed = registry.push_file(&self.file, &reference)?;
        eprintln!("pushed {} {} ({} bytes) to {}", kind.as_str(), self.file.display(), pushed.size, pushed.reference);
        println!("{}", pushed.digest);
        Ok(ExitCode::SUCCESS)
    }
}

/// Refuse what would not run: a core module instead of a component, or a
/// file that is not a graph definition.
fn check(kind: ArtifactKind, file: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    match kind {
        ArtifactKind::Module => {
            if let Err(why) = wasmgraph_config::component_exports(bytes) {
                bail!("{}: {why}", file.display());
            }
        }
        ArtifactKind::Graph => {
            let text = String::from_utf8_lossy(bytes);
            if wasmgraph_deployment::detect(&text) != wasmgraph_deployment::FileKind::Graph {
                bail!(
                    "{}: neither a WebAssembly component nor a graph definition (moduleRequirements, operations, connections)",
                    file.display()
                );
            }
        }
    }
    Ok(())
}

//! `wasmgraph validate`: check a graph definition and report every problem.

use std::path::PathBuf;
use std::process::ExitCode;

use wasmgraph_config::{load_graph, ModuleCatalog, ModuleDirectory};

use wasmgraph_runtime::{parse_params, unknown_param_operations, RegistryCatalog};

/// Arguments of `wasmgraph validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The graph definition (YAML).
    pub graph: PathBuf,

    /// Folder of modules. When given, every module reference must resolve there
    /// (`<name>.wasm`, `<name>-<version>.wasm` or `<name>/bin/<arch>/<mode>/<name>.wasm`)
    /// and export the interface its operation type needs.
    #[arg(long, value_name = "DIR")]
    pub modules: Option<PathBuf>,

    /// A parameter value, as `wasmgraph run` takes it (repeatable). Required
    /// parameters without a default need one.
    #[arg(long = "param", value_name = "OPERATION.KEY=VALUE")]
    pub params: Vec<String>,

    /// Where registry pulls are cached (default: ~/.cache/wasmgraph).
    #[arg(long, env = "WASMGRAPH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Where OCI references resolve, as for `wasmgraph run`: the graph given
    /// by reference, and modules named `name:tag` (pulled, verified and
    /// cached, then checked like files).
    #[command(flatten)]
    pub registry: super::registry::RegistryArgs,
}

impl ValidateArgs {
    pub fn execute(mut self) -> anyhow::Result<ExitCode> {
        let values = parse_params(&self.params)?;
        self.graph = super::registry::graph_file(&self.graph, &self.registry, self.cache_dir.as_ref())?;
        let catalog = self.module_catalog()?;
        let graph = match load_graph(&self.graph, catalog.as_deref(), &values) {
            Ok(graph) => graph,
            Err(errors) => {
                for e in errors.iter() {
                    println!("{e}");
                }
                let n = errors.len();
                eprintln!("{}: {n} error{}", self.graph.display(), if n == 1 { "" } else { "s" });
                return Ok(ExitCode::from(1));
            }
        };
        let unknown = unknown_param_operations(&graph, &values);
        if !unknown.is_empty() {
            for message in unknown {
                println!("{message}");
            }
            return Ok(ExitCode::from(1));
        }
        println!(
            "{}: ok ({} operations, {} connections)",
            self.graph.display(),
            graph.nodes().len(),
            graph.connection_count()
        );
        if catalog.is_none() && graph.nodes().iter().any(|n| n.module.is_some()) {
            eprintln!("note: modules were not checked; pass --modules DIR (and --registry HOST for module references) to check that each resolves and exports its operator interface");
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Where modules are looked up: the `--modules` folder, and with
    /// `--registry` the registry too (references pulled into the cache), with
    /// exports read from the component binary by `wasmparser`. `None`: neither
    /// is given, modules are not checked.
    fn module_catalog(&self) -> anyhow::Result<Option<Box<dyn ModuleCatalog>>> {
        if let Some(endpoint) = self.registry.endpoint(None)? {
            let dir = self.modules.clone().unwrap_or_else(|| PathBuf::from("."));
            let catalog = RegistryCatalog::new(&dir, Some(&endpoint), self.cache_dir.as_deref())?;
            return Ok(Some(Box::new(catalog)));
        }
        Ok(self.modules.as_ref().map(|dir| Box::new(ModuleDirectory::new(dir)) as Box<dyn ModuleCatalog>))
    }
}

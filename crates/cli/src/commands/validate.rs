//! `wasmgraph validate`: check a graph definition and report every problem.

use std::path::PathBuf;
use std::process::ExitCode;

use wasmgraph_config::{load_graph, ModuleCatalog, ModuleDirectory};

use wasmgraph_runtime::{parse_params, unknown_param_operations};

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
}

impl ValidateArgs {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let values = parse_params(&self.params)?;
        let catalog = self.module_catalog();
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
            eprintln!("note: modules were not checked; pass --modules DIR to check that each resolves and exports its operator interface");
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The hook where modules are looked up. Today: the `--modules` folder, with
    /// exports read from the component binary by `wasmparser`. A catalog backed
    /// by the host (wasmtime) or by an OCI registry plugs in here.
    fn module_catalog(&self) -> Option<Box<dyn ModuleCatalog>> {
        self.modules.as_ref().map(|dir| Box::new(ModuleDirectory::new(dir)) as Box<dyn ModuleCatalog>)
    }
}

//! `wasmgraph validate`: check a graph definition and report every problem.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use wasmgraph_config::{load_graph, ModuleCatalog, ModuleDirectory, ParameterValues};

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
                eprintln!(
                    "{}: {n} error{}",
                    self.graph.display(),
                    if n == 1 { "" } else { "s" }
                );
                return Ok(ExitCode::from(1));
            }
        };
        let mut unknown: Vec<&str> = values
            .keys()
            .filter(|op| graph.find(op).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            for op in unknown {
                println!("--param: the graph has no operation named `{op}`; use the `name` of one of its operations");
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
        self.modules
            .as_ref()
            .map(|dir| Box::new(ModuleDirectory::new(dir)) as Box<dyn ModuleCatalog>)
    }
}

/// `OPERATION.KEY=VALUE` values by operation. Operation names may contain dots
/// and slashes, so the key is what follows the last dot before `=`.
fn parse_params(params: &[String]) -> anyhow::Result<ParameterValues> {
    let mut values: ParameterValues = HashMap::new();
    for param in params {
        let parsed = param.split_once('=').and_then(|(target, value)| {
            let (operation, key) = target.rsplit_once('.')?;
            (!operation.is_empty() && !key.is_empty()).then_some((operation, key, value))
        });
        let Some((operation, key, value)) = parsed else {
            anyhow::bail!("--param '{param}': expected OPERATION.KEY=VALUE");
        };
        values
            .entry(operation.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::parse_params;

    #[test]
    fn params_split_at_the_last_dot() {
        let v = parse_params(&[
            "module-temperature/filter.lower.bound=-40".into(),
            "a.b=".into(),
        ])
        .unwrap();
        assert_eq!(v["module-temperature/filter.lower"]["bound"], "-40");
        assert_eq!(v["a"]["b"], "");
        assert!(parse_params(&["nodot=1".into()]).is_err());
        assert!(parse_params(&["a.b".into()]).is_err());
        assert!(parse_params(&[".b=1".into()]).is_err());
    }
}

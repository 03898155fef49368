//! Loading a graph definition with its parameter values, and the parameter
//! values a deployment or the command line gives.

use std::collections::HashMap;
use std::path::Path;

use wasmgraph_config::{Graph, GraphDefinition, ModuleDirectory, ParameterValues};
use wasmgraph_deployment::{Configuration, Deployment};

use crate::RuntimeError;

/// Validate the graph at `path` against the modules in `modules` with
/// `values`; every problem is reported at once, with file, line and column.
pub fn load_graph(path: &Path, modules: &Path, values: &ParameterValues) -> Result<Graph, RuntimeError> {
    load_graph_in(path, &ModuleDirectory::new(modules), values)
}

/// [`load_graph`] with modules from `catalog` (a folder and a registry:
/// [`crate::RegistryCatalog`]).
pub fn load_graph_in(
    path: &Path,
    catalog: &dyn wasmgraph_config::ModuleCatalog,
    values: &ParameterValues,
) -> Result<Graph, RuntimeError> {
    let graph = wasmgraph_config::load_graph(path, Some(catalog), values).map_err(|errors| RuntimeError::Graph {
        file: path.to_path_buf(),
        problems: errors.iter().map(|e| e.to_string()).collect(),
    })?;
    let unknown = unknown_param_operations(&graph, values);
    if !unknown.is_empty() {
        return Err(RuntimeError::Parameters(unknown.join("\n")));
    }
    Ok(graph)
}

/// `OPERATION.KEY=VALUE` values by operation. Operation names may contain dots
/// and slashes, so the key is what follows the last dot before `=`.
pub fn parse_params(params: &[String]) -> Result<ParameterValues, RuntimeError> {
    let mut values: ParameterValues = HashMap::new();
    for param in params {
        let parsed = param.split_once('=').and_then(|(target, value)| {
            let (operation, key) = target.rsplit_once('.')?;
            (!operation.is_empty() && !key.is_empty()).then_some((operation, key, value))
        });
        let Some((operation, key, value)) = parsed else {
            return Err(RuntimeError::Parameters(format!("--param '{param}': expected OPERATION.KEY=VALUE")));
        };
        values.entry(operation.to_string()).or_default().insert(key.to_string(), value.to_string());
    }
    Ok(values)
}

/// One message per parameter operation the graph does not have, sorted.
pub fn unknown_param_operations(graph: &Graph, values: &ParameterValues) -> Vec<String> {
    let mut unknown: Vec<&str> = values.keys().filter(|op| graph.find(op).is_none()).map(String::as_str).collect();
    unknown.sort();
    unknown
        .into_iter()
        .map(|op| format!("--param: the graph has no operation named `{op}`; use the `name` of one of its operations"))
        .collect()
}

/// Parameter values of a deployment: per operation as written, or AIO's
/// graph-wide `key: value` pairs applied to every operation that declares
/// a parameter of that key (or name).
pub fn deployment_values(d: &Deployment) -> Result<ParameterValues, RuntimeError> {
    let mut values: ParameterValues = HashMap::new();
    match &d.configuration {
        Configuration::PerOperation(ops) => {
            for (op, kv) in ops {
                values.entry(op.clone()).or_default().extend(kv.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        Configuration::Graph(pairs) if pairs.is_empty() => {}
        Configuration::Graph(pairs) => {
            let def = GraphDefinition::load(&d.graph).map_err(|errors| RuntimeError::Graph {
                file: d.graph.clone(),
                problems: errors.iter().map(|e| e.to_string()).collect(),
            })?;
            for (key, value) in pairs {
                if !apply_graph_setting(&def, key, value, &mut values) {
                    tracing::warn!("configuration key '{key}' matches no parameter of {}", d.graph.display());
                }
            }
        }
    }
    Ok(values)
}

/// Give `value` to every parameter keyed or named `key`; false if none is.
pub(crate) fn apply_graph_setting(def: &GraphDefinition, key: &str, value: &str, values: &mut ParameterValues) -> bool {
    let mut used = false;
    for mc in &def.module_configurations {
        for p in mc.parameters.iter().filter(|p| p.key.value == key || p.name.value == key) {
            values.entry(mc.name.value.clone()).or_default().insert(p.key.value.clone(), value.to_string());
            used = true;
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::parse_params;

    #[test]
    fn params_split_at_the_last_dot() {
        let v = parse_params(&["module-temperature/filter.lower.bound=-40".into(), "a.b=".into()]).unwrap();
        assert_eq!(v["module-temperature/filter.lower"]["bound"], "-40");
        assert_eq!(v["a"]["b"], "");
        assert!(parse_params(&["nodot=1".into()]).is_err());
        assert!(parse_params(&["a.b".into()]).is_err());
        assert!(parse_params(&[".b=1".into()]).is_err());
    }
}

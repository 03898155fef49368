//! AIO's application folder: the folder that holds a graph, with the files
//! AIO's local development host reads beside it, so test folders written for
//! AIO run unchanged.
//!
//! * `statestore.json`: a JSON list of single-key objects
//!   (`[{"factoryId":"factoryA"}]`) that seeds the state store before the graph
//!   runs (before any seed of a test case or `--state`, which win).
//! * `hostapp.env.list`: `KEY=value` lines, as for `docker run --env-file`
//!   (blank lines and `#` comments skipped; a line with a bare `KEY` takes the
//!   value from wasmgraph's own environment; one pair of surrounding quotes is
//!   removed). Keys other than the two below are reported as warnings, not
//!   errors.
//!   * `TK_SCHEMA_CONFIG_PATH`: a JSON schema file (relative to the folder)
//!     that every module operation's `init` receives as a `module-schema`,
//!     after the schemas its graph names: name = the file's name, content type
//!     [`SCHEMA_CONTENT_TYPE`], content = the file's text. Without the
//!     variable, a `tk_schema_config.json` in the folder is used, as AIO's VS
//!     Code extension does when it writes `hostapp.env.list` itself.
//!   * `TK_CONFIGURATION_PARAMETERS`: parameter values for the operations'
//!     `init`, over the graph's defaults but under a deployment's
//!     configuration, a test case's `params` and `--param`. AIO does not
//!     document its format; accepted here: a JSON object (`{"key": "value"}`
//!     for every operation that declares a parameter of that key or name, as
//!     AIO's graph-wide `configuration`; `{"operation": {"key": "value"}}` for
//!     one operation), a JSON list of `{"key": …, "value": …}` (AIO's
//!     `DataflowGraph` configuration), or `key=value` pairs separated by `;`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wasmgraph_config::{GraphDefinition, ParameterValues};
use wasmgraph_host::ModuleSchema;

use crate::{graph, Pipeline, RuntimeError};

/// The state store seed of an application folder.
pub const STATE_FILE: &str = "statestore.json";
/// The host settings of an application folder.
pub const ENV_FILE: &str = "hostapp.env.list";
/// The content type of the schema `TK_SCHEMA_CONFIG_PATH` names.
pub const SCHEMA_CONTENT_TYPE: &str = "application/schema+json";
const SCHEMA_VARIABLE: &str = "TK_SCHEMA_CONFIG_PATH";
const PARAMETERS_VARIABLE: &str = "TK_CONFIGURATION_PARAMETERS";
/// The schema file AIO's tooling uses when `hostapp.env.list` names none.
const DEFAULT_SCHEMA_FILE: &str = "tk_schema_config.json";
/// Where AIO's tooling builds an application's operators.
const OPERATORS_DIR: &str = "operators";

/// What an application folder says, read once ([`AppFolder::load`]) and applied
/// to each pipeline that runs one of its graphs ([`AppFolder::apply`]).
#[derive(Debug, Clone, Default)]
pub struct AppFolder {
    /// The folder.
    pub dir: PathBuf,
    /// Its `statestore.json`, when it has one.
    pub state_seed: Option<PathBuf>,
    /// The schema `TK_SCHEMA_CONFIG_PATH` names, read.
    pub schema: Option<ModuleSchema>,
    /// `TK_CONFIGURATION_PARAMETERS`, in the order written.
    pub parameters: Vec<AppParameter>,
    /// What was ignored in `hostapp.env.list` (unknown keys), one line each
    /// with file and line, for the user to see.
    pub warnings: Vec<String>,
}

/// One value of `TK_CONFIGURATION_PARAMETERS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppParameter {
    /// The operation it is for; `None`: every operation that declares a
    /// parameter keyed or named `key`.
    pub operation: Option<String>,
    /// The parameter's key (or, graph-wide, its name).
    pub key: String,
    /// Its value.
    pub value: String,
}

impl AppFolder {
    /// Read the application folder `dir` (a folder without either file is an
    /// empty, valid application folder).
    pub fn load(dir: &Path) -> Result<AppFolder, RuntimeError> {
        let state = dir.join(STATE_FILE);
        let mut app =
            AppFolder { dir: dir.to_path_buf(), state_seed: state.is_file().then_some(state), ..AppFolder::default() };
        let env_file = dir.join(ENV_FILE);
        let mut schema_path = None;
        if env_file.is_file() {
            let text = std::fs::read_to_string(&env_file)
                .map_err(|e| RuntimeError::App { file: env_file.clone(), message: e.to_string() })?;
            for (line, key, value) in env_lines(&env_file, &text, &mut app.warnings) {
                let at = || PathBuf::from(format!("{}:{line}", env_file.display()));
                match key.as_str() {
                    SCHEMA_VARIABLE => schema_path = Some((dir.join(&value), at())),
                    PARAMETERS_VARIABLE => {
                        app.parameters = parse_parameters(&value)
                            .map_err(|message| RuntimeError::App { file: at(), message })?
                    }
                    other => app.warnings.push(format!(
                        "{}: {other} is not a setting wasmgraph uses ({SCHEMA_VARIABLE}, {PARAMETERS_VARIABLE}); ignored",
                        at().display()
                    )),
                }
            }
        }
        let default_schema = dir.join(DEFAULT_SCHEMA_FILE);
        if schema_path.is_none() && default_schema.is_file() {
            schema_path = Some((default_schema.clone(), default_schema));
        }
        if let Some((path, named_at)) = schema_path {
            app.schema = Some(read_schema(&path, &named_at)?);
        }
        Ok(app)
    }

    /// The application folder of `graph`: the folder that holds it.
    pub fn of_graph(graph: &Path) -> Result<AppFolder, RuntimeError> {
        AppFolder::load(&AppFolder::dir_of_graph(graph))
    }

    /// The folder that holds `graph`, `..` steps taken lexically
    /// (`tests/../graph.yaml` is in `.`), so messages name it plainly.
    pub fn dir_of_graph(graph: &Path) -> PathBuf {
        use std::path::Component;
        let mut dir = PathBuf::new();
        for part in graph.parent().into_iter().flat_map(Path::components) {
            match part {
                Component::CurDir => {}
                Component::ParentDir if matches!(dir.components().next_back(), Some(Component::Normal(_))) => {
                    dir.pop();
                }
                other => dir.push(other),
            }
        }
        if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        }
    }

    /// True when the folder has nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.state_seed.is_none() && self.schema.is_none() && self.parameters.is_empty()
    }

    /// `<dir>/operators`, where AIO's tooling builds the application's
    /// operators, when it exists: module references resolve there unless
    /// something more specific says otherwise.
    pub fn operators(&self) -> Option<PathBuf> {
        let dir = self.dir.join(OPERATORS_DIR);
        dir.is_dir().then_some(dir)
    }

    /// Apply the folder to `pipeline`: its state seed, its schema for every
    /// module operation, its parameters where nothing else set them. Returns
    /// warnings (a graph-wide parameter no operation declares, an operation
    /// the graph does not have).
    pub fn apply(&self, pipeline: &mut Pipeline) -> Result<Vec<String>, RuntimeError> {
        if let Some(seed) = &self.state_seed {
            pipeline.host.app_state_seed = Some(seed.clone());
        }
        if let Some(schema) = &self.schema {
            if !pipeline.host.module_schemas.contains(schema) {
                pipeline.host.module_schemas.push(schema.clone());
            }
        }
        let (values, warnings) = self.parameter_values(&pipeline.graph)?;
        for (operation, pairs) in values {
            let set = pipeline.parameters.entry(operation).or_default();
            for (key, value) in pairs {
                set.entry(key).or_insert(value);
            }
        }
        Ok(warnings)
    }

    /// `TK_CONFIGURATION_PARAMETERS` as values by operation for `graph`, and a
    /// warning for each value that reaches no operation.
    pub fn parameter_values(&self, graph: &Path) -> Result<(ParameterValues, Vec<String>), RuntimeError> {
        let mut values = ParameterValues::new();
        let mut warnings = Vec::new();
        if self.parameters.is_empty() {
            return Ok((values, warnings));
        }
        let def = GraphDefinition::load(graph).map_err(|errors| RuntimeError::Graph {
            file: graph.to_path_buf(),
            problems: errors.iter().map(|e| e.to_string()).collect(),
        })?;
        let from = || format!("{PARAMETERS_VARIABLE} in {}", self.dir.join(ENV_FILE).display());
        for p in &self.parameters {
            match &p.operation {
                None if graph::apply_graph_setting(&def, &p.key, &p.value, &mut values) => {}
                None => warnings.push(format!(
                    "{}: no operation of {} has a parameter '{}'",
                    from(),
                    graph.display(),
                    p.key
                )),
                Some(op) if def.operations.iter().any(|o| &o.name.value == op) => {
                    values.entry(op.clone()).or_default().insert(p.key.clone(), p.value.clone());
                }
                Some(op) => warnings.push(format!("{}: {} has no operation named '{op}'", from(), graph.display())),
            }
        }
        Ok((values, warnings))
    }
}

/// The `(line number, key, value)` settings of an env file, docker's way.
fn env_lines(file: &Path, text: &str, warnings: &mut Vec<String>) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key.trim(), unquote(value.trim()).to_string()),
            None => match std::env::var(line) {
                Ok(value) => (line, value),
                Err(_) => {
                    warnings.push(format!(
                        "{}:{}: {line} has no value here or in the environment; ignored",
                        file.display(),
                        i + 1
                    ));
                    continue;
                }
            },
        };
        out.push((i + 1, key.to_string(), value));
    }
    out
}

/// `text` without one pair of matching surrounding quotes.
fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

/// The schema file at `path` (named at `named_at`), checked to be JSON.
fn read_schema(path: &Path, named_at: &Path) -> Result<ModuleSchema, RuntimeError> {
    let error = |message: String| RuntimeError::App { file: named_at.to_path_buf(), message };
    let content = std::fs::read_to_string(path).map_err(|e| error(format!("schema file {}: {e}", path.display())))?;
    if let Err(e) = serde_json::from_str::<Value>(&content) {
        return Err(error(format!("schema file {} is not JSON: {e}", path.display())));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(ModuleSchema { name, content_type: SCHEMA_CONTENT_TYPE.to_string(), content })
}

/// `TK_CONFIGURATION_PARAMETERS` in any of its accepted forms.
fn parse_parameters(text: &str) -> Result<Vec<AppParameter>, String> {
    let text = text.trim();
    if !(text.starts_with('{') || text.starts_with('[')) {
        return key_value_pairs(text);
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("{PARAMETERS_VARIABLE} is not valid JSON: {e}"))?;
    match doc {
        Value::Object(map) => {
            let mut out = Vec::new();
            for (key, value) in map {
                match value {
                    Value::Object(pairs) => {
                        for (k, v) in pairs {
                            out.push(AppParameter { operation: Some(key.clone()), key: k, value: text_of(&v)? });
                        }
                    }
                    other => out.push(AppParameter { operation: None, key, value: text_of(&other)? }),
                }
            }
            Ok(out)
        }
        Value::Array(items) => items.iter().map(key_value_item).collect(),
        other => Err(format!("{PARAMETERS_VARIABLE}: expected a JSON object or list, found {other}")),
    }
}

/// `key=value;key=value` pairs, graph-wide.
fn key_value_pairs(text: &str) -> Result<Vec<AppParameter>, String> {
    let mut out = Vec::new();
    for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(format!(
                "{PARAMETERS_VARIABLE}: '{pair}' is not key=value (write key=value;key2=value2, or JSON such as {{\"key\": \"value\"}})"
            ));
        };
        out.push(AppParameter { operation: None, key: key.trim().to_string(), value: value.trim().to_string() });
    }
    Ok(out)
}

/// One `{"key": …, "value": …}` of a list.
fn key_value_item(item: &Value) -> Result<AppParameter, String> {
    let key = item.get("key").and_then(Value::as_str);
    let value = item.get("value");
    match (key, value) {
        (Some(key), Some(value)) if item.as_object().is_some_and(|o| o.len() == 2) => {
            Ok(AppParameter { operation: None, key: key.to_string(), value: text_of(value)? })
        }
        _ => Err(format!(
            "{PARAMETERS_VARIABLE}: each list item must be {{\"key\": \"…\", \"value\": \"…\"}}, found {item}"
        )),
    }
}

/// A parameter value as the string `init` receives: strings as they are,
/// numbers and booleans as written.
fn text_of(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(value.to_string()),
        other => {
            Err(format!("{PARAMETERS_VARIABLE}: a parameter value must be a string, number or boolean, found {other}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_wide(key: &str, value: &str) -> AppParameter {
        AppParameter { operation: None, key: key.into(), value: value.into() }
    }

    #[test]
    fn parameters_in_each_accepted_form() {
        assert_eq!(
            parse_parameters(r#"{"enrichKeys": "factoryId,lineId", "limit": 5, "op/map": {"mode": "fast"}}"#).unwrap(),
            vec![
                graph_wide("enrichKeys", "factoryId,lineId"),
                graph_wide("limit", "5"),
                AppParameter { operation: Some("op/map".into()), key: "mode".into(), value: "fast".into() },
            ]
        );
        assert_eq!(
            parse_parameters(r#"[{"key": "a", "value": "1"}, {"key": "b", "value": true}]"#).unwrap(),
            vec![graph_wide("a", "1"), graph_wide("b", "true")]
        );
        assert_eq!(
            parse_parameters("enrichKeys=factoryId,lineId; limit = 5;").unwrap(),
            vec![graph_wide("enrichKeys", "factoryId,lineId"), graph_wide("limit", "5")]
        );
        assert!(parse_parameters("just-a-word").unwrap_err().contains("key=value"));
        assert!(parse_parameters("{not json").unwrap_err().contains("not valid JSON"));
        assert!(parse_parameters(r#"[{"name": "a"}]"#).unwrap_err().contains("each list item"));
        assert!(parse_parameters(r#"{"a": [1]}"#).unwrap_err().contains("string, number or boolean"));
    }

    #[test]
    fn env_file_lines_docker_style() {
        let mut warnings = Vec::new();
        let text =
            "# comment\n\n  TK_SCHEMA_CONFIG_PATH = \"schema.json\"\nTK_X='a=b'\nWASMGRAPH_SURELY_UNSET_VARIABLE\n";
        let lines = env_lines(Path::new("hostapp.env.list"), text, &mut warnings);
        assert_eq!(
            lines,
            vec![(3, "TK_SCHEMA_CONFIG_PATH".to_string(), "schema.json".to_string()), (4, "TK_X".into(), "a=b".into())]
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("hostapp.env.list:5: WASMGRAPH_SURELY_UNSET_VARIABLE"), "{warnings:?}");
    }

    #[test]
    fn a_folder_with_both_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), r#"[{"factoryId":"factoryA"}]"#).unwrap();
        std::fs::write(dir.path().join("reading.json"), r#"{"type":"object"}"#).unwrap();
        std::fs::write(
            dir.path().join(ENV_FILE),
            "TK_SCHEMA_CONFIG_PATH=reading.json\nTK_CONFIGURATION_PARAMETERS={\"enrichKeys\":\"factoryId\"}\nRUST_LOG=debug\n",
        )
        .unwrap();
        let app = AppFolder::load(dir.path()).unwrap();
        assert_eq!(app.state_seed, Some(dir.path().join(STATE_FILE)));
        let schema = app.schema.expect("the schema");
        assert_eq!((schema.name.as_str(), schema.content_type.as_str()), ("reading.json", "application/schema+json"));
        assert_eq!(schema.content, r#"{"type":"object"}"#);
        assert_eq!(app.parameters, vec![graph_wide("enrichKeys", "factoryId")]);
        assert_eq!(app.warnings.len(), 1, "{:?}", app.warnings);
        assert!(app.warnings[0].contains(":3: RUST_LOG is not a setting wasmgraph uses"), "{:?}", app.warnings);
    }

    #[test]
    fn a_bad_schema_names_the_line_that_named_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.json"), "{type: object}").unwrap();
        std::fs::write(dir.path().join(ENV_FILE), "# schema\nTK_SCHEMA_CONFIG_PATH=bad.json\n").unwrap();
        let err = AppFolder::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("hostapp.env.list:2: schema file") && err.contains("is not JSON"), "{err}");
        std::fs::write(dir.path().join(ENV_FILE), "TK_SCHEMA_CONFIG_PATH=missing.json\n").unwrap();
        let err = AppFolder::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("hostapp.env.list:1: schema file") && err.contains("missing.json"), "{err}");
    }

    const GRAPH: &str = "metadata:\n  $schema: x\n  name: g\n  version: '1'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\nmoduleConfigurations:\n  - name: enrich\n    parameters:\n      keys: {name: enrichKeys, default: a}\n      mode: {name: mode}\noperations:\n  - {operationType: source, name: source}\n  - {operationType: map, name: enrich, module: m}\n  - {operationType: sink, name: sink}\nconnections:\n  - {from: {name: source}, to: {name: enrich}}\n  - {from: {name: enrich}, to: {name: sink}}\n";

    #[test]
    fn apply_fills_what_nothing_else_set() {
        let dir = tempfile::tempdir().unwrap();
        let graph = dir.path().join("graph.yaml");
        std::fs::write(&graph, GRAPH).unwrap();
        std::fs::write(dir.path().join(STATE_FILE), "[]").unwrap();
        std::fs::write(dir.path().join(DEFAULT_SCHEMA_FILE), "{}").unwrap();
        let params =
            r#"{"enrichKeys": "b,c", "mode": "fast", "nowhere": "x", "enrich": {"extra": "1"}, "ghost": {"k": "v"}}"#;
        std::fs::write(dir.path().join(ENV_FILE), format!("TK_CONFIGURATION_PARAMETERS={params}\n")).unwrap();
        let app = AppFolder::of_graph(&graph).unwrap();
        let source = wasmgraph_connectors::SourceSpec::File(wasmgraph_connectors::file::FileSourceSpec::new("in"));
        let sink =
            wasmgraph_connectors::SinkSpec::File(wasmgraph_connectors::file::FileSinkSpec { path: "out".into() });
        let mut pipeline = Pipeline::new(&graph, ".", source, sink);
        // A value given elsewhere (a test case's params, --param) wins.
        pipeline.parameters.entry("enrich".into()).or_default().insert("mode".into(), "slow".into());
        let mut warnings = app.apply(&mut pipeline).unwrap();
        warnings.sort();
        let values = &pipeline.parameters["enrich"];
        assert_eq!((values["keys"].as_str(), values["mode"].as_str(), values["extra"].as_str()), ("b,c", "slow", "1"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("has no operation named 'ghost'"), "{warnings:?}");
        assert!(warnings[1].contains("no operation of") && warnings[1].contains("'nowhere'"), "{warnings:?}");
        assert_eq!(pipeline.host.app_state_seed, Some(dir.path().join(STATE_FILE)));
        assert_eq!(pipeline.host.module_schemas.len(), 1);
        app.apply(&mut pipeline).unwrap();
        assert_eq!(pipeline.host.module_schemas.len(), 1, "applied twice, the schema is there once");
    }

    #[test]
    fn the_folder_of_a_graph() {
        assert_eq!(AppFolder::dir_of_graph(Path::new("app/tests/../graph.yaml")), Path::new("app"));
        assert_eq!(AppFolder::dir_of_graph(Path::new("tests/../graph.yaml")), Path::new("."));
        assert_eq!(AppFolder::dir_of_graph(Path::new("graph.yaml")), Path::new("."));
        assert_eq!(AppFolder::dir_of_graph(Path::new("../x/./g.yaml")), Path::new("../x"));
        assert_eq!(AppFolder::dir_of_graph(Path::new("/a/b/g.yaml")), Path::new("/a/b"));
    }

    #[test]
    fn tk_schema_config_json_is_used_without_an_env_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DEFAULT_SCHEMA_FILE), "{}").unwrap();
        let app = AppFolder::load(dir.path()).unwrap();
        assert_eq!(app.schema.map(|s| s.name), Some(DEFAULT_SCHEMA_FILE.to_string()));
        assert!(AppFolder::load(&dir.path().join("nothing-here")).unwrap().is_empty());
    }
}

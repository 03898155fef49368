use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use wasmgraph_config::load_graph;

use crate::corpus::schema_verdict;
use crate::util::{data, yaml_files};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("schemas/graph-definition.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// YAML → JSON with saphyr's own loader (not our reader), as an editor's
/// YAML-aware JSON Schema validator would see the file.
fn to_json(text: &str) -> Value {
    use saphyr::{LoadableYamlNode, Scalar, Yaml};
    fn conv(y: &Yaml) -> Value {
        match y {
            Yaml::Value(Scalar::Null) => Value::Null,
            Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
            Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
            Yaml::Value(Scalar::FloatingPoint(f)) => {
                serde_json::Number::from_f64(f.into_inner()).map(Value::Number).unwrap_or(Value::Null)
            }
            Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
            Yaml::Sequence(items) => Value::Array(items.iter().map(conv).collect()),
            Yaml::Mapping(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Yaml::Value(Scalar::String(s)) => s.to_string(),
                            other => format!("{other:?}"),
                        };
                        (key, conv(v))
                    })
                    .collect(),
            ),
            Yaml::Tagged(_, inner) => conv(inner),
            other => panic!("unexpected YAML node {other:?}"),
        }
    }
    let docs = Yaml::load_from_str(text).expect("valid YAML");
    docs.first().map(conv).unwrap_or(Value::Null)
}

/// Graph definitions we ship: tests/data/valid, plus examples/**/graph*.yaml and
/// examples/**/graphs/*.yaml when the repository has them.
fn shipped_graphs() -> Vec<PathBuf> {
    let mut files = yaml_files(&data("valid"));
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let in_graphs_dir = p.parent().and_then(|d| d.file_name()).is_some_and(|d| d == "graphs");
            let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            let test_case = name.ends_with(".test.yaml");
            if yaml && !test_case && (name.starts_with("graph") || in_graphs_dir) {
                out.push(p);
            }
        }
    }
    walk(&repo_root().join("examples"), &mut files);
    files
}

#[test]
fn shipped_graphs_pass_the_validator_and_the_json_schema() {
    let schema = schema();
    let files = shipped_graphs();
    assert!(files.len() >= 5, "{files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        if let Err(errors) = load_graph(file, None, &HashMap::new()) {
            failures.push(format!("validator rejects {}:\n{errors}", file.display()));
        }
        let json = to_json(&text);
        for e in schema.iter_errors(&json) {
            failures.push(format!("JSON Schema rejects {}: {e} at {}", file.display(), e.instance_path()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Structural rules: where the JSON Schema can judge a broken file, it must agree
/// with the validator that it is broken (`# schema: reject`), and must not reject
/// files whose only problem is a graph rule (`# schema: accept`).
#[test]
fn json_schema_agrees_with_the_validator_on_the_broken_corpus() {
    let schema = schema();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in yaml_files(&data("invalid")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let Some(accept) = schema_verdict(&text) else {
            continue;
        };
        checked += 1;
        let valid = schema.is_valid(&to_json(&text));
        if valid != accept {
            let errs: Vec<String> =
                schema.iter_errors(&to_json(&text)).map(|e| format!("{e} at {}", e.instance_path())).collect();
            failures
                .push(format!("{}: JSON Schema says valid={valid}, header says {accept}: {errs:?}", file.display()));
        }
    }
    assert!(checked >= 20, "only {checked} files carry a `# schema:` verdict");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

//! Graph test cases in the format of AIO's local tooling.
//!
//! A case is a `*.test.yaml` file:
//!
//! ```yaml
//! name: "Temperature F to C conversion"
//! graph: "../graph-simple.yaml"         # relative to this file
//! input: "./input"                       # a directory, read by the file source
//! expected: "./expected/expected.json"   # one object, an array, or []
//! timeout: 90000                         # milliseconds
//! select: ["payload"]                    # dotted paths kept
//! ignores: ["payload.humidity"]          # dotted paths dropped, also inside JSON payloads
//! # wasmgraph extensions, all optional:
//! modules: "../operators"                # where module references resolve
//! state: "./state.json"                  # seeds the state store
//! params: {"module-temperature/filter.temperature_lower_bound": "0"}
//! workers: 2
//! ```
//!
//! A single expected object is compared with the *last* output record; an
//! array element by element, in order; `[]` means no output at all. A `payload`
//! that holds JSON is compared as a JSON value, so key order and spacing do not
//! matter, and numbers compare by value (`0` equals `0.0`).

mod compare;
mod paths;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

pub use compare::{compare, Mismatch};
pub use paths::{names_something, normalize, select_paths};

/// A test case file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    name: String,
    graph: String,
    input: String,
    expected: String,
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    select: Vec<String>,
    #[serde(default)]
    ignores: Vec<String>,
    #[serde(default)]
    modules: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    workers: Option<usize>,
}

/// A loaded test case with its paths resolved against the file's directory.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The case file.
    pub file: PathBuf,
    /// Its `name`.
    pub name: String,
    /// The graph definition.
    pub graph: PathBuf,
    /// The input directory.
    pub input: PathBuf,
    /// The expected-output JSON file.
    pub expected_file: PathBuf,
    /// How long the run may take.
    pub timeout: Duration,
    /// Paths kept (all when empty).
    pub select: Vec<String>,
    /// Paths dropped.
    pub ignores: Vec<String>,
    /// Where modules resolve, if the case says.
    pub modules: Option<PathBuf>,
    /// State store seed, if any.
    pub state: Option<PathBuf>,
    /// Parameter values, `OPERATION.KEY` to value.
    pub params: BTreeMap<String, String>,
    /// Worker threads, if the case says.
    pub workers: Option<usize>,
}

/// A case that cannot be loaded or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The case file is malformed.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with line and column where known.
        message: String,
    },
    /// A `select` or `ignores` path names nothing in the expected output nor
    /// in the actual one: a typo (`paylod`) that would compare `{}` with `{}`.
    #[error(
        "{path}: case '{case}': {field} path '{dotted}' matches nothing in the expected or the actual output \
         (a misspelt path makes a test that cannot fail)"
    )]
    UnmatchedPath {
        /// The case file.
        path: String,
        /// The case's name.
        case: String,
        /// `select` or `ignores`.
        field: &'static str,
        /// The path as written.
        dotted: String,
    },
}

impl TestCase {
    /// Load a case file.
    pub fn load(file: &Path) -> Result<TestCase, CaseError> {
        let text = std::fs::read_to_string(file)
            .map_err(|source| CaseError::Io { path: file.display().to_string(), source })?;
        Self::parse(&text, file)
    }

    /// A case from its text; `file` names it in errors and its folder is
    /// where its paths resolve.
    pub fn parse(text: &str, file: &Path) -> Result<TestCase, CaseError> {
        let raw: CaseFile = serde_saphyr::from_str(text)
            .map_err(|e| CaseError::Parse { path: file.display().to_string(), message: e.to_string() })?;
        let base = file.parent().unwrap_or(Path::new("."));
        let rel = |p: &str| base.join(p);
        Ok(TestCase {
            file: file.to_path_buf(),
            name: raw.name,
            graph: rel(&raw.graph),
            input: rel(&raw.input),
            expected_file: rel(&raw.expected),
            timeout: Duration::from_millis(raw.timeout.unwrap_or(60_000)),
            select: raw.select,
            ignores: raw.ignores,
            modules: raw.modules.as_deref().map(rel),
            state: raw.state.as_deref().map(rel),
            params: raw.params,
            workers: raw.workers,
        })
    }

    /// The expected output, as written.
    pub fn expected(&self) -> Result<Value, CaseError> {
        let path = self.expected_file.display().to_string();
        let text = std::fs::read_to_string(&self.expected_file)
            .map_err(|source| CaseError::Io { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|e| CaseError::Parse { path, message: e.to_string() })
    }

    /// Compare `output` (the records the graph wrote, in order, in the file
    /// sink's JSON form) with the expectation. `Ok(())` is a pass.
    pub fn check(&self, output: &[Value]) -> Result<Result<(), Vec<Mismatch>>, CaseError> {
        self.check_with(&self.expected()?, output)
    }

    /// [`TestCase::check`] against `expected` given as a value.
    pub fn check_with(&self, expected: &Value, output: &[Value]) -> Result<Result<(), Vec<Mismatch>>, CaseError> {
        self.check_paths(expected, output)?;
        let shape = |v: &Value| select_paths(&normalize(v), &self.select, &self.ignores);
        Ok(match expected {
            Value::Array(items) => {
                let want: Vec<Value> = items.iter().map(shape).collect();
                let got: Vec<Value> = output.iter().map(shape).collect();
                compare(&Value::Array(want), &Value::Array(got))
            }
            single => match output.last() {
                None => Err(vec![Mismatch { path: String::new(), expected: shape(single), actual: None }]),
                Some(last) => compare(&shape(single), &shape(last)),
            },
        })
    }
}

impl TestCase {
    /// Every `select` and `ignores` path names something in at least one
    /// expected or actual record (when there is any record at all: `[]`
    /// against no output has nothing to name).
    fn check_paths(&self, expected: &Value, output: &[Value]) -> Result<(), CaseError> {
        let expected = match expected {
            Value::Array(items) => items.clone(),
            single => vec![single.clone()],
        };
        let records: Vec<Value> = expected.iter().chain(output).map(normalize).collect();
        if records.is_empty() {
            return Ok(());
        }
        let paths = self.select.iter().map(|p| ("select", p)).chain(self.ignores.iter().map(|p| ("ignores", p)));
        for (field, dotted) in paths {
            if !names_something(&records, dotted) {
                return Err(CaseError::UnmatchedPath {
                    path: self.file.display().to_string(),
                    case: self.name.clone(),
                    field,
                    dotted: dotted.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Every `*.test.yaml` under `paths` (files are taken as they are), sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CaseError> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), CaseError> {
    let io = |source| CaseError::Io { path: dir.display().to_string(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().map_err(io)?.is_dir() {
            // Build outputs and test outputs hold no cases.
            if !matches!(name.as_str(), "target" | "output" | "bin" | "node_modules") && !name.starts_with('.') {
                walk(&path, found)?;
            }
        } else if name.ends_with(".test.yaml") || name.ends_with(".test.yml") {
            found.push(path);
        }
    }
    Ok(())
}

//! Finding and checking a Python operator file before componentize-py sees it.
//!
//! The file is read with the interpreter's own `ast` module (`inspect.py`,
//! nothing of the operator runs), so a syntax error or a class that does not
//! match `--app-type` is reported with the file and line, in words, instead of
//! as a componentize-py backtrace.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::{AppType, BuildError};

/// The script that reads an operator file; see its docstring.
const INSPECT_PY: &str = include_str!("inspect.py");

/// The binding module a file imports when written for componentize-py 0.17
/// and later without `--world-module`.
pub const WIT_WORLD: &str = "wit_world";

/// A checked operator file.
#[derive(Clone, Debug)]
pub struct OperatorFile {
    /// The `.py` file.
    pub file: PathBuf,
    /// Its module name (the file stem): componentize-py's app name and the
    /// name of the built `.wasm`.
    pub module: String,
    /// The operator kind it implements.
    pub app_type: AppType,
    /// The bindings module it imports: `map_impl` (AIO, componentize-py 0.14
    /// naming) or `wit_world`.
    pub world_module: String,
    /// Whether `app_type` was detected (not given).
    pub detected: bool,
}

#[derive(Debug, Deserialize)]
struct Inspection {
    syntax_error: Option<SyntaxErr>,
    #[serde(default)]
    classes: Vec<ClassInfo>,
    #[serde(default)]
    world_modules: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct SyntaxErr {
    line: Option<usize>,
    column: Option<usize>,
    message: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct ClassInfo {
    name: String,
    line: usize,
    bases: Vec<String>,
    methods: std::collections::BTreeMap<String, MethodInfo>,
}

#[derive(Debug, Deserialize)]
struct MethodInfo {
    line: usize,
    params: Vec<String>,
    varargs: bool,
    defaults: usize,
}

impl ClassInfo {
    /// The kind this class implements by its base (`exports.Map`,
    /// `map_impl.exports.Map`, an imported `Map` from an exports module).
    fn base_kind(&self) -> Option<AppType> {
        self.bases.iter().find_map(|base| {
            let mut parts = base.rsplit('.');
            let last = parts.next()?;
            let kind = AppType::from_name(last).filter(|k| k.class_name() == last)?;
            parts.next().filter(|p| *p == "exports").map(|_| kind)
        })
    }

    /// Whether every base is a generated export protocol (so methods missing
    /// here cannot come from a user base class).
    fn only_protocol_bases(&self) -> bool {
        self.bases.iter().all(|b| b.contains("exports.") || b == "object")
    }
}

/// Files that are never the operator: tests, debug copies, generated helpers.
fn is_candidate(name: &str) -> bool {
    name.ends_with(".py")
        && !name.starts_with("test_")
        && !name.ends_with("_test.py")
        && !name.ends_with("_debug.py")
        && !matches!(
            name,
            "setup.py"
                | "conftest.py"
                | "wasmgraph_testing.py"
                | "poll_loop.py"
                | "componentize_py_types.py"
                | "__init__.py"
        )
}

/// Finds the operator file in `dir` and checks it against `requested`.
///
/// The file is `<folder name>.py` when it exists (AIO's layout:
/// `operators/map/map.py`), else the one `.py` file that defines an operator
/// class.
pub fn find(dir: &Path, requested: Option<AppType>) -> Result<OperatorFile, BuildError> {
    let dir_name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let by_name = dir.join(format!("{dir_name}.py"));
    if !dir_name.is_empty() && by_name.is_file() {
        return check(&by_name, requested);
    }

    let mut candidates = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|source| BuildError::Io { what: format!("cannot read {}", dir.display()), source })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_candidate(&name) && entry.path().is_file() {
            candidates.push(entry.path());
        }
    }
    candidates.sort();
    if candidates.is_empty() {
        return Err(BuildError::NotAnOperator {
            dir: dir.to_path_buf(),
            reasons: vec![format!(
                "it has neither a Cargo.toml nor a Python operator file (`{dir_name}.py`, or \
                 one .py file defining e.g. `class Map(exports.Map)`)"
            )],
        });
    }
    if candidates.len() == 1 {
        return check(&candidates[0], requested);
    }
    let mut operators = Vec::new();
    for file in &candidates {
        let found = inspect(file)?;
        if let Some(err) = found.syntax_error {
            return Err(syntax_error(file, &err));
        }
        if found.classes.iter().any(|c| c.base_kind().is_some() || AppType::from_name(&c.name).is_some()) {
            operators.push(file.clone());
        }
    }
    match operators.as_slice() {
        [one] => check(one, requested),
        [] => Err(BuildError::NotAnOperator {
            dir: dir.to_path_buf(),
            reasons: vec![format!(
                "none of its .py files ({}) defines an operator class such as \
                 `class Map(exports.Map)`",
                names(&candidates)
            )],
        }),
        many => Err(BuildError::NotAnOperator {
            dir: dir.to_path_buf(),
            reasons: vec![format!(
                "several .py files define operator classes ({}); name the operator's file \
                 `{dir_name}.py` after its folder, as AIO's builder expects",
                names(many)
            )],
        }),
    }
}

fn names(files: &[PathBuf]) -> String {
    files.iter().filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned())).collect::<Vec<_>>().join(", ")
}

/// Checks one operator file.
pub fn check(file: &Path, requested: Option<AppType>) -> Result<OperatorFile, BuildError> {
    let module = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if module.is_empty() || !module.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(source_error(
            file,
            None,
            format!(
                "`{module}` is not a Python module name; rename the file to use only letters, \
                 digits and `_` (e.g. `{}.py`)",
                module.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            ),
        ));
    }
    for kind in AppType::ALL {
        if module == kind.world_module() || module == WIT_WORLD {
            return Err(source_error(
                file,
                None,
                format!(
                    "the file may not be called `{module}.py`: componentize-py generates a \
                     module of that name; rename it (e.g. `my_{}.py`)",
                    kind.as_str()
                ),
            ));
        }
    }

    let found = inspect(file)?;
    if let Some(err) = &found.syntax_error {
        return Err(syntax_error(file, err));
    }

    // What the file says it is: by class (name or base) and by imported world.
    let mut by_class: Vec<(AppType, &ClassInfo)> = Vec::new();
    for class in &found.classes {
        let by_name = AppType::from_name(&class.name).filter(|k| k.class_name() == class.name);
        if let Some(kind) = class.base_kind().or(by_name) {
            by_class.push((kind, class));
        }
    }
    let by_import: Vec<AppType> = found.world_modules.iter().filter_map(|m| AppType::from_name(m)).collect();
    let world_module = if found.world_modules.iter().any(|m| m == WIT_WORLD) && by_import.is_empty() {
        WIT_WORLD.to_owned()
    } else {
        String::new()
    };

    let (app_type, detected) = match requested {
        Some(kind) => (kind, false),
        None => {
            let mut kinds: Vec<AppType> = by_class.iter().map(|(k, _)| *k).collect();
            kinds.extend(&by_import);
            kinds.sort_by_key(|k| k.as_str());
            kinds.dedup();
            match kinds.as_slice() {
                [one] => (*one, true),
                [] => {
                    return Err(source_error(
                        file,
                        None,
                        "cannot tell which operator kind this file implements: it defines no \
                         class Map, Filter, Branch, Accumulate or Delay; write e.g. \
                         `class Map(exports.Map)` or pass --app-type"
                            .to_owned(),
                    ))
                }
                many => {
                    return Err(source_error(
                        file,
                        None,
                        format!(
                            "the file mixes operator kinds ({}); one Python module implements \
                             one kind: pass --app-type to pick one",
                            many.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
            }
        }
    };

    // The world the file imports must be the one being built.
    if let Some(other) = by_import.iter().find(|k| **k != app_type) {
        return Err(source_error(
            file,
            None,
            format!(
                "the file imports `{}` (the {other} world) but --app-type is {app_type}; build \
                 it with --app-type {other}, or import from `{}`",
                other.world_module(),
                app_type.world_module()
            ),
        ));
    }

    let wanted = app_type.class_name();
    let Some(class) = found.classes.iter().find(|c| c.name == wanted) else {
        let hint = format!(
            "a {app_type} operator is `class {wanted}(exports.{wanted})` with \
             `init(self, configuration)` and `process(self, {})`",
            app_type.process_params().join(", ")
        );
        return Err(match by_class.first() {
            Some((other, class)) => source_error(
                file,
                Some(class.line),
                format!(
                    "class {} is a {other} operator but --app-type is {app_type}; build it with \
                     --app-type {other}, or change the class: {hint}",
                    class.name
                ),
            ),
            None => source_error(
                file,
                None,
                format!("no class {wanted} found (componentize-py looks the export up by that name); {hint}"),
            ),
        });
    };
    if let Some(other) = class.base_kind().filter(|k| *k != app_type) {
        return Err(source_error(
            file,
            Some(class.line),
            format!(
                "class {wanted} subclasses exports.{} (a {other} operator) but --app-type is \
                 {app_type}; subclass exports.{wanted}",
                other.class_name()
            ),
        ));
    }
    check_method(file, class, "init", &["configuration"], app_type)?;
    check_method(file, class, "process", app_type.process_params(), app_type)?;

    let world_module = if world_module.is_empty() { app_type.world_module() } else { world_module };
    Ok(OperatorFile { file: file.to_path_buf(), module, app_type, world_module, detected })
}

/// `name` must exist (unless a user base class may define it) and accept the
/// interface's arguments.
fn check_method(
    file: &Path,
    class: &ClassInfo,
    name: &str,
    params: &[&str],
    app_type: AppType,
) -> Result<(), BuildError> {
    let signature = format!("{name}(self, {})", params.join(", "));
    let Some(method) = class.methods.get(name) else {
        if class.only_protocol_bases() {
            return Err(source_error(
                file,
                Some(class.line),
                format!("class {} has no method {name}; a {app_type} operator defines `def {signature}`", class.name),
            ));
        }
        return Ok(());
    };
    let given = method.params.len().saturating_sub(1); // without self
    let required = given.saturating_sub(method.defaults);
    if method.params.is_empty() || (!method.varargs && given < params.len()) || required > params.len() {
        return Err(source_error(
            file,
            Some(method.line),
            format!(
                "{}.{name}({}) does not match the {app_type} interface, which calls `{signature}`",
                class.name,
                method.params.join(", ")
            ),
        ));
    }
    Ok(())
}

fn inspect(file: &Path) -> Result<Inspection, BuildError> {
    let python = super::toolchain::system_python();
    let out = Command::new(&python).args(["-I", "-c", INSPECT_PY]).arg(file).stdin(Stdio::null()).output().map_err(
        |err| {
            BuildError::NoToolchain(format!(
                "cannot run `{}` to read {} ({err}); install Python 3 or set WASMGRAPH_PYTHON",
                python.display(),
                file.display()
            ))
        },
    )?;
    if !out.status.success() {
        return Err(source_error(
            file,
            None,
            format!("cannot be read: {}", String::from_utf8_lossy(&out.stderr).trim()),
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|err| BuildError::Artifact(format!("reading {} gave unexpected output ({err})", file.display())))
}

fn syntax_error(file: &Path, err: &SyntaxErr) -> BuildError {
    let mut message = format!("syntax error: {}", err.message);
    if !err.text.trim().is_empty() {
        message.push_str(&format!("\n    {}", err.text));
        if let Some(col) = err.column.filter(|c| *c > 0) {
            message.push_str(&format!("\n    {}^", " ".repeat(col - 1)));
        }
    }
    source_error(file, err.line, message)
}

fn source_error(file: &Path, line: Option<usize>, message: String) -> BuildError {
    BuildError::Source { file: file.to_path_buf(), line, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const MAP: &str = "from map_impl import exports\nclass Map(exports.Map):\n    def init(self, configuration):\n        return True\n    def process(self, message):\n        return message\n";

    #[test]
    fn detects_the_kind_from_the_class() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "op.py", MAP);
        let op = check(&file, None).unwrap();
        assert_eq!(op.app_type, AppType::Map);
        assert_eq!(op.world_module, "map_impl");
        assert!(op.detected);
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file =
            write(dir.path(), "op.py", &MAP.replace("def process(self, message):", "def process(self, message)"));
        let err = check(&file, None).unwrap_err().to_string();
        assert!(err.contains("op.py:5: syntax error"), "{err}");
    }

    #[test]
    fn class_that_does_not_match_app_type() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "op.py", MAP);
        let err = check(&file, Some(AppType::Filter)).unwrap_err().to_string();
        assert!(err.contains("imports `map_impl` (the map world) but --app-type is filter"), "{err}");
        let file = write(
            dir.path(),
            "op.py",
            &MAP.replace("from map_impl import exports\n", "from wit_world import exports\n"),
        );
        let err = check(&file, Some(AppType::Filter)).unwrap_err().to_string();
        assert!(err.contains("class Map is a map operator but --app-type is filter"), "{err}");
    }

    #[test]
    fn wrong_process_signature() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "op.py", &MAP.replace("process(self, message)", "process(self)"));
        let err = check(&file, None).unwrap_err().to_string();
        assert!(err.contains("op.py:5: Map.process(self) does not match the map interface"), "{err}");
    }

    #[test]
    fn wit_world_module_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "op.py", &MAP.replace("from map_impl import", "from wit_world import"));
        let op = check(&file, None).unwrap();
        assert_eq!((op.app_type, op.world_module.as_str()), (AppType::Map, "wit_world"));
    }
}

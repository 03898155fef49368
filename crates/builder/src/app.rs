//! Building every operator of an application folder (`wasmgraph build --app
//! DIR`), as AIO's `build --app` does: each Rust crate and Python operator
//! found under the folder is built into its own `bin/<arch>/<mode>/`.
//!
//! An operator is found by its files, without running anything:
//! * a folder whose `Cargo.toml` has a `[package]` with `[lib] crate-type`
//!   naming `cdylib` is a Rust operator;
//! * a folder without `Cargo.toml` in which a `.py` file imports operator
//!   bindings or defines an operator class is a Python operator
//!   ([`crate::python::looks_like_operator`]).
//!
//! The search does not look inside an operator, nor into build output and
//! tool folders (`target`, `bin`, `vendor`, `node_modules`, `__pycache__`,
//! hidden folders), nor into other cargo packages (a shared library crate).

use std::path::{Path, PathBuf};

use crate::{build, BuildError, BuildOptions, BuildOutput, Lang};

/// Folders the search never enters.
const SKIPPED: &[&str] = &["target", "bin", "vendor", "node_modules", "__pycache__"];

/// One operator of the application and how its build went.
#[derive(Debug)]
pub struct AppBuild {
    /// The operator's folder.
    pub dir: PathBuf,
    /// Its language, as found.
    pub lang: Lang,
    /// The build's outcome.
    pub result: Result<BuildOutput, BuildError>,
}

/// The operators under `app`, in path order, with their languages.
pub fn find_operators(app: &Path) -> Result<Vec<(PathBuf, Lang)>, BuildError> {
    if !app.is_dir() {
        return Err(BuildError::NotAnOperator {
            dir: app.to_path_buf(),
            reasons: vec!["it is not a folder (--app takes an application folder)".to_owned()],
        });
    }
    let mut found = Vec::new();
    search(app, &mut found);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

fn search(dir: &Path, found: &mut Vec<(PathBuf, Lang)>) {
    let manifest = dir.join("Cargo.toml");
    if manifest.is_file() {
        match rust_kind(&manifest) {
            CargoKind::Operator => return found.push((dir.to_path_buf(), Lang::Rust)),
            CargoKind::OtherPackage => return,
            CargoKind::Workspace => {}
        }
    } else if crate::python::looks_like_operator(dir) {
        return found.push((dir.to_path_buf(), Lang::Python));
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !name.starts_with('.') && !SKIPPED.contains(&name.as_str()) {
            search(&entry.path(), found);
        }
    }
}

enum CargoKind {
    /// A package whose library is a cdylib.
    Operator,
    /// Any other package (or a manifest that does not parse: not ours to judge).
    OtherPackage,
    /// A manifest without a package (a virtual workspace): look further down.
    Workspace,
}

fn rust_kind(manifest: &Path) -> CargoKind {
    let Ok(table) = std::fs::read_to_string(manifest).unwrap_or_default().parse::<toml::Table>() else {
        return CargoKind::OtherPackage;
    };
    if table.get("package").is_none() {
        return CargoKind::Workspace;
    }
    let cdylib = table
        .get("lib")
        .and_then(|lib| lib.get("crate-type"))
        .and_then(toml::Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
    if cdylib {
        CargoKind::Operator
    } else {
        CargoKind::OtherPackage
    }
}

/// Builds every operator under `app` with `opts` (one after the other;
/// `opts.lang` and `opts.app_type` are ignored: each operator's own are
/// detected). `each` is called before each build with its folder and after
/// it with the outcome. Fails only when `app` holds no operator; each
/// operator's failure is in its [`AppBuild`].
pub fn build_app(
    app: &Path,
    opts: &BuildOptions,
    mut each: impl FnMut(&Path, Option<&Result<BuildOutput, BuildError>>),
) -> Result<Vec<AppBuild>, BuildError> {
    let operators = find_operators(app)?;
    if operators.is_empty() {
        return Err(BuildError::NotAnOperator {
            dir: app.to_path_buf(),
            reasons: vec!["no operator was found under it (a Rust crate with `crate-type = [\"cdylib\"]`, or a \
                 Python operator `<folder>/<folder>.py`)"
                .to_owned()],
        });
    }
    let opts = BuildOptions { lang: None, app_type: None, ..opts.clone() };
    let mut builds = Vec::with_capacity(operators.len());
    for (dir, lang) in operators {
        each(&dir, None);
        let result = build(&dir, &BuildOptions { lang: Some(lang), ..opts.clone() });
        each(&dir, Some(&result));
        builds.push(AppBuild { dir, lang, result });
    }
    Ok(builds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    const OPERATOR: &str = "[package]\nname = \"op\"\nversion = \"0.1.0\"\n[lib]\ncrate-type = [\"cdylib\"]\n";

    #[test]
    fn finds_rust_and_python_operators_and_skips_the_rest() {
        let app = tempfile::tempdir().unwrap();
        write(
            app.path(),
            &[
                ("operators/map/Cargo.toml", OPERATOR),
                ("operators/map/vendor/wasm_graph_sdk/Cargo.toml", OPERATOR),
                ("operators/map/nested/Cargo.toml", OPERATOR),
                ("operators/filter/filter.py", "from filter_impl import exports\n"),
                ("operators/common/Cargo.toml", "[package]\nname = \"common\"\nversion = \"0.1.0\"\n"),
                ("operators/common/inner/Cargo.toml", OPERATOR),
                ("workspace/Cargo.toml", "[workspace]\nmembers = [\"member\"]\n"),
                ("workspace/member/Cargo.toml", OPERATOR),
                ("workspace/target/debug/Cargo.toml", OPERATOR),
                (".hidden/op/Cargo.toml", OPERATOR),
                ("graph.yaml", "metadata: {}\n"),
                ("tools/run.py", "print('not an operator')\n"),
            ],
        );
        let found = find_operators(app.path()).unwrap();
        let relative: Vec<_> = found
            .iter()
            .map(|(dir, lang)| (dir.strip_prefix(app.path()).unwrap().to_string_lossy().into_owned(), *lang))
            .collect();
        assert_eq!(
            relative,
            [
                ("operators/filter".to_owned(), Lang::Python),
                ("operators/map".to_owned(), Lang::Rust),
                ("workspace/member".to_owned(), Lang::Rust),
            ]
        );
    }

    #[test]
    fn an_app_without_operators_is_an_error() {
        let app = tempfile::tempdir().unwrap();
        write(app.path(), &[("graph.yaml", "metadata: {}\n")]);
        let err = build_app(app.path(), &BuildOptions::default(), |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("no operator was found"), "{err}");
        let err = find_operators(&app.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("not a folder"), "{err}");
    }
}

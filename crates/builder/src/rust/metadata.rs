//! Reading the operator crate with `cargo metadata`, and checking that it is one.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::BuildError;

/// What the build needs to know about the crate.
#[derive(Debug, Clone)]
pub struct OperatorCrate {
    /// The folder holding Cargo.toml.
    pub dir: PathBuf,
    pub manifest: PathBuf,
    /// The package name, e.g. `celsius-to-fahrenheit`.
    pub name: String,
    /// The library's name as cargo names its file: `celsius_to_fahrenheit`.
    pub lib_name: String,
    /// Cargo's target directory for this crate (its workspace's, or its own).
    pub target_dir: PathBuf,
    /// The folder of the workspace root manifest (the crate's own folder when
    /// it is not in a workspace): cargo reads `[profile.*]` only from there.
    pub workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    target_directory: PathBuf,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
    #[serde(default)]
    crate_types: Vec<String>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    /// `None` for normal dependencies, `"dev"` or `"build"` otherwise.
    kind: Option<String>,
}

/// Dependencies that make a crate an operator.
const SDK_CRATES: &[&str] = &["wasm_graph_sdk", "wasm-graph-sdk", "wit-bindgen"];

/// Reads and checks the crate in `dir`.
pub fn read(dir: &Path) -> Result<OperatorCrate, BuildError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NotAnOperator {
            dir: dir.to_path_buf(),
            reasons: vec!["it has no Cargo.toml".to_owned()],
        });
    }
    let metadata = cargo_metadata(dir, &manifest)?;
    let manifest = manifest.canonicalize().unwrap_or(manifest);
    let Some(package) = metadata
        .packages
        .iter()
        .find(|p| p.manifest_path.canonicalize().unwrap_or_else(|_| p.manifest_path.clone()) == manifest)
    else {
        return Err(BuildError::NotAnOperator {
            dir: dir.to_path_buf(),
            reasons: vec!["its Cargo.toml is a workspace without a package of its own; pass the \
                 folder of one operator crate"
                .to_owned()],
        });
    };

    let mut reasons = Vec::new();
    let lib = package.targets.iter().find(|t| t.kind.iter().any(|k| k.ends_with("lib")));
    match lib {
        None => reasons.push(
            "it has no library target (an operator is a library with \
             `[lib] crate-type = [\"cdylib\"]`)"
                .to_owned(),
        ),
        Some(lib) => {
            let types = if lib.crate_types.is_empty() { &lib.kind } else { &lib.crate_types };
            if !types.iter().any(|t| t == "cdylib") {
                reasons.push(format!(
                    "its library's crate-type is `{}`, but an operator must be a cdylib (add \
                     `[lib] crate-type = [\"cdylib\"]` to Cargo.toml)",
                    types.join(", ")
                ));
            }
        }
    }
    let uses_sdk = package.dependencies.iter().any(|d| d.kind.is_none() && SDK_CRATES.contains(&d.name.as_str()));
    if !uses_sdk {
        reasons.push(
            "it depends on neither wasm_graph_sdk nor wit-bindgen (add \
             `wasm_graph_sdk` to [dependencies])"
                .to_owned(),
        );
    }
    if !reasons.is_empty() {
        return Err(BuildError::NotAnOperator { dir: dir.to_path_buf(), reasons });
    }
    let lib_name = lib.map(|t| t.name.replace('-', "_")).unwrap_or_default();
    Ok(OperatorCrate {
        dir: dir.to_path_buf(),
        manifest,
        name: package.name.clone(),
        lib_name,
        target_dir: metadata.target_directory,
        workspace_root: metadata.workspace_root,
    })
}

fn cargo_metadata(dir: &Path, manifest: &Path) -> Result<Metadata, BuildError> {
    let mut last_error = String::new();
    // The active cargo first; the Debian one when there is no other.
    for cargo in ["cargo", "/usr/bin/cargo"] {
        let output = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
            .arg(manifest)
            .current_dir(dir)
            .output();
        match output {
            Ok(output) if output.status.success() => {
                return serde_json::from_slice(&output.stdout).map_err(|err| BuildError::Metadata {
                    dir: dir.to_path_buf(),
                    message: format!("unexpected `cargo metadata` output: {err}"),
                });
            }
            Ok(output) => {
                return Err(BuildError::Metadata {
                    dir: dir.to_path_buf(),
                    message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                });
            }
            Err(err) => last_error = format!("cannot run `{cargo}`: {err}"),
        }
    }
    Err(BuildError::Metadata { dir: dir.to_path_buf(), message: last_error })
}

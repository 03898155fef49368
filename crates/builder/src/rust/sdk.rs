//! The SDK for operator crates created outside a wasmgraph checkout.
//!
//! `wasm_graph_sdk` is not on crates.io yet, and an operator crate must build
//! wherever it is kept (another machine, CI) without this repository or the
//! `wasmgraph` binary that created it. So `wasmgraph new` writes the dependency
//! the way it will read once the SDK is published (`wasm_graph_sdk = "0.1.0"`)
//! and vendors the SDK's two packages (`wasm_graph_sdk`, `wasm_graph_sdk_macros`)
//! into the crate's `vendor/` folder, patched in with `[patch.crates-io]`
//! ([`patch_section`]). The vendored packages are what `cargo package` would
//! publish: the sources and WIT files of the SDK this builder was built with,
//! and a manifest with the workspace's settings filled in and no paths
//! ([`published_manifest`]). Once the SDK is on crates.io, deleting `vendor/`
//! and the patch section is all a crate needs.

use std::path::{Path, PathBuf};

use crate::BuildError;

/// One package of the SDK as embedded by `build.rs`.
pub(crate) struct EmbeddedCrate {
    name: &'static str,
    /// Its Cargo.toml as in the workspace (with `*.workspace = true` keys).
    manifest: &'static str,
    /// (path inside the package, contents).
    files: &'static [(&'static str, &'static [u8])],
}

include!(concat!(env!("OUT_DIR"), "/sdk_sources.rs"));

/// The folder, inside an operator crate, that holds the vendored SDK.
pub const VENDOR_DIR: &str = "vendor";

/// The SDK's version (the workspace's), as a dependency on it names it.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// A package written by [`vendor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendoredCrate {
    /// The package name, e.g. `wasm_graph_sdk`.
    pub name: String,
    /// Its folder: `<dest>/<name>`.
    pub dir: PathBuf,
}

/// Writes the SDK's packages into `dest/<package name>/` (replacing what is
/// there), each with its published manifest.
pub fn vendor(dest: &Path) -> Result<Vec<VendoredCrate>, BuildError> {
    let io = |what: String| move |source| BuildError::Io { what, source };
    let mut written = Vec::new();
    for krate in CRATES {
        let dir = dest.join(krate.name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(format!("cannot replace {}", dir.display())))?;
        }
        let manifest = published_manifest(krate.manifest, WORKSPACE_MANIFEST)
            .map_err(|why| BuildError::Artifact(format!("cannot vendor {}: {why}", krate.name)))?;
        for (relative, bytes) in krate.files.iter().copied().chain([("Cargo.toml", manifest.as_bytes())]) {
            let path = dir.join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))?;
            }
            std::fs::write(&path, bytes).map_err(io(format!("cannot write {}", path.display())))?;
        }
        written.push(VendoredCrate { name: krate.name.to_owned(), dir });
    }
    Ok(written)
}

/// The `[patch.crates-io]` section that makes cargo take the SDK from
/// `<vendor_dir>/` (a path relative to the crate's manifest).
pub fn patch_section(vendor_dir: &str) -> String {
    let mut text = format!(
        "# wasm_graph_sdk is not on crates.io yet: `wasmgraph new` put the packages of\n\
         # SDK {} in {vendor_dir}/. Once it is published, delete {vendor_dir}/ and this section.\n\
         [patch.crates-io]\n",
        version()
    );
    for krate in CRATES {
        text.push_str(&format!("{} = {{ path = \"{vendor_dir}/{}\" }}\n", krate.name, krate.name));
    }
    text
}

/// The manifest `cargo package` would publish for a workspace member: keys
/// inherited from `workspace_manifest` (`version.workspace = true`, a
/// dependency's `workspace = true`) filled in, dependency paths removed (each
/// must have a version), dev-dependencies and lints left out (the vendored
/// package carries no tests and is no member of the operator's workspace).
pub fn published_manifest(member_manifest: &str, workspace_manifest: &str) -> Result<String, String> {
    let mut member: toml::Table =
        member_manifest.parse().map_err(|err| format!("its Cargo.toml does not parse: {err}"))?;
    let workspace: toml::Table =
        workspace_manifest.parse().map_err(|err| format!("the workspace's Cargo.toml does not parse: {err}"))?;
    let empty = toml::Table::new();
    let section = |name: &str| {
        workspace.get("workspace").and_then(|w| w.get(name)).and_then(toml::Value::as_table).unwrap_or(&empty)
    };
    let (package_defaults, dependency_defaults) = (section("package"), section("dependencies"));

    let package = member.get_mut("package").and_then(toml::Value::as_table_mut).ok_or("it has no [package]")?;
    for (key, value) in package.iter_mut() {
        if is_inherited(value) {
            *value = package_defaults
                .get(key.as_str())
                .cloned()
                .ok_or_else(|| format!("package.{key} is inherited but the workspace does not set it"))?;
        }
    }
    member.remove("dev-dependencies");
    member.remove("lints");
    resolve_dependencies(&mut member, dependency_defaults)?;
    if let Some(targets) = member.get_mut("target").and_then(toml::Value::as_table_mut) {
        for (_, target) in targets.iter_mut() {
            if let Some(target) = target.as_table_mut() {
                target.remove("dev-dependencies");
                resolve_dependencies(target, dependency_defaults)?;
            }
        }
    }
    let body = toml::to_string(&member).map_err(|err| format!("cannot write its manifest: {err}"))?;
    Ok(format!(
        "# Vendored by `wasmgraph new`: the package as it would be published, with the\n\
         # workspace's settings filled in. Do not edit; see the patch section of the\n\
         # operator's Cargo.toml.\n\n{body}"
    ))
}

fn is_inherited(value: &toml::Value) -> bool {
    value.get("workspace").and_then(toml::Value::as_bool) == Some(true)
}

/// Fills in `[dependencies]` and `[build-dependencies]` of `table`.
fn resolve_dependencies(table: &mut toml::Table, defaults: &toml::Table) -> Result<(), String> {
    for kind in ["dependencies", "build-dependencies"] {
        let Some(dependencies) = table.get_mut(kind).and_then(toml::Value::as_table_mut) else { continue };
        for (name, spec) in dependencies.iter_mut() {
            *spec = published_dependency(name, spec, defaults)?;
        }
    }
    Ok(())
}

/// One dependency as published: the workspace's entry merged with the
/// member's additions (features are added to the workspace's), without `path`.
fn published_dependency(name: &str, spec: &toml::Value, defaults: &toml::Table) -> Result<toml::Value, String> {
    let as_table = |value: &toml::Value| match value {
        toml::Value::String(version) => Ok(toml::Table::from_iter([("version".to_owned(), value_of(version))])),
        toml::Value::Table(table) => Ok(table.clone()),
        _ => Err(format!("dependency `{name}` is neither a version nor a table")),
    };
    let mut merged = if is_inherited(spec) {
        let base = defaults
            .get(name)
            .ok_or_else(|| format!("dependency `{name}` is inherited but the workspace does not list it"))?;
        let mut base = as_table(base)?;
        for (key, value) in as_table(spec)? {
            match (key.as_str(), base.get_mut("features").and_then(toml::Value::as_array_mut), value) {
                ("workspace", _, _) => {}
                ("features", Some(features), toml::Value::Array(more)) => {
                    features.extend(more.into_iter().filter(|f| !features.contains(f)).collect::<Vec<_>>());
                }
                (_, _, value) => {
                    base.insert(key, value);
                }
            }
        }
        base
    } else {
        as_table(spec)?
    };
    merged.remove("path");
    if !merged.contains_key("version") {
        return Err(format!("dependency `{name}` has no version (a path dependency needs one to be published)"));
    }
    Ok(toml::Value::Table(merged))
}

fn value_of(text: &str) -> toml::Value {
    toml::Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKSPACE: &str = r#"
[workspace.package]
version = "0.3.0"
edition = "2021"
license = "Apache-2.0"

[workspace.dependencies]
wit-bindgen = { version = "0.46", default-features = false, features = ["macros"] }
macros = { path = "crates/macros", version = "=0.3.0" }
serde = "1"
"#;

    fn published(member: &str) -> toml::Table {
        published_manifest(member, WORKSPACE).unwrap_or_else(|why| panic!("{why}")).parse().unwrap()
    }

    #[test]
    fn inherited_keys_are_filled_in_and_paths_removed() {
        let out = published(
            "[package]\nname = \"sdk\"\nversion.workspace = true\nedition.workspace = true\n\
             license.workspace = true\n\n[dependencies]\nwit-bindgen = { workspace = true, features = [\"realloc\"] }\n\
             macros.workspace = true\nlocal = { path = \"../local\", version = \"1.2\" }\n\n\
             [target.'cfg(unix)'.dependencies]\nserde = { workspace = true, optional = true }\n\n\
             [dev-dependencies]\ntrybuild = \"1\"\n\n[lints]\nworkspace = true\n",
        );
        let package = &out["package"];
        assert_eq!(package["version"].as_str(), Some("0.3.0"));
        assert_eq!(package["license"].as_str(), Some("Apache-2.0"));
        let deps = &out["dependencies"];
        assert_eq!(deps["wit-bindgen"]["version"].as_str(), Some("0.46"));
        assert_eq!(deps["wit-bindgen"]["default-features"].as_bool(), Some(false));
        let features: Vec<_> = deps["wit-bindgen"]["features"].as_array().unwrap().iter().map(|f| f.as_str()).collect();
        assert_eq!(features, [Some("macros"), Some("realloc")]);
        assert!(deps["wit-bindgen"].get("workspace").is_none());
        assert_eq!(deps["macros"].as_table().unwrap().keys().collect::<Vec<_>>(), ["version"]);
        assert_eq!(deps["local"].as_table().unwrap().keys().collect::<Vec<_>>(), ["version"]);
        let serde = &out["target"]["cfg(unix)"]["dependencies"]["serde"];
        assert_eq!((serde["version"].as_str(), serde["optional"].as_bool()), (Some("1"), Some(true)));
        assert!(out.get("dev-dependencies").is_none() && out.get("lints").is_none());
    }

    #[test]
    fn what_cannot_be_published_is_refused() {
        let path_only = "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nb = { path = \"../b\" }\n";
        let why = published_manifest(path_only, WORKSPACE).unwrap_err();
        assert!(why.contains("`b` has no version"), "{why}");
        let unknown = "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[dependencies]\nnope.workspace = true\n";
        assert!(published_manifest(unknown, WORKSPACE).unwrap_err().contains("does not list it"));
        let no_key = "[package]\nname = \"a\"\nversion = \"1.0.0\"\nreadme.workspace = true\n";
        assert!(published_manifest(no_key, WORKSPACE).unwrap_err().contains("package.readme"));
    }

    #[test]
    fn the_embedded_sdk_is_vendored_with_its_wit() {
        let dest = tempfile::tempdir().unwrap();
        let crates = vendor(dest.path()).unwrap();
        let names: Vec<_> = crates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["wasm_graph_sdk_macros", "wasm_graph_sdk"]);
        let sdk = dest.path().join("wasm_graph_sdk");
        assert!(sdk.join("src/lib.rs").is_file() && sdk.join("wit/processor.wit").is_file());
        let manifest: toml::Table = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap().parse().unwrap();
        assert_eq!(manifest["package"]["version"].as_str(), Some(version()));
        let macros = &manifest["dependencies"]["wasm_graph_sdk_macros"];
        assert_eq!(macros["version"].as_str(), Some(format!("={}", version()).as_str()));
        let patch = patch_section(VENDOR_DIR);
        assert!(patch.contains("wasm_graph_sdk = { path = \"vendor/wasm_graph_sdk\" }"), "{patch}");
    }
}

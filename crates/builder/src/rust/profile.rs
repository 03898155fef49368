//! Release-profile defaults for operator builds.
//!
//! An operator's per-record cost is mostly its own code (JSON parsing,
//! allocation, formatting) plus the component boundary; cargo's default
//! release profile compiles it in 16 codegen units without link-time
//! optimisation, so serde and the SDK's glue are not inlined across crates.
//! Measured with `bench-operator --only f2c` on the example F->C map: fat LTO
//! and one codegen unit take about 10 % off each record and shrink the
//! component about 3x (2.8 MB -> 0.96 MB, which also makes loading and
//! hashing it at start cheaper), for about 2 s more per incremental build.
//!
//! These are defaults, not overrides: a setting the user made wins. Cargo
//! reads `[profile.release]` only from the workspace root manifest, and a
//! `CARGO_PROFILE_RELEASE_*` variable overrides the manifest, so the builder
//! sets a variable only when neither the environment nor that manifest
//! already says something about the key.

use std::path::Path;

/// One profile key the builder sets by default.
struct ProfileDefault {
    /// The key under `[profile.release]`.
    key: &'static str,
    /// Cargo's environment variable for it.
    env: &'static str,
    value: &'static str,
}

const DEFAULTS: &[ProfileDefault] = &[
    ProfileDefault { key: "lto", env: "CARGO_PROFILE_RELEASE_LTO", value: "fat" },
    ProfileDefault { key: "codegen-units", env: "CARGO_PROFILE_RELEASE_CODEGEN_UNITS", value: "1" },
];

/// The environment variables to give a release build of a crate whose
/// workspace root is `workspace_root`: `(variable, value, "key = value")`.
/// Empty when the user configured every key already.
pub fn release_defaults(workspace_root: &Path) -> Vec<(&'static str, &'static str, String)> {
    let configured = configured_keys(&workspace_root.join("Cargo.toml"));
    DEFAULTS
        .iter()
        .filter(|d| std::env::var_os(d.env).is_none() && !configured.iter().any(|k| k == d.key))
        .map(|d| (d.env, d.value, format!("{} = {}", d.key, d.value)))
        .collect()
}

/// The keys the manifest sets under `[profile.release]`. A manifest that
/// cannot be read or parsed counts as setting nothing: cargo itself reports
/// what is wrong with it when the build runs.
fn configured_keys(manifest: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(manifest) else { return Vec::new() };
    let Ok(table) = text.parse::<toml::Table>() else { return Vec::new() };
    table
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(|r| r.as_table())
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(manifest: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        dir
    }

    fn keys(defaults: &[(&str, &str, String)]) -> Vec<String> {
        defaults.iter().map(|(_, _, label)| label.clone()).collect()
    }

    #[test]
    fn plain_manifest_gets_lto_and_one_codegen_unit() {
        let root = root_with("[package]\nname = \"op\"\nversion = \"0.1.0\"\n");
        let defaults = release_defaults(root.path());
        assert_eq!(keys(&defaults), ["lto = fat", "codegen-units = 1"]);
        assert_eq!(defaults[0].0, "CARGO_PROFILE_RELEASE_LTO");
    }

    #[test]
    fn keys_the_user_set_are_left_alone() {
        let root = root_with("[package]\nname = \"op\"\nversion = \"0.1.0\"\n\n[profile.release]\nlto = false\n");
        assert_eq!(keys(&release_defaults(root.path())), ["codegen-units = 1"]);
        let root = root_with("[profile.release]\nlto = \"thin\"\ncodegen-units = 4\n");
        assert!(release_defaults(root.path()).is_empty());
    }

    #[test]
    fn other_profiles_do_not_count() {
        let root = root_with("[profile.dev]\nlto = false\n[profile.release.package.foo]\nopt-level = 1\n");
        assert_eq!(keys(&release_defaults(root.path())), ["lto = fat", "codegen-units = 1"]);
    }

    #[test]
    fn unreadable_manifest_gets_the_defaults() {
        let root = root_with("this is = = not toml");
        assert_eq!(release_defaults(root.path()).len(), 2);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(release_defaults(empty.path()).len(), 2);
    }
}

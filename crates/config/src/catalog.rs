//! Finding the module a graph names, and what it exports.

use std::path::{Path, PathBuf};

use crate::OperatorKind;

/// What validation needs to know about modules from outside the graph file.
///
/// [`ModuleDirectory`] implements it from a local folder (reading exports with
/// `wasmparser`); a registry-backed catalog or the host (which loads components
/// with wasmtime anyway) can implement it too.
pub trait ModuleCatalog {
    /// Finds the component file for a `module:` reference, or says why not
    /// (listing what was tried).
    fn resolve(&self, reference: &str) -> Result<PathBuf, String>;

    /// The operator interfaces of `wasm-graph:processor@1.1.x` the component at
    /// `path` exports, or why they cannot be read.
    fn exports(&self, path: &Path) -> Result<Vec<OperatorKind>, String>;
}

/// The parts of a module reference: `<registry path>/<name>:<version>` or a plain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleReference {
    /// The last path segment before `:` or `@`, e.g. `temperature`.
    pub name: String,
    /// The tag, e.g. `1.0.0`, if any.
    pub version: Option<String>,
}

impl ModuleReference {
    /// Splits a reference. `azure-samples/explore-iot-operations/temperature:1.0.0`
    /// gives name `temperature`, version `1.0.0`; `registry:5000/ns/x@sha256:..` gives `x`.
    pub fn parse(reference: &str) -> Option<Self> {
        let reference = reference.trim();
        // A digest (`@sha256:...`) says nothing about the file name.
        let reference = reference.split('@').next().unwrap_or(reference);
        let last = reference.rsplit('/').next().unwrap_or(reference);
        let (name, version) = match last.split_once(':') {
            Some((n, v)) if !v.is_empty() => (n, Some(v.to_string())),
            Some((n, _)) => (n, None),
            None => (last, None),
        };
        if name.is_empty() || name == "." || name == ".." {
            return None;
        }
        Some(ModuleReference { name: name.to_string(), version })
    }
}

/// Resolves module references in one local folder.
///
/// For `…/<name>:<version>` or a plain `<name>` it tries, in this order:
/// 1. `<dir>/<name>-<version>.wasm` (when there is a version)
/// 2. `<dir>/<name>.wasm`
/// 3. `<dir>/<name>/bin/<arch>/release/<name>.wasm`, then `…/debug/…` (the layout
///    AIO's builder writes; arch defaults to `x86_64`)
/// 4. `<dir>/<name>/bin/*/release/<name>.wasm`, then `<dir>/<name>/bin/*/*/<name>.wasm`
///    (any other arch or mode, in name order)
///
/// Each step also tries the name with `-` replaced by `_` (Cargo writes `my_op.wasm`
/// for crate `my-op`). A reference ending in `.wasm` is a path, relative to the folder.
#[derive(Debug, Clone)]
pub struct ModuleDirectory {
    dir: PathBuf,
    arch: String,
}

impl ModuleDirectory {
    /// A catalog over `dir`, preferring builds for `x86_64`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ModuleDirectory { dir: dir.into(), arch: "x86_64".into() }
    }

    /// Prefers builds in `bin/<arch>/` over other architectures.
    pub fn with_arch(mut self, arch: impl Into<String>) -> Self {
        self.arch = arch.into();
        self
    }

    /// The folder searched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every path `resolve` would try for `reference`, in order (wildcard steps are
    /// expanded against what is on disk).
    pub fn candidates(&self, reference: &str) -> Vec<PathBuf> {
        let trimmed = reference.trim();
        if trimmed.ends_with(".wasm") {
            return vec![self.dir.join(trimmed)];
        }
        let Some(r) = ModuleReference::parse(trimmed) else {
            return Vec::new();
        };
        let mut names = vec![r.name.clone()];
        let underscored = r.name.replace('-', "_");
        if underscored != r.name {
            names.push(underscored);
        }
        let mut out = Vec::new();
        if let Some(v) = &r.version {
            for n in &names {
                out.push(self.dir.join(format!("{n}-{v}.wasm")));
            }
        }
        for n in &names {
            out.push(self.dir.join(format!("{n}.wasm")));
        }
        for mode in ["release", "debug"] {
            for folder in &names {
                for n in &names {
                    out.push(self.dir.join(folder).join("bin").join(&self.arch).join(mode).join(format!("{n}.wasm")));
                }
            }
        }
        for folder in &names {
            let bin = self.dir.join(folder).join("bin");
            let mut arches = sorted_subdirs(&bin);
            arches.retain(|a| a.file_name().is_some_and(|f| f != self.arch.as_str()));
            for preferred in [Some("release"), None] {
                for arch in &arches {
                    let modes = match preferred {
                        Some(m) => vec![arch.join(m)],
                        None => sorted_subdirs(arch),
                    };
                    for mode in modes {
                        for n in &names {
                            let p = mode.join(format!("{n}.wasm"));
                            if !out.contains(&p) {
                                out.push(p);
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

fn sorted_subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

impl ModuleCatalog for ModuleDirectory {
    fn resolve(&self, reference: &str) -> Result<PathBuf, String> {
        let candidates = self.candidates(reference);
        if candidates.is_empty() {
            return Err(format!(
                "`{reference}` is not a module reference; write `<registry path>/<name>:<version>` or a plain name"
            ));
        }
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return Ok(found.clone());
        }
        let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        Err(format!(
            "no module file for `{reference}` in {}; tried: {}. Build the module into one of these paths or pass another --modules folder",
            self.dir.display(),
            tried.join(", ")
        ))
    }

    fn exports(&self, path: &Path) -> Result<Vec<OperatorKind>, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        component_exports(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The `wasm-graph:processor@1.1.x` operator interfaces a component exports
/// (top-level exports only, not those of nested components).
pub fn component_exports(bytes: &[u8]) -> Result<Vec<OperatorKind>, String> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut depth = 0usize;
    let mut kinds = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("not a valid WebAssembly component ({e})"))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err("is a core WebAssembly module, not a component; build it for wasm32-wasip2 (`wasmgraph build`) so it exports the operator interface".into());
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| format!("bad export section ({e})"))?;
                    if let Some(kind) = OperatorKind::from_export_name(export.name.name) {
                        if !kinds.contains(&kind) {
                            kinds.push(kind);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    kinds.sort();
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = ModuleReference::parse("azure-samples/explore-iot-operations/temperature:1.0.0").unwrap();
        assert_eq!(r.name, "temperature");
        assert_eq!(r.version.as_deref(), Some("1.0.0"));
        let r = ModuleReference::parse("filter").unwrap();
        assert_eq!((r.name.as_str(), r.version), ("filter", None));
        let r = ModuleReference::parse("reg.io:5000/ns/x@sha256:abcd").unwrap();
        assert_eq!(r.name, "x");
        assert!(ModuleReference::parse("a/").is_none());
    }

    #[test]
    fn not_a_component() {
        assert!(component_exports(b"not wasm").is_err());
        // An empty core module.
        let core = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        assert!(component_exports(&core).unwrap_err().contains("core WebAssembly module"));
    }
}

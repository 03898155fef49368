use std::path::{Path, PathBuf};

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

/// The `*.yaml` files directly in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    v.sort();
    v
}

/// A component whose top level exports an (empty) instance under each given
/// `wasm-graph:processor/<kind>@1.1.0` name.
pub fn component(kinds: &[&str]) -> Vec<u8> {
    use wasm_encoder::{Component, ComponentExportKind, ComponentExportSection, ComponentInstanceSection};
    let mut c = Component::new();
    let mut instances = ComponentInstanceSection::new();
    for _ in kinds {
        instances.export_items::<&str, _>(Vec::<(&str, ComponentExportKind, u32)>::new());
    }
    if !kinds.is_empty() {
        c.section(&instances);
    }
    let mut exports = ComponentExportSection::new();
    for (i, k) in kinds.iter().enumerate() {
        exports.export(
            format!("wasm-graph:processor/{k}@1.1.0").as_str(),
            ComponentExportKind::Instance,
            i as u32,
            None,
        );
    }
    if !kinds.is_empty() {
        c.section(&exports);
    }
    c.finish()
}

/// An empty core module (not a component).
pub fn core_module() -> Vec<u8> {
    wasm_encoder::Module::new().finish()
}

pub const ALL_KINDS: &[&str] = &["map", "filter", "branch", "accumulate", "delay"];

/// A module folder: `temperature.wasm` (all five exports), `only-map.wasm`, `core.wasm`.
pub fn module_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("temperature.wasm"), component(ALL_KINDS)).unwrap();
    std::fs::write(dir.path().join("only-map.wasm"), component(&["map"])).unwrap();
    std::fs::write(dir.path().join("core.wasm"), core_module()).unwrap();
    dir
}

use std::collections::HashMap;
use std::fs;

use wasmgraph_config::{component_exports, load_graph, ModuleCatalog, ModuleDirectory, OperatorKind, Rule};

use crate::util::{component, core_module, data, ALL_KINDS};

#[test]
fn reads_operator_exports_of_a_component() {
    assert_eq!(
        component_exports(&component(&["map", "filter"])).unwrap(),
        vec![OperatorKind::Map, OperatorKind::Filter]
    );
    assert_eq!(component_exports(&component(ALL_KINDS)).unwrap(), OperatorKind::ALL.to_vec());
    assert_eq!(component_exports(&component(&[])).unwrap(), vec![]);
    assert!(component_exports(&core_module()).unwrap_err().contains("core WebAssembly module"));
    assert!(component_exports(b"\0asm garbage").is_err());
    assert_eq!(OperatorKind::from_export_name("wasm-graph:processor/map@1.1.3"), Some(OperatorKind::Map));
    assert_eq!(OperatorKind::from_export_name("wasm-graph:processor/map@2.0.0"), None);
    assert_eq!(OperatorKind::from_export_name("other:pkg/map@1.1.0"), None);
}

#[test]
fn resolution_order_in_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cat = ModuleDirectory::new(d);
    let write = |rel: &str| {
        let p = d.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, component(&["map"])).unwrap();
        p
    };

    // Nothing there: the error lists every path tried.
    let err = cat.resolve("acme/ops/window:1.0.0").unwrap_err();
    for tried in [
        "window-1.0.0.wasm",
        "window.wasm",
        "window/bin/x86_64/release/window.wasm",
        "window/bin/x86_64/debug/window.wasm",
    ] {
        assert!(err.contains(&d.join(tried).display().to_string()), "{err}");
    }

    // Operator folders: another arch only in debug, then x86_64 debug, then release.
    let other = write("window/bin/aarch64/debug/window.wasm");
    assert_eq!(cat.resolve("acme/ops/window:1.0.0").unwrap(), other);
    let debug = write("window/bin/x86_64/debug/window.wasm");
    assert_eq!(cat.resolve("window").unwrap(), debug);
    let release = write("window/bin/x86_64/release/window.wasm");
    assert_eq!(cat.resolve("window").unwrap(), release);
    assert_eq!(ModuleDirectory::new(d).with_arch("aarch64").resolve("window").unwrap(), other);
    // A flat file beats the folder; the versioned file beats the plain one.
    let plain = write("window.wasm");
    assert_eq!(cat.resolve("acme/ops/window:1.0.0").unwrap(), plain);
    let versioned = write("window-1.0.0.wasm");
    assert_eq!(cat.resolve("acme/ops/window:1.0.0").unwrap(), versioned);
    assert_eq!(cat.resolve("acme/ops/window:2.0.0").unwrap(), plain);
    assert_eq!(cat.resolve("window").unwrap(), plain);

    // Cargo's underscores; explicit paths.
    let under = write("my_op.wasm");
    assert_eq!(cat.resolve("reg/my-op:0.1.0").unwrap(), under);
    assert_eq!(cat.resolve("my_op.wasm").unwrap(), under);
    assert!(cat.resolve("").is_err());
    assert!(cat.resolve("a/").is_err());
}

#[test]
fn graph_modules_resolve_and_export_what_they_need() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("temperature.wasm"), component(&["map"])).unwrap();
    let cat = ModuleDirectory::new(dir.path());
    let graph = load_graph(&data("valid/graph-simple.yaml"), Some(&cat), &HashMap::new()).unwrap();
    let node = graph.find("module-temperature/map").unwrap();
    let m = node.module.as_ref().unwrap();
    assert_eq!(m.reference, "wasmgraph/tests/temperature:1.0.0");
    assert_eq!(m.path.as_deref(), Some(dir.path().join("temperature.wasm").as_path()));

    // The complex graph: several modules missing, one with the wrong exports; each
    // unresolved reference is reported once, at its first use.
    let errors = load_graph(&data("valid/graph-complex.yaml"), Some(&cat), &HashMap::new()).unwrap_err();
    let unresolved: Vec<_> = errors.iter().filter(|e| e.rule == Rule::UnresolvedModule).collect();
    assert_eq!(unresolved.len(), 6, "{errors}"); // window, snapshot, format, humidity, collection, enrichment
    let missing: Vec<_> = errors.iter().filter(|e| e.rule == Rule::MissingExport).collect();
    // temperature exports only map: branch, filter and accumulate lack their exports.
    assert_eq!(missing.len(), 3, "{errors}");
    assert!(missing.iter().any(|e| e.operation.as_deref() == Some("module-temperature/filter")
        && e.message.contains("wasm-graph:processor/filter@1.1.0")));
}

/// A catalog from somewhere else (the host will provide one backed by wasmtime).
#[test]
fn custom_catalogs_plug_in() {
    struct Everything;
    impl ModuleCatalog for Everything {
        fn resolve(&self, reference: &str) -> Result<std::path::PathBuf, String> {
            Ok(format!("/virtual/{reference}.wasm").into())
        }
        fn exports(&self, _: &std::path::Path) -> Result<Vec<OperatorKind>, String> {
            Ok(OperatorKind::ALL.to_vec())
        }
    }
    let g = load_graph(&data("valid/graph-complex.yaml"), Some(&Everything), &HashMap::new()).unwrap();
    assert!(g.nodes().iter().filter(|n| n.module.is_some()).all(|n| n.module.as_ref().unwrap().path.is_some()));
}

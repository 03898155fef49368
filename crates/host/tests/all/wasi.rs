//! WASI 0.2 imports of any 0.2.x patch version link: componentize-py 0.14
//! imports `@0.2.0`, later ones `@0.2.9`, Rust's wasip2 target `@0.2.6` here,
//! while wasmtime-wasi 48 defines `@0.2.12`.

use wasmgraph_host::{Operator, OperatorConfig, OperatorKind};

use crate::support::*;

/// The passthrough fixture with every `@0.2.6` import renamed to `@0.2.<patch>`
/// (same length, so the binary stays valid; the interfaces are identical).
fn with_wasi_version(patch: &str) -> Vec<u8> {
    let bytes = std::fs::read(fixture("passthrough")).unwrap();
    let from = b"@0.2.6";
    let to = format!("@0.2.{patch}");
    assert_eq!(to.len(), from.len());
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let mut replaced = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to.as_bytes());
            i += from.len();
            replaced += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    assert!(replaced > 0, "the fixture imports no WASI @0.2.6 interfaces");
    out
}

#[test]
fn wasi_0_2_0_and_0_2_9_imports_link() {
    let t = runtime();
    for patch in ["0", "9"] {
        let bytes = with_wasi_version(patch);
        let name = format!("wasi:cli/stdout@0.2.{patch}");
        assert!(bytes.windows(name.len()).any(|w| w == name.as_bytes()));
        let module = t.rt.load_bytes(&format!("passthrough-wasi-0.2.{patch}.wasm"), &bytes).unwrap();
        let config = OperatorConfig {
            operation: format!("wasi-{patch}"),
            kind: OperatorKind::Map,
            properties: vec![],
            schemas: vec![],
        };
        let mut op = Operator::instantiate(&t.rt, &module, config).unwrap();
        assert_eq!(payload_text(&op.map(&message("linked")).unwrap()), "linked");
    }
}

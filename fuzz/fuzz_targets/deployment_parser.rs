//! wasmgraph deployment files (`kind: Deployment`): any text loads or is
//! refused with an error naming the file, never a panic. The text is written
//! to a file (the loader resolves paths relative to it); inputs that could
//! name a registry are skipped, so no run reaches the network.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = common::offline_text(data) else { return };
    let file = common::write("deployment.yaml", &format!("kind: Deployment\n{text}"));
    let _ = wasmgraph_deployment::load_in(&file, None, Some(&common::dir().join("cache")));
});

//! AIO `DataflowGraph` manifests with their companion file (endpoints,
//! artifacts): any pair of texts loads or is refused with an error naming a
//! file, never a panic. Input: the manifest, then optionally
//! `\n---companion---\n` and the companion. Inputs that could name a registry
//! are skipped, so no run reaches the network.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = common::offline_text(data) else { return };
    let (manifest, companion) = text.split_once("\n---companion---\n").unwrap_or((text, ""));
    let file = common::write("dataflowgraph.yaml", &format!("kind: DataflowGraph\n{manifest}"));
    let endpoints = common::write("endpoints.yaml", companion);
    let _ = wasmgraph_deployment::load_in(&file, Some(&endpoints), Some(&common::dir().join("cache")));
});

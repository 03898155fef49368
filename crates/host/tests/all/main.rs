//! Integration tests of the component host against real guest components built
//! from `crates/test-guests` (on demand, via `wasmgraph-builder`).

mod cache;
mod failures;
mod host_apis;
mod kinds;
mod map;
mod measure;
mod support;
mod wasi;

//! Integration tests of wasmgraph-config: one binary, one module per concern.

/// Helpers: data paths, generated components, a module folder.
mod util;

/// What the engine reads: order, edges, properties, schemas.
mod api;
/// Every file of tests/data/invalid yields exactly the errors its header expects.
mod corpus;
/// Module resolution in a folder and export checking.
mod modules;
/// Truncated, mistyped, empty, binary input: errors, never panics.
mod robustness;
/// Valid graphs pass both the Rust validator and the JSON Schema.
mod valid;

//! The graph rules of DESIGN §2, checked on a decoded definition. Every problem is
//! collected; checks of the graph's shape (cycles, reachability, dead ends, a
//! source and a sink) run only once every operation and connection could be read,
//! so that one typo does not also show up as three unreachable operations.
//!
//! [`validate`] takes the steps in this order, each in its own module, and the
//! order matters only for problems reported at the same position (they are listed
//! in the order found):
//! 1. versions (here), then names: schemas, operations, parameter entries
//!    ([`names`]);
//! 2. connections: endpoints, arms, one connection per output and input, then the
//!    arms of every branch ([`connections`]);
//! 3. the graph's shape ([`shape`]), only when every connection could be read;
//! 4. modules and their exports, given a catalog ([`modules`]);
//! 5. the nodes of the checked graph with their `init` properties ([`nodes`]).

mod connections;
mod modules;
mod names;
mod nodes;
mod shape;

use crate::catalog::ModuleCatalog;
use crate::decode::DecodeInfo;
use crate::error::{Diagnostics, Rule};
use crate::graph::{Graph, ParameterValues};
use crate::model::GraphDefinition;

/// The `apiVersion` values this runtime implements.
pub const SUPPORTED_API_VERSIONS: &[&str] = &["1.1.0"];
/// The `runtimeVersion` values this runtime implements.
pub const SUPPORTED_RUNTIME_VERSIONS: &[&str] = &["1.1.0"];

/// Checks `def` against every rule, reporting each problem to `d`, and builds the
/// graph when there is none. `decode_clean`: decoding reported no problem, so every
/// connection of the file is in `def` (otherwise the checks that need them all are
/// skipped); `info` says which operations decoding left out.
pub(crate) fn validate(
    def: &GraphDefinition,
    info: &DecodeInfo,
    decode_clean: bool,
    catalog: Option<&dyn ModuleCatalog>,
    values: &ParameterValues,
    d: &mut Diagnostics,
) -> Option<Graph> {
    check_versions(def, d);
    let schemas = names::schemas(def, d);
    let ops = names::Operations::index(def, d);
    let parameters = names::parameters(def, &ops, info, d);

    let mut wiring = connections::Wiring::new(decode_clean);
    for c in &def.connections {
        wiring.connect(c, def, &ops, &schemas, info, d);
    }
    if wiring.complete {
        // Only when every connection could be read: one that could not may be the arm's.
        connections::check_branch_arms(def, &ops, &wiring, d);
        shape::check_shape(def, &ops, &wiring.edges, d);
    }
    let module_paths = match catalog {
        Some(catalog) => modules::check_modules(&ops, catalog, d),
        None => Default::default(),
    };
    let nodes = nodes::build_nodes(&ops, &parameters, &wiring.edges, &schemas, &module_paths, values, d);

    if !d.list.is_empty() {
        return None;
    }
    let order = shape::topological_order(ops.len(), &wiring.edges)?;
    Some(Graph {
        file: def.file.clone(),
        metadata: def.metadata.clone(),
        features: def.module_requirements.features.clone(),
        nodes,
        order,
        connections: wiring.edges.len(),
    })
}

fn check_versions(def: &GraphDefinition, d: &mut Diagnostics) {
    let r = &def.module_requirements;
    for (key, v, supported) in [
        ("apiVersion", &r.api_version, SUPPORTED_API_VERSIONS),
        ("runtimeVersion", &r.runtime_version, SUPPORTED_RUNTIME_VERSIONS),
    ] {
        if !supported.contains(&v.value.as_str()) {
            d.push(
                v.pos,
                Rule::UnsupportedVersion,
                format!(
                    "{key} \"{}\" is not supported; wasmgraph implements wasm-graph:processor {}: set `{key}: \"{}\"` (and build modules against that version)",
                    v.value, supported[0], supported[0]
                ),
            );
        }
    }
}

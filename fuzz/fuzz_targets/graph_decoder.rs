//! Graph definitions: any bytes decode or are refused with an error, never a
//! panic; a decoded definition validates or is refused the same way, and
//! every operation's init properties can be asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmgraph_config::{GraphDefinition, ParameterValues};

fuzz_target!(|data: &[u8]| {
    let file = std::path::Path::new("fuzz-graph.yaml");
    let Ok(def) = GraphDefinition::from_bytes(data, file) else { return };
    let _ = def.validate(None, &ParameterValues::default());
    for c in &def.module_configurations {
        let _ = def.init_properties(&c.name.value, &Default::default());
    }
});

//! Graph definitions: the YAML files that say which operations a data flow graph
//! has and how they connect (DESIGN §2, the format of Azure IoT Operations' data
//! flow graphs).
//!
//! Reading a file gives every problem at once, each as `file:line:column: message`
//! where the message says what to change:
//!
//! ```no_run
//! use std::collections::HashMap;
//! use wasmgraph_config::{load_graph, ModuleDirectory};
//!
//! let modules = ModuleDirectory::new("modules");
//! match load_graph("graph.yaml".as_ref(), Some(&modules), &HashMap::new()) {
//!     Ok(graph) => {
//!         for node in graph.topological_order() {
//!             println!("{} ({}) {:?}", node.name, node.kind, node.properties);
//!         }
//!     }
//!     Err(errors) => eprintln!("{errors}"),
//! }
//! ```
//!
//! The steps can also be taken one by one: [`GraphDefinition::load`] (structure:
//! keys, types), then [`GraphDefinition::validate`] (graph rules, parameters and,
//! given a [`ModuleCatalog`], modules and their exports) into a [`Graph`].
//!
//! Decisions beyond DESIGN §2, all following AIO:
//! - Each output has exactly one connection: a non-branch operation one, a branch
//!   one per arm. No implicit fan-out; only a concatenate takes several inputs.
//! - `arm` is `"True"` or `"False"`; an unquoted `True`/`False` is accepted as well.
//! - A parameter value may be given under the parameter's key or its `name`; the
//!   module receives it under the key.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod catalog;
mod decode;
mod error;
mod graph;
mod model;
mod validate;
mod yaml;

use std::collections::HashMap;
use std::path::Path;

pub use catalog::{component_exports, ModuleCatalog, ModuleDirectory, ModuleReference};
pub use error::{Error, Errors, Rule};
pub use graph::{content_type_for_format, Edge, Graph, ModuleRef, ModuleSchema, Node, NodeId, ParameterValues};
pub use model::{
    Arm, Connection, ConnectionFrom, ConnectionTo, Feature, GraphDefinition, Metadata, ModuleConfiguration,
    ModuleRequirements, Operation, OperationType, OperatorKind, Parameter, PartitionKeySpec, Pos, Schema, Spanned,
};
pub use validate::{SUPPORTED_API_VERSIONS, SUPPORTED_RUNTIME_VERSIONS};

use error::Diagnostics;

/// Reads, decodes and validates the graph definition at `path` in one go,
/// reporting every problem found in any step.
///
/// `catalog`: where modules are looked up and their exports read; `None` skips
/// the module rules. `values`: parameter values by operation (see [`ParameterValues`]).
pub fn load_graph(path: &Path, catalog: Option<&dyn ModuleCatalog>, values: &ParameterValues) -> Result<Graph, Errors> {
    let bytes = read(path)?;
    check_bytes(&bytes, path, catalog, values)
}

/// As [`load_graph`], for a definition already in memory; `file` names it in errors.
pub fn check_bytes(
    bytes: &[u8],
    file: &Path,
    catalog: Option<&dyn ModuleCatalog>,
    values: &ParameterValues,
) -> Result<Graph, Errors> {
    let mut d = Diagnostics::new(file);
    let text = match text_of(bytes, file) {
        Ok(t) => t,
        Err(e) => return Err(Errors(vec![e])),
    };
    let Some((def, info)) = decode::decode(text, file, &mut d) else {
        d.finish()?;
        return Err(unexplained(file));
    };
    let clean = d.list.is_empty();
    let graph = validate::validate(&def, &info, clean, catalog, values, &mut d);
    d.finish()?;
    // No problem reported means validate built the graph.
    graph.ok_or_else(|| unexplained(file))
}

impl GraphDefinition {
    /// Reads and decodes the file at `path`: YAML syntax, keys and value types.
    /// Graph rules are checked by [`GraphDefinition::validate`].
    pub fn load(path: &Path) -> Result<Self, Errors> {
        let bytes = read(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Decodes a definition held in memory; `file` names it in errors.
    pub fn from_bytes(bytes: &[u8], file: &Path) -> Result<Self, Errors> {
        let text = text_of(bytes, file).map_err(|e| Errors(vec![e]))?;
        Self::parse(text, file)
    }

    /// Decodes YAML text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Self, Errors> {
        let mut d = Diagnostics::new(file);
        let def = decode::decode(text, file, &mut d);
        d.finish()?;
        def.map(|(def, _)| def).ok_or_else(|| unexplained(file))
    }

    /// Checks every graph rule and, with a `catalog`, that each module resolves and
    /// exports what its operation needs; computes each operation's `init`
    /// properties from `values`.
    pub fn validate(&self, catalog: Option<&dyn ModuleCatalog>, values: &ParameterValues) -> Result<Graph, Errors> {
        let mut d = Diagnostics::new(&self.file);
        let graph = validate::validate(self, &decode::DecodeInfo::default(), true, catalog, values, &mut d);
        d.finish()?;
        graph.ok_or_else(|| unexplained(&self.file))
    }

    /// The `(key, value)` pairs `operation`'s `init` receives (see [`Graph::init_properties`]);
    /// usable before validation.
    pub fn init_properties(
        &self,
        operation: &str,
        values: &HashMap<String, String>,
    ) -> Result<Vec<(String, String)>, Error> {
        let params = self
            .module_configurations
            .iter()
            .find(|c| c.name.value == operation)
            .map(|c| c.parameters.as_slice())
            .unwrap_or_default();
        graph::properties_for(&self.file, operation, params, values)
    }
}

/// Every path that fails reports a problem first; this stands in should one not.
fn unexplained(file: &Path) -> Errors {
    Errors(vec![Error::new(
        file,
        Pos { line: 1, column: 1 },
        Rule::Syntax,
        "the graph definition could not be read, for a reason not reported (a wasmgraph bug: please report it)",
    )])
}

fn read(path: &Path) -> Result<Vec<u8>, Errors> {
    std::fs::read(path).map_err(|e| {
        Errors(vec![Error::new(
            path,
            Pos { line: 1, column: 1 },
            Rule::Syntax,
            format!("cannot read the graph definition ({e}); check the path"),
        )])
    })
}

/// The text of `bytes`, without a UTF-8 byte order mark; an error at the first
/// byte that is not UTF-8.
fn text_of<'b>(bytes: &'b [u8], file: &Path) -> Result<&'b str, Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        // `good` is valid UTF-8 by construction.
        let good = std::str::from_utf8(good).unwrap_or_default();
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        Error::new(
            file,
            Pos { line, column },
            Rule::Syntax,
            format!(
                "the file is not UTF-8 text (byte 0x{:02X} here); save it as UTF-8",
                bytes.get(e.valid_up_to()).copied().unwrap_or_default()
            ),
        )
    })
}

//! What an instance is started with, and what it counts.

use wasmgraph_types::{FailureKind, OperatorKind};

use crate::bindings::imports::types as wit;

/// A schema handed to an operator at init (WIT `module-schema`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleSchema {
    /// Schema name.
    pub name: String,
    /// Its content type, e.g. `application/schema+json`.
    pub content_type: String,
    /// The schema text.
    pub content: String,
}

/// What an operator instance is started with.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// The graph operation's name (used in logs and errors).
    pub operation: String,
    /// Which exported interface to call.
    pub kind: OperatorKind,
    /// The operation's parameters, passed to `init`.
    pub properties: Vec<(String, String)>,
    /// Schemas passed to `init`.
    pub schemas: Vec<ModuleSchema>,
}

impl OperatorConfig {
    /// The WIT `module-configuration` that `init` receives.
    pub(super) fn to_wit(&self) -> wit::ModuleConfiguration {
        wit::ModuleConfiguration {
            properties: self.properties.clone(),
            module_schemas: self
                .schemas
                .iter()
                .map(|s| wit::ModuleSchema {
                    name: s.name.clone(),
                    content_type: s.content_type.clone(),
                    content: s.content.clone(),
                })
                .collect(),
        }
    }
}

/// Counters of one operator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OperatorStats {
    /// Calls made (successful or not).
    pub calls: u64,
    /// Calls where the module returned an error.
    pub returned_errors: u64,
    /// Calls that trapped.
    pub traps: u64,
    /// Calls that ran out of time.
    pub timeouts: u64,
    /// Calls that ran out of memory.
    pub out_of_memory: u64,
    /// Calls whose result the host could not accept.
    pub invalid_outputs: u64,
    /// Calls that failed on the resource-handle cap.
    pub resource_limits: u64,
    /// Times the instance was thrown away and re-created.
    pub recreations: u64,
    /// Nanoseconds spent re-creating instances after failed calls: dropping
    /// the old store, instantiating and initialising the new one.
    pub recreation_nanos: u64,
}

impl OperatorStats {
    /// Failed calls of all kinds.
    pub fn errors(&self) -> u64 {
        self.returned_errors
            + self.traps
            + self.timeouts
            + self.out_of_memory
            + self.invalid_outputs
            + self.resource_limits
    }

    /// Counts one failed call.
    pub(super) fn count(&mut self, kind: FailureKind) {
        match kind {
            FailureKind::Returned => self.returned_errors += 1,
            FailureKind::Trap => self.traps += 1,
            FailureKind::Timeout => self.timeouts += 1,
            FailureKind::OutOfMemory => self.out_of_memory += 1,
            FailureKind::InvalidOutput => self.invalid_outputs += 1,
            FailureKind::ResourceLimit => self.resource_limits += 1,
            // A kind added to `wasmgraph_types` later: counted with the traps
            // until it has a counter of its own.
            _ => self.traps += 1,
        }
    }
}

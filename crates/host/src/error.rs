//! Errors of the host.

use std::fmt;
use std::path::PathBuf;

use wasmgraph_types::FailureKind;

/// Why loading a module or starting an operator failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The wasmtime engine could not be configured.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// A module file could not be read.
    #[error("cannot read module {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A module is not a valid component or could not be compiled.
    #[error("cannot compile module {name}: {message}")]
    Compile {
        /// File or module name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A module imports something the host does not provide.
    #[error("module {name} cannot be linked: {message}")]
    Link {
        /// File or module name.
        name: String,
        /// What went wrong (names the missing import).
        message: String,
    },
    /// A module does not export the operator interface an operation needs.
    #[error("operation {operation:?} needs a {kind} operator, but module {module} exports {exports}")]
    MissingExport {
        /// The operation.
        operation: String,
        /// The interface it needs.
        kind: wasmgraph_types::OperatorKind,
        /// The module.
        module: String,
        /// What the module exports instead, as text.
        exports: String,
    },
    /// Creating an instance failed (memory limit, pool exhausted, start trap).
    #[error("cannot instantiate module {module} for operation {operation:?}: {message}")]
    Instantiate {
        /// The operation.
        operation: String,
        /// The module.
        module: String,
        /// What went wrong.
        message: String,
    },
    /// The module's `init` returned false.
    #[error("operation {operation:?}: module {module} refused to start (its init returned false)")]
    InitRefused {
        /// The operation.
        operation: String,
        /// The module.
        module: String,
    },
    /// The module's `init` trapped, timed out or ran out of memory.
    #[error("operation {operation:?}: init of module {module} failed: {error}")]
    InitFailed {
        /// The operation.
        operation: String,
        /// The module.
        module: String,
        /// The failure.
        error: CallError,
    },
}

/// A failed call for one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// What kind of failure: the one vocabulary the engine and the reports use
    /// too, so nothing is lost (or renamed) between the host and `errors.jsonl`.
    pub kind: FailureKind,
    /// What happened, as text (the module's message, or the trap with its wasm
    /// backtrace).
    pub message: String,
}

impl CallError {
    pub(crate) fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        CallError { kind, message: message.into() }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::Returned => write!(f, "module returned an error: {}", self.message),
            FailureKind::Trap => write!(f, "module trapped: {}", self.message),
            FailureKind::Timeout => write!(f, "module call timed out: {}", self.message),
            FailureKind::OutOfMemory => write!(f, "module ran out of memory: {}", self.message),
            FailureKind::InvalidOutput => write!(f, "module returned invalid data: {}", self.message),
            FailureKind::ResourceLimit => write!(f, "module hit the resource limit: {}", self.message),
            other => write!(f, "module call failed ({other}): {}", self.message),
        }
    }
}

impl std::error::Error for CallError {}

//! Errors of the host.

use std::fmt;
use std::path::PathBuf;

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
        kind: crate::OperatorKind,
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

/// What kind of failure a module call had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallErrorKind {
    /// The module returned an `error` for this record. The instance is kept.
    Returned,
    /// The module trapped (a Rust panic, a Python exception, `unreachable`). The
    /// instance was re-created.
    Trap,
    /// The call ran past the time budget. The instance was re-created.
    Timeout,
    /// The instance hit its memory limit. The instance was re-created.
    OutOfMemory,
    /// The module returned data the host cannot accept (a string field holding
    /// bytes that are not UTF-8, a buffer handle it does not own). The instance
    /// is kept.
    InvalidOutput,
}

impl CallErrorKind {
    /// Lower-case name, for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            CallErrorKind::Returned => "returned",
            CallErrorKind::Trap => "trap",
            CallErrorKind::Timeout => "timeout",
            CallErrorKind::OutOfMemory => "out-of-memory",
            CallErrorKind::InvalidOutput => "invalid-output",
        }
    }
}

impl fmt::Display for CallErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call for one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    /// What kind of failure.
    pub kind: CallErrorKind,
    /// What happened, as text (the module's message, or the trap with its wasm
    /// backtrace).
    pub message: String,
}

impl CallError {
    pub(crate) fn new(kind: CallErrorKind, message: impl Into<String>) -> Self {
        CallError { kind, message: message.into() }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            CallErrorKind::Returned => write!(f, "module returned an error: {}", self.message),
            CallErrorKind::Trap => write!(f, "module trapped: {}", self.message),
            CallErrorKind::Timeout => write!(f, "module call timed out: {}", self.message),
            CallErrorKind::OutOfMemory => write!(f, "module ran out of memory: {}", self.message),
            CallErrorKind::InvalidOutput => {
                write!(f, "module returned invalid data: {}", self.message)
            }
        }
    }
}

impl std::error::Error for CallError {}

//! The seam between the engine and whatever runs an operation's logic.

use wasmgraph_types::{DataModel, Hlc, Record};

pub use wasmgraph_types::FailureKind;

/// One failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The module's message or the trap text.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into() }
    }
}

/// One live instance of an operation's logic, owned by one worker.
///
/// Only the method matching the node's kind is called.
pub trait Operator {
    /// map: the record to pass on.
    fn map(&mut self, record: &Record) -> Result<DataModel, Failure>;
    /// filter: keep (true) or drop.
    fn filter(&mut self, record: &Record) -> Result<bool, Failure>;
    /// branch: arm "True" (true) or "False".
    fn branch(&mut self, record: &Record) -> Result<bool, Failure>;
    /// accumulate: fold `batch` into `staged`.
    fn accumulate(&mut self, staged: DataModel, batch: &[Record]) -> Result<DataModel, Failure>;
    /// delay: the record's new time.
    fn delay(&mut self, record: &Record) -> Result<Hlc, Failure>;
}

/// Makes the per-worker instances of one operation.
pub trait OperatorFactory: Send + Sync {
    /// A fresh, initialised instance for `worker`.
    fn create(&self, worker: usize) -> Result<Box<dyn Operator>, String>;
}

/// A failed call, as reported to [`crate::RunOptions::on_error`].
#[derive(Debug, Clone)]
pub struct ErrorEvent {
    /// The operation whose call failed.
    pub operation: String,
    /// How it failed.
    pub kind: FailureKind,
    /// The module's message or the trap text.
    pub message: String,
    /// The record(s) the call was for (an accumulate batch has several).
    pub records: Vec<Record>,
}

/// The error policy: called (from any worker thread) for every failed call,
/// after it was counted and logged.
pub type ErrorHandler = std::sync::Arc<dyn Fn(&ErrorEvent) + Send + Sync>;

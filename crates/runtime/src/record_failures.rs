//! Per-record sink failures go to the error policy (issue 18).
//!
//! A sink that cannot write one record but is otherwise fine says so with
//! [`ConnectorError::Record`] (an MQTT topic template the record cannot fill,
//! a publish larger than the broker accepts). Ending the run there would leave
//! the record's source message unacknowledged, so every restart would stop on
//! it again: a poison message. Instead the failure is treated like a failed
//! module call: counted as an error of the sink operation, logged, and handed
//! to the error policy (dead letters, or dropped); the write then counts as
//! done, so the source message is acknowledged and the run goes on.

use std::sync::Arc;

use wasmgraph_connector::{ConnectorError, Sink};
use wasmgraph_engine::{ErrorEvent, ErrorHandler, FailureKind, NodeKind, Plan, Stats};
use wasmgraph_types::Record;

/// A sink whose per-record failures go to the error policy.
pub(crate) struct RecordFailures {
    inner: Box<dyn Sink>,
    /// The error policy (`None`: drop).
    on_error: Option<ErrorHandler>,
    stats: Arc<Stats>,
    /// The sink operation failures are counted on, by index and name.
    node: Option<(usize, String)>,
}

impl RecordFailures {
    /// `inner`, with failures counted on the plan's first sink operation.
    pub(crate) fn new(inner: Box<dyn Sink>, plan: &Plan, stats: Arc<Stats>, on_error: Option<ErrorHandler>) -> Self {
        let node = plan.nodes.iter().position(|n| n.kind == NodeKind::Sink).map(|i| (i, plan.nodes[i].name.clone()));
        RecordFailures { inner, on_error, stats, node }
    }

    fn failed(&self, record: &Record, message: String) {
        let operation = self.node.as_ref().map_or("sink", |(_, name)| name.as_str());
        if let Some((index, _)) = &self.node {
            if let Some((_, node)) = self.stats.nodes.get(*index) {
                node.count_error(FailureKind::InvalidOutput);
            }
        }
        tracing::warn!(
            operation,
            time = %record.time.to_wire(),
            kind = FailureKind::InvalidOutput.as_str(),
            "the sink cannot write this record: {message}"
        );
        if let Some(on_error) = &self.on_error {
            on_error(&ErrorEvent {
                operation: operation.to_string(),
                kind: FailureKind::InvalidOutput,
                message,
                records: vec![record.clone()],
            });
        }
    }
}

impl Sink for RecordFailures {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        match self.inner.write(record) {
            Err(ConnectorError::Record(message)) => {
                self.failed(record, message);
                Ok(())
            }
            other => other,
        }
    }
    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.inner.flush()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn summary(&self) -> Option<String> {
        self.inner.summary()
    }
}

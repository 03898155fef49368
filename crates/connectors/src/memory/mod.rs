//! In-memory source and sink, for tests and benchmarks that must not measure
//! file or network I/O.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmgraph_types::Record;

use crate::{ConnectorError, Incoming, Poll, Sink, Source};

/// Hands out a fixed list of messages, then ends.
#[derive(Debug, Default)]
pub struct MemorySource {
    items: VecDeque<Incoming>,
    acked: Arc<Mutex<Vec<u64>>>,
}

impl MemorySource {
    /// A source of `items`, in order.
    pub fn new(items: impl IntoIterator<Item = Incoming>) -> Self {
        MemorySource { items: items.into_iter().collect(), acked: Arc::default() }
    }

    /// The tokens acknowledged so far (shared: read it after the run).
    pub fn acked(&self) -> Arc<Mutex<Vec<u64>>> {
        self.acked.clone()
    }
}

impl Source for MemorySource {
    fn poll(&mut self, max: usize, _wait: Duration) -> Result<Poll, ConnectorError> {
        if self.items.is_empty() {
            return Ok(Poll::End);
        }
        let n = max.max(1).min(self.items.len());
        Ok(Poll::Data(self.items.drain(..n).collect()))
    }

    fn describe(&self) -> String {
        "memory".into()
    }

    fn ack(&mut self, tokens: &[u64]) -> Result<(), ConnectorError> {
        self.acked.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(tokens);
        Ok(())
    }
}

/// Collects written records; clones share the same list.
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    records: Arc<Mutex<Vec<Record>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, in write order.
    pub fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Sink for MemorySink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(record.clone());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

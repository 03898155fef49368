//! The contract between connectors and the engine: what a source hands over
//! ([`Incoming`] through [`Source::poll`]), what a sink receives
//! ([`Sink::write`]), and how durability flows back ([`Sink::flush`], then
//! [`Source::ack`]).
//!
//! This crate holds only the traits, so the engine can depend on it without
//! compiling any protocol stack (MQTT, Kafka, TLS, tokio), and a connector can
//! be written without seeing timely or wasmtime.

use std::time::Duration;

use wasmgraph_types::{DataModel, Hlc, Record};

/// One message read by a source.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The message (or snapshot) as operators will see it. Its embedded
    /// timestamp is overwritten with the record time the engine assigns.
    pub data: DataModel,
    /// The message's own time, when it carries one (MQTT `__ts`, or a file
    /// source's replay clock). The engine never lets record times go backwards:
    /// a time earlier than one already issued is moved just past it.
    pub time: Option<Hlc>,
    /// A token the source wants back through [`Source::ack`] once every record
    /// derived from this message has been written by the sink (or dropped by
    /// the graph). `None` for sources that need no acknowledgement.
    pub ack: Option<u64>,
}

/// What a source has for the engine right now.
#[derive(Debug)]
pub enum Poll {
    /// Messages, in the order they were read.
    Data(Vec<Incoming>),
    /// Nothing arrived within the wait; the source is still open.
    Idle,
    /// The source has no more messages, ever.
    End,
}

/// Where messages come from.
pub trait Source: Send {
    /// Up to `max` messages, waiting at most `wait` for the first one.
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Poll, ConnectorError>;

    /// A short description for logs and the run summary (`files in ./data`).
    fn describe(&self) -> String;

    /// Every record derived from the messages with these tokens is durably
    /// written (or was dropped by the graph): the source may now acknowledge
    /// them upstream (an MQTT PUBACK, a Kafka offset commit). Tokens arrive in
    /// the order the messages were polled.
    fn ack(&mut self, tokens: &[u64]) -> Result<(), ConnectorError> {
        let _ = tokens;
        Ok(())
    }

    /// How many messages are still to come, when the source knows (a folder of
    /// files does; a broker does not): progress bars use it.
    fn remaining(&self) -> Option<u64> {
        None
    }

    /// A handle that makes the source end cleanly ([`Poll::End`] after the
    /// messages already taken), for Ctrl-C. `None`: the source ends by itself.
    fn stop_handle(&self) -> Option<StopHandle> {
        None
    }

    /// Wait up to `timeout` until the source receives (an MQTT subscription
    /// is granted, a Kafka consumer has joined its group). False when it is not
    /// ready yet; it keeps trying either way.
    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }

    /// One line of counters for the end-of-run summary
    /// (`mqtt: received 10 message(s), ...`), if the source keeps any.
    fn summary(&self) -> Option<String> {
        None
    }

    /// A handle telemetry reads the source's lag through, from its own
    /// thread, for protocols whose broker tells it (Kafka). `None` (the
    /// default): the protocol has no notion of lag (MQTT, files).
    fn lag_probe(&self) -> Option<std::sync::Arc<dyn LagProbe>> {
        None
    }
}

/// Reads how far a source is behind its broker. Called at scrape or export
/// time, never per record, on another thread than the source's; it may ask
/// the broker (and so take up to its own timeout).
pub trait LagProbe: Send + Sync {
    /// The lag of every partition the source owns now; empty when it owns
    /// none, or has stopped.
    fn lag(&self) -> Vec<PartitionLag>;
}

/// How far one partition of a source is behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Messages the broker holds past the consumer's committed position: the
    /// partition's high watermark minus the offset the source commits next
    /// (what `kafka-consumer-groups --describe` shows as LAG).
    pub messages: u64,
}

/// Ends a source from another thread (a signal handler): the source then
/// returns [`Poll::End`] once the messages it already took are handed over.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl StopHandle {
    /// A handle sharing `flag` (the source polls it).
    pub fn new(flag: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        StopHandle(flag)
    }

    /// Ask the source to end.
    pub fn stop(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    /// True once [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Where finished records go. The engine calls `write` in time order (records
/// sharing a time in source order) and `flush` when it needs them durable.
pub trait Sink: Send {
    /// Write one record.
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError>;

    /// Make everything written so far durable.
    fn flush(&mut self) -> Result<(), ConnectorError>;

    /// A short description for logs and the run summary.
    fn describe(&self) -> String;

    /// One line of counters for the end-of-run summary, if the sink keeps any.
    fn summary(&self) -> Option<String> {
        None
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        (**self).write(record)
    }
    fn flush(&mut self) -> Result<(), ConnectorError> {
        (**self).flush()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn summary(&self) -> Option<String> {
        (**self).summary()
    }
}

/// A connector failure, with the path or endpoint it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The connector's settings are wrong.
    #[error("{0}")]
    Config(String),
    /// A broker or service failed or refused us.
    #[error("{endpoint}: {message}")]
    Connection {
        /// Where (`mqtt://host:port`).
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// This one record cannot be written (a topic template it cannot fill,
    /// too large for the broker) but the sink is fine: the record goes to the
    /// error policy like a failed module call, and the run goes on. Ending the
    /// run instead would leave its source message unacknowledged, to fail the
    /// same way after every restart (a poison message).
    #[error("{0}")]
    Record(String),
}

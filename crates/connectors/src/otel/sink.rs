//! The OpenTelemetry sink: reads each record's payload as AIO's telemetry
//! JSON, batches, and exports over OTLP; `flush` returns once the collector
//! has accepted everything written before it.
//!
//! * A record whose payload does not conform is counted, logged and dropped
//!   at `write` (AIO drops and acknowledges such messages): its source
//!   message is acknowledged like any other.
//! * Records wait in the sink until `batching.maxMessages` of them are held,
//!   the oldest has waited `batching.latencySeconds`, or the engine flushes
//!   (it does after every batch it hands over, since acknowledgements wait
//!   for durability). One export request pair (metrics, logs) never carries
//!   more than `maxMessages` messages.
//! * While the collector is unreachable (or answers with a retryable
//!   status), the export is tried again after 100 ms, doubling up to
//!   `retry.maxBackoffSeconds`, for as long as it takes: `flush` does not
//!   return, so the engine acknowledges nothing of what is held and nothing
//!   is lost. A failure no retry can mend (authentication, an unknown
//!   service) makes `flush` fail and the run stop without acknowledging.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmgraph_types::Record;

use super::config::{OtelBatching, OtelEndpoint, OtelRetry};
use super::export::{Accepted, Exporter, Failure};
use super::otlp::{logs_request, metrics_request, Origin, Timed};
use super::payload::{self, Log, Metric};
use crate::{ConnectorError, Sink};

/// What the sink has done, shared so a caller can read it during and after a run.
#[derive(Debug, Default)]
pub struct OtelCounters {
    /// Records written to the sink.
    pub received: AtomicU64,
    /// Records dropped because their payload is not telemetry JSON.
    pub invalid: AtomicU64,
    /// Records whose metrics and logs the collector accepted.
    pub exported: AtomicU64,
    /// Metric data points the collector accepted.
    pub metric_points: AtomicU64,
    /// Log records the collector accepted.
    pub log_records: AtomicU64,
    /// Data points and log records the collector refused (dropped).
    pub rejected: AtomicU64,
    /// Export requests the collector accepted.
    pub requests: AtomicU64,
    /// Export tries that failed and were tried again.
    pub retries: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Exports every record's metrics and logs to an OpenTelemetry collector.
pub struct OtelSink {
    exporter: Exporter,
    origin: Origin,
    batching: OtelBatching,
    retry: OtelRetry,
    metrics: Vec<Timed<Metric>>,
    logs: Vec<Timed<Log>>,
    /// Records held (valid ones, including those with nothing to export).
    held: usize,
    /// When the oldest held record came.
    since: Option<Instant>,
    counters: Arc<OtelCounters>,
    endpoint: String,
}

impl std::fmt::Debug for OtelSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelSink").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl OtelSink {
    /// Set up the client for `endpoint`; `service_name` is the resource's
    /// `service.name` unless the endpoint's `resource` names one. An
    /// unreachable collector shows at the first export, not here.
    pub fn connect(endpoint: &OtelEndpoint, service_name: &str) -> Result<OtelSink, ConnectorError> {
        let exporter = Exporter::connect(endpoint)?;
        let mut resource = endpoint.resource.clone();
        resource.entry("service.name".into()).or_insert_with(|| service_name.to_string());
        Ok(OtelSink {
            exporter,
            origin: Origin::new(resource),
            batching: endpoint.batching,
            retry: endpoint.retry,
            metrics: Vec::new(),
            logs: Vec::new(),
            held: 0,
            since: None,
            counters: Arc::new(OtelCounters::default()),
            endpoint: endpoint.describe(),
        })
    }

    /// Counters of what was received, exported, dropped and retried.
    pub fn counters(&self) -> Arc<OtelCounters> {
        self.counters.clone()
    }

    /// Export everything held, trying until the collector takes it.
    fn send(&mut self) -> Result<(), ConnectorError> {
        let (metrics, logs) = (std::mem::take(&mut self.metrics), std::mem::take(&mut self.logs));
        let held = std::mem::take(&mut self.held) as u64;
        self.since = None;
        if !metrics.is_empty() {
            let request = metrics_request(&self.origin, &metrics);
            let accepted = self.deliver("metric data point(s)", metrics.len(), |e| e.metrics(request.clone()))?;
            bump(&self.counters.metric_points, accepted);
        }
        if !logs.is_empty() {
            let request = logs_request(&self.origin, &logs, now_nanos());
            let accepted = self.deliver("log record(s)", logs.len(), |e| e.logs(request.clone()))?;
            bump(&self.counters.log_records, accepted);
        }
        bump(&self.counters.exported, held);
        Ok(())
    }

    /// One request, tried until it is accepted, refused or fails for good;
    /// returns how many of its `items` the collector accepted.
    fn deliver(
        &mut self,
        what: &str,
        items: usize,
        mut call: impl FnMut(&mut Exporter) -> Result<Accepted, Failure>,
    ) -> Result<u64, ConnectorError> {
        let items = items as u64;
        let mut backoff = self.retry.initial_backoff;
        let (started, mut tries) = (Instant::now(), 0u64);
        loop {
            tries += 1;
            match call(&mut self.exporter) {
                Ok(accepted) => {
                    bump(&self.counters.requests, 1);
                    self.partial(what, &accepted);
                    if tries > 1 {
                        tracing::info!(endpoint = %self.endpoint, tries, waited_ms = started.elapsed().as_millis() as u64,
                            "OpenTelemetry collector reachable again: {items} {what} delivered");
                    }
                    return Ok(items.saturating_sub(accepted.rejected));
                }
                Err(Failure::Retry(why)) => {
                    bump(&self.counters.retries, 1);
                    tracing::warn!(endpoint = %self.endpoint, tries, retry_in_ms = backoff.as_millis() as u64,
                        "OpenTelemetry export of {items} {what} failed, retrying (acknowledgements held): {why}");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                }
                Err(Failure::Rejected(why)) => {
                    bump(&self.counters.rejected, items);
                    tracing::error!(endpoint = %self.endpoint,
                        "the OpenTelemetry collector refused {items} {what}; dropped (not retried): {why}");
                    return Ok(0);
                }
                Err(Failure::Fatal(why)) => {
                    return Err(ConnectorError::Connection { endpoint: self.endpoint.clone(), message: why })
                }
            }
        }
    }

    /// Items the collector accepted the request but rejected (OTLP partial success).
    fn partial(&self, what: &str, accepted: &Accepted) {
        if accepted.rejected > 0 {
            bump(&self.counters.rejected, accepted.rejected);
            tracing::warn!(endpoint = %self.endpoint, rejected = accepted.rejected,
                "the OpenTelemetry collector rejected some {what}: {}", accepted.message);
        }
    }

    fn due(&self) -> bool {
        self.held >= self.batching.max_messages || self.since.is_some_and(|t| t.elapsed() >= self.batching.latency)
    }
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_nanos() as u64
}

impl Sink for OtelSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        bump(&self.counters.received, 1);
        let telemetry = match payload::parse(record.data.payload()) {
            Ok(t) => t,
            Err(e) => {
                bump(&self.counters.invalid, 1);
                tracing::warn!(endpoint = %self.endpoint, time = record.time.nanos,
                    "OpenTelemetry sink: dropped a message that is not OpenTelemetry telemetry JSON: {e}");
                return Ok(());
            }
        };
        let time = record.time.nanos;
        self.metrics.extend(telemetry.metrics.into_iter().map(|m| {
            let t = m.timestamp.unwrap_or(time);
            (m, t)
        }));
        self.logs.extend(telemetry.logs.into_iter().map(|l| {
            let t = l.timestamp.unwrap_or(time);
            (l, t)
        }));
        self.held += 1;
        self.since.get_or_insert_with(Instant::now);
        if self.due() {
            self.send()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        if self.held > 0 {
            self.send()?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("otel {}", self.endpoint)
    }

    fn summary(&self) -> Option<String> {
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(format!(
            "otel: received {} message(s), exported {} ({} metric point(s), {} log record(s) in {} request(s)), \
             {} invalid dropped, {} rejected by the collector, {} retried export(s)",
            n(&c.received),
            n(&c.exported),
            n(&c.metric_points),
            n(&c.log_records),
            n(&c.requests),
            n(&c.invalid),
            n(&c.rejected),
            n(&c.retries)
        ))
    }
}

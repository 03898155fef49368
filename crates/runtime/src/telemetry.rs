//! The runtime's side of telemetry: what the exporters of
//! `wasmgraph-telemetry` read from a running pipeline.
//!
//! Nothing here runs per record unless asked: the engine's [`Stats`] and the
//! host's [`MetricsRegistry`] are read when a scrape or an export asks for a
//! [`Snapshot`]. Source acknowledgements and sink failures are counted per
//! poll / per failure by the pipeline's connector wrappers. Module calls are
//! timed only when [`crate::Pipeline::time_calls`] is set (two clock reads and
//! two atomic additions per call).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use wasmgraph_connectors::LagProbe;
use wasmgraph_engine::{Failure, FailureKind, NodeKind, Operator, OperatorFactory, Plan, Stats};
use wasmgraph_host::MetricsRegistry;
use wasmgraph_telemetry::{
    Collect, LagPoint, LatencyHistogram, ModuleCounter, ModuleHistogram, OperationPoint, SinkPoint, Snapshot,
    SourcePoint,
};
use wasmgraph_types::{DataModel, Hlc, Record};

/// Counted by the pipeline's source and sink wrappers.
#[derive(Debug, Default)]
pub(crate) struct ConnectorCounters {
    /// Messages the source delivered with an acknowledgement token.
    pub with_ack: AtomicU64,
    /// Tokens acknowledged back to the source.
    pub acked: AtomicU64,
    /// Sink writes and flushes that failed.
    pub sink_failed: AtomicU64,
}

impl ConnectorCounters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// What telemetry reads about a pipeline besides its stats and metrics.
#[derive(Clone, Debug, Default)]
pub(crate) struct Live {
    graph: String,
    source: String,
    sink: String,
    pub connectors: Arc<ConnectorCounters>,
    /// Per plan node: its call times, when calls are timed.
    calls: Vec<Option<Arc<LatencyHistogram>>>,
    /// Plan nodes that are sinks (their errors are records the sink refused).
    sink_nodes: Vec<usize>,
    /// The source's lag, for protocols that know it (Kafka).
    lag: Option<Lag>,
}

/// A source's [`LagProbe`], read at each collection.
#[derive(Clone)]
struct Lag(Arc<dyn LagProbe>);

impl std::fmt::Debug for Lag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lag(..)")
    }
}

impl Live {
    pub(crate) fn new(
        graph: &str,
        source: &str,
        sink: &str,
        calls: Vec<Option<Arc<LatencyHistogram>>>,
        plan: &Plan,
    ) -> Self {
        Live {
            graph: graph.to_string(),
            source: source.to_string(),
            sink: sink.to_string(),
            connectors: Arc::default(),
            calls,
            sink_nodes: plan
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.kind == NodeKind::Sink)
                .map(|(i, _)| i)
                .collect(),
            lag: None,
        }
    }

    /// Report the source's lag through `probe` (from [`wasmgraph_connectors::Source::lag_probe`]).
    pub(crate) fn with_lag(self, probe: Option<Arc<dyn LagProbe>>) -> Self {
        Live { lag: probe.map(Lag), ..self }
    }
}

/// The live figures of a running pipeline ([`crate::Running::figures`]): hand
/// them to `wasmgraph_telemetry::Telemetry::start`.
#[derive(Clone, Debug)]
pub struct LiveFigures {
    pub(crate) stats: Arc<Stats>,
    pub(crate) metrics: Arc<MetricsRegistry>,
    pub(crate) live: Live,
}

impl Collect for LiveFigures {
    fn collect(&self) -> Snapshot {
        let Live { graph, source, sink, connectors, calls, sink_nodes, lag } = &self.live;
        let operations = self
            .stats
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (name, s))| OperationPoint {
                name: name.clone(),
                records_in: s.records_in.load(Ordering::Relaxed),
                records_out: s.records_out.load(Ordering::Relaxed),
                errors: FailureKind::ALL.iter().map(|k| (k.as_str().to_string(), s.errors_of(*k))).collect(),
                calls: calls.get(i).and_then(Option::as_ref).map(|h| h.point()),
            })
            .collect();
        let received = self.stats.read.load(Ordering::Relaxed);
        let acknowledged = connectors.acked.load(Ordering::Relaxed);
        let owed = connectors.with_ack.load(Ordering::Relaxed);
        let refused: u64 = sink_nodes
            .iter()
            .filter_map(|&i| self.stats.nodes.get(i))
            .map(|(_, s)| s.errors.load(Ordering::Relaxed))
            .sum();
        let metrics = self.metrics.snapshot();
        Snapshot {
            graph: graph.clone(),
            operations,
            sources: vec![SourcePoint {
                name: source.clone(),
                received,
                acknowledged,
                in_flight: owed.saturating_sub(acknowledged),
                lag: lag.as_ref().map(|l| lag_points(&*l.0)).unwrap_or_default(),
            }],
            sinks: vec![SinkPoint {
                name: sink.clone(),
                published: self.stats.written.load(Ordering::Relaxed),
                failed: connectors.sink_failed.load(Ordering::Relaxed) + refused,
            }],
            module_counters: metrics
                .counters
                .into_iter()
                .map(|c| ModuleCounter { name: c.name, labels: c.labels, value: c.value })
                .collect(),
            module_histograms: metrics
                .histograms
                .into_iter()
                .map(|h| ModuleHistogram { name: h.name, labels: h.labels, sum: h.summary.sum, count: h.summary.count })
                .collect(),
        }
    }
}

fn lag_points(probe: &dyn LagProbe) -> Vec<LagPoint> {
    let lag = probe.lag().into_iter();
    lag.map(|l| LagPoint { topic: l.topic, partition: l.partition, messages: l.messages }).collect()
}

/// Time every module call of `plan`: each module operation's factory makes
/// instances that record their call durations; returns the histograms by node.
pub(crate) fn time_calls(plan: &mut Plan) -> Vec<Option<Arc<LatencyHistogram>>> {
    plan.nodes
        .iter_mut()
        .map(|node| {
            let inner = node.factory.take()?;
            let times = Arc::new(LatencyHistogram::new());
            node.factory = Some(Arc::new(TimedFactory { inner, times: times.clone() }));
            Some(times)
        })
        .collect()
}

struct TimedFactory {
    inner: Arc<dyn OperatorFactory>,
    times: Arc<LatencyHistogram>,
}

impl OperatorFactory for TimedFactory {
    fn create(&self, worker: usize) -> Result<Box<dyn Operator>, String> {
        let inner = self.inner.create(worker)?;
        Ok(Box::new(Timed { inner, times: self.times.clone() }))
    }
}

/// An instance whose calls are timed.
struct Timed {
    inner: Box<dyn Operator>,
    times: Arc<LatencyHistogram>,
}

impl Timed {
    fn time<T>(&mut self, call: impl FnOnce(&mut dyn Operator) -> T) -> T {
        let started = Instant::now();
        let result = call(&mut *self.inner);
        self.times.observe(started.elapsed());
        result
    }
}

impl Operator for Timed {
    fn map(&mut self, record: &Record) -> Result<DataModel, Failure> {
        self.time(|op| op.map(record))
    }
    fn filter(&mut self, record: &Record) -> Result<bool, Failure> {
        self.time(|op| op.filter(record))
    }
    fn branch(&mut self, record: &Record) -> Result<bool, Failure> {
        self.time(|op| op.branch(record))
    }
    fn accumulate(&mut self, staged: DataModel, batch: &[Record]) -> Result<DataModel, Failure> {
        self.time(|op| op.accumulate(staged, batch))
    }
    fn delay(&mut self, record: &Record) -> Result<Hlc, Failure> {
        self.time(|op| op.delay(record))
    }
}

//! One pipeline: a graph between a source and a sink, with an error policy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmgraph_config::ParameterValues;
use wasmgraph_connector::{ConnectorError, Poll, Sink, Source, StopHandle};
use wasmgraph_connectors::file::{FileSinkSpec, FileSourceSpec};
use wasmgraph_connectors::{EndpointSpec, OpenContext, Services, SinkSpec, SourceSpec};
use wasmgraph_deployment::{Deployment, ErrorPolicy};
use wasmgraph_engine::{Cluster, RunError, RunOptions, RunReport, SinkPlacement, Stats};
use wasmgraph_host::MetricsRegistry;
use wasmgraph_types::Record;

use crate::dead_letter::{self, DeadLetters};
use crate::record_failures::RecordFailures;
use crate::registry::RegistryCatalog;
use crate::swap::LiveModules;
use crate::telemetry::{self, ConnectorCounters};
use crate::{cluster, graph, plan, HostSettings, RuntimeError};

/// Everything a pipeline is made of. Build one with [`Pipeline::new`] or
/// [`Pipeline::from_deployment`], adjust the public fields, then
/// [`Pipeline::run`] (or [`Pipeline::start`] to watch it while it runs).
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Base of client ids, group names and the node id of record times.
    pub name: String,
    /// The graph definition file.
    pub graph: PathBuf,
    /// Where module references resolve.
    pub modules: PathBuf,
    /// The registry that module references (`name:tag`, `host/repo@sha256:..`)
    /// resolve against; `None`: the modules folder only.
    pub registry: Option<wasmgraph_oci::RegistryEndpoint>,
    /// Parameter values for the operations' `init`, by operation.
    pub parameters: ParameterValues,
    /// Where messages come from.
    pub source: SourceSpec,
    /// Where results go.
    pub sink: SinkSpec,
    /// What happens to records whose module call failed.
    pub errors: ErrorPolicy,
    /// Endpoints the source, sink and dead letters name.
    pub endpoints: BTreeMap<String, EndpointSpec>,
    /// How modules run.
    pub host: HostSettings,
    /// Timely worker threads.
    pub workers: usize,
    /// Run as one process of a timely cluster (`--processes/--process/--hosts`,
    /// or a deployment's `cluster:`); see the `cluster` module for what each
    /// process reads and writes.
    pub cluster: Option<Cluster>,
    /// In a cluster, where the sink writes; `None` picks by the sink's type
    /// (a file sink gathered on process 0, MQTT, Kafka and OpenTelemetry
    /// sinks on every process; a deployment's `cluster.sinks`).
    pub cluster_sinks: Option<SinkPlacement>,
    /// Also print every result record to stdout as a JSON line.
    pub echo: bool,
    /// Before starting, wait up to this long for the source to receive (an
    /// MQTT subscription granted); [`Running::ready`] tells how it went.
    pub ready_timeout: Option<Duration>,
    /// How far ahead of the host clock a message's own time may be before it
    /// is refused (see [`RunOptions::max_clock_skew`]).
    pub max_clock_skew: Duration,
    /// Time every module call (for the call-latency histograms of
    /// [`Running::figures`]): two clock reads per call, so off unless telemetry is on.
    pub time_calls: bool,
}

impl Pipeline {
    /// `graph` (modules from `modules`) from `source` to `sink`; failed records
    /// are dropped, one worker, default host settings.
    pub fn new(graph: impl Into<PathBuf>, modules: impl Into<PathBuf>, source: SourceSpec, sink: SinkSpec) -> Self {
        Pipeline {
            name: "wasmgraph".into(),
            graph: graph.into(),
            modules: modules.into(),
            registry: None,
            parameters: ParameterValues::new(),
            source,
            sink,
            errors: ErrorPolicy::Drop,
            endpoints: BTreeMap::new(),
            host: HostSettings::default(),
            workers: 1,
            cluster: None,
            cluster_sinks: None,
            echo: false,
            ready_timeout: None,
            max_clock_skew: wasmgraph_engine::DEFAULT_MAX_CLOCK_SKEW,
            time_calls: false,
        }
    }

    /// `graph` over the files of `input` (one message each, in name order, on
    /// the file source's replay clock), results to `<output>/output.jsonl` and
    /// failed records to `<output>/errors.jsonl` (written only if one fails):
    /// the local development loop, and what `wasmgraph run --input` and
    /// `wasmgraph test` do.
    pub fn files(
        graph: impl Into<PathBuf>,
        modules: impl Into<PathBuf>,
        input: impl Into<PathBuf>,
        output: impl Into<PathBuf>,
    ) -> Self {
        let output = output.into();
        let source = SourceSpec::File(FileSourceSpec::new(input));
        let sink = SinkSpec::File(FileSinkSpec { path: output.join("output.jsonl") });
        let errors = ErrorPolicy::DeadLetter(SinkSpec::File(FileSinkSpec { path: output.join("errors.jsonl") }));
        Pipeline { errors, ..Pipeline::new(graph, modules, source, sink) }
    }

    /// The pipeline a deployment file describes; modules resolve in its
    /// `modules` folder, else the graph's folder.
    pub fn from_deployment(d: &Deployment) -> Result<Self, RuntimeError> {
        let modules = d.modules.clone().unwrap_or_else(|| d.graph.parent().map(PathBuf::from).unwrap_or_default());
        Ok(Pipeline {
            name: d.name.clone(),
            parameters: graph::deployment_values(d)?,
            registry: d.registry.clone(),
            errors: d.errors.clone(),
            endpoints: d.endpoints.clone(),
            host: HostSettings { state_store: d.state_store.clone(), ..HostSettings::default() },
            cluster_sinks: d.cluster.as_ref().and_then(|c| c.sinks).map(cluster::placement),
            ..Pipeline::new(&d.graph, modules, d.source.clone(), d.sink.clone())
        })
    }

    /// Run until the source ends (or is stopped), then report.
    pub fn run(self) -> Result<Outcome, RuntimeError> {
        self.start()?.wait()
    }

    /// Check the graph, load its modules, open the connectors and start the
    /// engine on a thread of its own.
    pub fn start(self) -> Result<Running, RuntimeError> {
        match self.cluster.clone() {
            Some(c) => cluster::for_process(self, &c)?.start_process(),
            None => self.start_process(),
        }
    }

    /// [`Pipeline::start`] once the pipeline is this process's share.
    fn start_process(self) -> Result<Running, RuntimeError> {
        let catalog = RegistryCatalog::new(&self.modules, self.registry.as_ref(), self.host.cache_dir.as_deref())?;
        let checked = graph::load_graph_in(&self.graph, &catalog, &self.parameters)?;
        let (runtime, metrics) = self.host.start_for(instances_needed(&checked, self.workers))?;
        let live = LiveModules::for_run(&catalog, self.registry.as_ref(), &runtime)?;
        let mut plan = plan::plan_live(&checked, &runtime, &self.host.module_schemas, &live)?;
        live.watch_for(&catalog, self.registry.as_ref(), &runtime);
        let calls = if self.time_calls { telemetry::time_calls(&mut plan) } else { Vec::new() };
        let mut opened = self.open_connectors()?;
        let ready = self.ready_timeout.is_none_or(|t| opened.source.wait_ready(t));
        let Connectors { source, sink, dead_letters, services } = opened;
        let stats = Arc::new(Stats::for_plan(&plan));
        let watch = Watch { source: source.describe(), sink: sink.describe(), ..Watch::default() };
        let (on_error, dead_letters) = match dead_letters.map(dead_letter::handler) {
            Some((handler, shared)) => (Some(handler), Some(shared)),
            None => (None, None),
        };
        let sink = Box::new(RecordFailures::new(sink, &plan, stats.clone(), on_error.clone()));
        let options = RunOptions {
            workers: self.workers,
            node_id: self.name.clone(),
            on_error,
            poll_wait: POLL_WAIT,
            cluster: self.cluster.clone(),
            sinks: self.sinks(),
            max_clock_skew: self.max_clock_skew,
            ..RunOptions::default()
        };
        let running = Running {
            ready,
            stop: source.stop_handle(),
            remaining: source.remaining(),
            notes: services.notes().to_vec(),
            stats: stats.clone(),
            metrics,
            live: telemetry::Live::new(&self.name, &watch.source, &watch.sink, calls, &plan)
                .with_lag(source.lag_probe()),
            summaries: watch.summaries.clone(),
            dead_letters,
            source: Some(source),
            thread: None,
            watch,
            _services: services,
        };
        Ok(running.launch(plan, sink, self.echo, options))
    }
}

impl Pipeline {
    /// Where the sink writes in a cluster: as set, else by the sink's type.
    pub(crate) fn sinks(&self) -> SinkPlacement {
        self.cluster_sinks.unwrap_or_else(|| cluster::default_placement(&self.sink))
    }

    fn open_connectors(&self) -> Result<Connectors, RuntimeError> {
        let mut services = Services::new();
        let endpoint = |name: Option<&str>| name.and_then(|n| self.endpoints.get(n));
        let source = match (&self.cluster, &self.source) {
            (Some(c), SourceSpec::File(f)) => cluster::file_part(f, c)?,
            _ => self
                .source
                .open(endpoint(self.source.endpoint_name()), &mut self.context("source", &mut services))
                .map_err(|source| RuntimeError::Connector { what: "source", source })?,
        };
        // A cluster whose sink is gathered writes every record on process 0:
        // the others open no sink.
        let sink: Box<dyn Sink> = match &self.cluster {
            Some(c) if c.process != 0 && self.sinks() == SinkPlacement::Gathered => {
                Box::new(cluster::Elsewhere::new(&self.sink))
            }
            _ => self
                .sink
                .open(endpoint(self.sink.endpoint_name()), &mut self.context("sink", &mut services))
                .map_err(|source| RuntimeError::Connector { what: "sink", source })?,
        };
        let dead_letters = match &self.errors {
            ErrorPolicy::Drop => None,
            ErrorPolicy::DeadLetter(SinkSpec::File(f)) => Some(DeadLetters::Lines { path: f.path.clone(), file: None }),
            ErrorPolicy::DeadLetter(spec) => Some(DeadLetters::Messages(
                spec.open(endpoint(spec.endpoint_name()), &mut self.context("dead-letters", &mut services))
                    .map_err(|source| RuntimeError::Connector { what: "dead letters", source })?,
            )),
        };
        Ok(Connectors { source, sink, dead_letters, services })
    }

    fn context<'a>(&'a self, role: &'a str, services: &'a mut Services) -> OpenContext<'a> {
        OpenContext { name: &self.name, role, services }
    }
}

/// The opened source, sink and dead letters of a pipeline.
struct Connectors {
    source: Box<dyn Source>,
    sink: Box<dyn Sink>,
    dead_letters: Option<DeadLetters>,
    services: Services,
}

/// Live module instances a run can hold: one per module operation and worker,
/// one more per operation while the engine checks its init before the
/// workers start, and one while a trapped instance is replaced.
fn instances_needed(graph: &wasmgraph_config::Graph, workers: usize) -> u32 {
    let operations = graph.nodes().iter().filter(|n| n.module.is_some()).count();
    let n = operations.saturating_mul(workers.max(1) + 1).saturating_add(workers.max(1));
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// How long the engine waits for a quiet source before letting time pass.
const POLL_WAIT: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
struct Watch {
    source: String,
    sink: String,
    summaries: Arc<Mutex<Vec<String>>>,
}

/// A pipeline while it runs.
pub struct Running {
    ready: bool,
    stop: Option<StopHandle>,
    remaining: Option<u64>,
    notes: Vec<String>,
    stats: Arc<Stats>,
    metrics: Arc<MetricsRegistry>,
    live: telemetry::Live,
    summaries: Arc<Mutex<Vec<String>>>,
    dead_letters: Option<Arc<Mutex<DeadLetters>>>,
    /// Held until [`Running::launch`]'s thread takes it.
    source: Option<Box<dyn Source>>,
    thread: Option<JoinHandle<Result<RunReport, RunError>>>,
    watch: Watch,
    /// Services (the embedded broker) live as long as the pipeline.
    _services: Services,
}

impl Running {
    fn launch(mut self, plan: wasmgraph_engine::Plan, sink: Box<dyn Sink>, echo: bool, options: RunOptions) -> Self {
        let source = self.source.take().map(|s| {
            Box::new(Watched { inner: s, summaries: self.summaries.clone(), counters: self.live.connectors.clone() })
        });
        let sink: Box<dyn Sink> = Box::new(WatchedSink {
            inner: sink,
            echo,
            summaries: self.summaries.clone(),
            counters: self.live.connectors.clone(),
        });
        let stats = self.stats.clone();
        self.thread = source.map(|source| {
            std::thread::spawn(move || wasmgraph_engine::run(plan, source as Box<dyn Source>, sink, stats, options))
        });
        self
    }

    /// False when the source was not ready within [`Pipeline::ready_timeout`]
    /// (it keeps trying).
    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Makes the source end cleanly (Ctrl-C), when it can be stopped.
    pub fn stop_handle(&self) -> Option<StopHandle> {
        self.stop.clone()
    }

    /// What services were started and how to reach them (the embedded broker).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Messages still to come, when the source knows.
    pub fn remaining(&self) -> Option<u64> {
        self.remaining
    }

    /// Counters per operation, live.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Everything the telemetry exporters read (operations, source, sink,
    /// module metrics), live; it stays valid after the run ends.
    pub fn figures(&self) -> crate::LiveFigures {
        crate::LiveFigures { stats: self.stats.clone(), metrics: self.metrics.clone(), live: self.live.clone() }
    }

    /// The source and sink, described for the user.
    pub fn endpoints(&self) -> (&str, &str) {
        (&self.watch.source, &self.watch.sink)
    }

    /// Wait for the end of the run.
    pub fn wait(mut self) -> Result<Outcome, RuntimeError> {
        let result = match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(RunError::Engine("the engine thread panicked".into())),
            None => Err(RunError::Engine("the pipeline was not started".into())),
        };
        let dead_letter_file = self
            .dead_letters
            .as_ref()
            .and_then(|d| d.lock().unwrap_or_else(|e| e.into_inner()).written_file().map(PathBuf::from));
        let report = result?;
        let summaries = std::mem::take(&mut *self.summaries.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(Outcome {
            stats: self.stats,
            metrics: self.metrics,
            elapsed: report.elapsed,
            setup: report.setup,
            summaries,
            dead_letter_file,
        })
    }
}

/// What a finished run did.
#[derive(Debug)]
pub struct Outcome {
    /// Counters per operation.
    pub stats: Arc<Stats>,
    /// What modules recorded through the `metrics` interface.
    pub metrics: Arc<MetricsRegistry>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Of `elapsed`, the engine's set-up before the source was first polled
    /// (in a cluster: connecting to the other processes).
    pub setup: Duration,
    /// The source's and sink's own counters, one line each.
    pub summaries: Vec<String>,
    /// The file failed records were written to, if any failed.
    pub dead_letter_file: Option<PathBuf>,
}

/// A source whose summary line is kept when the engine drops it.
struct Watched {
    inner: Box<dyn Source>,
    summaries: Arc<Mutex<Vec<String>>>,
    counters: Arc<ConnectorCounters>,
}

impl Source for Watched {
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Poll, ConnectorError> {
        let poll = self.inner.poll(max, wait)?;
        if let Poll::Data(items) = &poll {
            ConnectorCounters::add(&self.counters.with_ack, items.iter().filter(|i| i.ack.is_some()).count());
        }
        Ok(poll)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn ack(&mut self, tokens: &[u64]) -> Result<(), ConnectorError> {
        self.inner.ack(tokens)?;
        ConnectorCounters::add(&self.counters.acked, tokens.len());
        Ok(())
    }
    fn wait_ready(&mut self, timeout: Duration) -> bool {
        self.inner.wait_ready(timeout)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(line) = self.inner.summary() {
            self.summaries.lock().unwrap_or_else(|e| e.into_inner()).insert(0, line);
        }
    }
}

/// A sink that may also print each record, and keeps its summary line.
struct WatchedSink {
    inner: Box<dyn Sink>,
    echo: bool,
    summaries: Arc<Mutex<Vec<String>>>,
    counters: Arc<ConnectorCounters>,
}

impl Sink for WatchedSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.inner.write(record).inspect_err(|_| ConnectorCounters::add(&self.counters.sink_failed, 1))?;
        if self.echo {
            println!("{}", wasmgraph_connectors::file::record_to_json(record));
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.inner.flush().inspect_err(|_| ConnectorCounters::add(&self.counters.sink_failed, 1))
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

impl Drop for WatchedSink {
    fn drop(&mut self) {
        if let Some(line) = self.inner.summary() {
            self.summaries.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }
}

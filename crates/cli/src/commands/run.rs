//! `wasmgraph run`: run a graph over a directory of files, or on live messages
//! from a deployment file (or a graph on the embedded broker).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Context};

use super::graph_watch::{Loader, Supervisor};
use wasmgraph_connectors::mqtt::{MqttSinkSpec, MqttSourceSpec};
use wasmgraph_connectors::{SinkSpec, SourceSpec, StopHandle};
use wasmgraph_deployment::{Deployment, FileKind};
use wasmgraph_runtime::{metrics_summary, parse_params, summary, AppFolder, HostSettings, Outcome, Pipeline, Running};

/// Arguments of `wasmgraph run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A graph definition (YAML), or a deployment file (wasmgraph's
    /// `kind: Deployment` or AIO's `kind: DataflowGraph`), told apart by content.
    pub graph: PathBuf,
    /// Where module references resolve: `<name>.wasm`, `<name>-<version>.wasm`
    /// or an operator folder's `<name>/bin/<arch>/<mode>/<name>.wasm`.
    /// (Default: `.`; for a deployment, its `modules` or the graph's folder.)
    #[arg(long)]
    pub modules: Option<PathBuf>,
    /// Directory whose files, in name order, are the input messages. Without
    /// it the graph runs on live messages.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// The endpoints file of an AIO DataflowGraph (default: endpoints.yaml beside it).
    #[arg(long)]
    pub endpoints: Option<PathBuf>,
    /// A graph definition without --input: the topic filter to subscribe to
    /// on the embedded broker.
    #[arg(long, default_value = "wasmgraph/in/#")]
    pub topic: String,
    /// A graph definition without --input: the topic results are published to.
    #[arg(long, default_value = "wasmgraph/out/${inputTopic}")]
    pub sink_topic: String,
    /// Live runs: also print every result record to stdout as a JSON line.
    #[arg(long)]
    pub echo: bool,
    /// Directory for `output.jsonl` (and `errors.jsonl` for failed records).
    #[arg(long, default_value = "output")]
    pub output: PathBuf,
    /// A parameter value for an operation's init: OPERATION.KEY=VALUE (repeatable).
    #[arg(long = "param", value_name = "OPERATION.KEY=VALUE")]
    pub params: Vec<String>,
    /// Seed the state store from a JSON list of single-key objects (after
    /// the application folder's `statestore.json`, so these values win).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The application folder (AIO's layout): its `statestore.json` seeds the
    /// state store, its `hostapp.env.list` configures the host (schema, parameters)
    /// and, for a graph definition, its `operators/` folder holds the modules
    /// unless --modules says otherwise. Default: the folder holding the graph.
    #[arg(long, value_name = "DIR")]
    pub app: Option<PathBuf>,
    /// Worker threads (per process, in a cluster).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Run as one process of a timely cluster (see docs/cluster.md).
    /// (Boxed: `Command`'s variants stay of similar size.)
    #[command(flatten)]
    pub cluster: Box<super::cluster::ClusterArgs>,
    /// Where compiled modules are cached (default: ~/.cache/wasmgraph).
    #[arg(long, env = "WASMGRAPH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub telemetry: super::telemetry::TelemetryArgs,
    /// Where OCI references resolve: the graph given by reference, and its
    /// modules' `module: name:tag` (a deployment's own registry otherwise).
    #[command(flatten)]
    pub registry: super::registry::RegistryArgs,
    /// Seconds a message's own time (MQTT `__ts`) may be ahead of this host's
    /// clock; a time further ahead is refused (the message gets the host's
    /// time, and is counted and logged) so it cannot hold windows open.
    #[arg(long, env = "WASMGRAPH_MAX_CLOCK_SKEW", value_name = "SECONDS", default_value_t = 300)]
    pub max_clock_skew: u64,
    #[command(flatten)]
    pub limits: super::limits::LimitsArgs,
}

impl RunArgs {
    pub fn execute(mut self) -> anyhow::Result<ExitCode> {
        self.graph = super::registry::graph_file(&self.graph, &self.registry, self.cache_dir.as_ref())?;
        let text = std::fs::read_to_string(&self.graph).with_context(|| format!("reading {}", self.graph.display()))?;
        let kind = wasmgraph_deployment::detect(&text);
        let deployment = matches!(kind, FileKind::Deployment | FileKind::DataflowGraph);
        match &self.input {
            Some(_) if deployment => {
                bail!(
                    "{} is a deployment, which reads from its own source: run it without --input",
                    self.graph.display()
                )
            }
            Some(input) => self.execute_files(input.clone()),
            None if deployment => self.execute_deployment(),
            None => {
                if self.endpoints.is_some() {
                    bail!("--endpoints applies to AIO DataflowGraph deployments");
                }
                self.execute_live(self.embedded_pipeline(), true)
            }
        }
    }

    /// Settings shared by every kind of run. `app_modules`: a graph definition
    /// (not a deployment, which names its modules) whose modules may come from
    /// the application folder's `operators/`.
    fn configure(&self, mut pipeline: Pipeline, app_modules: bool) -> anyhow::Result<Pipeline> {
        for (op, kv) in parse_params(&self.params)? {
            pipeline.parameters.entry(op).or_default().extend(kv);
        }
        if let Some(m) = &self.modules {
            pipeline.modules = m.clone();
        }
        pipeline.host = HostSettings {
            cache_dir: self.cache_dir.clone(),
            state_seed: self.state.clone(),
            state_store: pipeline.host.state_store.clone(),
            limits: self.limits.apply(pipeline.host.limits.clone()),
            ..HostSettings::from_env()?
        };
        pipeline.workers = self.workers;
        pipeline.time_calls = self.telemetry.config().enabled();
        if let Some(registry) = self.registry.endpoint(None)? {
            pipeline.registry = Some(registry);
        }
        if pipeline.cluster.is_none() {
            pipeline.cluster = self.cluster.resolve(None)?;
        }
        pipeline.max_clock_skew = Duration::from_secs(self.max_clock_skew);
        let app = match &self.app {
            Some(dir) => AppFolder::load(dir)?,
            None => AppFolder::of_graph(&pipeline.graph)?,
        };
        for warning in app.warnings.iter().chain(&app.apply(&mut pipeline)?) {
            eprintln!("wasmgraph: warning: {warning}");
        }
        if let Some(operators) = app.operators().filter(|_| app_modules && self.modules.is_none()) {
            pipeline.modules = operators;
        }
        Ok(pipeline)
    }

    fn execute_files(&self, input: PathBuf) -> anyhow::Result<ExitCode> {
        let modules = self.modules.clone().unwrap_or_else(|| PathBuf::from("."));
        let pipeline = self.configure(Pipeline::files(&self.graph, modules, input, &self.output), true)?;
        let running = pipeline.start()?;
        let telemetry = self.telemetry.start(&running)?;
        let progress =
            running.remaining().filter(|&n| n >= 200).map(|n| crate::progress::bar(running.stats().clone(), n));
        let outcome = running.wait();
        telemetry.shutdown();
        if let Some((bar, handle)) = progress {
            bar.finish_and_clear();
            let _ = handle.join();
        }
        let outcome = outcome?;
        eprint!("{}", summary(&outcome.stats));
        eprint!("{}", metrics_summary(&outcome.metrics));
        eprintln!(
            "wrote {} record(s) to {} in {:.2?}",
            outcome.stats.written.load(Ordering::Relaxed),
            self.output.join("output.jsonl").display(),
            outcome.elapsed
        );
        if let Some(path) = &outcome.dead_letter_file {
            eprintln!("{} failed call(s); the records are in {}", outcome.stats.errors(), path.display());
        }
        Ok(ExitCode::SUCCESS)
    }

    /// A graph definition on the embedded broker: `--topic` in, `--sink-topic` out.
    fn embedded_pipeline(&self) -> Pipeline {
        let name = self.graph.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let source = SourceSpec::Mqtt(MqttSourceSpec::new(None, vec![self.topic.clone()]));
        let sink = SinkSpec::Mqtt(MqttSinkSpec::new(None, self.sink_topic.clone()));
        let mut p = Pipeline::new(&self.graph, ".", source, sink);
        p.name = if name.is_empty() { "wasmgraph".into() } else { name };
        p
    }

    /// A deployment until Ctrl-C / SIGTERM, started again (after draining)
    /// each time its graph definition changes in the registry
    /// (`graph_watch`).
    fn execute_deployment(&self) -> anyhow::Result<ExitCode> {
        let (file, endpoints, cache) = (self.graph.clone(), self.endpoints.clone(), self.cache_dir.clone());
        let load = move || -> anyhow::Result<Deployment> {
            Ok(wasmgraph_deployment::load_in(&file, endpoints.as_deref(), cache.as_deref())?)
        };
        let user = StopHandle::default();
        let mut d = load()?;
        loop {
            let mut pipeline = Pipeline::from_deployment(&d)?;
            pipeline.host.limits = super::limits::from_deployment(&d.limits);
            pipeline.cluster = self.cluster.resolve(d.cluster.as_ref())?;
            let every = d.registry.as_ref().and_then(|r| r.poll_interval);
            let watch = every.map(|every| (d.clone(), Box::new(load.clone()) as Loader, every));
            match self.run_live(pipeline, false, &user, watch)? {
                Some(next) => d = next,
                None => return Ok(ExitCode::SUCCESS),
            }
        }
    }

    /// Run until Ctrl-C / SIGTERM (or the source fails).
    fn execute_live(&self, pipeline: Pipeline, app_modules: bool) -> anyhow::Result<ExitCode> {
        self.run_live(pipeline, app_modules, &StopHandle::default(), None)?;
        Ok(ExitCode::SUCCESS)
    }

    /// One live run, its source stopped by `user` (the signals) or by a
    /// changed graph definition when `watch` is given: then the deployment
    /// to run next.
    fn run_live(
        &self,
        pipeline: Pipeline,
        app_modules: bool,
        user: &StopHandle,
        watch: Option<(Deployment, Loader, Duration)>,
    ) -> anyhow::Result<Option<Deployment>> {
        let mut pipeline = self.configure(pipeline, app_modules)?;
        pipeline.echo = self.echo;
        pipeline.ready_timeout = Some(Duration::from_secs(30));
        let running = pipeline.start()?;
        let telemetry = self.telemetry.start(&running)?;
        // A source that ends by itself (a deployment reading files) runs to its end.
        let stop = running.stop_handle();
        if stop.is_some() {
            static SIGNALS: std::sync::Once = std::sync::Once::new();
            let mut watching = Ok(());
            SIGNALS.call_once(|| watching = crate::signals::stop_on_signals(user.clone()));
            watching?;
        }
        // A source that cannot be stopped (files) cannot be drained for a restart either.
        let watch = watch.filter(|_| stop.is_some());
        let supervisor = Supervisor::start(user.clone(), stop.clone(), watch);
        announce(&running, self.echo);
        let outcome = running.wait();
        let next = supervisor.finish();
        telemetry.shutdown();
        if let Ok(o) = &outcome {
            print_live_summary(o);
        }
        outcome?;
        if next.is_some() && !user.is_stopped() {
            return Ok(next);
        }
        if stop.is_some_and(|s| !s.is_stopped()) {
            bail!("the source ended unexpectedly");
        }
        Ok(None)
    }
}

fn announce(running: &Running, echo: bool) {
    for note in running.notes() {
        eprintln!("wasmgraph: {note}");
    }
    let (source, sink) = running.endpoints();
    if !running.ready() {
        eprintln!("wasmgraph: warning: {source} is not receiving yet (still trying)");
    }
    let also = if echo { " and stdout" } else { "" };
    eprintln!("wasmgraph: reading {source}; results go to {sink}{also}. Ctrl-C stops.");
}

fn print_live_summary(o: &Outcome) {
    eprint!("{}", summary(&o.stats));
    for line in &o.summaries {
        eprintln!("{line}");
    }
    eprintln!("{} record(s) published; {} failed call(s)", o.stats.written.load(Ordering::Relaxed), o.stats.errors());
}

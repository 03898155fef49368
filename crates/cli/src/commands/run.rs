//! `wasmgraph run`: run a graph over a directory of files, or on live MQTT
//! messages from a deployment file (or the embedded broker).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use wasmgraph_deployment::{Configuration, Deployment, Endpoint, ErrorPolicy, FileKind, SinkSpec, SourceSpec};

use crate::graph::{metrics_summary, run_files, summary, FileRun};
use crate::live::{run_live, LiveRun};

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
    /// it the graph runs on live MQTT messages.
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
    /// Seed the state store from a JSON list of single-key objects.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Where compiled modules are cached (default: ~/.cache/wasmgraph).
    #[arg(long, env = "WASMGRAPH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl RunArgs {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let text = std::fs::read_to_string(&self.graph).with_context(|| format!("reading {}", self.graph.display()))?;
        let kind = wasmgraph_deployment::detect(&text);
        let Some(input) = self.input.clone() else {
            return self.execute_live(kind);
        };
        if matches!(kind, FileKind::Deployment | FileKind::DataflowGraph) {
            bail!("{} is a deployment, which reads from MQTT: run it without --input", self.graph.display());
        }
        let result = run_files(&FileRun {
            graph: self.graph,
            modules: self.modules.unwrap_or_else(|| PathBuf::from(".")),
            input,
            output: self.output,
            params: self.params,
            state: self.state,
            workers: self.workers,
            cache_dir: self.cache_dir,
            quiet: false,
        })?;
        eprint!("{}", summary(&result.stats));
        eprint!("{}", metrics_summary(&result.metrics));
        let errors = result.stats.errors();
        eprintln!(
            "wrote {} record(s) to {} in {:.2?}",
            result.stats.written.load(std::sync::atomic::Ordering::Relaxed),
            result.output_file.display(),
            result.elapsed
        );
        if let Some(path) = &result.errors_file {
            eprintln!("{errors} failed call(s); the records are in {}", path.display());
        }
        Ok(ExitCode::SUCCESS)
    }

    /// A deployment, or a graph definition on the embedded broker.
    fn execute_live(self, kind: FileKind) -> anyhow::Result<ExitCode> {
        let deployment = match kind {
            FileKind::Deployment | FileKind::DataflowGraph => {
                wasmgraph_deployment::load(&self.graph, self.endpoints.as_deref())?
            }
            _ => {
                if self.endpoints.is_some() {
                    bail!("--endpoints applies to AIO DataflowGraph deployments");
                }
                let name = self.graph.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                Deployment {
                    file: self.graph.clone(),
                    name: if name.is_empty() { "wasmgraph".into() } else { name },
                    graph: self.graph.clone(),
                    modules: None,
                    configuration: Configuration::PerOperation(Default::default()),
                    source: SourceSpec {
                        endpoint: Endpoint::Embedded { port: 1883 },
                        topics: vec![self.topic.clone()],
                        qos: 1,
                        max_message_size: 1 << 20,
                        receive_maximum: wasmgraph_deployment::DEFAULT_RECEIVE_MAXIMUM,
                    },
                    sink: SinkSpec {
                        endpoint: Endpoint::Embedded { port: 1883 },
                        topic: self.sink_topic.clone(),
                        qos: 1,
                        retain: false,
                    },
                    errors: ErrorPolicy::Drop,
                }
            }
        };
        run_live(LiveRun {
            deployment,
            modules: self
                .modules
                .or_else(|| (kind == FileKind::Graph || kind == FileKind::Unknown).then(|| PathBuf::from("."))),
            params: self.params,
            state: self.state,
            workers: self.workers,
            cache_dir: self.cache_dir,
            echo: self.echo,
        })?;
        Ok(ExitCode::SUCCESS)
    }
}

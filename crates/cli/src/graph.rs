//! From a graph file and command-line settings to a running graph: shared by
//! `wasmgraph run` and `wasmgraph test`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wasmgraph_config::{ModuleDirectory, ParameterValues};
use wasmgraph_connectors::file::{record_to_json, FileSink, FileSource, FileSourceConfig};
use wasmgraph_engine::wasm::plan_for_graph;
use wasmgraph_engine::{ErrorEvent, Plan, RunOptions, Stats};
use wasmgraph_host::{HostConfig, MetricsRegistry, Runtime, Services};
use wasmgraph_state_store::StateStore;

/// Everything needed to run a graph over a directory of files.
#[derive(Debug, Clone)]
pub struct FileRun {
    pub graph: PathBuf,
    pub modules: PathBuf,
    pub input: PathBuf,
    pub output: PathBuf,
    pub params: Vec<String>,
    pub state: Option<PathBuf>,
    pub workers: usize,
    pub cache_dir: Option<PathBuf>,
    pub quiet: bool,
}

/// What a finished run did.
pub struct FileRunResult {
    pub stats: Arc<Stats>,
    pub output_file: PathBuf,
    pub errors_file: Option<PathBuf>,
    pub metrics: Arc<MetricsRegistry>,
    pub elapsed: Duration,
}

/// `OPERATION.KEY=VALUE` values by operation. Operation names may contain dots
/// and slashes, so the key is what follows the last dot before `=`.
pub fn parse_params(params: &[String]) -> Result<ParameterValues> {
    let mut values: ParameterValues = HashMap::new();
    for param in params {
        let parsed = param.split_once('=').and_then(|(target, value)| {
            let (operation, key) = target.rsplit_once('.')?;
            (!operation.is_empty() && !key.is_empty()).then_some((operation, key, value))
        });
        let Some((operation, key, value)) = parsed else {
            bail!("--param '{param}': expected OPERATION.KEY=VALUE");
        };
        values.entry(operation.to_string()).or_default().insert(key.to_string(), value.to_string());
    }
    Ok(values)
}

/// One message per `--param` operation the graph does not have, sorted.
pub fn unknown_param_operations(graph: &wasmgraph_config::Graph, values: &ParameterValues) -> Vec<String> {
    let mut unknown: Vec<&str> = values.keys().filter(|op| graph.find(op).is_none()).map(String::as_str).collect();
    unknown.sort();
    unknown
        .into_iter()
        .map(|op| format!("--param: the graph has no operation named `{op}`; use the `name` of one of its operations"))
        .collect()
}

/// Validate the graph (printing every problem), load its modules and build the plan.
pub fn load_plan(graph_path: &Path, modules: &Path, values: &ParameterValues, runtime: &Runtime) -> Result<Plan> {
    let catalog = ModuleDirectory::new(modules);
    let graph = match wasmgraph_config::load_graph(graph_path, Some(&catalog), values) {
        Ok(g) => g,
        Err(errors) => {
            for e in errors.iter() {
                eprintln!("{e}");
            }
            bail!("{} has {} problem(s); nothing was run", graph_path.display(), errors.len());
        }
    };
    let unknown = unknown_param_operations(&graph, values);
    if !unknown.is_empty() {
        bail!("{}", unknown.join("\n"));
    }
    Ok(plan_for_graph(&graph, runtime)?)
}

/// A host runtime with a state store (seeded from `state` if given).
pub fn runtime(state: Option<&Path>, cache_dir: Option<PathBuf>) -> Result<(Runtime, Arc<MetricsRegistry>)> {
    let store = Arc::new(StateStore::new());
    if let Some(path) = state {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading state file {}", path.display()))?;
        store.seed_from_json(&text).with_context(|| format!("state file {}", path.display()))?;
    }
    let metrics = Arc::new(MetricsRegistry::default());
    let mut config = HostConfig::default();
    if cache_dir.is_some() {
        config.cache_dir = cache_dir;
    }
    if let Some(ms) = env_number("WASMGRAPH_CALL_TIMEOUT_MS")? {
        config.call_timeout = Duration::from_millis(ms);
    }
    if let Some(mib) = env_number("WASMGRAPH_MEMORY_LIMIT_MB")? {
        config.memory_limit = usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    }
    // The schema registry answers from `<dir>/<id>[-<version>].json` files.
    let schema_dir = std::env::var_os("WASMGRAPH_SCHEMA_DIR").map(PathBuf::from);
    if let Some(dir) = &schema_dir {
        if !dir.is_dir() {
            bail!("WASMGRAPH_SCHEMA_DIR={}: not a directory", dir.display());
        }
    }
    let services = Services { state_store: store, metrics: metrics.clone(), schema_dir };
    let runtime = Runtime::new(config, services).context("starting the WebAssembly host")?;
    Ok((runtime, metrics))
}

/// A positive whole number from the environment, if set.
fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => bail!("{name}={text:?}: expected a positive whole number"),
        },
    }
}

/// Run a graph from a directory of files to `<output>/output.jsonl`; failed
/// records go to `<output>/errors.jsonl`.
pub fn run_files(run: &FileRun) -> Result<FileRunResult> {
    let values = parse_params(&run.params)?;
    let (runtime, metrics) = runtime(run.state.as_deref(), run.cache_dir.clone())?;
    let plan = load_plan(&run.graph, &run.modules, &values, &runtime)?;
    let source = FileSource::open(FileSourceConfig::new(&run.input))?;
    let total = source.remaining() as u64;
    let output_file = run.output.join("output.jsonl");
    let errors_file = run.output.join("errors.jsonl");
    let sink = FileSink::create(&output_file)?;
    let _ = std::fs::remove_file(&errors_file);
    let error_sink: Arc<Mutex<Option<FileSink>>> = Arc::new(Mutex::new(None));
    let error_writer = error_sink.clone();
    let error_path = errors_file.clone();
    let on_error = Arc::new(move |event: &ErrorEvent| {
        let mut guard = error_writer.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            match FileSink::create(&error_path) {
                Ok(s) => *guard = Some(s),
                Err(err) => {
                    tracing::error!("cannot write failed records to {}: {err}", error_path.display());
                    return;
                }
            }
        }
        if let Some(out) = guard.as_mut() {
            let line = serde_json::json!({
                "operation": event.operation,
                "kind": event.kind.as_str(),
                "message": event.message,
                "records": event.records.iter().map(record_to_json).collect::<Vec<_>>(),
            });
            let _ = out.write_line(&line.to_string());
        }
    });
    let stats = Arc::new(Stats::for_plan(&plan));
    let progress = (!run.quiet && total >= 200).then(|| progress_bar(stats.clone(), total));
    let options = RunOptions { workers: run.workers, on_error: Some(on_error), ..RunOptions::default() };
    let report = wasmgraph_engine::run(plan, Box::new(source), Box::new(sink), stats.clone(), options);
    if let Some((bar, handle)) = progress {
        bar.finish_and_clear();
        let _ = handle.join();
    }
    let report = report?;
    let wrote_errors = match error_sink.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        Some(s) => {
            use wasmgraph_connectors::Sink;
            s.flush()?;
            true
        }
        None => false,
    };
    Ok(FileRunResult {
        stats,
        output_file,
        errors_file: wrote_errors.then_some(errors_file),
        metrics,
        elapsed: report.elapsed,
    })
}

fn progress_bar(stats: Arc<Stats>, total: u64) -> (indicatif::ProgressBar, std::thread::JoinHandle<()>) {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files read, {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let watched = bar.clone();
    let handle = std::thread::spawn(move || {
        while !watched.is_finished() {
            watched.set_position(stats.read.load(Ordering::Relaxed));
            watched.set_message(format!("{} written", stats.written.load(Ordering::Relaxed)));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    (bar, handle)
}

/// The metrics modules recorded, one line per series (nothing when none).
pub fn metrics_summary(metrics: &MetricsRegistry) -> String {
    let snap = metrics.snapshot();
    let labels = |l: &[(String, String)]| {
        if l.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", l.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
        }
    };
    let mut out = String::new();
    for c in &snap.counters {
        out.push_str(&format!("counter   {}{} = {}\n", c.name, labels(&c.labels), c.value));
    }
    for h in &snap.histograms {
        let s = &h.summary;
        let mean = if s.count > 0 { s.sum / s.count as f64 } else { 0.0 };
        out.push_str(&format!(
            "histogram {}{}: count {} min {} max {} mean {mean:.3}\n",
            h.name,
            labels(&h.labels),
            s.count,
            s.min,
            s.max
        ));
    }
    if !out.is_empty() {
        out.insert_str(0, "module metrics:\n");
    }
    out
}

/// The per-operation summary table.
pub fn summary(stats: &Stats) -> String {
    let width = stats.nodes.iter().map(|(n, _)| n.len()).max().unwrap_or(9).max(9);
    let mut out = format!("{:<width$} {:>10} {:>10} {:>8}\n", "operation", "in", "out", "errors");
    for (name, s) in &stats.nodes {
        let (i, o, e) = s.get();
        out.push_str(&format!("{name:<width$} {i:>10} {o:>10} {e:>8}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_params;

    #[test]
    fn params_split_at_the_last_dot() {
        let v = parse_params(&["module-temperature/filter.lower.bound=-40".into(), "a.b=".into()]).unwrap();
        assert_eq!(v["module-temperature/filter.lower"]["bound"], "-40");
        assert_eq!(v["a"]["b"], "");
        assert!(parse_params(&["nodot=1".into()]).is_err());
        assert!(parse_params(&["a.b".into()]).is_err());
        assert!(parse_params(&[".b=1".into()]).is_err());
    }
}

//! Small graphs built in code for the throughput benches (bench-graph,
//! bench-peer): memory source -> map -> filter -> counting sink, and the run
//! that times one of them.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use wasmgraph_connectors::memory::MemorySource;
use wasmgraph_connectors::Incoming;
use wasmgraph_engine::{Input, Node, NodeKind, OperatorFactory, Plan, RunOptions, Stats};
use wasmgraph_host::{Module, OperatorConfig, OperatorKind, Runtime};
use wasmgraph_runtime::WasmOperatorFactory;

use crate::CountingSink;

/// `source -> map -> filter -> sink`, each operator given as (component, operation name).
pub fn map_filter_plan(rt: &Runtime, map: (&Path, &str), filter: (&Path, &str)) -> Result<Plan> {
    let map_module = rt.load(map.0)?;
    let filter_module = rt.load(filter.0)?;
    let factory = |module: &Module, op: &str, kind| -> Arc<dyn OperatorFactory> {
        Arc::new(WasmOperatorFactory::new(
            rt.clone(),
            module.clone(),
            OperatorConfig { operation: op.into(), kind, properties: vec![], schemas: vec![] },
        ))
    };
    let node = |name: &str, kind, from: Option<usize>, factory| Node {
        name: name.into(),
        kind,
        inputs: from.map(|f| vec![Input { from: f, arm: None }]).unwrap_or_default(),
        factory,
        sequential: false,
        partition: None,
    };
    Ok(Plan {
        nodes: vec![
            node("source", NodeKind::Source, None, None),
            node("map", NodeKind::Map, Some(0), Some(factory(&map_module, map.1, OperatorKind::Map))),
            node("filter", NodeKind::Filter, Some(1), Some(factory(&filter_module, filter.1, OperatorKind::Filter))),
            node("sink", NodeKind::Sink, Some(2), None),
        ],
    })
}

/// CPU time (user + system) the process has used so far, threads that ended
/// included, in seconds (clock ticks of 10 ms).
pub fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(14) + ticks(15)) / 100.0
}

/// What one timed run of a plan gave.
pub struct RunFigures {
    /// Records in per second of wall time.
    pub rate: f64,
    /// Records that reached the sink.
    pub written: u64,
    /// CPU time per record in microseconds, all threads of the process: the
    /// machine's load disturbs it less than the rate.
    pub cpu_us: f64,
}

/// Run `plan` over `items` with `workers` workers, timed; prints the figures.
pub fn run_plan(plan: Plan, items: Vec<Incoming>, workers: usize) -> Result<RunFigures> {
    let n = items.len();
    let sink = CountingSink::default();
    let seen = sink.0.clone();
    let stats = Arc::new(Stats::for_plan(&plan));
    let started = Instant::now();
    let cpu = process_cpu_secs();
    wasmgraph_engine::run(
        plan,
        Box::new(MemorySource::new(items)),
        Box::new(sink),
        stats,
        RunOptions { workers, ..RunOptions::default() },
    )?;
    let secs = started.elapsed().as_secs_f64();
    let cpu = process_cpu_secs() - cpu;
    let figures =
        RunFigures { rate: n as f64 / secs, written: seen.count.load(Ordering::Relaxed), cpu_us: cpu * 1e6 / n as f64 };
    println!(
        "  ({n} records, {workers} worker(s): {:.0} records/s, {:.2} us CPU per record)",
        figures.rate, figures.cpu_us
    );
    Ok(figures)
}

//! Issue 6 item 2: graph throughput.
//!
//! memory source -> map (F->C) -> filter -> counting sink, with 1 and 2
//! workers, and the complex example graph (delay + branch + accumulates) on
//! the sample files repeated. The limit for scaling is measured in the same
//! run: the same native F->C work on 1 and 2 plain threads says how much of
//! a second core the shared machine gives right now.
//!
//! Knobs: `--records N`, `--reps N`, `--complex-times N`, `--quick`, and for
//! profiling one case (`perf record -g target/release/bench-graph --only f2c`)
//! `--only f2c|passthrough|complex` and `--workers 1|2` (one worker count only;
//! the scaling figures then are not printed).

use anyhow::{ensure, Result};
use wasmgraph_bench::*;

fn native_unit() -> u64 {
    thread_local! { static R: wasmgraph_types::Record = message(1, READING); }
    R.with(|r| native_f2c(r).map(|d| d.payload().len() as u64).unwrap_or(0))
}

fn main() -> Result<()> {
    println!("== bench-graph: graph throughput ==");
    note_load("graph");
    let n = if quick() { 20_000 } else { arg("--records", 200_000) };
    let reps = if quick() { 1 } else { arg("--reps", 5) };
    let only: String = arg("--only", String::new());
    let only_workers: usize = arg("--workers", 0);
    let wanted = |label: &str| only.is_empty() || only == label;
    let worker_counts: Vec<usize> = if only_workers == 0 { vec![1, 2] } else { vec![only_workers] };
    ensure!(only_workers <= 2, "--workers takes 1 or 2");
    ensure!(["", "f2c", "passthrough", "complex"].contains(&only.as_str()), "--only takes f2c, passthrough or complex");
    let rt = runtime(Some(bench_cache_dir()))?;

    // The machine's parallelism, for the same kind of work, measured again
    // next to every pair of graph runs: what a second thread gets on this
    // shared machine moves between 1.7x and 2.0x from one minute to the next.
    let per = if quick() { 50_000 } else { 300_000 };
    let machine_now = || parallel_rate(2, per, native_unit) / parallel_rate(1, per, native_unit);
    let mut machines = Vec::new();

    // The passthrough graph gets Celsius readings, which the filter keeps.
    let celsius = r#"{"temperature":{"value":653.8888888888889,"unit":"C"}}"#;
    for (label, map_wasm, map_op, payload) in [
        ("f2c", example_wasm("temperature"), "module-temperature/map", READING),
        ("passthrough", guest_wasm("passthrough"), "passthrough", celsius),
    ] {
        if !wanted(label) {
            continue;
        }
        let mut rates = [Vec::new(), Vec::new()];
        // Per round: (2-worker / 1-worker rate) / the machine's scaling then.
        let mut relative = Vec::new();
        for _ in 0..reps {
            let machine = machine_now();
            machines.push(machine);
            // Interleave 1 and 2 workers so drifting load hits both.
            for &workers in &worker_counts {
                let plan = map_filter_plan(
                    &rt,
                    (&map_wasm, map_op),
                    (&example_wasm("temperature"), "module-temperature/filter"),
                )?;
                let RunFigures { rate, written, .. } = run_plan(plan, incoming(n, payload), workers)?;
                ensure!(written == n as u64, "{label}: {written} of {n} records reached the sink");
                rates[workers - 1].push(rate);
            }
            if let ([.., r1], [.., r2]) = (rates[0].as_slice(), rates[1].as_slice()) {
                relative.push(r2 / r1 / machine);
            }
        }
        if worker_counts.len() == 1 {
            let w = worker_counts[0];
            let r = quantile(&mut rates[w - 1], 0.5);
            figure(
                &format!("graph.{label}.w{w}"),
                r,
                "records/s",
                &format!("source -> {label} map -> filter -> sink, {w} worker(s)"),
            );
            continue;
        }
        let r1 = quantile(&mut rates[0], 0.5);
        let r2 = quantile(&mut rates[1], 0.5);
        figure(
            &format!("graph.{label}.w1"),
            r1,
            "records/s",
            &format!("source -> {label} map -> filter -> sink, 1 worker"),
        );
        figure(
            &format!("graph.{label}.w2"),
            r2,
            "records/s",
            &format!("source -> {label} map -> filter -> sink, 2 workers"),
        );
        figure(
            &format!("graph.{label}.scaling"),
            r2 / r1,
            "x",
            &format!("{label} graph 2 workers / 1 worker (target >= 1.8)"),
        );
        figure(
            &format!("graph.{label}.scaling_vs_machine"),
            quantile(&mut relative, 0.5),
            "",
            &format!("{label} graph scaling / machine scaling, per round (median of the rounds)"),
        );
    }
    if !machines.is_empty() {
        figure(
            "graph.machine_scaling",
            quantile(&mut machines, 0.5),
            "x",
            "native F->C on 2 threads / 1 thread, next to each round of graph runs (median)",
        );
    }

    // Complex example: delay windows, branch, map, filter, three accumulates, enrichment.
    let root = root();
    let graph = root.join("examples/graphs/complex.yaml");
    let modules = root.join("examples/operators");
    let mut values = wasmgraph_config::ParameterValues::new();
    values.entry("module-temperature/filter".into()).or_default().insert("temperature_lower_bound".into(), "0".into());
    let times = if quick() { 20 } else { arg("--complex-times", 400) };
    let dir = root.join("examples/data/mixed");
    for &workers in &worker_counts {
        if !wanted("complex") {
            break;
        }
        let mut rates = Vec::new();
        let mut out = 0;
        let mut count = 0;
        for _ in 0..reps {
            let plan = load_plan(&graph, &modules, &values, &rt)?;
            let items = file_messages(&dir, times)?;
            count = items.len();
            let RunFigures { rate, written, .. } = run_plan(plan, items, workers)?;
            out = written;
            rates.push(rate);
        }
        println!("  (complex: {count} records in, {out} out, {workers} worker(s))");
        figure(
            &format!("graph.complex.w{workers}"),
            quantile(&mut rates, 0.5),
            "records/s",
            &format!("complex example graph on examples/data/mixed x{times}, {workers} worker(s)"),
        );
    }
    Ok(())
}

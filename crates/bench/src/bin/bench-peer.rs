//! Issue 16: wasmgraph next to a peer users would pick instead.
//!
//! Bytewax (timely underneath, plain CPython functions) runs the JSON F->C
//! map + filter on the reading of issue 6, one worker, records from memory
//! (`crates/bench/peer/bytewax_f2c.py`); wasmgraph runs the same work as
//! `source -> map -> filter -> sink` with the Rust example operators
//! (module-temperature map and filter) and with the Python example operators
//! (map_py, filter_py), one worker, records from a memory source. The three
//! are interleaved round by round so the shared machine's drifting load hits
//! all of them alike; the figures are the medians.
//!
//! Knobs: `--python PATH` (a Python with bytewax==0.21.1; `scripts/bench.sh
//! peer` makes the venv), `--records N` (Rust and Bytewax), `--py-records N`
//! (wasmgraph's Python graph, ~50 us a record), `--reps N`, `--quick`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use wasmgraph_bench::*;

/// The filter threshold Bytewax and filter_py use (Celsius); the reading is
/// 653.89 C, so every record passes every filter and each side writes all.
const THRESHOLD: &str = "20";

/// (records/s, CPU us per record) of one Bytewax run.
fn bytewax_run(python: &str, n: usize) -> Result<(f64, f64)> {
    let script = root().join("crates/bench/peer/bytewax_f2c.py");
    let out = Command::new(python)
        .arg(&script)
        .args([&n.to_string(), READING, THRESHOLD])
        .output()
        .with_context(|| format!("running {python} {}", script.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("bytewax run failed ({}): {}{}", out.status, text, String::from_utf8_lossy(&out.stderr));
    }
    let line = text.lines().find_map(|l| l.strip_prefix("RATE ")).context("bytewax printed no RATE line")?;
    let mut parts = line.split_whitespace();
    let rate: f64 = parts.next().and_then(|r| r.parse().ok()).context("bad RATE line")?;
    let written: usize = parts.next().and_then(|w| w.parse().ok()).context("bad RATE line")?;
    let cpu_us: f64 = parts.next().and_then(|c| c.parse().ok()).context("bad RATE line")?;
    ensure!(written == n, "bytewax: {written} of {n} records reached the sink");
    println!("  (bytewax: {n} records, 1 worker: {rate:.0} records/s, {cpu_us:.2} us CPU per record)");
    Ok((rate, cpu_us))
}

/// (records/s, CPU us per record) of one wasmgraph run.
fn wasmgraph_run(
    rt: &wasmgraph_host::Runtime,
    map: (&Path, &str),
    filter: (&Path, &str),
    n: usize,
) -> Result<(f64, f64)> {
    let plan = map_filter_plan(rt, map, filter)?;
    let run = run_plan(plan, incoming(n, READING), 1)?;
    ensure!(run.written == n as u64, "{}: {} of {n} records reached the sink", map.1, run.written);
    Ok((run.rate, run.cpu_us))
}

/// Medians of (records/s, CPU us per record) over the rounds.
fn medians(runs: &[(f64, f64)]) -> (f64, f64) {
    let mut rates: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let mut cpus: Vec<f64> = runs.iter().map(|r| r.1).collect();
    (quantile(&mut rates, 0.5), quantile(&mut cpus, 0.5))
}

fn report(key: &str, what: &str, (rate, cpu): (f64, f64), peer: (f64, f64)) {
    figure(&format!("peer.{key}.rate"), rate, "records/s", &format!("{what}, 1 worker"));
    figure(&format!("peer.{key}.cpu_us"), cpu, "us CPU/record", &format!("{what}, CPU per record (all threads)"));
    if key != "bytewax" {
        figure(
            &format!("peer.{key}.ratio"),
            rate / peer.0,
            "x Bytewax",
            &format!("{what}: rate / Bytewax's (target >= 1)"),
        );
        figure(
            &format!("peer.{key}.cpu_ratio"),
            peer.1 / cpu,
            "x Bytewax",
            &format!(
                "{what}: Bytewax's CPU per record / ours (>= 1: we use less; the load disturbs it less than the rate)"
            ),
        );
    }
}

fn main() -> Result<()> {
    println!("== bench-peer: wasmgraph next to Bytewax 0.21.1, F->C map + filter, one worker ==");
    note_load("peer");
    let python: String = arg("--python", String::from("python3"));
    let n = if quick() { 20_000 } else { arg("--records", 200_000) };
    let py_n = if quick() { 2_000 } else { arg("--py-records", 40_000) };
    let reps = if quick() { 1 } else { arg("--reps", 5) };
    let rt = runtime(Some(bench_cache_dir()))?;
    let temperature = example_wasm("temperature");
    let (map_py, filter_py) = (example_wasm("map_py"), example_wasm("filter_py"));
    let rust =
        ((temperature.as_path(), "module-temperature/map"), (temperature.as_path(), "module-temperature/filter"));
    let py = ((map_py.as_path(), "module-map-py/map"), (filter_py.as_path(), "module-filter-py/filter"));
    let (mut peer, mut ours, mut ours_py) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        peer.push(bytewax_run(&python, n)?);
        ours.push(wasmgraph_run(&rt, rust.0, rust.1, n)?);
        ours_py.push(wasmgraph_run(&rt, py.0, py.1, py_n)?);
    }
    let peer = medians(&peer);
    report("bytewax", "Bytewax 0.21.1, Python F->C map + filter", peer, peer);
    report("rust", "wasmgraph, Rust F->C map + filter components", medians(&ours), peer);
    report("python", "wasmgraph, Python F->C map + filter components", medians(&ours_py), peer);
    Ok(())
}

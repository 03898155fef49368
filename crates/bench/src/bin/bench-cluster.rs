//! Issue 17: one graph as a timely cluster of processes, against threads.
//!
//! The simple example graph (F->C map) over N reading files, file sink, as
//! `wasmgraph run --input` builds it (`wasmgraph_runtime::Pipeline`), in three
//! shapes: 1 process x 1 worker, 1 process x 2 workers, and 2 processes x 1
//! worker (this binary started twice with `--member`, connected on 127.0.0.1
//! by timely's TCP layer; file i read by process i mod 2, every record written
//! on process 0). Each process is a fresh child process; a rate is N over the
//! record time of the slowest process: the engine's run after its set-up
//! (modules loaded, workers started, and in a cluster the processes connected;
//! timely retries a refused connection every second, which used to dominate
//! the 2-process figure), from the first poll of the source to the last
//! record written. The set-up is reported on its own. Medians of the
//! repetitions, shapes interleaved so drifting load hits all.
//!
//! Knobs: `--files N` (default 20,000), `--reps N` (default 3), `--quick`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use wasmgraph_bench::*;
use wasmgraph_runtime::{Cluster, Pipeline};

/// One member: run the pipeline, print
/// `MEMBER<TAB>engine seconds<TAB>set-up seconds<TAB>written`.
fn member(args: &[String]) -> Result<()> {
    let get = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let input = PathBuf::from(get("--input").context("--input")?);
    let output = PathBuf::from(get("--output").context("--output")?);
    let workers: usize = get("--threads").context("--threads")?.parse()?;
    let root = root();
    let mut pipeline =
        Pipeline::files(root.join("examples/graphs/simple.yaml"), root.join("examples/operators"), input, output);
    pipeline.workers = workers;
    pipeline.host.cache_dir = Some(bench_cache_dir());
    if let (Some(process), Some(hosts)) = (get("--process"), get("--hosts")) {
        let hosts: Vec<String> = hosts.split(',').map(str::to_string).collect();
        pipeline.cluster = Some(Cluster::new(process.parse()?, hosts).map_err(anyhow::Error::msg)?);
    }
    let outcome = pipeline.run()?;
    let written = outcome.stats.written.load(std::sync::atomic::Ordering::Relaxed);
    let (elapsed, setup) = (outcome.elapsed.as_secs_f64(), outcome.setup.as_secs_f64());
    println!("MEMBER\t{elapsed}\t{setup}\t{written}");
    Ok(())
}

/// N reading files in `dir`.
fn write_inputs(dir: &Path, n: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for i in 0..n {
        std::fs::write(dir.join(format!("{i:07}.json")), READING)?;
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What one run of a shape measured.
struct Run {
    /// Record time (engine time after set-up) of the slowest process.
    records_secs: f64,
    /// The longest set-up of a process.
    setup_secs: f64,
    /// Records written by all processes.
    written: u64,
}

/// Run one shape: `processes` children of `workers` threads each.
fn run_shape(input: &Path, out: &Path, processes: usize, workers: usize) -> Result<Run> {
    let hosts: Vec<String> =
        (0..processes).map(|_| free_port().map(|p| format!("127.0.0.1:{p}"))).collect::<Result<_>>()?;
    let exe = std::env::current_exe()?;
    let children: Vec<_> = (0..processes)
        .map(|p| {
            let mut cmd = Command::new(&exe);
            cmd.arg("--member").arg("--input").arg(input).arg("--output").arg(out);
            cmd.args(["--threads", &workers.to_string()]);
            if processes > 1 {
                cmd.args(["--process", &p.to_string(), "--hosts", &hosts.join(",")]);
            }
            cmd.stdout(Stdio::piped()).spawn()
        })
        .collect::<std::io::Result<_>>()?;
    let mut run = Run { records_secs: 0.0, setup_secs: 0.0, written: 0 };
    for child in children {
        let output = child.wait_with_output()?;
        ensure!(output.status.success(), "a member failed ({})", output.status);
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().find(|l| l.starts_with("MEMBER\t")).context("a member printed no figures")?;
        let fields: Vec<&str> = line.split('\t').collect();
        ensure!(fields.len() == 4, "a member printed {line:?}");
        let (elapsed, setup): (f64, f64) = (fields[1].parse()?, fields[2].parse()?);
        run.records_secs = run.records_secs.max(elapsed - setup);
        run.setup_secs = run.setup_secs.max(setup);
        run.written += fields[3].parse::<u64>()?;
    }
    Ok(run)
}

fn median(mut v: Vec<f64>) -> f64 {
    quantile(&mut v, 0.5)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--member") {
        return member(&args);
    }
    println!("== bench-cluster: 1 vs 2 processes, and 2 threads ==");
    note_load("cluster");
    let n = if quick() { 2_000 } else { arg("--files", 20_000) };
    let reps = if quick() { 1 } else { arg("--reps", 3) };
    let dir = tempfile_dir()?;
    let input = dir.join("in");
    write_inputs(&input, n)?;
    let shapes = [("1x1", 1, 1), ("1x2", 1, 2), ("2x1", 2, 1)];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); shapes.len()];
    let mut setups: Vec<Vec<f64>> = vec![Vec::new(); shapes.len()];
    // One warm-up run fills the compile cache.
    run_shape(&input, &dir.join("warm"), 1, 1)?;
    for rep in 0..reps {
        for (i, &(label, processes, workers)) in shapes.iter().enumerate() {
            let started = Instant::now();
            let run = run_shape(&input, &dir.join(format!("{label}-{rep}")), processes, workers)?;
            if run.written != n as u64 {
                bail!("{label}: wrote {} of {n} records", run.written);
            }
            println!(
                "  {label}: {n} files in {:.2} s of record time, after {:.2} s of engine set-up ({:.2} s with \
                 start-up): {:.0} records/s",
                run.records_secs,
                run.setup_secs,
                started.elapsed().as_secs_f64(),
                n as f64 / run.records_secs
            );
            rates[i].push(n as f64 / run.records_secs);
            setups[i].push(run.setup_secs);
        }
    }
    let [one, threads, processes] = [0, 1, 2].map(|i| median(rates[i].clone()));
    let what = "1 process x 1 worker, simple graph over files, file sink; records from the first poll";
    figure("cluster.1x1_rate", one, "records/s", what);
    figure("cluster.1x2_rate", threads, "records/s", "1 process x 2 workers");
    figure("cluster.2x1_rate", processes, "records/s", "2 processes x 1 worker (timely over TCP on 127.0.0.1)");
    figure("cluster.2x1_vs_1x1", processes / one, "x", "2 processes over 1 process of 1 worker");
    figure("cluster.2x1_vs_1x2", processes / threads, "x", "2 processes of 1 worker over 1 process of 2 workers");
    for (i, (label, _, _)) in shapes.iter().enumerate() {
        let setup = median(setups[i].clone()) * 1000.0;
        figure(
            &format!("cluster.{label}_setup"),
            setup,
            "ms",
            &format!("{label}: engine set-up (connecting included)"),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A fresh folder under target/bench for the inputs and outputs.
fn tempfile_dir() -> Result<PathBuf> {
    let dir = root().join("target/bench/cluster");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

//! Issue 17: one graph as a timely cluster of processes, against threads.
//!
//! The simple example graph (F->C map) over N reading files, file sink, as
//! `wasmgraph run --input` builds it (`wasmgraph_runtime::Pipeline`), in three
//! shapes: 1 process x 1 worker, 1 process x 2 workers, and 2 processes x 1
//! worker (this binary started twice with `--member`, connected on 127.0.0.1
//! by timely's TCP layer; file i read by process i mod 2, every record written
//! on process 0). Each process is a fresh child process; a rate is N over the
//! engine time of the slowest process (the run after the modules are loaded:
//! what the processes and threads do with the records, connecting included),
//! median of the repetitions, shapes interleaved so drifting load hits all.
//!
//! Knobs: `--files N` (default 20,000), `--reps N` (default 3), `--quick`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use wasmgraph_bench::*;
use wasmgraph_runtime::{Cluster, Pipeline};

/// One member: run the pipeline, print `MEMBER<TAB>engine seconds<TAB>written`.
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
    println!("MEMBER\t{}\t{written}", outcome.elapsed.as_secs_f64());
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

/// Run one shape: `processes` children of `workers` threads each. Returns
/// (engine seconds of the slowest process, records written).
fn run_shape(input: &Path, out: &Path, processes: usize, workers: usize) -> Result<(f64, u64)> {
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
    let mut slowest: f64 = 0.0;
    let mut written = 0;
    for child in children {
        let output = child.wait_with_output()?;
        ensure!(output.status.success(), "a member failed ({})", output.status);
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().find(|l| l.starts_with("MEMBER\t")).context("a member printed no figures")?;
        let fields: Vec<&str> = line.split('\t').collect();
        slowest = slowest.max(fields[1].parse()?);
        written += fields[2].parse::<u64>()?;
    }
    Ok((slowest, written))
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
    // One warm-up run fills the compile cache.
    run_shape(&input, &dir.join("warm"), 1, 1)?;
    for rep in 0..reps {
        for (i, &(label, processes, workers)) in shapes.iter().enumerate() {
            let started = Instant::now();
            let (secs, written) = run_shape(&input, &dir.join(format!("{label}-{rep}")), processes, workers)?;
            if written != n as u64 {
                bail!("{label}: wrote {written} of {n} records");
            }
            println!(
                "  {label}: {n} files in {secs:.2} s of engine time ({:.2} s with start-up): {:.0} records/s",
                started.elapsed().as_secs_f64(),
                n as f64 / secs
            );
            rates[i].push(n as f64 / secs);
        }
    }
    let [one, threads, processes] = [0, 1, 2].map(|i| median(rates[i].clone()));
    figure("cluster.1x1_rate", one, "records/s", "1 process x 1 worker, simple graph over files, file sink");
    figure("cluster.1x2_rate", threads, "records/s", "1 process x 2 workers");
    figure("cluster.2x1_rate", processes, "records/s", "2 processes x 1 worker (timely over TCP on 127.0.0.1)");
    figure("cluster.2x1_vs_1x1", processes / one, "x", "2 processes over 1 process of 1 worker");
    figure("cluster.2x1_vs_1x2", processes / threads, "x", "2 processes of 1 worker over 1 process of 2 workers");
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

//! Issue 6 item 4: footprint and start.
//!
//! * start to first output record of the complex example with a warm compile
//!   cache, and RSS with the complex graph loaded: each in a fresh child
//!   process (this binary with `--child`), timed from the child's `main`;
//! * re-creation of a trapped instance: a guest that panics on every third
//!   call; the extra time of a trapping call over a normal call is what the
//!   re-creation costs (plus the trap itself).

use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasmgraph_bench::*;
use wasmgraph_connectors::memory::MemorySource;
use wasmgraph_engine::{RunOptions, Stats};
use wasmgraph_host::{Operator, OperatorConfig, OperatorKind};

fn child() -> Result<()> {
    let t0 = Instant::now();
    let rss0 = proc_status_kib("VmRSS:");
    let root = root();
    let rt = runtime(Some(bench_cache_dir()))?;
    let t_rt = t0.elapsed();
    let mut values = wasmgraph_config::ParameterValues::new();
    values.entry("module-temperature/filter".into()).or_default().insert("temperature_lower_bound".into(), "0".into());
    let (plan, validated) =
        load_plan_timed(&root.join("examples/graphs/complex.yaml"), &root.join("examples/operators"), &values, &rt)?;
    let t_plan = t0.elapsed();
    let disk = rt.stats().disk_hits;
    let compiled = rt.stats().compiled;
    let items = file_messages(&root.join("examples/data/mixed"), 1)?;
    let sink = CountingSink::default();
    let seen = sink.0.clone();
    let stats = Arc::new(Stats::for_plan(&plan));
    wasmgraph_engine::run(
        plan,
        Box::new(MemorySource::new(items)),
        Box::new(sink),
        stats,
        RunOptions { workers: 2, ..RunOptions::default() },
    )?;
    let first = seen.first.lock().unwrap_or_else(|e| e.into_inner()).context("no output record")?;
    println!(
        "CHILD\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        t_rt.as_secs_f64() * 1e3,
        t_plan.as_secs_f64() * 1e3,
        (first - t0).as_secs_f64() * 1e3,
        rss0,
        seen.rss_at_first_kib.load(Ordering::Relaxed),
        proc_status_kib("VmHWM:"),
        disk,
        compiled,
        seen.count.load(Ordering::Relaxed),
    );
    println!("VALIDATE\t{}", validated.as_secs_f64() * 1e3);
    Ok(())
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--child") {
        return child();
    }
    println!("== bench-footprint: footprint and start ==");
    note_load("footprint");
    let runs = if quick() { 2 } else { arg("--runs", 7) };
    let me = std::env::current_exe()?;
    // The first run warms the compile cache.
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let runs = if std::env::args().any(|a| a == "--only-recreate") { 0 } else { runs };
    for i in 0..=runs {
        let out = Command::new(&me).arg("--child").output()?;
        if !out.status.success() {
            bail!("child failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find(|l| l.starts_with("CHILD\t")).context("child printed no figures")?;
        let mut v: Vec<f64> = line.split('\t').skip(1).filter_map(|x| x.parse().ok()).collect();
        let validate = text.lines().find(|l| l.starts_with("VALIDATE\t")).and_then(|l| l[9..].parse().ok());
        v.push(validate.unwrap_or(f64::NAN));
        if i > 0 || runs == 0 {
            if v[7] > 0.0 {
                bail!("the compile cache was not warm: {} modules compiled", v[7]);
            }
            rows.push(v);
        }
    }
    let col = |i: usize| -> f64 {
        let mut c: Vec<f64> = rows.iter().map(|r| r[i]).collect();
        quantile(&mut c, 0.5)
    };
    figure("start.runtime_ms", col(0), "ms", "process main -> Runtime::new done (engine, linker, epoch thread)");
    figure(
        "start.plan_ms",
        col(1),
        "ms",
        "process main -> complex graph validated, modules loaded from the warm cache",
    );
    figure(
        "start.validate_ms",
        col(9),
        "ms",
        "of which: validating the graph (wasmgraph-config, reading module exports)",
    );
    figure(
        "start.first_record_ms",
        col(2),
        "ms",
        "process main -> first output record of the complex example, warm cache (target < 50)",
    );
    figure("footprint.rss_base_mib", col(3) / 1024.0, "MiB", "RSS of the bench process at main (the floor)");
    figure(
        "footprint.rss_running_mib",
        col(4) / 1024.0,
        "MiB",
        "RSS with the complex graph loaded and running (2 workers), at its first output record",
    );
    figure("footprint.rss_peak_mib", col(5) / 1024.0, "MiB", "peak RSS (VmHWM) over the complex example run");

    // Re-creation of a trapped instance.
    let rt = runtime(Some(bench_cache_dir()))?;
    let module = rt.load(&guest_wasm("panic-every-third"))?;
    let config =
        OperatorConfig { operation: "panics".into(), kind: OperatorKind::Map, properties: vec![], schemas: vec![] };
    let mut op = Operator::instantiate(&rt, &module, config.clone())?;
    let record = message(1, READING);
    let calls = if quick() { 300 } else { 6000 };
    let (mut ok, mut trapped) = (Vec::new(), Vec::new());
    for _ in 0..calls {
        let t = Instant::now();
        let r = op.map(&record);
        let ns = t.elapsed().as_nanos() as f64;
        if r.is_ok() {
            ok.push(ns)
        } else {
            trapped.push(ns)
        }
    }
    let recreations = op.stats().recreations;
    let recreate_us = op.stats().recreation_nanos as f64 / recreations.max(1) as f64 / 1e3;
    if recreations == 0 {
        bail!("no instance was re-created");
    }
    let ok_us = quantile(&mut ok, 0.5) / 1e3;
    let trap_us = quantile(&mut trapped, 0.5) / 1e3;
    figure("recreate.ok_call_us", ok_us, "us", "a normal call of the panicking guest");
    figure(
        "recreate.trapped_call_us",
        trap_us,
        "us",
        "a call that traps, including re-creating and re-initialising the instance",
    );
    figure(
        "recreate.cost_us",
        trap_us - ok_us,
        "us",
        "everything a trap costs: trapped call - normal call (the trap, its message and backtrace, re-creation)",
    );
    figure(
        "recreate.recreate_us",
        recreate_us,
        "us",
        "re-creating the trapped instance (drop the store, instantiate, init), timed by the host (target < 50)",
    );
    let mut inst = Vec::new();
    for _ in 0..(calls / 10).max(50) {
        let t = Instant::now();
        let o = Operator::instantiate(&rt, &module, config.clone())?;
        inst.push(t.elapsed().as_nanos() as f64);
        drop(o);
    }
    figure(
        "recreate.instantiate_us",
        quantile(&mut inst, 0.5) / 1e3,
        "us",
        "Operator::instantiate (store, instance, init) of the same guest",
    );
    Ok(())
}

//! Issue 6 item 1: per-record operator overhead.
//!
//! One process, one thread, interleaved rounds: a batch of calls through the
//! component, then a batch of the same logic as a native Rust function, and
//! so on; the figure is the ratio of the medians of the per-call times, so
//! load that comes and goes hits both sides alike.

use std::time::Instant;

use anyhow::{ensure, Result};
use wasmgraph_bench::*;
use wasmgraph_host::{Operator, OperatorConfig, OperatorKind};
use wasmgraph_types::{Bytes, DataModel, Record};

/// Per-call nanoseconds of `a` and `b`, interleaved, `rounds` x `batch` calls each.
fn interleaved(rounds: usize, batch: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    // Warm up both.
    for _ in 0..batch {
        a();
        b();
    }
    let (mut ta, mut tb) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            a();
        }
        ta.push(t.elapsed().as_nanos() as f64 / batch as f64);
        let t = Instant::now();
        for _ in 0..batch {
            b();
        }
        tb.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    (quantile(&mut ta, 0.5), quantile(&mut tb, 0.5))
}

fn op(rt: &wasmgraph_host::Runtime, path: &std::path::Path, name: &str, kind: OperatorKind) -> Result<Operator> {
    let module = rt.load(path)?;
    Ok(Operator::instantiate(
        rt,
        &module,
        OperatorConfig { operation: name.into(), kind, properties: vec![], schemas: vec![] },
    )?)
}

fn main() -> Result<()> {
    println!("== bench-operator: per-record operator overhead (one thread) ==");
    note_load("operator");
    let (rounds, batch) = if quick() { (10, 500) } else { (arg("--rounds", 60), arg("--batch", 2000)) };
    let rt = runtime(Some(bench_cache_dir()))?;
    let record = message(1, READING);
    // `--only f2c|lean|passthrough|fields|filter|python` runs one section (for profiling).
    let only: String = arg("--only", String::new());
    let run = |name: &str| only.is_empty() || only == name;

    // F->C: the example temperature map against the same logic natively.
    let native_out = native_f2c(&record).map_err(anyhow::Error::msg)?;
    if run("f2c") {
        let mut map = op(&rt, &example_wasm("temperature"), "module-temperature/map", OperatorKind::Map)?;
        let wasm_out = map.map(&record)?;
        ensure!(
            wasm_out.payload() == native_out.payload(),
            "wasm and native F->C disagree: {:?} vs {:?}",
            wasm_out.payload(),
            native_out.payload()
        );
        let (wasm_ns, native_ns) = interleaved(
            rounds,
            batch,
            || {
                std::hint::black_box(map.map(std::hint::black_box(&record)).ok());
            },
            || {
                std::hint::black_box(native_f2c(std::hint::black_box(&record)).ok());
            },
        );
        figure(
            "operator.f2c.wasm_ns",
            wasm_ns,
            "ns/record",
            "F->C example map through the component (payload as host buffer, full message)",
        );
        figure("operator.f2c.native_ns", native_ns, "ns/record", "F->C same logic as a native Rust function");
        figure("operator.f2c.ratio", wasm_ns / native_ns, "x native", "F->C component / native (target <= 3)");
    }

    // The same F->C with nothing else (no metrics, no logging, one parse): the
    // component boundary alone.
    let lean = bench_guest_wasm();
    if run("lean") && lean.exists() {
        let mut map = op(&rt, &lean, "bench-f2c", OperatorKind::Map)?;
        let w = map.map(&record)?;
        let n = lean_f2c(&record).map_err(anyhow::Error::msg)?;
        ensure!(
            w.payload() == n.payload(),
            "lean wasm and native F->C disagree: {:?} vs {:?}",
            w.payload(),
            n.payload()
        );
        let (wasm_ns, native_ns) = interleaved(
            rounds,
            batch,
            || {
                std::hint::black_box(map.map(std::hint::black_box(&record)).ok());
            },
            || {
                std::hint::black_box(lean_f2c(std::hint::black_box(&record)).ok());
            },
        );
        figure(
            "operator.lean_f2c.wasm_ns",
            wasm_ns,
            "ns/record",
            "lean F->C map (bench guest: parse, convert, serialize; no log/metrics) through the component",
        );
        figure("operator.lean_f2c.native_ns", native_ns, "ns/record", "lean F->C, same logic natively");
        figure(
            "operator.lean_f2c.ratio",
            wasm_ns / native_ns,
            "x native",
            "lean F->C component / native (target <= 3)",
        );
    } else if run("lean") {
        println!("  (skipping the lean F->C: {} is not built)", lean.display());
    }

    // Passthrough map: the full message record, and the bare buffer-or-bytes data model.
    if run("passthrough") {
        let mut pass = op(&rt, &guest_wasm("passthrough"), "passthrough", OperatorKind::Map)?;
        let out = pass.map(&record)?;
        ensure!(out == record.data, "passthrough changed the record");
        let bare = Record { data: DataModel::BufferOrBytes(Bytes::from_static(READING.as_bytes())), ..record.clone() };
        let (pass_ns, clone_ns) = interleaved(
            rounds,
            batch * 2,
            || {
                std::hint::black_box(pass.map(std::hint::black_box(&record)).ok());
            },
            || {
                std::hint::black_box(std::hint::black_box(&record).data.clone());
            },
        );
        figure("operator.passthrough.ns", pass_ns, "ns/record", "passthrough map, full message record");
        figure(
            "operator.passthrough.rate",
            1e9 / pass_ns,
            "records/s",
            "passthrough map records/s on one thread (target >= 1,000,000)",
        );
        figure(
            "operator.passthrough.native_clone_ns",
            clone_ns,
            "ns/record",
            "native: cloning the record's data model (the least a map can do)",
        );
        let (bare_ns, _) = interleaved(
            rounds,
            batch * 2,
            || {
                std::hint::black_box(pass.map(std::hint::black_box(&bare)).ok());
            },
            || {},
        );
        figure(
            "operator.passthrough_bare.ns",
            bare_ns,
            "ns/record",
            "passthrough map, bare buffer-or-bytes data model (one buffer, no message record)",
        );
        figure(
            "operator.passthrough_bare.rate",
            1e9 / bare_ns,
            "records/s",
            "passthrough map records/s on one thread, bare buffer-or-bytes data model",
        );
    }

    // What each field of the message record costs at the component boundary:
    // the passthrough guest on records that differ by one field at a time, all
    // measured round-robin in the same rounds. The canonical ABI copies every
    // string and list into guest memory (a `realloc` call into the guest each)
    // and back out, so the cost follows the number of fields, not their size.
    if run("fields") {
        let mut pass = op(&rt, &guest_wasm("passthrough"), "passthrough", OperatorKind::Map)?;
        let with = |f: &dyn Fn(&mut wasmgraph_types::Message)| {
            let mut r = record.clone();
            if let DataModel::Message(m) = &mut r.data {
                f(m)
            }
            r
        };
        let steps: Vec<(&str, &str, Record)> = vec![
            (
                "bare",
                "bare buffer-or-bytes data model (one buffer)",
                Record { data: DataModel::BufferOrBytes(Bytes::from_static(READING.as_bytes())), ..record.clone() },
            ),
            (
                "message",
                "message record: payload buffer, empty node id and topic, no content type, no properties",
                with(&|m| {
                    m.user_properties.clear();
                    m.content_type = None;
                    m.topic = Bytes::new();
                    m.timestamp = wasmgraph_types::Hlc::new(1, 0, "");
                }),
            ),
            (
                "node_id",
                "+ timestamp node id",
                with(&|m| {
                    m.user_properties.clear();
                    m.content_type = None;
                    m.topic = Bytes::new();
                }),
            ),
            (
                "topic",
                "+ topic",
                with(&|m| {
                    m.user_properties.clear();
                    m.content_type = None;
                }),
            ),
            ("content_type", "+ content type", with(&|m| m.user_properties.clear())),
            ("user_property", "+ one user property (the full record of operator.passthrough)", record.clone()),
        ];
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
        for _ in 0..rounds {
            for (i, (_, _, r)) in steps.iter().enumerate() {
                let t = Instant::now();
                for _ in 0..batch {
                    std::hint::black_box(pass.map(std::hint::black_box(r)).ok());
                }
                times[i].push(t.elapsed().as_nanos() as f64 / batch as f64);
            }
        }
        for (i, (name, what, _)) in steps.iter().enumerate() {
            figure(
                &format!("operator.fields.{name}_ns"),
                quantile(&mut times[i], 0.5),
                "ns/record",
                &format!("passthrough map, {what}"),
            );
        }
    }

    // Filter: the example temperature filter on the Celsius reading.
    if run("filter") {
        let celsius = Record { data: native_out.clone(), ..record.clone() };
        let mut filter = op(&rt, &example_wasm("temperature"), "module-temperature/filter", OperatorKind::Filter)?;
        ensure!(filter.filter(&celsius)? == native_filter(&celsius).map_err(anyhow::Error::msg)?, "filters disagree");
        let (fw, fn_) = interleaved(
            rounds,
            batch,
            || {
                std::hint::black_box(filter.filter(std::hint::black_box(&celsius)).ok());
            },
            || {
                std::hint::black_box(native_filter(std::hint::black_box(&celsius)).ok());
            },
        );
        figure("operator.filter.wasm_ns", fw, "ns/record", "temperature filter through the component");
        figure("operator.filter.native_ns", fn_, "ns/record", "temperature filter natively");
        figure("operator.filter.ratio", fw / fn_, "x native", "filter component / native");
    }

    // Python map (componentize-py): F->C in Python.
    let py = example_wasm("map_py");
    if !run("python") {
    } else if py.exists() {
        let started = Instant::now();
        let mut pymap = op(&rt, &py, "map_py", OperatorKind::Map)?;
        println!("  (map_py loaded and instantiated in {:?})", started.elapsed());
        pymap.map(&record)?;
        let pb = (batch / 20).max(20);
        let (py_ns, native_ns) = interleaved(
            rounds.min(30),
            pb,
            || {
                std::hint::black_box(pymap.map(std::hint::black_box(&record)).ok());
            },
            || {
                std::hint::black_box(native_f2c(std::hint::black_box(&record)).ok());
            },
        );
        figure("operator.python_map.ns", py_ns, "ns/record", "Python F->C map (componentize-py) through the component");
        figure("operator.python_map.rate", 1e9 / py_ns, "records/s", "Python map records/s on one thread");
        figure("operator.python_map.ratio", py_ns / native_ns, "x native", "Python map / native F->C");
    } else {
        println!("  (skipping the Python map: {} is not built)", py.display());
    }
    Ok(())
}

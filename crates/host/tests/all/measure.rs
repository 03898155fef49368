//! Rough figures printed for a human (`cargo test -p wasmgraph-host --test all
//! measure -- --ignored --nocapture`). Nothing is asserted about time; the real
//! benchmarks belong to the bench suite.

use std::time::Instant;

use wasmgraph_host::{Operator, OperatorConfig, OperatorKind};

use crate::support::*;

#[test]
#[ignore]
fn print_rough_figures() {
    let path = fixture("passthrough");
    let t = runtime();
    let started = Instant::now();
    let module = t.rt.load(&path).unwrap();
    eprintln!("compile passthrough: {:?}", started.elapsed());
    let cache = t.rt.cache_dir().unwrap().parent().unwrap().to_path_buf();
    let warm = runtime_with(|c, _| c.cache_dir = Some(cache.clone()));
    let started = Instant::now();
    warm.rt.load(&path).unwrap();
    eprintln!("load from disk cache: {:?}", started.elapsed());

    let config = OperatorConfig { operation: "m".into(), kind: OperatorKind::Map, properties: vec![], schemas: vec![] };
    let started = Instant::now();
    let mut op = Operator::instantiate(&t.rt, &module, config).unwrap();
    eprintln!("instantiate + init: {:?}", started.elapsed());

    let record = message(r#"{"temperature":{"value":1209,"unit":"F"}}"#);
    for _ in 0..1000 {
        op.map(&record).unwrap();
    }
    let n = 20_000;
    let started = Instant::now();
    for _ in 0..n {
        op.map(&record).unwrap();
    }
    eprintln!("passthrough map, full message: {:?}/call", started.elapsed() / n);

    let mut panicky = t.operator("panic-every-third", OperatorKind::Map);
    panicky.map(&record).unwrap();
    panicky.map(&record).unwrap();
    let started = Instant::now();
    panicky.map(&record).unwrap_err();
    eprintln!("trap + re-create + init: {:?}", started.elapsed());
}

//! A message's own time far ahead of the host clock (issue 18): refused,
//! stamped with the host's time, counted, and later messages keep theirs.

use std::sync::Arc;
use std::time::Duration;

use wasmgraph_connectors::memory::{MemorySink, MemorySource};
use wasmgraph_connectors::Incoming;
use wasmgraph_engine::{run, Input, Node, NodeKind, Plan, RunOptions, Stats};
use wasmgraph_types::{wall_nanos, Bytes, DataModel, Hlc, Message};

fn message(payload: &str, time: Option<Hlc>) -> Incoming {
    Incoming {
        data: DataModel::Message(Message { payload: Bytes::from(payload.to_string()), ..Message::default() }),
        time,
        ack: None,
    }
}

fn source_to_sink() -> Plan {
    let node = |name: &str, kind, inputs: &[usize]| Node {
        name: name.into(),
        kind,
        inputs: inputs.iter().map(|&from| Input { from, arm: None }).collect(),
        factory: None,
        sequential: false,
        partition: None,
    };
    Plan { nodes: vec![node("source", NodeKind::Source, &[]), node("sink", NodeKind::Sink, &[0])] }
}

#[test]
fn a_far_future_time_gets_the_host_time_and_is_counted() {
    let start = wall_nanos();
    let near = Hlc::new(start + 2_000_000_000, 0, "peer");
    let input = vec![
        message("future", Some(Hlc::parse_wire("18446744073709:0:x").unwrap())),
        message("near", Some(near.clone())),
        message("untimed", None),
    ];
    let plan = source_to_sink();
    let stats = Arc::new(Stats::for_plan(&plan));
    let sink = MemorySink::new();
    let options = RunOptions { max_clock_skew: Duration::from_secs(60), ..RunOptions::default() };
    run(plan, Box::new(MemorySource::new(input)), Box::new(sink.clone()), stats.clone(), options).unwrap();
    let records = sink.records();
    let times: Vec<(String, u64)> =
        records.iter().map(|r| (String::from_utf8_lossy(r.data.payload()).into_owned(), r.time.nanos)).collect();
    assert_eq!(times.len(), 3, "{times:?}");
    assert_eq!(times[0].0, "future");
    assert!(times[0].1 >= start && times[0].1 < start + 60_000_000_000, "host time, not the far future: {times:?}");
    assert_eq!(times[1], ("near".to_string(), near.nanos), "a time within the skew is kept as it is");
    assert!(times[2].1 >= near.nanos, "the clock never goes back: {times:?}");
    assert_eq!(stats.future_times.load(std::sync::atomic::Ordering::Relaxed), 1);
}

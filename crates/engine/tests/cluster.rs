//! The engine as a timely cluster: two "processes" (two `run` calls, each on
//! a thread of this test, connected by timely's TCP layer on 127.0.0.1), each
//! with its own part of the input, against one process.

use std::sync::{Arc, Mutex};

use wasmgraph_connectors::memory::{MemorySink, MemorySource};
use wasmgraph_connectors::{ConnectorError, Incoming, Poll, Sink, Source};
use wasmgraph_engine::{
    run, Cluster, Input, Node, NodeKind, OperatorFactory, PartitionKey, Plan, RunOptions, SinkPlacement, Stats,
};
use wasmgraph_types::{Bytes, DataModel, Hlc, Message, Record};

mod common;

use common::{text, Native};

const SEC: u64 = 1_000_000_000;

fn node(name: &str, kind: NodeKind, from: Option<usize>, op: Option<Native>, sequential: bool) -> Node {
    Node {
        name: name.into(),
        kind,
        inputs: from.map(|f| vec![Input { from: f, arm: None }]).unwrap_or_default(),
        factory: op.map(|o| Arc::new(o) as Arc<dyn OperatorFactory>),
        sequential,
        partition: None,
    }
}

fn window() -> Native {
    Native { delay: Some(|r| Hlc::new(r.time.nanos.div_ceil(10 * SEC) * 10 * SEC, 0, "window")), ..Native::default() }
}

/// source -> 10 s window -> accumulate (joins the payloads) -> sink.
fn windowed_plan() -> Plan {
    let join = Native {
        fold: Some(|staged, batch| {
            let mut acc = String::from_utf8_lossy(staged.payload()).into_owned();
            for r in batch {
                if !acc.is_empty() {
                    acc.push(',');
                }
                acc.push_str(&text(r));
            }
            DataModel::Message(Message { payload: Bytes::from(acc), ..Message::default() })
        }),
        ..Native::default()
    };
    Plan {
        nodes: vec![
            node("source", NodeKind::Source, None, None, false),
            node("window", NodeKind::Delay, Some(0), Some(window()), false),
            node("join", NodeKind::Accumulate, Some(1), Some(join), false),
            node("sink", NodeKind::Sink, Some(2), None, false),
        ],
    }
}

/// Message i at i seconds (plus 1 ns), acknowledged with token i.
fn messages(n: usize) -> Vec<Incoming> {
    (0..n)
        .map(|i| {
            let time = Hlc::new(1 + i as u64 * SEC, 0, "test");
            Incoming {
                data: DataModel::Message(Message { payload: Bytes::from(format!("m{i}")), ..Message::default() }),
                time: Some(time),
                ack: Some(i as u64),
            }
        })
        .collect()
}

/// The part of `messages(n)` process `p` of `parts` reads: by index, as files are split.
fn part(n: usize, p: usize, parts: usize) -> Vec<Incoming> {
    messages(n).into_iter().enumerate().filter(|(i, _)| i % parts == p).map(|(_, m)| m).collect()
}

fn hosts(n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            format!("127.0.0.1:{port}")
        })
        .collect()
}

/// Run `plan` as a cluster of `processes` x `workers`, each process on a
/// thread of its own with `source(p)` and `sink(p)`, the sink gathered.
fn run_cluster<S, K>(plan: fn() -> Plan, processes: usize, workers: usize, source: S, sink: K)
where
    S: Fn(usize) -> Box<dyn Source>,
    K: Fn(usize) -> Box<dyn Sink>,
{
    run_cluster_with(plan, (processes, workers), SinkPlacement::Gathered, source, sink)
}

/// [`run_cluster`] with the sink placed by `sinks`.
fn run_cluster_with<S, K>(plan: fn() -> Plan, shape: (usize, usize), sinks: SinkPlacement, source: S, sink: K)
where
    S: Fn(usize) -> Box<dyn Source>,
    K: Fn(usize) -> Box<dyn Sink>,
{
    let (processes, workers) = shape;
    let hosts = hosts(processes);
    let threads: Vec<_> = (0..processes)
        .map(|p| {
            let (source, sink, plan) = (source(p), sink(p), plan());
            let cluster = Cluster::new(p, hosts.clone()).unwrap();
            let options = RunOptions { workers, batch: 4, cluster: Some(cluster), sinks, ..RunOptions::default() };
            std::thread::spawn(move || {
                let stats = Arc::new(Stats::for_plan(&plan));
                run(plan, source, sink, stats, options)
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
}

#[test]
fn two_processes_write_what_one_process_writes() {
    let single = MemorySink::new();
    let plan = windowed_plan();
    let stats = Arc::new(Stats::for_plan(&plan));
    let source = MemorySource::new(messages(95));
    run(plan, Box::new(source), Box::new(single.clone()), stats, RunOptions { batch: 4, ..RunOptions::default() })
        .unwrap();
    for (processes, workers) in [(2, 1), (2, 2), (3, 2)] {
        let sinks: Vec<MemorySink> = (0..processes).map(|_| MemorySink::new()).collect();
        let sources: Vec<Mutex<Option<MemorySource>>> =
            (0..processes).map(|p| Mutex::new(Some(MemorySource::new(part(95, p, processes))))).collect();
        let acks: Vec<_> = sources.iter().map(|s| s.lock().unwrap().as_ref().unwrap().acked()).collect();
        run_cluster(
            windowed_plan,
            processes,
            workers,
            |p| Box::new(sources[p].lock().unwrap().take().unwrap()),
            |p| Box::new(sinks[p].clone()),
        );
        assert_eq!(sinks[0].records(), single.records(), "{processes} x {workers}");
        assert_eq!(single.records().len(), 10);
        for (p, sink) in sinks.iter().enumerate().skip(1) {
            assert!(sink.records().is_empty(), "process {p} wrote records: only process 0 writes");
        }
        for (p, acked) in acks.iter().enumerate() {
            let expected: Vec<u64> = (0..95u64).filter(|i| *i as usize % processes == p).collect();
            assert_eq!(*acked.lock().unwrap(), expected, "process {p} of {processes} x {workers}");
        }
    }
}

/// Counts which messages were acknowledged before their record was written.
struct AckChecker {
    inner: MemorySource,
    written: Arc<Mutex<Vec<u64>>>,
    early: Arc<Mutex<Vec<u64>>>,
}

impl Source for AckChecker {
    fn poll(&mut self, max: usize, wait: std::time::Duration) -> Result<Poll, ConnectorError> {
        self.inner.poll(max, wait)
    }
    fn describe(&self) -> String {
        "ack checker".into()
    }
    fn ack(&mut self, tokens: &[u64]) -> Result<(), ConnectorError> {
        let written = self.written.lock().unwrap().clone();
        self.early.lock().unwrap().extend(tokens.iter().filter(|t| !written.contains(t)));
        self.inner.ack(tokens)
    }
}

/// Records each record's `seq` (message i's record has seq i in the cluster too).
struct SeqSink(Arc<Mutex<Vec<u64>>>);

impl Sink for SeqSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.0.lock().unwrap().push(record.seq);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "seq sink".into()
    }
}

#[test]
fn a_message_whose_record_a_delay_on_another_process_moved_waits_for_that_record() {
    // A sequential map gathers every record on worker 0 of process 0; the
    // window delay there moves process 1's records to their window's end,
    // so process 1 learns of the moves only through the cluster.
    fn plan() -> Plan {
        let same = Native { map: Some(|r| Ok(r.data.clone())), ..Native::default() };
        Plan {
            nodes: vec![
                node("source", NodeKind::Source, None, None, false),
                node("gather", NodeKind::Map, Some(0), Some(same), true),
                node("window", NodeKind::Delay, Some(1), Some(window()), false),
                node("sink", NodeKind::Sink, Some(2), None, false),
            ],
        }
    }
    let written: Arc<Mutex<Vec<u64>>> = Arc::default();
    let early: Arc<Mutex<Vec<u64>>> = Arc::default();
    let sources: Vec<Mutex<Option<AckChecker>>> = (0..2)
        .map(|p| {
            let inner = MemorySource::new(part(35, p, 2));
            Mutex::new(Some(AckChecker { inner, written: written.clone(), early: early.clone() }))
        })
        .collect();
    let acked: Vec<_> = sources.iter().map(|s| s.lock().unwrap().as_ref().unwrap().inner.acked()).collect();
    run_cluster(
        plan,
        2,
        2,
        |p| Box::new(sources[p].lock().unwrap().take().unwrap()),
        |_| Box::new(SeqSink(written.clone())),
    );
    assert_eq!(written.lock().unwrap().len(), 35);
    assert_eq!(acked[1].lock().unwrap().len(), 17, "process 1 acknowledged every message it read");
    assert!(early.lock().unwrap().is_empty(), "acknowledged before written: {:?}", early.lock().unwrap());
}

/// Message i at i seconds: `{"sensor":"s<i mod 5>","n":i}`, token i.
fn sensor_messages(n: usize) -> Vec<Incoming> {
    messages(n)
        .into_iter()
        .enumerate()
        .map(|(i, mut m)| {
            let payload = format!(r#"{{"sensor":"s{}","n":{i}}}"#, i % 5);
            m.data = DataModel::Message(Message { payload: Bytes::from(payload), ..Message::default() });
            m
        })
        .collect()
}

/// source -> 10 s window -> accumulate keyed by the JSON field `/sensor`
/// (`<sensor>:<n>,<n>,...`, checking every record has the group's key) -> sink.
fn keyed_plan() -> Plan {
    fn field(r: &Record, name: &str) -> String {
        let v: serde_json::Value = serde_json::from_slice(r.data.payload()).unwrap();
        v[name].to_string().trim_matches('"').to_string()
    }
    let per_sensor = Native {
        fold: Some(|staged, batch| {
            let mut acc = String::from_utf8_lossy(staged.payload()).into_owned();
            for r in batch {
                let sensor = field(r, "sensor");
                if acc.is_empty() {
                    acc = format!("{sensor}:");
                } else {
                    assert!(acc.starts_with(&format!("{sensor}:")), "{sensor} folded into {acc}");
                    acc.push(',');
                }
                acc.push_str(&field(r, "n"));
            }
            DataModel::Message(Message { payload: Bytes::from(acc), ..Message::default() })
        }),
        ..Native::default()
    };
    let mut accumulate = node("per-sensor", NodeKind::Accumulate, Some(1), Some(per_sensor), false);
    accumulate.partition = Some(PartitionKey::JsonField("/sensor".into()));
    Plan {
        nodes: vec![
            node("source", NodeKind::Source, None, None, false),
            node("window", NodeKind::Delay, Some(0), Some(window()), false),
            accumulate,
            node("sink", NodeKind::Sink, Some(2), None, false),
        ],
    }
}

fn payloads(records: &[Record]) -> Vec<String> {
    records.iter().map(text).collect()
}

#[test]
fn a_keyed_accumulate_writes_the_same_for_1x1_1x2_and_3x2() {
    const N: usize = 47;
    let run_single = |workers: usize| {
        let sink = MemorySink::new();
        let plan = keyed_plan();
        let stats = Arc::new(Stats::for_plan(&plan));
        let options = RunOptions { workers, batch: 4, ..RunOptions::default() };
        run(plan, Box::new(MemorySource::new(sensor_messages(N))), Box::new(sink.clone()), stats, options).unwrap();
        sink.records()
    };
    let one = run_single(1);
    // 5 windows (0-10 s, ..., 40-50 s) x 5 sensors: one result per window and sensor.
    assert_eq!(one.len(), 25, "{:?}", payloads(&one));
    assert_eq!(text(&one[0]), "s0:0,5");
    assert_eq!(text(&one[1]), "s1:1,6");
    assert_eq!(text(&one[24]), "s4:44");
    assert_eq!(payloads(&run_single(2)), payloads(&one), "1 x 2");
    let sinks: Vec<MemorySink> = (0..3).map(|_| MemorySink::new()).collect();
    let sources: Vec<Mutex<Option<MemorySource>>> = (0..3)
        .map(|p| {
            let part = sensor_messages(N).into_iter().enumerate().filter(|(i, _)| i % 3 == p).map(|(_, m)| m);
            Mutex::new(Some(MemorySource::new(part.collect::<Vec<_>>())))
        })
        .collect();
    let acks: Vec<_> = sources.iter().map(|s| s.lock().unwrap().as_ref().unwrap().acked()).collect();
    run_cluster(
        keyed_plan,
        3,
        2,
        |p| Box::new(sources[p].lock().unwrap().take().unwrap()),
        |p| Box::new(sinks[p].clone()),
    );
    assert_eq!(sinks[0].records(), one, "3 x 2");
    let acked: usize = acks.iter().map(|a| a.lock().unwrap().len()).sum();
    assert_eq!(acked, N, "every message acknowledged once its window was written");
}

/// (time, seq) of each record one process wrote, in write order.
type Share = Arc<Mutex<Vec<(u128, u64)>>>;

/// Records (time, seq) of what one process wrote, and each seq in `all`.
struct ShareSink {
    mine: Share,
    all: Arc<Mutex<Vec<u64>>>,
}

impl Sink for ShareSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.mine.lock().unwrap().push((record.time.as_time(), record.seq));
        self.all.lock().unwrap().push(record.seq);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "share sink".into()
    }
}

#[test]
fn every_process_writes_its_share_and_acknowledges_only_what_was_written() {
    // source -> map keyed by sensor (records cross to their key's worker,
    // on either process) -> 10 s window -> sink on every process.
    fn plan() -> Plan {
        let same = Native { map: Some(|r| Ok(r.data.clone())), ..Native::default() };
        let mut keyed = node("by-sensor", NodeKind::Map, Some(0), Some(same), false);
        keyed.partition = Some(PartitionKey::JsonField("/sensor".into()));
        Plan {
            nodes: vec![
                node("source", NodeKind::Source, None, None, false),
                keyed,
                node("window", NodeKind::Delay, Some(1), Some(window()), false),
                node("sink", NodeKind::Sink, Some(2), None, false),
            ],
        }
    }
    const N: usize = 41;
    let written: Arc<Mutex<Vec<u64>>> = Arc::default();
    let early: Arc<Mutex<Vec<u64>>> = Arc::default();
    let shares: Vec<Share> = (0..2).map(|_| Arc::default()).collect();
    let sources: Vec<Mutex<Option<AckChecker>>> = (0..2)
        .map(|p| {
            let part = sensor_messages(N).into_iter().enumerate().filter(|(i, _)| i % 2 == p).map(|(_, m)| m);
            let inner = MemorySource::new(part.collect::<Vec<_>>());
            Mutex::new(Some(AckChecker { inner, written: written.clone(), early: early.clone() }))
        })
        .collect();
    let acked: Vec<_> = sources.iter().map(|s| s.lock().unwrap().as_ref().unwrap().inner.acked()).collect();
    run_cluster_with(
        plan,
        (2, 2),
        SinkPlacement::EveryProcess,
        |p| Box::new(sources[p].lock().unwrap().take().unwrap()),
        |p| Box::new(ShareSink { mine: shares[p].clone(), all: written.clone() }),
    );
    let mut all = written.lock().unwrap().clone();
    all.sort();
    assert_eq!(all, (0..N as u64).collect::<Vec<_>>(), "every record written exactly once");
    for (p, share) in shares.iter().enumerate() {
        let share = share.lock().unwrap();
        assert!(!share.is_empty(), "process {p} wrote nothing: the sink was not on every process");
        assert!(share.windows(2).all(|w| w[0] <= w[1]), "process {p} wrote out of time order: {share:?}");
    }
    let acked: usize = acked.iter().map(|a| a.lock().unwrap().len()).sum();
    assert_eq!(acked, N, "every message acknowledged");
    assert!(early.lock().unwrap().is_empty(), "acknowledged before written: {:?}", early.lock().unwrap());
}

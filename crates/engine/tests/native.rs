//! The engine with native operators: semantics and determinism without wasm.

use std::sync::{Arc, Mutex};

use wasmgraph_connectors::memory::{MemorySink, MemorySource};
use wasmgraph_connectors::Incoming;
use wasmgraph_engine::{
    run, Failure, FailureKind, Input, Node, NodeKind, Operator, OperatorFactory, Plan, RunOptions, Stats,
};
use wasmgraph_types::{Bytes, DataModel, Hlc, Message, Record};

mod common;

use common::{text, Native};

const SEC: u64 = 1_000_000_000;

fn with_payload(r: &Record, payload: String) -> DataModel {
    match &r.data {
        DataModel::Message(m) => DataModel::Message(Message { payload: Bytes::from(payload), ..m.clone() }),
        other => other.clone(),
    }
}

fn node(name: &str, kind: NodeKind, inputs: &[(usize, Option<bool>)], op: Option<Native>) -> Node {
    Node {
        name: name.into(),
        kind,
        inputs: inputs.iter().map(|&(from, arm)| Input { from, arm }).collect(),
        factory: op.map(|o| Arc::new(o) as Arc<dyn OperatorFactory>),
        sequential: false,
        partition: None,
    }
}

fn messages(payloads: impl IntoIterator<Item = String>) -> Vec<Incoming> {
    payloads
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let time = Hlc::new(1 + i as u64 * SEC, 0, "test");
            Incoming {
                data: DataModel::Message(Message { payload: Bytes::from(p), ..Message::default() }),
                time: Some(time),
                ack: None,
            }
        })
        .collect()
}

fn run_plan(plan: Plan, input: Vec<Incoming>, workers: usize) -> (Vec<Record>, Arc<Stats>, Vec<String>) {
    let sink = MemorySink::new();
    let stats = Arc::new(Stats::for_plan(&plan));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    let options = RunOptions {
        workers,
        on_error: Some(Arc::new(move |e: &wasmgraph_engine::ErrorEvent| {
            seen.lock().unwrap().push(format!("{}:{}:{}", e.operation, e.kind.as_str(), e.message));
        })),
        ..RunOptions::default()
    };
    run(plan, Box::new(MemorySource::new(input)), Box::new(sink.clone()), stats.clone(), options).unwrap();
    let errors = errors.lock().unwrap().clone();
    (sink.records(), stats, errors)
}

/// source -> window delay -> branch (True: upper map -> accumulate; False:
/// accumulate) -> concatenate -> sink.
fn windowed_plan() -> Plan {
    let window = Native {
        delay: Some(|r| {
            let w = 10 * SEC;
            let end = r.time.nanos.div_ceil(w) * w;
            Hlc::new(end, 0, "window")
        }),
        ..Native::default()
    };
    let branch = Native { arm: Some(|r| text(r).starts_with('t')), ..Native::default() };
    let upper = Native { map: Some(|r| Ok(with_payload(r, text(r).to_uppercase()))), ..Native::default() };
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
            node("source", NodeKind::Source, &[], None),
            node("window", NodeKind::Delay, &[(0, None)], Some(window)),
            node("branch", NodeKind::Branch, &[(1, None)], Some(branch)),
            node("upper", NodeKind::Map, &[(2, Some(true))], Some(upper)),
            node("acc-t", NodeKind::Accumulate, &[(3, None)], Some(join.clone())),
            node("acc-f", NodeKind::Accumulate, &[(2, Some(false))], Some(join)),
            node("concat", NodeKind::Concatenate, &[(4, None), (5, None)], None),
            node("sink", NodeKind::Sink, &[(6, None)], None),
        ],
    }
}

fn input_for_windows() -> Vec<Incoming> {
    messages((0..95).map(|i| if i % 3 == 0 { format!("t{i}") } else { format!("h{i}") }))
}

#[test]
fn windows_accumulate_once_per_time_in_source_order() {
    let (out, stats, errors) = run_plan(windowed_plan(), input_for_windows(), 1);
    assert!(errors.is_empty(), "{errors:?}");
    // Times 1s..95s fall in windows ending 10s, 20s, ..., 100s: 10 windows, two
    // accumulations each.
    assert_eq!(out.len(), 20);
    let times: Vec<u64> = out.iter().map(|r| r.time.nanos).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "sink writes in time order: {times:?}");
    let first_window: Vec<String> = out.iter().filter(|r| r.time.nanos == 10 * SEC).map(text).collect();
    // Input i is at i seconds plus 1 ns, so the window ending at 10 s holds inputs 0..=9.
    assert!(first_window.contains(&"T0,T3,T6,T9".to_string()), "{first_window:?}");
    assert!(first_window.contains(&"h1,h2,h4,h5,h7,h8".to_string()), "{first_window:?}");
    let (i, o, e) = stats.nodes[1].1.get();
    assert_eq!((i, o, e), (95, 95, 0));
    assert_eq!(stats.written.load(std::sync::atomic::Ordering::Relaxed), 20);
}

#[test]
fn output_is_identical_for_1_2_and_4_workers() {
    let (one, _, _) = run_plan(windowed_plan(), input_for_windows(), 1);
    for workers in [2, 4] {
        let (many, _, _) = run_plan(windowed_plan(), input_for_windows(), workers);
        assert_eq!(one, many, "{workers} workers");
    }
}

#[test]
fn a_failing_record_affects_only_itself() {
    let map = Native {
        map: Some(|r| {
            if text(r).contains("bad") {
                Err(Failure::new(FailureKind::Returned, "refused"))
            } else {
                Ok(r.data.clone())
            }
        }),
        ..Native::default()
    };
    let plan = Plan {
        nodes: vec![
            node("source", NodeKind::Source, &[], None),
            node("map", NodeKind::Map, &[(0, None)], Some(map)),
            node("sink", NodeKind::Sink, &[(1, None)], None),
        ],
    };
    let input = messages(["a", "bad", "b", "bad", "c"].map(String::from));
    let (out, stats, errors) = run_plan(plan, input, 2);
    assert_eq!(out.iter().map(text).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(stats.nodes[1].1.get(), (5, 3, 2));
    assert_eq!(errors, ["map:error:refused", "map:error:refused"]);
}

#[test]
fn a_delay_to_an_earlier_time_is_an_error_for_that_record() {
    let back = Native { delay: Some(|r| Hlc::new(r.time.nanos.saturating_sub(SEC / 2), 0, "x")), ..Native::default() };
    let plan = Plan {
        nodes: vec![
            node("source", NodeKind::Source, &[], None),
            node("back", NodeKind::Delay, &[(0, None)], Some(back)),
            node("sink", NodeKind::Sink, &[(1, None)], None),
        ],
    };
    let (out, stats, errors) = run_plan(plan, messages(["a".to_string()]), 1);
    assert!(out.is_empty());
    assert_eq!(stats.nodes[1].1.get().2, 1);
    assert!(errors[0].contains("invalid-output"), "{errors:?}");
}

#[test]
fn filter_drops_and_fan_out_reaches_both_consumers() {
    let keep = Native { keep: Some(|r| !text(r).contains('x')), ..Native::default() };
    let plan = Plan {
        nodes: vec![
            node("source", NodeKind::Source, &[], None),
            node("keep", NodeKind::Filter, &[(0, None)], Some(keep)),
            node("sink-a", NodeKind::Sink, &[(1, None)], None),
            node("sink-b", NodeKind::Sink, &[(1, None)], None),
        ],
    };
    let (out, _, _) = run_plan(plan, messages(["a", "x", "b"].map(String::from)), 2);
    assert_eq!(out.iter().map(text).collect::<Vec<_>>(), ["a", "a", "b", "b"]);
}

#[test]
fn every_message_is_acknowledged_once_its_records_are_written_or_dropped() {
    let keep = Native { keep: Some(|r| !text(r).contains('x')), ..Native::default() };
    let plan = Plan {
        nodes: vec![
            node("source", NodeKind::Source, &[], None),
            node("keep", NodeKind::Filter, &[(0, None)], Some(keep)),
            node("sink", NodeKind::Sink, &[(1, None)], None),
        ],
    };
    let mut input = messages(["a", "x", "b", "c"].map(String::from));
    for (i, item) in input.iter_mut().enumerate() {
        item.ack = Some(100 + i as u64);
    }
    let source = MemorySource::new(input);
    let acked = source.acked();
    let sink = MemorySink::new();
    let stats = Arc::new(Stats::for_plan(&plan));
    run(plan, Box::new(source), Box::new(sink.clone()), stats, RunOptions { workers: 2, ..RunOptions::default() })
        .unwrap();
    assert_eq!(sink.records().len(), 3);
    assert_eq!(*acked.lock().unwrap(), [100, 101, 102, 103]);
}

/// A map whose instances share state, as modules using the state store do: it
/// stamps each record with how many records all instances had seen before.
#[derive(Clone, Default)]
struct SharedCounter {
    seen: Arc<Mutex<Vec<u64>>>,
}

impl Operator for SharedCounter {
    fn map(&mut self, r: &Record) -> Result<DataModel, Failure> {
        let mut seen = self.seen.lock().unwrap();
        let n = seen.len();
        seen.push(r.time.nanos);
        Ok(with_payload(r, format!("{}#{n}", text(r))))
    }
    fn filter(&mut self, _: &Record) -> Result<bool, Failure> {
        unreachable!("only map is used")
    }
    fn branch(&mut self, _: &Record) -> Result<bool, Failure> {
        unreachable!("only map is used")
    }
    fn accumulate(&mut self, _: DataModel, _: &[Record]) -> Result<DataModel, Failure> {
        unreachable!("only map is used")
    }
    fn delay(&mut self, _: &Record) -> Result<Hlc, Failure> {
        unreachable!("only map is used")
    }
}

impl OperatorFactory for SharedCounter {
    fn create(&self, _worker: usize) -> Result<Box<dyn Operator>, String> {
        Ok(Box::new(self.clone()))
    }
}

#[test]
fn a_sequential_operation_sees_records_in_time_order_whatever_the_worker_count() {
    let run_with = |workers: usize| {
        let counter = SharedCounter::default();
        let seen = counter.seen.clone();
        let mut plan = Plan {
            nodes: vec![
                node("source", NodeKind::Source, &[], None),
                node("count", NodeKind::Map, &[(0, None)], None),
                node("sink", NodeKind::Sink, &[(1, None)], None),
            ],
        };
        plan.nodes[1].factory = Some(Arc::new(counter));
        plan.nodes[1].sequential = true;
        let (out, _, _) = run_plan(plan, messages((0..200).map(|i| format!("m{i}"))), workers);
        let seen = seen.lock().unwrap().clone();
        (out, seen)
    };
    let (one, seen_one) = run_with(1);
    // Instantiation checks create one extra instance; only calls are recorded.
    assert_eq!(seen_one.len(), 200);
    assert!(seen_one.windows(2).all(|w| w[0] < w[1]), "time order with one worker");
    for workers in [2, 4] {
        let (many, seen_many) = run_with(workers);
        assert_eq!(seen_many, seen_one, "{workers} workers: calls in time order");
        assert_eq!(many, one, "{workers} workers: identical output");
    }
    assert_eq!(text(&one[199]), "m199#199");
}

// ---- One timely time per source poll ----
//
// The driver sends each poll's records under one capability, at the poll's
// first record time, while every record keeps its own time. These tests run
// with small polls (several records per poll, windows spanning polls) and
// check that grouping and ordering follow the records' own times.

fn run_batched(plan: Plan, input: Vec<Incoming>, workers: usize, batch: usize) -> Vec<Record> {
    let sink = MemorySink::new();
    let stats = Arc::new(Stats::for_plan(&plan));
    let options = RunOptions { workers, batch, ..RunOptions::default() };
    run(plan, Box::new(MemorySource::new(input)), Box::new(sink.clone()), stats, options).unwrap();
    sink.records()
}

fn join_all() -> Native {
    Native {
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
    }
}

#[test]
fn accumulate_without_delay_folds_each_record_time_of_a_poll_on_its_own() {
    // 40 records with distinct times in polls of 16: every record is its own
    // time, so every record is its own accumulation, although 16 share one
    // timely time.
    let plan = Plan {
        nodes: vec![
            node("source", NodeKind::Source, &[], None),
            node("acc", NodeKind::Accumulate, &[(0, None)], Some(join_all())),
            node("sink", NodeKind::Sink, &[(1, None)], None),
        ],
    };
    let input = || messages((0..40).map(|i| format!("m{i}")));
    let expected: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    for workers in [1, 2, 4] {
        for batch in [1, 16, 256] {
            let out = run_batched(plan.clone(), input(), workers, batch);
            assert_eq!(out.iter().map(text).collect::<Vec<_>>(), expected, "{workers} workers, polls of {batch}");
            let times: Vec<u64> = out.iter().map(|r| r.time.nanos).collect();
            assert_eq!(times, (0..40).map(|i| 1 + i * SEC).collect::<Vec<_>>(), "{workers} workers, polls of {batch}");
        }
    }
}

#[test]
fn windows_spanning_polls_accumulate_the_same_for_any_poll_size_and_worker_count() {
    // Polls of 7 records split every 10-record window over two or three polls,
    // and put records of two windows under one capability.
    let reference = run_batched(windowed_plan(), input_for_windows(), 1, 256);
    assert_eq!(reference.len(), 20);
    for workers in [1, 2, 4] {
        for batch in [1, 7, 256] {
            let out = run_batched(windowed_plan(), input_for_windows(), workers, batch);
            assert_eq!(out, reference, "{workers} workers, polls of {batch}");
        }
    }
    let first_window: Vec<String> = reference.iter().filter(|r| r.time.nanos == 10 * SEC).map(text).collect();
    assert!(first_window.contains(&"T0,T3,T6,T9".to_string()), "{first_window:?}");
    assert!(first_window.contains(&"h1,h2,h4,h5,h7,h8".to_string()), "{first_window:?}");
}

#[test]
fn the_sink_writes_in_record_time_order_across_polls_after_a_delay_reorders_a_poll() {
    // Every third record is delayed by 25 s: within a poll (and across polls)
    // records change places, and the sink must follow their new times.
    let late = Native {
        delay: Some(|r| {
            if text(r).trim_start_matches('m').parse::<u64>().unwrap() % 3 == 0 {
                Hlc::new(r.time.nanos + 25 * SEC, r.time.counter, "late")
            } else {
                r.time.clone()
            }
        }),
        ..Native::default()
    };
    let plan = Plan {
        nodes: vec![
            node("source", NodeKind::Source, &[], None),
            node("late", NodeKind::Delay, &[(0, None)], Some(late)),
            node("sink", NodeKind::Sink, &[(1, None)], None),
        ],
    };
    let input = || messages((0..60).map(|i| format!("m{i}")));
    // Records that end up sharing a time keep source order.
    let mut expected: Vec<(u64, u64)> =
        (0..60u64).map(|i| (1 + i * SEC + if i % 3 == 0 { 25 * SEC } else { 0 }, i)).collect();
    expected.sort();
    let expected: Vec<(u64, String)> = expected.into_iter().map(|(t, i)| (t, format!("m{i}"))).collect();
    for workers in [1, 2, 4] {
        for batch in [1, 5, 256] {
            let out = run_batched(plan.clone(), input(), workers, batch);
            let got: Vec<(u64, String)> = out.iter().map(|r| (r.time.nanos, text(r))).collect();
            assert_eq!(got, expected, "{workers} workers, polls of {batch}");
        }
    }
}

#[test]
fn a_sequential_operation_sees_record_time_order_with_small_polls() {
    let run_with = |workers: usize, batch: usize| {
        let counter = SharedCounter::default();
        let seen = counter.seen.clone();
        let mut plan = Plan {
            nodes: vec![
                node("source", NodeKind::Source, &[], None),
                node("count", NodeKind::Map, &[(0, None)], None),
                node("sink", NodeKind::Sink, &[(1, None)], None),
            ],
        };
        plan.nodes[1].factory = Some(Arc::new(counter));
        plan.nodes[1].sequential = true;
        let out = run_batched(plan, messages((0..100).map(|i| format!("m{i}"))), workers, batch);
        let seen = seen.lock().unwrap().clone();
        (out, seen)
    };
    let (one, seen_one) = run_with(1, 256);
    assert!(seen_one.windows(2).all(|w| w[0] < w[1]), "time order with one worker");
    for workers in [1, 2, 4] {
        for batch in [1, 9] {
            let (many, seen_many) = run_with(workers, batch);
            assert_eq!(seen_many, seen_one, "{workers} workers, polls of {batch}: calls in time order");
            assert_eq!(many, one, "{workers} workers, polls of {batch}: identical output");
        }
    }
}

/// A source that hands out one message per poll and checks, whenever the
/// driver asks it to wait, that everything sent before has reached the sink:
/// the driver must not wait on a quiet source while output is still due.
struct Watchful {
    left: Vec<Incoming>,
    sent: usize,
    sink: MemorySink,
    waited_while_busy: Arc<Mutex<Vec<usize>>>,
}

impl wasmgraph_connectors::Source for Watchful {
    fn poll(
        &mut self,
        _max: usize,
        wait: std::time::Duration,
    ) -> Result<wasmgraph_connectors::Poll, wasmgraph_connectors::ConnectorError> {
        let written = self.sink.records().len();
        if !wait.is_zero() && written < self.sent {
            self.waited_while_busy.lock().unwrap().push(self.sent - written);
        }
        // Every other poll finds nothing, as a live source between messages does.
        if self.sent % 2 == 1 && written < self.sent {
            return Ok(wasmgraph_connectors::Poll::Idle);
        }
        match self.left.pop() {
            Some(item) => {
                self.sent += 1;
                Ok(wasmgraph_connectors::Poll::Data(vec![item]))
            }
            None => Ok(wasmgraph_connectors::Poll::End),
        }
    }
    fn describe(&self) -> String {
        "watchful".into()
    }
}

#[test]
fn the_driver_never_waits_on_the_source_while_output_is_due() {
    for workers in [1, 2] {
        let upper = Native { map: Some(|r| Ok(with_payload(r, text(r).to_uppercase()))), ..Native::default() };
        let plan = Plan {
            nodes: vec![
                node("source", NodeKind::Source, &[], None),
                node("upper", NodeKind::Map, &[(0, None)], Some(upper)),
                node("sink", NodeKind::Sink, &[(1, None)], None),
            ],
        };
        let sink = MemorySink::new();
        let mut left = messages((0..20).map(|i| format!("m{i}")));
        left.reverse();
        let waited = Arc::new(Mutex::new(Vec::new()));
        let source = Watchful { left, sent: 0, sink: sink.clone(), waited_while_busy: waited.clone() };
        let stats = Arc::new(Stats::for_plan(&plan));
        let options = RunOptions { workers, poll_wait: std::time::Duration::from_millis(20), ..RunOptions::default() };
        run(plan, Box::new(source), Box::new(sink.clone()), stats, options).unwrap();
        assert_eq!(sink.records().len(), 20);
        assert!(
            waited.lock().unwrap().is_empty(),
            "{workers} workers: waited with records due: {:?}",
            waited.lock().unwrap()
        );
    }
}

/// Fails on its `fail_at`th write.
#[derive(Clone)]
struct FailingSink {
    written: Arc<Mutex<Vec<u64>>>,
    fail_at: usize,
}

impl wasmgraph_connectors::Sink for FailingSink {
    fn write(&mut self, record: &Record) -> Result<(), wasmgraph_connectors::ConnectorError> {
        let mut written = self.written.lock().unwrap();
        if written.len() + 1 == self.fail_at {
            return Err(wasmgraph_connectors::ConnectorError::Config("disk full".into()));
        }
        written.push(record.seq);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), wasmgraph_connectors::ConnectorError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "failing".into()
    }
}

#[test]
fn after_a_sink_failure_only_written_messages_are_acknowledged() {
    for workers in [1, 2] {
        let plan = Plan {
            nodes: vec![node("source", NodeKind::Source, &[], None), node("sink", NodeKind::Sink, &[(0, None)], None)],
        };
        let mut input = messages((0..200).map(|i| format!("m{i}")));
        for (i, item) in input.iter_mut().enumerate() {
            item.ack = Some(i as u64);
        }
        let source = MemorySource::new(input);
        let acked = source.acked();
        let sink = FailingSink { written: Arc::default(), fail_at: 50 };
        let written = sink.written.clone();
        let stats = Arc::new(Stats::for_plan(&plan));
        let options = RunOptions { workers, batch: 16, ..RunOptions::default() };
        let err = run(plan, Box::new(source), Box::new(sink), stats, options).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        let written = written.lock().unwrap().clone();
        assert_eq!(written, (0..49).collect::<Vec<u64>>());
        let acked = acked.lock().unwrap().clone();
        assert!(
            acked.iter().all(|t| written.contains(t)),
            "{workers} workers: acknowledged unwritten messages: {acked:?}"
        );
    }
}

/// A source that, whenever the engine acknowledges messages, checks that the
/// sink has written every record derived from them (`written` holds the
/// source-order numbers of written records; the token of message i is i).
struct AckChecker {
    inner: MemorySource,
    written: Arc<Mutex<Vec<u64>>>,
    early: Arc<Mutex<Vec<u64>>>,
}

impl wasmgraph_connectors::Source for AckChecker {
    fn poll(
        &mut self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<wasmgraph_connectors::Poll, wasmgraph_connectors::ConnectorError> {
        self.inner.poll(max, wait)
    }
    fn describe(&self) -> String {
        "ack checker".into()
    }
    fn ack(&mut self, tokens: &[u64]) -> Result<(), wasmgraph_connectors::ConnectorError> {
        let written = self.written.lock().unwrap().clone();
        self.early.lock().unwrap().extend(tokens.iter().filter(|t| !written.contains(t)));
        self.inner.ack(tokens)
    }
}

#[test]
fn a_message_whose_record_a_delay_moved_is_acknowledged_only_once_that_record_is_written() {
    // Messages one second apart; the delay moves each to the end of its
    // 10-second window, so records wait there while later messages pass.
    let window = Native {
        delay: Some(|r| Hlc::new((r.time.nanos / (10 * SEC) + 1) * 10 * SEC, 0, "window")),
        ..Native::default()
    };
    for workers in [1, 2] {
        for batch in [1, 7] {
            let plan = Plan {
                nodes: vec![
                    node("source", NodeKind::Source, &[], None),
                    node("window", NodeKind::Delay, &[(0, None)], Some(window.clone())),
                    node("sink", NodeKind::Sink, &[(1, None)], None),
                ],
            };
            let mut input = messages((0..35).map(|i| format!("m{i}")));
            for (i, item) in input.iter_mut().enumerate() {
                item.ack = Some(i as u64);
            }
            let inner = MemorySource::new(input);
            let acked = inner.acked();
            let sink = FailingSink { written: Arc::default(), fail_at: usize::MAX };
            let written = sink.written.clone();
            let early = Arc::new(Mutex::new(Vec::new()));
            let source = AckChecker { inner, written: written.clone(), early: early.clone() };
            let stats = Arc::new(Stats::for_plan(&plan));
            let options = RunOptions { workers, batch, ..RunOptions::default() };
            run(plan, Box::new(source), Box::new(sink), stats, options).unwrap();
            assert_eq!(written.lock().unwrap().len(), 35);
            assert_eq!(*acked.lock().unwrap(), (0..35).collect::<Vec<u64>>(), "{workers} workers, batch {batch}");
            assert!(
                early.lock().unwrap().is_empty(),
                "{workers} workers, batch {batch}: acknowledged before their records were written: {:?}",
                early.lock().unwrap()
            );
        }
    }
}

#[test]
fn after_a_sink_failure_no_message_whose_record_a_delay_moved_is_acknowledged() {
    let later = Native { delay: Some(|r| Hlc::new(r.time.nanos + 3600 * SEC, 0, "later")), ..Native::default() };
    let plan = Plan {
        nodes: vec![
            node("source", NodeKind::Source, &[], None),
            node("later", NodeKind::Delay, &[(0, None)], Some(later)),
            node("sink", NodeKind::Sink, &[(1, None)], None),
        ],
    };
    let mut input = messages((0..50).map(|i| format!("m{i}")));
    for (i, item) in input.iter_mut().enumerate() {
        item.ack = Some(i as u64);
    }
    let source = MemorySource::new(input);
    let acked = source.acked();
    let sink = FailingSink { written: Arc::default(), fail_at: 1 };
    let stats = Arc::new(Stats::for_plan(&plan));
    let options = RunOptions { workers: 2, batch: 4, ..RunOptions::default() };
    let err = run(plan, Box::new(source), Box::new(sink), stats, options).unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert!(acked.lock().unwrap().is_empty(), "acknowledged unwritten messages: {:?}", acked.lock().unwrap());
}

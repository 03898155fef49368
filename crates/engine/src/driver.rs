//! Runs a plan: builds the dataflow on every worker, feeds the source from
//! worker 0, and waits for the sink (on the last worker).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Concatenate, Exchange as _, Inspect as _, Probe};
use timely::dataflow::{InputHandle, ProbeHandle, Scope};
use timely::worker::Worker;
use wasmgraph_connector::{ConnectorError, Poll, Sink, Source};
use wasmgraph_types::{wall_nanos, HlcClock, Record};

use crate::acks::PendingAcks;
use crate::cluster::{self, Cluster, Place, SinkPlacement};
use crate::moves::Moves;
use crate::operators::delay::MoveStream;
use crate::operators::{self, NodeCtx, Records};
use crate::Time;
use crate::{ErrorEvent, ErrorHandler, NodeKind, Plan, PlanError, Stats};

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Timely worker threads.
    pub workers: usize,
    /// Node id stamped into times the engine makes.
    pub node_id: String,
    /// Called (from any worker thread) for every failed call, after it has been
    /// counted and logged: the error policy. `None` drops the records.
    pub on_error: Option<ErrorHandler>,
    /// Messages taken from the source per poll.
    pub batch: usize,
    /// How long a poll waits for a message.
    pub poll_wait: Duration,
    /// Run as one process of a timely cluster (`None`: on its own). Every
    /// process runs the same plan with its own source (see [`Cluster`]).
    pub cluster: Option<Cluster>,
    /// In a cluster, where the sink writes: gathered on process 0 (the
    /// default: one total order) or on every process (see [`SinkPlacement`]).
    /// The sink given to [`run`] must be a real one on every process that
    /// writes.
    pub sinks: SinkPlacement,
    /// How far ahead of the host clock a message's own time (MQTT `__ts`) may
    /// be. The source clock never goes backwards, so one message from the far
    /// future would hold every window open until the host clock got there;
    /// a time further ahead than this is refused: the message is stamped with
    /// the host's time instead, counted in [`Stats::future_times`] and logged.
    pub max_clock_skew: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 1,
            node_id: "wasmgraph".into(),
            on_error: None,
            batch: 256,
            poll_wait: Duration::from_millis(100),
            cluster: None,
            sinks: SinkPlacement::Gathered,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }
}

/// The default of [`RunOptions::max_clock_skew`]: five minutes.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// What a finished run did.
#[derive(Debug)]
pub struct RunReport {
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Of `elapsed`, the set-up before this process's source was first
    /// polled: starting the workers and building the dataflow, and in a
    /// cluster connecting to the other processes (timely retries a refused
    /// connection every second, so this is often about a second). `elapsed`
    /// minus this is the time spent on records.
    pub setup: Duration,
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The plan is malformed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// An operation's module could not be instantiated.
    #[error("operation '{operation}': {message}")]
    Instantiate {
        /// The operation.
        operation: String,
        /// Why.
        message: String,
    },
    /// The source failed.
    #[error("source: {0}")]
    Source(String),
    /// The sink failed; records before the failure were written.
    #[error("sink: {0}")]
    Sink(String),
    /// The engine itself failed.
    #[error("engine: {0}")]
    Engine(String),
}

/// Run `plan` from `source` to `sink` until the source ends, counting into `stats`
/// (made with [`Stats::for_plan`], so a caller can watch progress).
pub fn run(
    plan: Plan,
    source: Box<dyn Source>,
    sink: Box<dyn Sink>,
    stats: Arc<Stats>,
    options: RunOptions,
) -> Result<RunReport, RunError> {
    plan.check()?;
    instantiate_once(&plan)?;
    let started = Instant::now();
    let run = Arc::new(RunState {
        plan,
        source: Mutex::new(Some(source)),
        sink: Mutex::new(Some(sink)),
        fatal: Arc::new(Mutex::new(None)),
        source_error: Mutex::new(None),
        on_error: options.on_error.clone().unwrap_or_else(|| Arc::new(|_: &ErrorEvent| {})),
        moves: Arc::new(Moves::default()),
        feeding_since: Mutex::new(None),
        stats,
        options,
    });
    execute(&run)?;
    if let Some(err) = lock(&run.source_error).take() {
        return Err(RunError::Source(err));
    }
    if let Some(err) = lock(&run.fatal).take() {
        return Err(RunError::Sink(err));
    }
    let setup = lock(&run.feeding_since).map_or(Duration::ZERO, |since| since.saturating_duration_since(started));
    Ok(RunReport { elapsed: started.elapsed(), setup })
}

/// Run the workers (threads of this process, connected to the other
/// processes in a cluster) until the dataflow is done.
fn execute(run: &Arc<RunState>) -> Result<(), RunError> {
    let config = cluster::timely_config(&run.options);
    let worker_run = run.clone();
    let Some(place) = run.options.cluster.clone() else {
        let guards =
            timely::execute(config, move |worker| worker_main(worker, &worker_run)).map_err(RunError::Engine)?;
        for result in guards.join() {
            result.map_err(RunError::Engine)?;
        }
        return Ok(());
    };
    // A lost process makes timely's threads panic, and dropping the workers'
    // handles then panics too: catch that, and say which process was lost.
    cluster::watch_for_lost_processes();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let guards = timely::execute(config, move |worker| worker_main(worker, &worker_run))?;
        guards.join().into_iter().collect::<Result<Vec<()>, String>>().map(drop)
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if !cluster::failed() => Err(RunError::Engine(format!("cluster process {}: {e}", place.process))),
        Ok(Err(_)) | Err(_) => Err(RunError::Engine(cluster::failure(&place))),
    }
}

/// Instantiate every operation once up front: a module whose init fails is
/// reported cleanly, by name, before any worker starts.
fn instantiate_once(plan: &Plan) -> Result<(), RunError> {
    for node in &plan.nodes {
        if let Some(factory) = &node.factory {
            factory.create(0).map_err(|message| RunError::Instantiate { operation: node.name.clone(), message })?;
        }
    }
    Ok(())
}

/// What every worker of one run shares.
struct RunState {
    plan: Plan,
    /// Taken by the first worker.
    source: Mutex<Option<Box<dyn Source>>>,
    /// Taken by the last worker.
    sink: Mutex<Option<Box<dyn Sink>>>,
    /// A failure that ends the run (sink failure, a worker that could not build).
    fatal: Arc<Mutex<Option<String>>>,
    /// The source failed.
    source_error: Mutex<Option<String>>,
    on_error: ErrorHandler,
    moves: Arc<Moves>,
    /// When the feeder first polled the source (the end of the set-up).
    feeding_since: Mutex<Option<Instant>>,
    stats: Arc<Stats>,
    options: RunOptions,
}

impl RunState {
    fn failed(&self) -> bool {
        self.fatal.lock().map(|f| f.is_some()).unwrap_or(true)
    }

    fn source_failed(&self, err: ConnectorError) {
        lock(&self.source_error).get_or_insert(err.to_string());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Input = InputHandle<Time, CapacityContainerBuilder<Vec<Record>>>;

/// One worker: build the dataflow; the first worker also feeds the source.
fn worker_main(worker: &mut Worker, run: &RunState) {
    let index = worker.index();
    let mut input = Input::new();
    let probe = ProbeHandle::new();
    let place = Place::of(&run.options);
    let my_source = if place.feeds(index) { lock(&run.source).take() } else { None };
    // The sink writes on the last worker (of process 0 in a cluster, or of
    // each process): with the source on the first, the two per-record jobs
    // only one worker can do land on different workers when there are several.
    let my_sink = if index == place.sink_worker() { lock(&run.sink).take() } else { None };
    let shared = Shared {
        stats: run.stats.clone(),
        fatal: run.fatal.clone(),
        on_error: run.on_error.clone(),
        moves: run.moves.clone(),
        place,
    };
    let build = worker.dataflow::<Time, _, _>(|scope| {
        let moves = run.moves.clone();
        build_dataflow(scope, &run.plan, &mut input, my_sink, shared, index).map(|(sink_stream, moved)| {
            sink_stream.probe_with(&probe);
            cluster::share_moves(scope, moved, place, moves, &probe);
        })
    });
    if let Err(message) = build {
        // Another worker may be waiting on this one; record the failure and
        // let the dataflow drain with no input.
        lock(&run.fatal).get_or_insert(message);
        return;
    }
    let Some(mut source) = my_source else { return };
    Feeder::new(input, probe, run).run(worker, &mut *source);
}

/// Feeds the source's messages into the dataflow on the first worker, keeps
/// the number of polls in flight bounded, and acknowledges what was written.
struct Feeder<'r> {
    input: Input,
    probe: ProbeHandle<Time>,
    run: &'r RunState,
    clock: HlcClock,
    /// Messages this process has read: the record's `seq` is `place.seq(seq)`.
    seq: u64,
    place: Place,
    batch: Vec<Record>,
    /// One past the last record time of each poll whose records the sink may
    /// not have written yet.
    in_flight: VecDeque<Time>,
    acks: PendingAcks,
}

/// What one round of the feeder found.
enum Round {
    /// Records went in (or time advanced): keep stepping.
    Busy,
    /// Nothing new and the dataflow is still working: park briefly.
    Idle,
    /// The source ended or failed.
    Done,
}

impl<'r> Feeder<'r> {
    fn new(input: Input, probe: ProbeHandle<Time>, run: &'r RunState) -> Self {
        Feeder {
            input,
            probe,
            clock: HlcClock::new(run.options.node_id.as_str()),
            seq: 0,
            place: Place::of(&run.options),
            batch: Vec::with_capacity(run.options.batch.max(1)),
            in_flight: VecDeque::new(),
            acks: PendingAcks::new(run.moves.clone()),
            run,
        }
    }

    fn run(mut self, worker: &mut Worker, source: &mut dyn Source) {
        lock(&self.run.feeding_since).get_or_insert_with(Instant::now);
        while !self.run.failed() {
            let round = self.poll(source);
            if matches!(round, Round::Done) {
                break;
            }
            self.bound_in_flight(worker);
            if matches!(round, Round::Idle) {
                // Nothing new from the source and nothing to do here but wait
                // for other workers: park briefly (they wake this worker when
                // they send it anything) instead of spinning on the source.
                worker.step_or_park(Some(PARK));
            } else {
                worker.step();
            }
            if self.run.failed() {
                break;
            }
            let next = *self.input.time();
            if let Err(err) = self.acks.settle(source, &self.probe, next) {
                self.run.source_failed(err);
                break;
            }
        }
        let Feeder { input, probe, mut acks, run, .. } = self;
        drop(input);
        while worker.step_or_park(None) {}
        // After a sink failure nothing more is acknowledged: the records the
        // sink dropped would otherwise count as written.
        if !run.failed() {
            if let Err(err) = acks.settle(source, &probe, Time::MAX) {
                run.source_failed(err);
            }
        }
    }

    /// Poll the source once and send what it has.
    fn poll(&mut self, source: &mut dyn Source) -> Round {
        // Records sent (or time advanced) that the sink has not caught up
        // with yet: waiting on the source now would hold their output back by
        // up to `poll_wait`, so poll without waiting and keep stepping.
        let busy = self.probe.less_than(self.input.time());
        let wait = if busy { Duration::ZERO } else { self.run.options.poll_wait };
        match source.poll(self.run.options.batch, wait) {
            Ok(Poll::Data(items)) => {
                self.send(items);
                Round::Busy
            }
            Ok(Poll::Idle) if busy => Round::Idle,
            Ok(Poll::Idle) => {
                // The poll waited and nothing came: let time pass for windows
                // even without input.
                let next = self.clock.now().as_time();
                if next > *self.input.time() {
                    self.input.advance_to(next);
                }
                Round::Busy
            }
            Ok(Poll::End) => Round::Done,
            Err(err) => {
                self.run.source_failed(err);
                Round::Done
            }
        }
    }

    /// Stamp one poll's messages and send them under one timely time.
    fn send(&mut self, items: Vec<wasmgraph_connector::Incoming>) {
        // Messages without a time of their own are stamped with the moment the
        // poll returned (one wall clock reading per poll; the clock's counter
        // keeps their times distinct and in order).
        let now = wall_nanos();
        let latest = now.saturating_add(u64::try_from(self.run.options.max_clock_skew.as_nanos()).unwrap_or(u64::MAX));
        for item in items {
            let time = match &item.time {
                Some(t) if t.nanos > latest => {
                    self.refuse_future(t, now);
                    self.clock.tick(now)
                }
                Some(t) => self.clock.observe(t),
                None => self.clock.tick(now),
            };
            if let Some(token) = item.ack {
                self.acks.push(time.as_time(), token);
            }
            self.batch.push(operators::record_at(time, self.place.seq(self.seq), item.data));
            self.seq += 1;
        }
        // The whole poll travels under one timely time, its first (earliest:
        // the clock never goes back) record time; each record keeps its own,
        // later or equal, time in `Record::time`, which is what every operator
        // orders and groups by. Invariant: a record's time is never earlier
        // than the time of the capability it travels under.
        let Some(first) = self.batch.first().map(|r| r.time.as_time()) else { return };
        if first > *self.input.time() {
            self.input.advance_to(first);
        }
        self.run.stats.read.fetch_add(self.batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.input.send_batch(&mut self.batch);
        self.batch.clear();
        let next = self.clock.last().as_time() + 1;
        self.input.advance_to(next);
        self.in_flight.push_back(next);
    }

    /// Count and log a message time too far ahead of the host clock (the
    /// first few, then every power of two, so a flood of them cannot flood the log).
    fn refuse_future(&self, time: &wasmgraph_types::Hlc, now: u64) {
        let n = self.run.stats.future_times.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n <= 10 || n.is_power_of_two() {
            tracing::warn!(
                time = %time.to_wire(),
                ahead_secs = time.nanos.saturating_sub(now) / 1_000_000_000,
                max_skew_secs = self.run.options.max_clock_skew.as_secs(),
                refused = n,
                "a message's time is too far ahead of the host clock: stamped with the host's time instead"
            );
        }
    }

    /// Keep at most a few polls in flight so memory stays bounded.
    fn bound_in_flight(&mut self, worker: &mut Worker) {
        while self.in_flight.front().is_some_and(|t| !self.probe.less_than(t)) {
            self.in_flight.pop_front();
        }
        while self.in_flight.len() > MAX_POLLS_IN_FLIGHT {
            let oldest = self.in_flight[0];
            while self.probe.less_than(&oldest) && !self.run.failed() {
                // Other workers wake this one when they send it anything.
                worker.step_or_park(Some(PARK));
            }
            self.in_flight.pop_front();
        }
    }
}

/// Polls whose records may be in the dataflow at once; more wait for the sink.
const MAX_POLLS_IN_FLIGHT: usize = 4;

/// Longest a worker parks while it waits for other workers (they wake it when
/// they send it anything) or for a quiet source.
const PARK: Duration = Duration::from_millis(1);

struct Shared {
    stats: Arc<Stats>,
    fatal: Arc<Mutex<Option<String>>>,
    on_error: ErrorHandler,
    /// Where delays moved records, for acknowledgements.
    moves: Arc<Moves>,
    /// This worker's process in the cluster.
    place: Place,
}

/// Wire every node; returns the sink's (empty) output stream to probe.
fn build_dataflow<'s>(
    scope: Scope<'s, Time>,
    plan: &Plan,
    input: &mut InputHandle<Time, CapacityContainerBuilder<Vec<Record>>>,
    sink: Option<Box<dyn Sink>>,
    shared: Shared,
    worker: usize,
) -> Result<(Records<'s>, Vec<MoveStream<'s>>), String> {
    // Spread records over the workers (of this process) right after the
    // source, by source order.
    let place = shared.place;
    let source_stream = input.to_stream(scope).exchange(move |r: &Record| place.local_worker(r.seq));
    let mut moved = Vec::new();
    // Output streams of each node: (default or "False", "True" for branches).
    let mut outputs: Vec<(Option<Records<'s>>, Option<Records<'s>>)> = Vec::with_capacity(plan.nodes.len());
    let mut sink_inputs: Vec<Records<'s>> = Vec::new();
    for (index, node) in plan.nodes.iter().enumerate() {
        let ctx = NodeCtx {
            index,
            name: node.name.as_str().into(),
            stats: shared.stats.clone(),
            on_error: shared.on_error.clone(),
        };
        let inputs: Vec<Records<'s>> = node
            .inputs
            .iter()
            .filter_map(|i| {
                let (plain, arm_true) = &outputs[i.from];
                if i.arm == Some(true) {
                    arm_true.clone()
                } else {
                    plain.clone()
                }
            })
            .collect();
        let merged = match node.kind {
            NodeKind::Source => Some(source_stream.clone()),
            _ if inputs.len() == 1 => inputs.into_iter().next(),
            _ if inputs.is_empty() => None,
            _ => Some(scope.concatenate(inputs)),
        };
        let instance = match &node.factory {
            Some(factory) => Some(factory.create(worker).map_err(|e| format!("operation '{}': {e}", node.name))?),
            None => None,
        };
        let Some(mut stream) = merged else {
            outputs.push((None, None));
            continue;
        };
        let keyed_or_sequential = node.sequential || node.partition.is_some();
        if keyed_or_sequential
            && matches!(node.kind, NodeKind::Map | NodeKind::Filter | NodeKind::Branch | NodeKind::Delay)
        {
            stream = operators::order::in_time_order(stream, &node.name, node.partition.clone());
        }
        let out = match (node.kind, instance) {
            (NodeKind::Source | NodeKind::Concatenate, _) => (Some(stream.inspect_count(ctx)), None),
            (NodeKind::Sink, _) => {
                sink_inputs.push(stream.inspect_count(ctx));
                (None, None)
            }
            (NodeKind::Map, Some(op)) => (Some(operators::map::wasm_map(stream, ctx, op)), None),
            (NodeKind::Filter, Some(op)) => (Some(operators::filter::wasm_filter(stream, ctx, op)), None),
            (NodeKind::Delay, Some(op)) => {
                let (records, moves) = operators::delay::wasm_delay(stream, ctx, op, shared.moves.clone());
                moved.push(moves);
                (Some(records), None)
            }
            (NodeKind::Accumulate, Some(op)) => {
                let key = node.partition.clone();
                (Some(operators::accumulate::wasm_accumulate(stream, ctx, op, node.sequential, key)), None)
            }
            (NodeKind::Branch, Some(op)) => {
                let (no, yes) = operators::branch::wasm_branch(stream, ctx, op);
                (Some(no), Some(yes))
            }
            (kind, None) => return Err(format!("operation '{}' ({}) has no module", node.name, kind.as_str())),
        };
        outputs.push(out);
    }
    let into_sink = match sink_inputs.len() {
        0 => return Err("the graph has no sink".into()),
        1 => sink_inputs.pop().unwrap_or_else(|| unreachable!()),
        _ => scope.concatenate(sink_inputs),
    };
    let written = operators::sink::ordered_sink(into_sink, place.sink_worker(), sink, shared.stats, shared.fatal);
    Ok((written, moved))
}

trait InspectCount<'s> {
    /// Count records passing a node that has no logic of its own.
    fn inspect_count(self, ctx: NodeCtx) -> Records<'s>;
}

impl<'s> InspectCount<'s> for Records<'s> {
    fn inspect_count(self, ctx: NodeCtx) -> Records<'s> {
        self.inspect_core(move |event| {
            if let Ok((_, data)) = event {
                ctx.received(data.len());
                ctx.passed(data.len());
            }
        })
    }
}

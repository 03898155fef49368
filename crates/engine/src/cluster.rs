//! One graph run as a timely cluster: N processes x W workers, connected by
//! timely's own communication layer (one `host:port` per process).
//!
//! What runs where (worker indices are global: process `p` has workers
//! `p*W .. (p+1)*W`):
//! - every process polls its own source (the runtime splits the input: files
//!   by index, MQTT through a shared subscription, Kafka through its consumer
//!   group) on its first worker, and spreads the records over **its own**
//!   workers: stateless operations never move records between processes;
//! - source order across the cluster: a record's `seq` is the process's own
//!   message count times N plus the process index, so files split by index
//!   (file i on process i mod N) get the `seq` a single process gives them,
//!   which keeps output byte-identical to a 1 x 1 run;
//! - accumulate exchanges by record time across the whole cluster (every
//!   record of a time meets on one worker), operations that use the state
//!   store gather on one worker of process 0, as in one process; a keyed
//!   operation exchanges by its key's hash instead (see [`crate::PartitionKey`]);
//! - the sink ([`SinkPlacement`]): gathered, it writes one totally ordered
//!   stream from process 0; on every process, each process writes the records
//!   it holds, in time order, from its own last worker;
//! - acknowledgements: each process acknowledges its own source's messages
//!   once the probe after the sink passes them (timely's progress tracking is
//!   global, so the probe passing a time means every worker of every process
//!   has written what it had at that time); moves made by delays are
//!   broadcast to every process so the acknowledgement waits for moved
//!   records wherever the delay ran.

use std::sync::{Arc, Mutex};

use timely::dataflow::operators::vec::Map as _;
use timely::dataflow::operators::{Concatenate, Exchange as _, Inspect as _, Probe as _};
use timely::dataflow::{ProbeHandle, Scope};

use crate::moves::Moves;
use crate::operators::delay::MoveStream;
use crate::{RunOptions, Time};

/// This process's place in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// This process, from 0.
    pub process: usize,
    /// `host:port` of every process, in process order: the same list on every
    /// process. Process `i` listens on `hosts[i]`.
    pub hosts: Vec<String>,
}

impl Cluster {
    /// Process `process` of the cluster `hosts`; checks that it is one of them.
    pub fn new(process: usize, hosts: Vec<String>) -> Result<Self, String> {
        if hosts.is_empty() {
            return Err("a cluster needs at least one host:port".into());
        }
        if process >= hosts.len() {
            return Err(format!(
                "process {process} is not in a cluster of {} process(es) (processes count from 0)",
                hosts.len()
            ));
        }
        for (i, host) in hosts.iter().enumerate() {
            let port = host.rsplit_once(':').map(|(_, p)| p);
            if port.is_none_or(|p| p.parse::<u16>().is_err()) {
                return Err(format!("host #{i} '{host}': expected host:port"));
            }
        }
        Ok(Cluster { process, hosts })
    }

    /// How many processes.
    pub fn processes(&self) -> usize {
        self.hosts.len()
    }

    /// A hosts file: one `host:port` per line; blank lines and lines starting
    /// with `#` are skipped.
    pub fn parse_hosts(text: &str) -> Vec<String> {
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
    }
}

/// Where the sink of a cluster writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SinkPlacement {
    /// Every record is sent to the last worker of process 0 and written there
    /// in the engine's one order (time, then source position): the output of
    /// a file sink is byte-identical to a one-process run. The only choice
    /// when the order across processes matters.
    #[default]
    Gathered,
    /// Each process writes the records it holds on its own last worker, in
    /// time order among them; records of different processes are not ordered
    /// against each other. Nothing crosses to process 0 to be written, so
    /// write work spreads over the processes; for sinks whose protocol has no
    /// total order across publishers anyway (MQTT, Kafka), and for keyed
    /// graphs, where one key's records are all on one process.
    EveryProcess,
}

/// Where a worker is: what the driver and the operators need to know to keep
/// records on their process except where the graph needs them elsewhere.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    /// This process.
    pub process: usize,
    /// Processes in the cluster (1 without one).
    pub processes: usize,
    /// Workers per process.
    pub workers: usize,
    /// Where the sink writes.
    pub sinks: SinkPlacement,
}

impl Place {
    pub fn of(options: &RunOptions) -> Place {
        let (process, processes) = options.cluster.as_ref().map_or((0, 1), |c| (c.process, c.processes()));
        Place { process, processes, workers: options.workers.max(1), sinks: options.sinks }
    }

    /// The worker that polls this process's source.
    pub fn feeds(&self, worker: usize) -> bool {
        worker == self.process * self.workers
    }

    /// The worker the records of this process's workers meet on to be
    /// written: the last worker of process 0 (the last worker overall in one
    /// process, as before clusters), or with [`SinkPlacement::EveryProcess`]
    /// the last worker of this process.
    pub fn sink_worker(&self) -> usize {
        match self.sinks {
            SinkPlacement::Gathered => self.workers - 1,
            SinkPlacement::EveryProcess => self.process * self.workers + self.workers - 1,
        }
    }

    /// The cluster-wide source position of this process's `local`-th message.
    pub fn seq(&self, local: u64) -> u64 {
        local * self.processes as u64 + self.process as u64
    }

    /// The worker of this process a record with `seq` (made here) goes to.
    pub fn local_worker(&self, seq: u64) -> u64 {
        let local = seq / self.processes as u64;
        (self.process * self.workers) as u64 + local % self.workers as u64
    }

    /// The first worker of every process (where moves are recorded).
    pub fn process_leaders(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.processes).map(|p| (p * self.workers) as u64)
    }
}

/// What the first failure of timely's threads said, once one failed: the
/// connection to another process broke, which ends the whole cluster.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Watch timely's threads for the failure that a lost process causes.
///
/// Timely has no recovery: when a process dies its peers' receive threads
/// panic ("timely communication error: reading data: socket closed"), and
/// the panic spreads to every worker (their queues are poisoned), so every
/// process stops rather than hangs. This hook keeps the first message, with
/// the process it names, for [`failure`], and keeps the cascade of panics
/// that follows off stderr; panics of other threads go to the previous hook.
pub(crate) fn watch_for_lost_processes() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or_default().to_string();
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("a timely thread failed");
            // Dropping the handles of failed timely threads panics in the
            // thread that runs the engine: part of the same cascade.
            let cascade =
                ["Send thread panic", "Recv thread panic", "Worker panic"].iter().any(|p| message.starts_with(p));
            if !thread.starts_with("timely:") && !cascade {
                previous(info);
                return;
            }
            FAILURE.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| format!("{thread}: {message}"));
        }));
    });
}

/// Whether a timely thread of this process failed.
pub(crate) fn failed() -> bool {
    FAILURE.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// Why the cluster stopped, for the user: which process was lost and what to do.
pub(crate) fn failure(cluster: &Cluster) -> String {
    let first = FAILURE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let first = first.unwrap_or_else(|| "a worker failed".into());
    let peer = first
        .strip_prefix("timely:recv-")
        .or_else(|| first.strip_prefix("timely:send-"))
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse::<usize>().ok());
    let lost = match peer.and_then(|p| cluster.hosts.get(p).map(|h| (p, h))) {
        Some((p, host)) => format!("lost the connection to process {p} ({host})"),
        None => "a process of the cluster failed".to_string(),
    };
    format!(
        "cluster process {} stops: {lost} [{first}]; timely cannot go on without it, so every process stops: \
         restart them all (unacknowledged source messages come again)",
        cluster.process
    )
}

/// The timely configuration for `options`: one process of W threads, or this
/// process of the cluster.
pub(crate) fn timely_config(options: &RunOptions) -> timely::Config {
    let threads = options.workers.max(1);
    match &options.cluster {
        None => timely::Config::process(threads),
        Some(c) => timely::Config {
            communication: timely::CommunicationConfig::Cluster {
                threads,
                process: c.process,
                addresses: c.hosts.clone(),
                report: false,
                zerocopy: false,
            },
            worker: timely::WorkerConfig::default(),
        },
    }
}

/// In a cluster, send every delay's moves to each process, where they are
/// recorded for its acknowledgements, and make `probe` wait for that: a
/// record from one process's message may be moved by a delay on another.
/// One process records its moves directly (see the delay); nothing to do.
pub(crate) fn share_moves<'s>(
    scope: Scope<'s, Time>,
    moved: Vec<MoveStream<'s>>,
    place: Place,
    moves: Arc<Moves>,
    probe: &ProbeHandle<Time>,
) {
    if place.processes < 2 || moved.is_empty() {
        return;
    }
    let leaders: Vec<u64> = place.process_leaders().collect();
    scope
        .concatenate(moved)
        .flat_map(move |m| leaders.clone().into_iter().map(move |w| (w, m)))
        .exchange(|(w, _)| *w)
        .inspect(move |(_, m)| moves.record([*m]))
        .probe_with(probe);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_split_by_index_keep_their_single_process_seq() {
        // 3 processes: file i is read by process i % 3 as its (i / 3)-th message.
        for i in 0..12u64 {
            let place = Place { process: (i % 3) as usize, processes: 3, workers: 2, sinks: SinkPlacement::Gathered };
            assert_eq!(place.seq(i / 3), i);
            let w = place.local_worker(place.seq(i / 3));
            assert!((place.process * 2..place.process * 2 + 2).contains(&(w as usize)), "{w}");
        }
    }

    #[test]
    fn records_spread_over_the_workers_of_their_process() {
        // 2 x 2: seq of process 1 is always odd; both of its workers get records.
        let place = Place { process: 1, processes: 2, workers: 2, sinks: SinkPlacement::Gathered };
        let workers: std::collections::BTreeSet<u64> = (0..8).map(|l| place.local_worker(place.seq(l))).collect();
        assert_eq!(workers.into_iter().collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn a_sink_on_every_process_writes_on_the_last_worker_of_each() {
        let place = |process, sinks| Place { process, processes: 3, workers: 2, sinks };
        assert_eq!((0..3).map(|p| place(p, SinkPlacement::Gathered).sink_worker()).collect::<Vec<_>>(), [1, 1, 1]);
        assert_eq!((0..3).map(|p| place(p, SinkPlacement::EveryProcess).sink_worker()).collect::<Vec<_>>(), [1, 3, 5]);
    }

    #[test]
    fn hosts_are_checked() {
        let hosts = Cluster::parse_hosts("# cluster\n127.0.0.1:2101\n\n  127.0.0.1:2102 \n");
        assert_eq!(hosts, vec!["127.0.0.1:2101", "127.0.0.1:2102"]);
        assert!(Cluster::new(1, hosts.clone()).is_ok());
        assert!(Cluster::new(2, hosts).unwrap_err().contains("process 2"));
        assert!(Cluster::new(0, vec!["nohost".into()]).unwrap_err().contains("host:port"));
        assert!(Cluster::new(0, vec![]).is_err());
    }
}

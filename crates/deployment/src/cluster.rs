//! `cluster:`: run a deployment as one timely cluster of several processes
//! (see `docs/cluster.md`). Every process loads the same file; which process
//! it is usually comes from the command line (`--process`), since the file is
//! shared.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The `cluster:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSpec {
    /// `host:port` of every process, in process order (process i listens on
    /// the i-th).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Instead of `hosts`: a file with one `host:port` per line (relative to
    /// the deployment file).
    pub hosts_file: Option<PathBuf>,
    /// How many processes; checked against the hosts.
    pub processes: Option<usize>,
    /// This process, from 0 (`--process` overrides it).
    pub process: Option<usize>,
    /// Where the sink writes (absent: by the sink's type, see [`ClusterSinks`]).
    pub sinks: Option<ClusterSinks>,
}

/// `cluster.sinks`: which processes write the sink.
///
/// Absent, the runtime picks by the sink's type: a file sink is gathered (its
/// output is then byte-identical to a one-process run), MQTT, Kafka and
/// OpenTelemetry sinks write on every process (their protocols have no total
/// order across publishers anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClusterSinks {
    /// `gathered`: every record is written by process 0, in one time order.
    Gathered,
    /// `everyProcess`: each process writes the records it holds, in time
    /// order among them (a file sink: one file per process, `out.jsonl`,
    /// `out-1.jsonl`, ...).
    EveryProcess,
}

impl ClusterSpec {
    /// Problems serde cannot see, as sentences naming the key.
    pub(crate) fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.hosts.is_empty() && self.hosts_file.is_some() {
            problems.push("cluster: give `hosts` or `hostsFile`, not both".to_string());
        }
        if self.hosts.is_empty() && self.hosts_file.is_none() {
            problems.push("cluster: give the processes' addresses in `hosts` (host:port each) or `hostsFile`".into());
        }
        if let (Some(n), false) = (self.processes, self.hosts.is_empty()) {
            if n != self.hosts.len() {
                problems.push(format!("cluster.processes is {n} but `hosts` lists {}", self.hosts.len()));
            }
        }
        problems
    }

    /// Make `hostsFile` relative to the deployment file's folder.
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        if let Some(f) = &mut self.hosts_file {
            if f.is_relative() {
                *f = base.join(&*f);
            }
        }
    }
}

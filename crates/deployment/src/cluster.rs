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

#[cfg(test)]
mod tests {
    use super::ClusterSinks;

    /// A deployment with `cluster:` set to `cluster` (YAML flow mapping), loaded.
    fn load(cluster: &str) -> Result<crate::Deployment, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g.yaml"), "metadata:\n  name: g\noperations: []\nconnections: []\n").unwrap();
        let file = dir.path().join("d.yaml");
        let text = format!(
            "kind: Deployment\nname: c\ngraph: g.yaml\nsource: {{type: file, path: in}}\n\
             sink: {{type: file, path: out.jsonl}}\ncluster: {cluster}\n"
        );
        std::fs::write(&file, text).unwrap();
        crate::load(&file, None).map_err(|e| e.to_string())
    }

    #[test]
    fn sinks_say_where_a_cluster_writes() {
        let hosts = "hosts: ['a:1', 'b:1']";
        assert_eq!(load(&format!("{{{hosts}}}")).unwrap().cluster.unwrap().sinks, None);
        let every = load(&format!("{{{hosts}, sinks: everyProcess}}")).unwrap();
        assert_eq!(every.cluster.unwrap().sinks, Some(ClusterSinks::EveryProcess));
        let gathered = load(&format!("{{{hosts}, sinks: gathered}}")).unwrap();
        assert_eq!(gathered.cluster.unwrap().sinks, Some(ClusterSinks::Gathered));
        let err = load(&format!("{{{hosts}, sinks: everywhere}}")).unwrap_err();
        assert!(err.contains("everywhere") && err.contains("everyProcess"), "{err}");
    }
}

//! `wasmgraph run --processes N --process I --hosts FILE` (or a deployment's
//! `cluster:`): which process of which cluster this run is.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use wasmgraph_deployment::ClusterSpec;
use wasmgraph_runtime::Cluster;

/// The cluster options of the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClusterArgs {
    /// Run as one process of a timely cluster of N processes (with --process
    /// and --hosts; every process runs the same command but --process).
    #[arg(long, value_name = "N")]
    pub processes: Option<usize>,
    /// This process of the cluster, from 0.
    #[arg(long, env = "WASMGRAPH_PROCESS", value_name = "I")]
    pub process: Option<usize>,
    /// A file with one host:port per process, in process order (process I
    /// listens on line I).
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
}

impl ClusterArgs {
    /// The cluster this process belongs to: the command line's options over
    /// the deployment's `cluster:` section; `None` runs on its own.
    pub fn resolve(&self, spec: Option<&ClusterSpec>) -> anyhow::Result<Option<Cluster>> {
        let spec = spec.cloned().unwrap_or_default();
        let hosts_file = self.hosts.clone().or(spec.hosts_file.clone());
        let hosts = match &hosts_file {
            Some(file) => read_hosts(file)?,
            None => spec.hosts.clone(),
        };
        let processes = self.processes.or(spec.processes);
        if hosts.is_empty() {
            if processes.is_some_and(|n| n > 1) || self.process.is_some() {
                bail!("a cluster needs the processes' addresses: --hosts FILE (one host:port per line)");
            }
            return Ok(None);
        }
        if let Some(n) = processes.filter(|&n| n != hosts.len()) {
            let from = hosts_file.map_or("the deployment's cluster.hosts".into(), |f| f.display().to_string());
            bail!("--processes is {n} but {from} lists {} host(s)", hosts.len());
        }
        let Some(process) = self.process.or(spec.process) else {
            bail!("which process of the cluster is this? give --process I (from 0; or WASMGRAPH_PROCESS)")
        };
        Cluster::new(process, hosts).map(Some).map_err(|e| anyhow::anyhow!("cluster: {e}"))
    }
}

fn read_hosts(file: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading the hosts file {}", file.display()))?;
    let hosts = Cluster::parse_hosts(&text);
    if hosts.is_empty() {
        bail!("{}: no host:port lines", file.display());
    }
    Ok(hosts)
}

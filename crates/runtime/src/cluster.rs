//! A pipeline as one process of a cluster runs it (see
//! [`wasmgraph_engine::Cluster`] for how the engine spreads the work).
//!
//! Every process gets the same pipeline; this module turns it into this
//! process's share:
//! - the source reads a part of the input: files by index (file i on process
//!   i mod N, keeping the time a single process gives it), MQTT through a
//!   shared subscription `$share/<name>/<filter>` (the broker hands each
//!   message to one process), Kafka through its consumer group (already one
//!   group per deployment name, partitions split between the processes);
//! - MQTT client ids get `-<process>` so the processes' sessions differ
//!   (each process resumes its own session after a restart);
//! - a gathered sink (the default for files) is opened on process 0 only:
//!   every record is written there, in one time order, as in a single process
//!   (a file sink's output is the same bytes); the other processes hold a
//!   placeholder that refuses records. A sink on every process (the default
//!   for MQTT, Kafka and OpenTelemetry) is opened by each process, which
//!   writes its own share; a file sink then gets one file per process;
//! - dead letters written to a file go to one file per process
//!   (`errors.jsonl`, `errors-1.jsonl`, ...), since any process may fail a call.

use std::path::{Path, PathBuf};

use wasmgraph_connector::{ConnectorError, Sink};
use wasmgraph_connectors::file::{FileSinkSpec, FileSource, FileSourceConfig, FileSourceSpec};
use wasmgraph_connectors::{EndpointSpec, SinkSpec, SourceSpec};
use wasmgraph_deployment::{ClusterSinks, ErrorPolicy};
use wasmgraph_engine::{Cluster, SinkPlacement};
use wasmgraph_types::Record;

use crate::{Pipeline, RuntimeError};

/// `pipeline` as process `cluster.process` runs it: MQTT subscriptions
/// shared, client ids and dead-letter files per process.
pub(crate) fn for_process(mut pipeline: Pipeline, cluster: &Cluster) -> Result<Pipeline, RuntimeError> {
    let process = cluster.process;
    if let SourceSpec::Mqtt(spec) = &mut pipeline.source {
        let endpoint = spec.endpoint.as_ref().and_then(|e| pipeline.endpoints.get(e));
        if !matches!(endpoint, Some(EndpointSpec::Mqtt(e)) if !e.embedded) {
            return Err(config_error(
                "source",
                "a cluster reads MQTT through a broker every process reaches: give the source an endpoint \
                 (the embedded broker is per process)",
            ));
        }
        let group = share_group(&pipeline.name);
        spec.topics = spec.topics.iter().map(|t| shared_filter(&group, t)).collect();
    }
    for endpoint in pipeline.endpoints.values_mut() {
        if let EndpointSpec::Mqtt(e) = endpoint {
            let base = e.client_id.clone().filter(|id| !id.is_empty());
            let base = base.unwrap_or_else(|| format!("wasmgraph-{}", pipeline.name));
            e.client_id = Some(format!("{base}-{process}"));
        }
    }
    if let ErrorPolicy::DeadLetter(SinkSpec::File(f)) = &mut pipeline.errors {
        f.path = per_process_path(&f.path, process);
    }
    let placement = pipeline.sinks();
    if let (SinkSpec::File(f), SinkPlacement::EveryProcess) = (&mut pipeline.sink, placement) {
        f.path = per_process_path(&f.path, process);
    }
    Ok(pipeline)
}

/// Where a sink writes in a cluster unless the deployment says: a file sink
/// gathered on process 0 (one file, the bytes of a one-process run); sinks
/// whose protocol has no total order across publishers (MQTT, Kafka,
/// OpenTelemetry) on every process, so records need not cross to process 0
/// to be written. Other (plug-in) sinks are gathered: the safe choice.
pub(crate) fn default_placement(sink: &SinkSpec) -> SinkPlacement {
    match sink.type_name() {
        "mqtt" | "kafka" | "otel" => SinkPlacement::EveryProcess,
        _ => SinkPlacement::Gathered,
    }
}

/// The engine's placement for a deployment's `cluster.sinks`.
pub(crate) fn placement(sinks: ClusterSinks) -> SinkPlacement {
    match sinks {
        ClusterSinks::Gathered => SinkPlacement::Gathered,
        ClusterSinks::EveryProcess => SinkPlacement::EveryProcess,
    }
}

/// The file source's part for this process.
pub(crate) fn file_part(
    spec: &FileSourceSpec,
    cluster: &Cluster,
) -> Result<Box<dyn wasmgraph_connector::Source>, RuntimeError> {
    let config = FileSourceConfig {
        topic: spec.topic.clone(),
        raw_topic: spec.raw_topic.clone(),
        ..FileSourceConfig::new(&spec.path)
    };
    let source = FileSource::open(config).map_err(|source| RuntimeError::Connector { what: "source", source })?;
    Ok(Box::new(source.part(cluster.process as u64, cluster.processes() as u64)))
}

/// The MQTT shared-subscription group of a deployment: its name without the
/// characters a group name may not hold.
fn share_group(name: &str) -> String {
    let group: String = name.chars().map(|c| if matches!(c, '/' | '+' | '#') { '_' } else { c }).collect();
    if group.is_empty() {
        "wasmgraph".into()
    } else {
        group
    }
}

/// `filter` as a shared subscription of `group` (left alone when it already is one).
fn shared_filter(group: &str, filter: &str) -> String {
    if filter.starts_with("$share/") {
        filter.to_string()
    } else {
        format!("$share/{group}/{filter}")
    }
}

/// `errors.jsonl` for process 0, `errors-<process>.jsonl` for the others.
fn per_process_path(path: &Path, process: usize) -> PathBuf {
    if process == 0 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{process}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{process}"),
    };
    path.with_file_name(name)
}

fn config_error(what: &'static str, message: &str) -> RuntimeError {
    RuntimeError::Connector { what, source: ConnectorError::Config(message.to_string()) }
}

/// The sink of a process other than 0 when the sink is gathered: the engine
/// writes every record on process 0, so nothing reaches this one; if something did, that is a bug,
/// reported as a sink failure rather than a silent loss.
pub(crate) struct Elsewhere {
    /// The real sink, described.
    pub what: String,
}

impl Elsewhere {
    pub fn new(spec: &SinkSpec) -> Self {
        let what = match spec {
            SinkSpec::File(FileSinkSpec { path }) => format!("file {}", path.display()),
            other => format!("the {} sink", other.type_name()),
        };
        Elsewhere { what }
    }
}

impl Sink for Elsewhere {
    fn write(&mut self, _: &Record) -> Result<(), ConnectorError> {
        Err(ConnectorError::Config(format!("{} is written by process 0 of the cluster, not this one", self.what)))
    }
    fn flush(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn describe(&self) -> String {
        format!("{} (written by process 0)", self.what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_shared_subscriptions_once() {
        assert_eq!(shared_filter("plant", "sensors/#"), "$share/plant/sensors/#");
        assert_eq!(shared_filter("plant", "$share/g/sensors/#"), "$share/g/sensors/#");
        assert_eq!(share_group("a/b+c#"), "a_b_c_");
    }

    #[test]
    fn a_file_sink_is_gathered_unless_every_process_writes_its_own_file() {
        let cluster = Cluster::new(1, vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()]).unwrap();
        let mut pipeline = Pipeline::files("g.yaml", "ops", "in", "out");
        assert_eq!(default_placement(&pipeline.sink), SinkPlacement::Gathered);
        let sink_path = |p: &Pipeline| match &p.sink {
            SinkSpec::File(f) => f.path.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(sink_path(&for_process(pipeline.clone(), &cluster).unwrap()), Path::new("out/output.jsonl"));
        pipeline.cluster_sinks = Some(placement(ClusterSinks::EveryProcess));
        assert_eq!(sink_path(&for_process(pipeline, &cluster).unwrap()), Path::new("out/output-1.jsonl"));
    }

    #[test]
    fn dead_letter_files_are_per_process() {
        assert_eq!(per_process_path(Path::new("out/errors.jsonl"), 0), Path::new("out/errors.jsonl"));
        assert_eq!(per_process_path(Path::new("out/errors.jsonl"), 2), Path::new("out/errors-2.jsonl"));
    }
}

//! The Prometheus (OpenMetrics text) exposition of a [`Snapshot`], through
//! `prometheus-client`'s encoder: one custom collector that writes every
//! family from the snapshot taken for this scrape.

use std::collections::BTreeSet;
use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::names::{metric_name, module_labels};
use crate::{HistogramPoint, Snapshot};

/// The content type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `snapshot` in the OpenMetrics text format (what Prometheus scrapes).
pub fn encode(snapshot: &Snapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Fixed(snapshot.clone())));
    let mut out = String::new();
    // Writing to a String cannot fail; an encoder error would be a bug in
    // the names, which `names` makes valid.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::error!("encoding the metrics failed: {e}");
    }
    out
}

/// One snapshot, as a collector.
#[derive(Debug)]
struct Fixed(Snapshot);

impl prometheus_client::collector::Collector for Fixed {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let mut taken = BTreeSet::new();
        runtime_families(&self.0, &mut Families { encoder: &mut encoder, taken: &mut taken })?;
        module_families(&self.0, &mut Families { encoder: &mut encoder, taken: &mut taken })
    }
}

/// Writes families, each name once.
struct Families<'e, 'a> {
    encoder: &'e mut DescriptorEncoder<'a>,
    taken: &'e mut BTreeSet<String>,
}

type Series<'a, V> = Vec<(Vec<(&'a str, &'a str)>, V)>;

impl Families<'_, '_> {
    /// False (and a warning) if `name` was written already.
    fn claim(&mut self, name: &str) -> bool {
        if self.taken.insert(name.to_string()) {
            return true;
        }
        tracing::warn!("metric {name:?} is exported once; a second metric of that name is left out");
        false
    }

    fn counter<S: EncodeLabelSet>(&mut self, name: &str, help: &str, series: Vec<(S, u64)>) -> fmt::Result {
        if series.is_empty() || !self.claim(name) {
            return Ok(());
        }
        let mut metric = self.encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, value) in series {
            metric.encode_family(&labels)?.encode_counter::<NoLabelSet, u64, u64>(&value, None)?;
        }
        Ok(())
    }

    fn gauge<S: EncodeLabelSet>(&mut self, name: &str, help: &str, series: Vec<(S, u64)>) -> fmt::Result {
        if series.is_empty() || !self.claim(name) {
            return Ok(());
        }
        let mut metric = self.encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (labels, value) in series {
            metric.encode_family(&labels)?.encode_gauge(&value)?;
        }
        Ok(())
    }

    fn histogram<S: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        series: Vec<(S, HistogramPoint)>,
    ) -> fmt::Result {
        let full = match &unit {
            Some(u) => format!("{name}_{}", u.as_str()),
            None => name.to_string(),
        };
        if series.is_empty() || !self.claim(&full) {
            return Ok(());
        }
        let mut metric = self.encoder.encode_descriptor(name, help, unit.as_ref(), MetricType::Histogram)?;
        for (labels, h) in series {
            metric.encode_family(&labels)?.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
        }
        Ok(())
    }
}

fn runtime_families(s: &Snapshot, f: &mut Families) -> fmt::Result {
    let graph = s.graph.as_str();
    let op = |name: &'static str| -> Series<'_, u64> { operation_series(s, name) };
    f.counter("wasmgraph_operation_records_in", "Records that reached the operation.", op("in"))?;
    f.counter("wasmgraph_operation_records_out", "Records the operation passed on.", op("out"))?;
    let errors: Series<u64> = s
        .operations
        .iter()
        .flat_map(|o| {
            o.errors
                .iter()
                .map(move |(kind, n)| (vec![("graph", graph), ("operation", &*o.name), ("kind", &**kind)], *n))
        })
        .collect();
    f.counter("wasmgraph_operation_errors", "Failed calls of the operation, by failure kind.", errors)?;
    let calls: Series<HistogramPoint> = s
        .operations
        .iter()
        .filter_map(|o| o.calls.clone().map(|h| (vec![("graph", graph), ("operation", o.name.as_str())], h)))
        .collect();
    f.histogram(
        "wasmgraph_operation_call_duration",
        "How long the operation's module calls took.",
        Some(Unit::Seconds),
        calls,
    )?;
    let source = |pick: fn(&crate::SourcePoint) -> u64| -> Series<'_, u64> {
        s.sources.iter().map(|p| (vec![("graph", graph), ("source", p.name.as_str())], pick(p))).collect()
    };
    f.counter(
        "wasmgraph_source_messages_received",
        "Messages the source delivered to the graph.",
        source(|p| p.received),
    )?;
    f.counter(
        "wasmgraph_source_messages_acknowledged",
        "Messages acknowledged back to the source.",
        source(|p| p.acknowledged),
    )?;
    f.gauge(
        "wasmgraph_source_messages_in_flight",
        "Messages delivered whose acknowledgement is still owed.",
        source(|p| p.in_flight),
    )?;
    f.gauge(
        "wasmgraph_source_lag_messages",
        "Messages the broker holds past the source's next commit position, per partition (Kafka consumer lag).",
        lag_series(s),
    )?;
    let sink = |pick: fn(&crate::SinkPoint) -> u64| -> Series<'_, u64> {
        s.sinks.iter().map(|p| (vec![("graph", graph), ("sink", p.name.as_str())], pick(p))).collect()
    };
    f.counter("wasmgraph_sink_records_published", "Records the sink wrote.", sink(|p| p.published))?;
    f.counter("wasmgraph_sink_records_failed", "Writes and flushes of the sink that failed.", sink(|p| p.failed))
}

/// One series per partition a source reports lag for.
fn lag_series(s: &Snapshot) -> Vec<(Vec<(&'static str, String)>, u64)> {
    s.sources
        .iter()
        .flat_map(|p| {
            p.lag.iter().map(|l| {
                let labels = vec![
                    ("graph", s.graph.clone()),
                    ("source", p.name.clone()),
                    ("topic", l.topic.clone()),
                    ("partition", l.partition.to_string()),
                ];
                (labels, l.messages)
            })
        })
        .collect()
}

fn operation_series<'a>(s: &'a Snapshot, which: &str) -> Series<'a, u64> {
    s.operations
        .iter()
        .map(|o| {
            let v = if which == "in" { o.records_in } else { o.records_out };
            (vec![("graph", s.graph.as_str()), ("operation", o.name.as_str())], v)
        })
        .collect()
}

/// Modules' own metrics under their own (sanitized) names, grouped by name.
fn module_families(s: &Snapshot, f: &mut Families) -> fmt::Result {
    let mut names: Vec<String> = s.module_counters.iter().map(|c| metric_name(&c.name, true)).collect();
    names.sort();
    names.dedup();
    for name in names {
        let series: Vec<_> = s
            .module_counters
            .iter()
            .filter(|c| metric_name(&c.name, true) == name)
            .map(|c| (module_labels(&s.graph, &c.labels), c.value))
            .collect();
        f.counter(&name, "Counted by a module through the metrics host API.", series)?;
    }
    let mut names: Vec<String> = s.module_histograms.iter().map(|h| metric_name(&h.name, false)).collect();
    names.sort();
    names.dedup();
    for name in names {
        let series: Vec<_> = s
            .module_histograms
            .iter()
            .filter(|h| metric_name(&h.name, false) == name)
            .map(|h| {
                let point = HistogramPoint { buckets: vec![(f64::INFINITY, h.count)], sum: h.sum, count: h.count };
                (module_labels(&s.graph, &h.labels), point)
            })
            .collect();
        f.histogram(&name, "Recorded by a module through the metrics host API.", None, series)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModuleCounter, ModuleHistogram, OperationPoint, SinkPoint, SourcePoint};

    fn known() -> Snapshot {
        let calls = HistogramPoint { buckets: vec![(0.001, 2), (f64::INFINITY, 1)], sum: 1.5, count: 3 };
        Snapshot {
            graph: "g".into(),
            operations: vec![OperationPoint {
                name: "filter".into(),
                records_in: 10,
                records_out: 7,
                errors: vec![("error".into(), 2), ("trap".into(), 1)],
                calls: Some(calls),
            }],
            sources: vec![SourcePoint {
                name: "mqtt a \"b\"".into(),
                received: 10,
                acknowledged: 8,
                in_flight: 2,
                lag: vec![],
            }],
            sinks: vec![SinkPoint { name: "file out".into(), published: 7, failed: 0 }],
            module_counters: vec![
                ModuleCounter { name: "requests".into(), labels: vec![("module".into(), "t".into())], value: 10 },
                ModuleCounter { name: "skipped_total".into(), labels: vec![], value: 3 },
                // Collides with a runtime family: left out.
                ModuleCounter { name: "wasmgraph_operation_records_in".into(), labels: vec![], value: 99 },
            ],
            module_histograms: vec![ModuleHistogram {
                name: "temp.c".into(),
                labels: vec![("graph".into(), "own".into())],
                sum: 42.5,
                count: 2,
            }],
        }
    }

    #[test]
    fn known_values_are_exposed_with_conventional_names_and_labels() {
        let text = encode(&known());
        let expected = [
            "# TYPE wasmgraph_operation_records_in counter",
            r#"wasmgraph_operation_records_in_total{graph="g",operation="filter"} 10"#,
            r#"wasmgraph_operation_records_out_total{graph="g",operation="filter"} 7"#,
            r#"wasmgraph_operation_errors_total{graph="g",operation="filter",kind="error"} 2"#,
            r#"wasmgraph_operation_errors_total{graph="g",operation="filter",kind="trap"} 1"#,
            "# TYPE wasmgraph_operation_call_duration_seconds histogram",
            "# UNIT wasmgraph_operation_call_duration_seconds seconds",
            r#"wasmgraph_operation_call_duration_seconds_sum{graph="g",operation="filter"} 1.5"#,
            r#"wasmgraph_operation_call_duration_seconds_count{graph="g",operation="filter"} 3"#,
            r#"wasmgraph_operation_call_duration_seconds_bucket{le="0.001",graph="g",operation="filter"} 2"#,
            r#"wasmgraph_operation_call_duration_seconds_bucket{le="+Inf",graph="g",operation="filter"} 3"#,
            r#"wasmgraph_source_messages_received_total{graph="g",source="mqtt a \"b\""} 10"#,
            r#"wasmgraph_source_messages_acknowledged_total{graph="g",source="mqtt a \"b\""} 8"#,
            r#"wasmgraph_source_messages_in_flight{graph="g",source="mqtt a \"b\""} 2"#,
            r#"wasmgraph_sink_records_published_total{graph="g",sink="file out"} 7"#,
            r#"wasmgraph_sink_records_failed_total{graph="g",sink="file out"} 0"#,
            r#"requests_total{graph="g",module="t"} 10"#,
            r#"skipped_total{graph="g"} 3"#,
            r#"temp_c_sum{graph="own"} 42.5"#,
            r#"temp_c_count{graph="own"} 2"#,
            r#"temp_c_bucket{le="+Inf",graph="own"} 2"#,
        ];
        for line in expected {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        assert!(!text.contains("wasmgraph_source_lag"), "lag is unknown here, so not exposed:\n{text}");
        assert!(!text.contains(" 99"), "a module metric may not shadow a runtime family:\n{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn kafka_lag_is_a_gauge_per_partition() {
        let mut snapshot = known();
        snapshot.sources[0].name = "kafka b:9092 topics t group g".into();
        snapshot.sources[0].lag = vec![
            crate::LagPoint { topic: "t".into(), partition: 0, messages: 12 },
            crate::LagPoint { topic: "t".into(), partition: 1, messages: 0 },
        ];
        let text = encode(&snapshot);
        let source = r#"graph="g",source="kafka b:9092 topics t group g""#;
        for line in [
            "# TYPE wasmgraph_source_lag_messages gauge".to_string(),
            format!(r#"wasmgraph_source_lag_messages{{{source},topic="t",partition="0"}} 12"#),
            format!(r#"wasmgraph_source_lag_messages{{{source},topic="t",partition="1"}} 0"#),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
    }

    #[test]
    fn an_empty_snapshot_is_a_valid_empty_exposition() {
        assert_eq!(encode(&Snapshot::default()), "# EOF\n");
    }
}

//! Parsed telemetry as OTLP export requests (opentelemetry-proto's types).
//!
//! Each measurement becomes one data point, so a collector sees exactly what
//! the messages said, at the times they said it (an SDK would aggregate them
//! and stamp its own export times):
//!
//! * counters and up/down counters: a `Sum` with delta temporality, monotonic
//!   for counters, whose point is the measurement (start time = time: the
//!   increment happened at that instant);
//! * gauges: a `Gauge` point;
//! * histograms: a delta `Histogram` point of one measurement (count 1, sum,
//!   min and max the value) over OpenTelemetry's default explicit bounds.
//!
//! Integer types export integer points, `f64_*` types double points.
//! Measurements of one name, type and description in one request share one
//! `Metric`, in the order the names first appear.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric as OtlpMetric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::payload::{Attribute, AttributeValue, Log, Metric, MetricKind, Number};

/// OpenTelemetry's default explicit histogram bounds (the SDKs' default
/// aggregation), so one-measurement histograms merge with SDK-made ones.
pub const HISTOGRAM_BOUNDS: [f64; 15] =
    [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0];

/// The instrumentation scope every request names.
pub const SCOPE: &str = "wasmgraph";

/// Who sends: resource attributes and scope, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub resource: Resource,
    pub scope: InstrumentationScope,
}

impl Origin {
    /// `attributes` as the resource (`service.name` among them).
    pub fn new(attributes: impl IntoIterator<Item = (String, String)>) -> Self {
        let attributes = attributes.into_iter().map(|(k, v)| key_value(k, AttributeValue::String(v))).collect();
        Origin {
            resource: Resource { attributes, ..Default::default() },
            scope: InstrumentationScope {
                name: SCOPE.into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            },
        }
    }
}

/// A metric with its time settled (the record's time when it gave none).
pub(crate) type Timed<T> = (T, u64);

/// One request carrying `metrics`, grouped into `Metric`s by name, type and
/// description.
pub(crate) fn metrics_request(origin: &Origin, metrics: &[Timed<Metric>]) -> ExportMetricsServiceRequest {
    let mut out: Vec<OtlpMetric> = Vec::new();
    let mut index: HashMap<(&str, MetricKind, Option<&str>), usize> = HashMap::new();
    for (m, time) in metrics {
        let key = (m.name.as_str(), m.kind, m.description.as_deref());
        let at = *index.entry(key).or_insert_with(|| {
            out.push(OtlpMetric {
                name: m.name.clone(),
                description: m.description.clone().unwrap_or_default(),
                data: Some(empty_data(m.kind)),
                ..Default::default()
            });
            out.len() - 1
        });
        if let Some(data) = out[at].data.as_mut() {
            add_point(data, m, *time);
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(origin.resource.clone()),
            scope_metrics: vec![ScopeMetrics { scope: Some(origin.scope.clone()), metrics: out, ..Default::default() }],
            ..Default::default()
        }],
    }
}

/// One request carrying `logs`; `observed` is when the sink received them.
pub(crate) fn logs_request(origin: &Origin, logs: &[Timed<Log>], observed: u64) -> ExportLogsServiceRequest {
    let records = logs
        .iter()
        .map(|(log, time)| LogRecord {
            time_unix_nano: *time,
            observed_time_unix_nano: observed,
            severity_number: log.level.severity_number(),
            severity_text: log.level.severity_text().into(),
            body: Some(AnyValue { value: Some(any_value::Value::StringValue(log.body.clone())) }),
            attributes: attributes(&log.attributes),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(origin.resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(origin.scope.clone()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn empty_data(kind: MetricKind) -> metric::Data {
    use MetricKind::*;
    let delta = AggregationTemporality::Delta as i32;
    match kind {
        U64Counter | F64Counter => {
            metric::Data::Sum(Sum { data_points: Vec::new(), aggregation_temporality: delta, is_monotonic: true })
        }
        I64UpDownCounter | F64UpDownCounter => {
            metric::Data::Sum(Sum { data_points: Vec::new(), aggregation_temporality: delta, is_monotonic: false })
        }
        U64Gauge | I64Gauge | F64Gauge => metric::Data::Gauge(Gauge { data_points: Vec::new() }),
        F64Histogram | U64Histogram => {
            metric::Data::Histogram(Histogram { data_points: Vec::new(), aggregation_temporality: delta })
        }
    }
}

fn add_point(data: &mut metric::Data, m: &Metric, time: u64) {
    let number = |start: u64| NumberDataPoint {
        attributes: attributes(&m.attributes),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(match m.value {
            // The payload reader keeps u64 values within i64's range.
            Number::U64(v) => number_data_point::Value::AsInt(i64::try_from(v).unwrap_or(i64::MAX)),
            Number::I64(v) => number_data_point::Value::AsInt(v),
            Number::F64(v) => number_data_point::Value::AsDouble(v),
        }),
        ..Default::default()
    };
    match data {
        metric::Data::Sum(sum) => sum.data_points.push(number(time)),
        metric::Data::Gauge(gauge) => gauge.data_points.push(number(0)),
        metric::Data::Histogram(histogram) => histogram.data_points.push(histogram_point(m, time)),
        _ => {}
    }
}

fn histogram_point(m: &Metric, time: u64) -> HistogramDataPoint {
    let value = m.value.as_f64();
    // Bucket i counts values in (bounds[i-1], bounds[i]]; the last one the rest.
    let bucket = HISTOGRAM_BOUNDS.iter().position(|bound| value <= *bound).unwrap_or(HISTOGRAM_BOUNDS.len());
    let mut bucket_counts = vec![0; HISTOGRAM_BOUNDS.len() + 1];
    bucket_counts[bucket] = 1;
    HistogramDataPoint {
        attributes: attributes(&m.attributes),
        start_time_unix_nano: time,
        time_unix_nano: time,
        count: 1,
        sum: Some(value),
        bucket_counts,
        explicit_bounds: HISTOGRAM_BOUNDS.to_vec(),
        min: Some(value),
        max: Some(value),
        ..Default::default()
    }
}

fn attributes(list: &[Attribute]) -> Vec<KeyValue> {
    list.iter().map(|a| key_value(a.key.clone(), a.value.clone())).collect()
}

fn key_value(key: String, value: AttributeValue) -> KeyValue {
    let value = match value {
        AttributeValue::String(s) => any_value::Value::StringValue(s),
        AttributeValue::Bool(b) => any_value::Value::BoolValue(b),
        AttributeValue::Int(i) => any_value::Value::IntValue(i),
        AttributeValue::Double(d) => any_value::Value::DoubleValue(d),
    };
    KeyValue { key, value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

//! Settings (both spellings), the payload reader and the OTLP mapping; no
//! collector needed. The tests against real OTLP receivers are in
//! `integration.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value as Point};
use serde_json::json;

use super::otlp::{logs_request, metrics_request, Origin, HISTOGRAM_BOUNDS};
use super::payload::{parse, AttributeValue, Level, MetricKind, Number, METRIC_KINDS};
use super::*;
use crate::{EndpointSpec, SinkSpec};

fn endpoint(value: serde_json::Value) -> Result<OtelEndpoint, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[test]
fn flat_endpoint_reads_every_key() {
    let e = endpoint(json!({
        "host": "collector:4317",
        "protocol": "http/protobuf",
        "headers": {"Authorization": "Bearer t"},
        "tls": {"caFile": "ca.pem", "certFile": "c.pem", "keyFile": "k.pem"},
        "batching": {"latencySeconds": 0.5, "maxMessages": 10},
        "timeoutSeconds": 3,
        "retry": {"initialBackoffMs": 50, "maxBackoffSeconds": 2},
        "resource": {"service.name": "plant"}
    }))
    .unwrap();
    assert_eq!(e.protocol, OtelProtocol::HttpProtobuf);
    assert_eq!(e.batching, OtelBatching { latency: Duration::from_millis(500), max_messages: 10 });
    assert_eq!(e.timeout, Duration::from_secs(3));
    assert_eq!(e.retry, OtelRetry { initial_backoff: Duration::from_millis(50), max_backoff: Duration::from_secs(2) });
    assert_eq!(e.tls.as_ref().unwrap().ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert_eq!(e.all_headers().unwrap()["authorization"], "Bearer t");
    assert_eq!(e.resource["service.name"], "plant");
    // TLS settings make a schemeless host https; the port is kept.
    assert_eq!(e.base_url().unwrap().as_str(), "https://collector:4317/");
    e.validate().unwrap();
}

#[test]
fn aio_endpoint_spec_reads_into_the_same_settings() {
    let e = endpoint(json!({
        "openTelemetrySettings": {
            "host": "otel-collector:4317",
            "authentication": {"method": "X509Certificate", "x509CertificateSettings": {"secretRef": "certs/client"}},
            "tls": {"mode": "Enabled", "trustedCaCertificateConfigMapRef": "certs/ca.pem"},
            "batching": {"latencySeconds": 5, "maxMessages": 100}
        }
    }))
    .unwrap();
    let tls = e.tls.clone().unwrap();
    assert_eq!(tls.ca_file, Some(PathBuf::from("certs/ca.pem")));
    assert_eq!(tls.cert_file, Some(PathBuf::from("certs/client/tls.crt")));
    assert_eq!(tls.key_file, Some(PathBuf::from("certs/client/tls.key")));
    assert_eq!(e.batching, OtelBatching { latency: Duration::from_secs(5), max_messages: 100 });
    assert_eq!(e.protocol, OtelProtocol::Grpc);
    assert_eq!(e.describe(), "grpc https://otel-collector:4317");

    let mut resolved = e.clone();
    resolved.resolve_paths(Path::new("/deploy"));
    assert_eq!(resolved.tls.unwrap().key_file, Some(PathBuf::from("/deploy/certs/client/tls.key")));

    let anonymous = endpoint(json!({"openTelemetrySettings": {
        "host": "http://localhost:4317",
        "authentication": {"method": "Anonymous", "anonymousSettings": {}},
        "tls": {"mode": "Disabled"}
    }}))
    .unwrap();
    assert!(anonymous.tls.is_none());
    assert_eq!(anonymous.base_url().unwrap().as_str(), "http://localhost:4317/");
}

#[test]
fn service_account_token_needs_a_token_file() {
    let without = endpoint(json!({"openTelemetrySettings": {"host": "c:4317",
        "authentication": {"method": "ServiceAccountToken", "serviceAccountTokenSettings": {"audience": "otel"}}}}));
    assert!(without.unwrap_err().contains("tokenFile"), "the error says what to give");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "secret-token\n").unwrap();
    let mut with = endpoint(json!({"openTelemetrySettings": {"host": "c:4317",
        "authentication": {"method": "ServiceAccountToken",
                           "serviceAccountTokenSettings": {"audience": "otel", "tokenFile": "token"}}}}))
    .unwrap();
    with.resolve_paths(dir.path());
    assert_eq!(with.all_headers().unwrap()["authorization"], "Bearer secret-token");
}

#[test]
fn endpoint_mistakes_are_named() {
    let err = |v| endpoint(v).unwrap_err();
    assert!(err(json!({"protocol": "grpc"})).contains("`host` is missing"));
    assert!(err(json!({"host": "c", "protocol": "http/json"})).contains("http/json"));
    assert!(err(json!({"host": "c", "hots": 1})).contains("unknown field `hots`"));
    assert!(err(json!({"host": "c", "openTelemetrySettings": {"host": "d"}})).contains("not both"));
    assert!(err(json!({"host": "c", "tls": {"mode": "Disabled", "caFile": "ca.pem"}})).contains("mode: Disabled"));

    let invalid = |v| endpoint(v).unwrap().validate().unwrap_err().to_string();
    assert!(invalid(json!({"host": "c", "batching": {"maxMessages": 0}})).contains("maxMessages"));
    assert!(invalid(json!({"host": "ftp://c"})).contains("scheme 'ftp'"));
    assert!(invalid(json!({"host": "c:4317/v1"})).contains("gRPC endpoint has no path"));
    assert!(invalid(json!({"host": "c", "headers": {"bad header": "x"}})).contains("header 'bad header'"));
    assert!(invalid(json!({"host": "c", "tls": {"certFile": "c.pem"}})).contains("both certFile and keyFile"));
}

#[test]
fn default_ports_and_http_paths_follow_otlp() {
    let grpc = OtelEndpoint::new("collector", OtelProtocol::Grpc);
    assert_eq!(grpc.base_url().unwrap().as_str(), "http://collector:4317/");
    let http = OtelEndpoint::new("collector", OtelProtocol::HttpProtobuf);
    assert_eq!(http.base_url().unwrap().as_str(), "http://collector:4318/");
    // A URL keeps its own port (or the scheme's) and its path prefix.
    let prefixed = OtelEndpoint::new("https://gateway/otlp", OtelProtocol::HttpProtobuf);
    assert_eq!(prefixed.base_url().unwrap().as_str(), "https://gateway/otlp");
}

#[test]
fn registry_reads_otel_opentelemetry_and_aio_endpoint_type() {
    // Text, not json!: `type` must come first and json! sorts keys.
    for text in [
        r#"{"type": "otel", "host": "c:4317"}"#,
        r#"{"type": "opentelemetry", "host": "c:4317"}"#,
        r#"{"endpointType": "OpenTelemetry", "openTelemetrySettings": {"host": "c:4317"}}"#,
    ] {
        let spec: EndpointSpec = serde_json::from_str(text).unwrap();
        assert_eq!(spec.type_name(), "otel", "{text}");
    }
    let sink: SinkSpec = serde_json::from_str(r#"{"type": "otel", "endpoint": "collector"}"#).unwrap();
    assert_eq!((sink.type_name(), sink.endpoint_name()), ("otel", Some("collector")));
    assert!(sink.check().is_empty());
    assert!(sink.with_topic("errors").is_none(), "no topics for dead letters");
    let bare: SinkSpec = serde_json::from_value(json!({"type": "otel"})).unwrap();
    assert!(bare.check()[0].contains("needs an endpoint"));
}

#[test]
fn payload_reads_aio_documented_sample() {
    let t = parse(
        br#"{"metrics": [{"name": "temperature", "description": "The temperature reading from sensor",
              "type": "f64_gauge", "value": 72.5, "timestamp": 1754851200000000000,
              "attributes": [{"key": "factoryId", "value": "factory1"}, {"key": "location", "value": "warehouse"}]}],
            "logs": [{"value": "Device temperature sensor initialized", "level": "info",
              "timestamp": 1754851200000000000, "attributes": [{"key": "deviceId", "value": "sensor001"}]}]}"#,
    )
    .unwrap();
    let m = &t.metrics[0];
    assert_eq!((m.name.as_str(), m.kind, m.value), ("temperature", MetricKind::F64Gauge, Number::F64(72.5)));
    assert_eq!(m.timestamp, Some(1_754_851_200_000_000_000));
    assert_eq!(m.attributes[1].value, AttributeValue::String("warehouse".into()));
    assert_eq!((t.logs[0].level, t.logs[0].body.as_str()), (Level::Info, "Device temperature sensor initialized"));
}

#[test]
fn payload_reads_every_metric_type_with_its_number_kind() {
    for (name, kind) in METRIC_KINDS {
        let t = parse(json!({"metrics": [{"name": "m", "type": name, "value": 7}]}).to_string().as_bytes()).unwrap();
        assert_eq!(t.metrics[0].kind, kind);
        let expected = match &name[..3] {
            "u64" => Number::U64(7),
            "i64" => Number::I64(7),
            _ => Number::F64(7.0),
        };
        assert_eq!(t.metrics[0].value, expected, "{name}");
    }
}

#[test]
fn payload_leniency() {
    let t = parse(
        br#"{"metrics": [{"name": "a", "type": "U64_Counter", "value": "3", "timestamp": "1754851200000000001",
                          "attributes": {"line": "l1", "count": 2, "ok": true, "ratio": 0.5}}],
             "logs": [{"value": {"code": 7}, "level": "WARNING"}], "extra": 1}"#,
    )
    .unwrap();
    let m = &t.metrics[0];
    assert_eq!(
        (m.kind, m.value, m.timestamp),
        (MetricKind::U64Counter, Number::U64(3), Some(1_754_851_200_000_000_001))
    );
    let values: Vec<_> = m.attributes.iter().map(|a| (a.key.as_str(), a.value.clone())).collect();
    assert!(
        values.contains(&("count", AttributeValue::Int(2))) && values.contains(&("ok", AttributeValue::Bool(true)))
    );
    assert_eq!((t.logs[0].level, t.logs[0].body.as_str()), (Level::Warn, r#"{"code":7}"#));
    assert!(parse(br#"{"logs": []}"#).unwrap().is_empty());
}

#[test]
fn payload_errors_name_the_element() {
    let err = |text: &str| parse(text.as_bytes()).unwrap_err().to_string();
    assert_eq!(err("not json").split(':').next(), Some("payload"));
    assert!(err("[1]").starts_with("payload: not a JSON object"));
    assert!(err(r#"{"values": []}"#).contains("neither `metrics` nor `logs`"));
    assert!(err(r#"{"metrics": {}}"#).starts_with("metrics: expected an array"));
    assert!(err(r#"{"metrics": [{"type": "f64_gauge", "value": 1}]}"#).starts_with("metrics[0].name: missing"));
    assert!(err(r#"{"metrics": [{"name": "a", "type": "f32_gauge", "value": 1}]}"#)
        .starts_with("metrics[0].type: 'f32_gauge' is not a metric type"));
    assert!(err(r#"{"metrics": [{"name": "a", "type": "u64_counter", "value": -1}]}"#).starts_with("metrics[0].value"));
    assert!(err(r#"{"metrics": [{"name": "a", "type": "i64_gauge", "value": 1.5}]}"#).contains("whole number"));
    assert!(
        err(r#"{"metrics": [{"name": "a", "type": "f64_gauge", "value": "hot"}]}"#).contains("'hot' is not a number")
    );
    assert!(err(r#"{"metrics": [{"name": "a", "type": "f64_gauge", "value": 1, "timestamp": -5}]}"#)
        .starts_with("metrics[0].timestamp"));
    assert!(err(r#"{"metrics": [{"name": "a", "type": "f64_gauge", "value": 1, "attributes": [{"key": "k"}]}]}"#)
        .starts_with("metrics[0].attributes[0].value: missing"));
    assert!(
        err(r#"{"logs": [{"value": "x", "level": "loud"}]}"#).starts_with("logs[0].level: 'loud' is not a log level")
    );
    assert!(err(r#"{"logs": [{"level": "info"}]}"#).starts_with("logs[0].value: missing"));
}

#[test]
fn otlp_mapping_keeps_types_values_and_times() {
    let t = parse(
        json!({"metrics": [
            {"name": "c", "type": "u64_counter", "value": 5, "timestamp": 10},
            {"name": "u", "type": "f64_up_down_counter", "value": -1.5, "timestamp": 11},
            {"name": "g", "type": "i64_gauge", "value": -3, "timestamp": 12},
            {"name": "h", "type": "f64_histogram", "value": 30.0, "timestamp": 13},
            {"name": "c", "type": "u64_counter", "value": 6, "timestamp": 14}
        ]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let timed: Vec<_> = t
        .metrics
        .into_iter()
        .map(|m| {
            let time = m.timestamp.unwrap();
            (m, time)
        })
        .collect();
    let origin = Origin::new([("service.name".to_string(), "plant".to_string())]);
    let request = metrics_request(&origin, &timed);
    let scope = &request.resource_metrics[0].scope_metrics[0];
    let names: Vec<&str> = scope.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["c", "u", "g", "h"], "one Metric per name, in first-seen order");
    match scope.metrics[0].data.as_ref().unwrap() {
        Data::Sum(sum) => {
            assert!(sum.is_monotonic);
            let points: Vec<_> = sum.data_points.iter().map(|p| (p.time_unix_nano, p.value)).collect();
            assert_eq!(points, [(10, Some(Point::AsInt(5))), (14, Some(Point::AsInt(6)))]);
        }
        other => panic!("u64_counter became {other:?}"),
    }
    match scope.metrics[1].data.as_ref().unwrap() {
        Data::Sum(sum) => assert!(!sum.is_monotonic && sum.data_points[0].value == Some(Point::AsDouble(-1.5))),
        other => panic!("f64_up_down_counter became {other:?}"),
    }
    match scope.metrics[2].data.as_ref().unwrap() {
        Data::Gauge(g) => assert_eq!(g.data_points[0].value, Some(Point::AsInt(-3))),
        other => panic!("i64_gauge became {other:?}"),
    }
    match scope.metrics[3].data.as_ref().unwrap() {
        Data::Histogram(h) => {
            let p = &h.data_points[0];
            assert_eq!((p.count, p.sum, p.min, p.max, p.time_unix_nano), (1, Some(30.0), Some(30.0), Some(30.0), 13));
            assert_eq!(p.explicit_bounds, HISTOGRAM_BOUNDS);
            // 30 lies in (25, 50]: the fifth bucket.
            assert_eq!(p.bucket_counts.iter().position(|c| *c == 1), Some(4));
        }
        other => panic!("f64_histogram became {other:?}"),
    }
    let resource = request.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(resource.attributes[0].value.as_ref().unwrap().value, Some(Any::StringValue("plant".into())));
}

#[test]
fn otlp_logs_carry_severity_body_and_attributes() {
    let t =
        parse(br#"{"logs": [{"value": "door open", "level": "error", "attributes": [{"key": "door", "value": 3}]}]}"#)
            .unwrap();
    let timed: Vec<_> = t.logs.into_iter().map(|l| (l, 42)).collect();
    let request = logs_request(&Origin::new([]), &timed, 50);
    let record = &request.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!((record.time_unix_nano, record.observed_time_unix_nano), (42, 50));
    assert_eq!((record.severity_number, record.severity_text.as_str()), (17, "ERROR"));
    assert_eq!(record.body.as_ref().unwrap().value, Some(Any::StringValue("door open".into())));
    assert_eq!(record.attributes[0].value.as_ref().unwrap().value, Some(Any::IntValue(3)));
}

//! OpenTelemetry destinations in deployment files: wasmgraph's `type: otel`
//! sink and endpoint, and AIO's `endpointType: OpenTelemetry` endpoint in a
//! DataflowGraph's companion file, both mapped onto the connectors' OTel
//! settings with paths resolved from the file they were written in.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmgraph_connectors::otel::{OtelEndpoint, OtelProtocol};
use wasmgraph_deployment::{load, Deployment, EndpointSpec, ErrorPolicy, SinkSpec};

const GRAPH: &str = "metadata:\n  name: g\noperations: []\nconnections: []\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The sink's OTel endpoint.
fn otel_endpoint(d: &Deployment) -> &OtelEndpoint {
    assert!(matches!(d.sink, SinkSpec::Otel(_)), "expected an OTel sink, got {:?}", d.sink);
    match d.endpoint(d.sink.endpoint_name()) {
        Some(EndpointSpec::Otel(e)) => e,
        other => panic!("expected an OTel endpoint, got {other:?}"),
    }
}

fn native(sink_and_endpoints: &str) -> String {
    format!(
        "kind: Deployment\nname: telemetry\ngraph: g.yaml\nsource:\n  type: file\n  path: data\n{sink_and_endpoints}"
    )
}

#[test]
fn native_deployment_with_an_otel_sink() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file = write(
        dir.path(),
        "d.yaml",
        &native(
            "sink:
  type: otel
  endpoint: collector
endpoints:
  collector:
    type: otel
    host: http://127.0.0.1:4318
    protocol: http/protobuf
    headers:
      authorization: Bearer abc
    tls:
      caFile: certs/ca.pem
    batching:
      latencySeconds: 2
      maxMessages: 500
    resource:
      site: plant-1
",
        ),
    );
    let d = load(&file, None).unwrap();
    let e = otel_endpoint(&d);
    assert_eq!(e.protocol, OtelProtocol::HttpProtobuf);
    assert_eq!((e.batching.latency, e.batching.max_messages), (Duration::from_secs(2), 500));
    assert_eq!(e.tls.as_ref().unwrap().ca_file, Some(dir.path().join("certs/ca.pem")));
    assert_eq!(e.headers["authorization"], "Bearer abc");
    assert_eq!(e.resource["site"], "plant-1");
    // The TLS settings make the collector https.
    assert_eq!(e.base_url().unwrap().as_str(), "https://127.0.0.1:4318/");
}

#[test]
fn opentelemetry_is_accepted_as_the_type_name() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file = write(
        dir.path(),
        "d.yaml",
        &native("sink:\n  type: opentelemetry\n  endpoint: c\nendpoints:\n  c:\n    type: opentelemetry\n    host: c:4317\n"),
    );
    let d = load(&file, None).unwrap();
    assert_eq!(otel_endpoint(&d).protocol, OtelProtocol::Grpc);
}

#[test]
fn otel_mistakes_are_reported_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let load_text = |text: &str| load(&write(dir.path(), "d.yaml", text), None).unwrap_err().to_string();
    let no_endpoint = load_text(&native("sink:\n  type: otel\n"));
    assert!(no_endpoint.contains("sink.endpoint: an OpenTelemetry sink needs an endpoint"), "{no_endpoint}");
    let bad_batch = load_text(&native(
        "sink:\n  type: otel\n  endpoint: c\nendpoints:\n  c:\n    type: otel\n    host: c:4317\n    batching:\n      maxMessages: 0\n",
    ));
    assert!(bad_batch.contains("endpoint 'c'") && bad_batch.contains("maxMessages"), "{bad_batch}");
    let dead_letters = load_text(&native(
        "sink:\n  type: otel\n  endpoint: c\nerrors:\n  policy: deadLetter\n  topic: dlq\n\
endpoints:\n  c:\n    type: otel\n    host: c:4317\n",
    ));
    assert!(dead_letters.contains("has no topics"), "{dead_letters}");
    let as_source = load_text(
        "kind: Deployment\ngraph: g.yaml\nsource:\n  type: otel\n  endpoint: c\nsink:\n  type: file\n  path: out.jsonl\n\
endpoints:\n  c:\n    type: otel\n    host: c:4317\n",
    );
    assert!(as_source.contains("destination only"), "{as_source}");
}

const MANIFEST: &str = "apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowGraph
metadata:
  name: plant-telemetry
spec:
  nodes:
    - nodeType: Source
      name: mqtt-source
      sourceSettings:
        endpointRef: default
        dataSources: [sensors/+/temperature]
    - nodeType: Graph
      name: telemetry
      graphSettings:
        artifact: graph-otel:1.0.0
    - nodeType: Destination
      name: otel-destination
      destinationSettings:
        endpointRef: otel
        dataDestination: metrics
  nodeConnections:
    - from: {name: mqtt-source}
      to: {name: telemetry}
    - from: {name: telemetry}
      to: {name: otel-destination}
";

#[test]
fn aio_dataflow_graph_with_an_opentelemetry_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "graphs/g.yaml", GRAPH);
    let manifest = write(dir.path(), "aio/graph.yaml", MANIFEST);
    write(
        dir.path(),
        "aio/endpoints.yaml",
        "endpoints:
  otel:
    endpointType: OpenTelemetry
    openTelemetrySettings:
      host: otel-collector:4317
      authentication:
        method: X509Certificate
        x509CertificateSettings:
          secretRef: certs/client
      tls:
        mode: Enabled
        trustedCaCertificateConfigMapRef: certs/ca.pem
      batching:
        latencySeconds: 5
        maxMessages: 100
artifacts:
  graph-otel:1.0.0: ../graphs/g.yaml
",
    );
    let d = load(&manifest, None).unwrap();
    assert_eq!(d.name, "plant-telemetry");
    let e = otel_endpoint(&d);
    let base = dir.path().join("aio");
    let tls = e.tls.as_ref().unwrap();
    assert_eq!(tls.ca_file, Some(base.join("certs/ca.pem")));
    assert_eq!(
        (tls.cert_file.clone(), tls.key_file.clone()),
        (Some(base.join("certs/client/tls.crt")), Some(base.join("certs/client/tls.key")))
    );
    assert_eq!((e.batching.latency, e.batching.max_messages), (Duration::from_secs(5), 100));
    assert_eq!(e.describe(), "grpc https://otel-collector:4317");
    assert!(matches!(d.errors, ErrorPolicy::Drop));
}

#[test]
fn aio_opentelemetry_endpoint_cannot_be_a_source() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "graphs/g.yaml", GRAPH);
    let text = MANIFEST.replace("endpointRef: default", "endpointRef: otel");
    let manifest = write(dir.path(), "aio/graph.yaml", &text);
    write(
        dir.path(),
        "aio/endpoints.yaml",
        "endpoints:\n  otel:\n    endpointType: OpenTelemetry\n    openTelemetrySettings:\n      host: c:4317\n\
artifacts:\n  graph-otel:1.0.0: ../graphs/g.yaml\n",
    );
    let error = load(&manifest, None).unwrap_err().to_string();
    assert!(error.contains("endpointRef 'otel': this endpoint type cannot be a source"), "{error}");
}

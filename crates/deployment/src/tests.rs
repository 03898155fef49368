use std::path::Path;

use super::*;
use wasmgraph_connectors::mqtt::{MqttEndpoint, MqttSinkSpec, MqttSourceSpec};

fn mqtt_source(d: &Deployment) -> &MqttSourceSpec {
    match &d.source {
        SourceSpec::Mqtt(s) => s,
        other => panic!("expected an MQTT source, got {other:?}"),
    }
}

fn mqtt_sink(s: &SinkSpec) -> &MqttSinkSpec {
    match s {
        SinkSpec::Mqtt(s) => s,
        other => panic!("expected an MQTT sink, got {other:?}"),
    }
}

/// The endpoint a source or sink uses; `None`: the embedded broker.
fn mqtt_endpoint<'d>(d: &'d Deployment, name: Option<&str>) -> Option<&'d MqttEndpoint> {
    match d.endpoint(name) {
        None => None,
        Some(EndpointSpec::Mqtt(e)) if e.embedded => None,
        Some(EndpointSpec::Mqtt(e)) => Some(e),
        Some(other) => panic!("expected an MQTT endpoint, got {other:?}"),
    }
}

fn dead_letter_topic(d: &Deployment) -> Option<String> {
    match &d.errors {
        ErrorPolicy::Drop => None,
        ErrorPolicy::DeadLetter(s) => Some(mqtt_sink(s).topic.clone()),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const GRAPH: &str = "metadata:\n  name: g\noperations: []\nconnections: []\n";

#[test]
fn detects_the_kind_of_file() {
    assert_eq!(detect(GRAPH), FileKind::Graph);
    assert_eq!(detect("kind: Deployment\ngraph: g.yaml\n"), FileKind::Deployment);
    assert_eq!(detect("apiVersion: x/v1\nkind: \"DataflowGraph\"\nspec: {}\n"), FileKind::DataflowGraph);
    assert_eq!(detect("hello: 1\n"), FileKind::Unknown);
}

#[test]
fn native_deployment_with_endpoints_and_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file = write(
        dir.path(),
        "d.yaml",
        "kind: Deployment\nname: temps\ngraph: g.yaml\nmodules: ops\nconfiguration:\n  filter:\n    lower: 0\n    on: true\n\
source:\n  endpoint: plant\n  topics: ['$share/g/sensors/+/t']\n  maxMessageSize: 100\n\
sink:\n  endpoint: plant\n  topic: out/${inputTopic}\n\
errors:\n  policy: deadLetter\n  topic: dlq\n\
endpoints:\n  plant:\n    host: broker.local\n    username: u\n    password: p\n    tls:\n      caFile: ca.pem\n",
    );
    let d = load(&file, None).unwrap();
    assert_eq!(d.name, "temps");
    assert_eq!(d.graph, dir.path().join("g.yaml"));
    assert_eq!(d.modules, Some(dir.path().join("ops")));
    let Configuration::PerOperation(c) = &d.configuration else { panic!() };
    assert_eq!(c["filter"]["lower"], "0");
    assert_eq!(c["filter"]["on"], "true");
    assert_eq!(mqtt_source(&d).max_message_size, 100);
    assert_eq!(mqtt_source(&d).qos, 1);
    let endpoint = mqtt_endpoint(&d, d.source.endpoint_name()).expect("expected a broker");
    let conn = endpoint.connection("id".into()).unwrap();
    assert_eq!((conn.host.as_str(), conn.port), ("broker.local", 8883));
    assert_eq!(conn.credentials, Some(("u".into(), "p".into())));
    assert_eq!(conn.tls.as_ref().unwrap().ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(dead_letter_topic(&d), Some("dlq".into()));
}

#[test]
fn no_endpoint_means_the_embedded_broker() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file =
        write(dir.path(), "d.yaml", "kind: Deployment\ngraph: g.yaml\nsource:\n  topics: [a]\nsink:\n  topic: b\n");
    let d = load(&file, None).unwrap();
    assert!(mqtt_endpoint(&d, d.source.endpoint_name()).is_none());
    assert!(mqtt_endpoint(&d, d.sink.endpoint_name()).is_none());
    assert_eq!(d.name, "d");
    assert!(matches!(d.errors, ErrorPolicy::Drop));
    assert_eq!(mqtt_source(&d).receive_maximum, wasmgraph_connectors::mqtt::default_receive_maximum());
}

/// Issue 18: a sink topic the source reads again is refused at load; on
/// another broker it is fine.
#[test]
fn a_sink_that_feeds_its_source_back_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let looping =
        "kind: Deployment\ngraph: g.yaml\nsource:\n  topics: ['in/#']\nsink:\n  topic: in/done/${inputTopic.2}\n";
    let err = load(&write(dir.path(), "d.yaml", looping), None).unwrap_err().to_string();
    assert!(err.contains("d.yaml"), "{err}");
    assert!(err.contains("sink topic 'in/done/${inputTopic.2}' feeds the source back: a message on 'in/x' would go out on 'in/done/x'"), "{err}");
    let elsewhere = format!(
        "{looping}  endpoint: other\nendpoints:\n  other:\n    type: mqtt\n    host: 127.0.0.1\n    port: 1884\n"
    );
    load(&write(dir.path(), "d2.yaml", &elsewhere), None).unwrap();
    let same = "kind: Deployment\ngraph: g.yaml\nsource:\n  topics: ['#']\n  endpoint: a\nsink:\n  topic: out\n  endpoint: b\n\
         endpoints:\n  a:\n    type: mqtt\n    host: h\n  b:\n    type: mqtt\n    host: h\n";
    let err = load(&write(dir.path(), "d3.yaml", same), None).unwrap_err().to_string();
    assert!(err.contains("feeds the source back"), "two names for one broker: {err}");
}

#[test]
fn receive_maximum_is_set_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let with = |value: &str| {
        let text = format!(
            "kind: Deployment\ngraph: g.yaml\nsource:\n  topics: [a]\n  receiveMaximum: {value}\nsink:\n  topic: b\n"
        );
        load(&write(dir.path(), "d.yaml", &text), None)
    };
    assert_eq!(mqtt_source(&with("20000").unwrap()).receive_maximum, 20000);
    for bad in ["0", "70000"] {
        let err = with(bad).unwrap_err().to_string();
        assert!(err.contains("d.yaml") && err.contains("source.receiveMaximum") && err.contains("1 to 65535"), "{err}");
    }
}

#[test]
fn unknown_key_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file = write(
        dir.path(),
        "d.yaml",
        "kind: Deployment\ngraph: g.yaml\nsource:\n  topics: [a]\n  topicz: [b]\nsink:\n  topic: b\n",
    );
    let err = load(&file, None).unwrap_err().to_string();
    assert!(err.contains("d.yaml"), "{err}");
    assert!(err.contains("topicz"), "{err}");
    assert!(err.contains("line 5") || err.contains(":5:") || err.contains("5:3"), "{err}");
}

#[test]
fn oci_graph_reference_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "d.yaml",
        "kind: Deployment\ngraph: myregistry.azurecr.io/graph-simple:1.0.0\nsource:\n  topics: [a]\nsink:\n  topic: b\n",
    );
    let err = load(&file, None).unwrap_err().to_string();
    assert!(err.contains("OCI reference"), "{err}");
}

const AIO: &str = "apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowGraph
metadata:
  name: temperature-graph
  namespace: azure-iot-operations
spec:
  profileRef: default
  nodes:
    - nodeType: Source
      name: mqtt-source
      sourceSettings:
        endpointRef: plant
        dataSources:
          - thermostats/+/temperature
    - nodeType: Graph
      name: graph
      graphSettings:
        registryEndpointRef: acr
        artifact: graph-simple:1.0.0
        configuration:
          - key: temperature_lower_bound
            value: \"0\"
    - nodeType: Destination
      name: mqtt-destination
      destinationSettings:
        endpointRef: default
        dataDestination: thermostats/processed
  nodeConnections:
    - from:
        name: mqtt-source
      to:
        name: graph
    - from:
        name: graph
      to:
        name: mqtt-destination
";

#[test]
fn aio_dataflow_graph_with_companion_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file = write(dir.path(), "graph.yaml", AIO);
    write(
        dir.path(),
        "endpoints.yaml",
        "endpoints:\n  plant:\n    host: 127.0.0.1\n    port: 1884\n    clientId: c1\nartifacts:\n  graph-simple:1.0.0: g.yaml\nmodules: ops\n",
    );
    let d = load(&file, None).unwrap();
    assert_eq!(d.name, "temperature-graph");
    assert_eq!(d.graph, dir.path().join("g.yaml"));
    assert_eq!(mqtt_source(&d).topics, vec!["thermostats/+/temperature".to_string()]);
    assert_eq!(mqtt_sink(&d.sink).topic, "thermostats/processed");
    assert!(mqtt_endpoint(&d, d.sink.endpoint_name()).is_none(), "`default` is the embedded broker");
    let c = mqtt_endpoint(&d, d.source.endpoint_name()).expect("a broker");
    assert_eq!((c.port, c.client_id.as_deref()), (Some(1884), Some("c1")));
    assert_eq!(d.configuration, Configuration::Graph(vec![("temperature_lower_bound".into(), "0".into())]));
}

#[test]
fn aio_without_artifact_mapping_explains_oci() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "graph.yaml", AIO);
    let companion = write(dir.path(), "eps.yaml", "endpoints:\n  plant:\n    host: h\n");
    let err = load(&file, Some(&companion)).unwrap_err().to_string();
    assert!(err.contains("OCI reference") && err.contains("artifacts"), "{err}");
}

#[test]
fn aio_unknown_key_and_undefined_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "graph.yaml", &AIO.replace("dataSources:", "dataSourcez:"));
    let err = load(&file, None).unwrap_err().to_string();
    assert!(err.contains("dataSourcez"), "{err}");
    assert!(err.contains("line 13") || err.contains(":13:"), "{err}");
    write(dir.path(), "g.yaml", GRAPH);
    let file = write(dir.path(), "graph2.yaml", AIO);
    let companion = write(dir.path(), "eps.yaml", "artifacts:\n  graph-simple:1.0.0: g.yaml\n");
    let err = load(&file, Some(&companion)).unwrap_err().to_string();
    assert!(err.contains("endpointRef 'plant'"), "{err}");
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/deployments")
}

#[test]
fn the_example_deployments_load() {
    let d = load(&examples().join("temperature.yaml"), None).unwrap();
    assert!(mqtt_endpoint(&d, d.source.endpoint_name()).is_none());
    assert_eq!(dead_letter_topic(&d), Some("processed/errors".into()));
    let aio = load(&examples().join("aio/dataflow-graph.yaml"), None).unwrap();
    assert!(aio.graph.ends_with("graphs/simple.yaml"), "{}", aio.graph.display());
    assert_eq!(mqtt_sink(&aio.sink).topic, "thermostats/processed");
    // Everything parses; only the (absent) secret file stops it.
    let err = load(&examples().join("plant-broker.yaml"), None).unwrap_err().to_string();
    assert!(err.contains("secrets/mqtt-password"), "{err}");
}

#[test]
fn sections_pick_their_connector_by_type() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file = write(
        dir.path(),
        "d.yaml",
        "kind: Deployment\ngraph: g.yaml\nsource:\n  type: file\n  path: in\nsink:\n  type: mqtt\n  topic: out\n\
errors:\n  policy: deadLetter\n  sink:\n    type: file\n    path: out/errors.jsonl\n",
    );
    let d = load(&file, None).unwrap();
    let SourceSpec::File(f) = &d.source else { panic!("{:?}", d.source) };
    assert_eq!(f.path, dir.path().join("in"));
    assert_eq!(f.topic, "probe/1");
    let ErrorPolicy::DeadLetter(SinkSpec::File(dl)) = &d.errors else { panic!("{:?}", d.errors) };
    assert_eq!(dl.path, dir.path().join("out/errors.jsonl"));
}

#[test]
fn type_problems_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let with = |text: &str| load(&write(dir.path(), "d.yaml", text), None).unwrap_err().to_string();
    let err =
        with("kind: Deployment\ngraph: g.yaml\nsource:\n  type: carrier-pigeon\n  topics: [a]\nsink:\n  topic: b\n");
    assert!(err.contains("carrier-pigeon") && err.contains("mqtt") && err.contains("file"), "{err}");
    let err = with("kind: Deployment\ngraph: g.yaml\nsource:\n  topics: [a]\n  type: file\nsink:\n  topic: b\n");
    assert!(err.contains("`type` must be the first key"), "{err}");
    let err = with("kind: Deployment\ngraph: g.yaml\nsource:\n  type: file\n  topics: [a]\nsink:\n  topic: b\n");
    assert!(err.contains("topics") && err.contains("line 5"), "{err}");
    let err = with(
        "kind: Deployment\ngraph: g.yaml\nsource:\n  topics: [a]\n  endpoint: e\nsink:\n  topic: b\n  endpoint: nope\n\
endpoints:\n  e:\n    type: file\n",
    );
    assert!(err.contains("source is of type mqtt but its endpoint 'e' is of type file"), "{err}");
    assert!(err.contains("sink.endpoint 'nope' is not defined"), "{err}");
    assert!(err.contains("endpoint 'e': the file connector takes no endpoint"), "{err}");
    let err = with("kind: Deployment\ngraph: g.yaml\nsource:\n  type: file\n  path: x\nsink:\n  type: file\n  path: o\nerrors:\n  policy: deadLetter\n  topic: t\n");
    assert!(err.contains("errors.topic") && err.contains("file sink has no topics"), "{err}");
}

#[test]
fn the_state_store_is_chosen_in_the_deployment() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let base = "kind: Deployment\ngraph: g.yaml\nsource:\n  topics: [a]\nsink:\n  topic: b\n";
    let d = load(&write(dir.path(), "d.yaml", base), None).unwrap();
    assert_eq!(d.state_store, StateStoreConfig::Memory {});
    let text = format!("{base}stateStore:\n  type: embedded\n  path: state/keys.redb\n");
    let d = load(&write(dir.path(), "d.yaml", &text), None).unwrap();
    assert_eq!(d.state_store, StateStoreConfig::Embedded { path: dir.path().join("state/keys.redb") });
    let text = format!("{base}stateStore:\n  type: redis\n  url: redis://127.0.0.1:6379\n");
    let d = load(&write(dir.path(), "d.yaml", &text), None).unwrap();
    assert!(matches!(d.state_store, StateStoreConfig::Redis { .. }));
    let text = format!("{base}stateStore:\n  type: etcd\n");
    let err = load(&write(dir.path(), "d.yaml", &text), None).unwrap_err().to_string();
    assert!(err.contains("etcd") && err.contains("embedded"), "{err}");
}

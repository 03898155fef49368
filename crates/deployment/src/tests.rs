use std::path::Path;

use super::*;

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
    assert_eq!(d.source.max_message_size, 100);
    assert_eq!(d.source.qos, 1);
    let Endpoint::Broker(conn) = &d.source.endpoint else { panic!("expected a broker") };
    assert_eq!((conn.host.as_str(), conn.port), ("broker.local", 8883));
    assert_eq!(conn.credentials, Some(("u".into(), "p".into())));
    assert_eq!(conn.tls.as_ref().unwrap().ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(d.errors, ErrorPolicy::DeadLetter { topic: "dlq".into() });
}

#[test]
fn no_endpoint_means_the_embedded_broker() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file =
        write(dir.path(), "d.yaml", "kind: Deployment\ngraph: g.yaml\nsource:\n  topics: [a]\nsink:\n  topic: b\n");
    let d = load(&file, None).unwrap();
    assert!(matches!(d.source.endpoint, Endpoint::Embedded { port: 1883 }));
    assert!(matches!(d.sink.endpoint, Endpoint::Embedded { .. }));
    assert_eq!(d.name, "d");
    assert_eq!(d.errors, ErrorPolicy::Drop);
    assert_eq!(d.source.receive_maximum, crate::DEFAULT_RECEIVE_MAXIMUM);
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
    assert_eq!(with("20000").unwrap().source.receive_maximum, 20000);
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
    assert_eq!(d.source.topics, vec!["thermostats/+/temperature".to_string()]);
    assert_eq!(d.sink.topic, "thermostats/processed");
    assert!(matches!(d.sink.endpoint, Endpoint::Embedded { .. }), "`default` is the embedded broker");
    let Endpoint::Broker(c) = &d.source.endpoint else { panic!() };
    assert_eq!((c.port, c.client_id.as_str()), (1884, "c1"));
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
    assert!(matches!(d.source.endpoint, Endpoint::Embedded { .. }));
    assert_eq!(d.errors, ErrorPolicy::DeadLetter { topic: "processed/errors".into() });
    let aio = load(&examples().join("aio/dataflow-graph.yaml"), None).unwrap();
    assert!(aio.graph.ends_with("graphs/simple.yaml"), "{}", aio.graph.display());
    assert_eq!(aio.sink.topic, "thermostats/processed");
    // Everything parses; only the (absent) secret file stops it.
    let err = load(&examples().join("plant-broker.yaml"), None).unwrap_err().to_string();
    assert!(err.contains("secrets/mqtt-password"), "{err}");
}

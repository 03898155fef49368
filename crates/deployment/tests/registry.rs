//! Registry endpoints in deployment files (wasmgraph's `registry:` and AIO's
//! `registryEndpoints:` in the companion file) and graphs named by reference.

use std::path::Path;

use wasmgraph_deployment::load_in;
use wasmgraph_oci::Auth;

const GRAPH: &str =
    "moduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\noperations: []\nconnections: []\n";

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn native_registry_endpoint_is_resolved() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "g.yaml", GRAPH);
    let file = write(
        dir.path(),
        "d.yaml",
        "kind: Deployment\ngraph: g.yaml\nregistry:\n  host: reg.example:5000/team\n  authentication:\n    method: Basic\n    username: u\n    password: p\n  tls:\n    caFile: ca.pem\n  pollIntervalSeconds: 30\nsource:\n  topics: [a]\nsink:\n  topic: b\n",
    );
    let d = load_in(&file, None, None).unwrap();
    let r = d.registry.expect("a registry endpoint");
    assert_eq!((r.host.as_str(), r.prefix.as_deref()), ("reg.example:5000", Some("team")));
    assert_eq!(r.auth, Auth::Basic { username: "u".into(), password: "p".into() });
    assert_eq!(r.ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(r.poll_interval, Some(std::time::Duration::from_secs(30)));
}

#[test]
fn a_graph_reference_is_pulled_from_the_registry_and_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let file = write(
        dir.path(),
        "d.yaml",
        &format!("kind: Deployment\ngraph: graphs/simple:1.0.0\nregistry:\n  host: 127.0.0.1:{port}\nsource:\n  topics: [a]\nsink:\n  topic: b\n"),
    );
    let err = load_in(&file, None, Some(&dir.path().join("cache"))).unwrap_err().to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}/graphs/simple:1.0.0")) && err.contains("unreachable"), "{err}");
}

#[test]
fn aio_registry_endpoint_ref_names_a_companion_entry() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let manifest = r#"apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowGraph
metadata:
  name: g
spec:
  nodes:
    - nodeType: Source
      name: s
      sourceSettings:
        endpointRef: default
        dataSources: [a]
    - nodeType: Graph
      name: graph
      graphSettings:
        registryEndpointRef: reg
        artifact: graph-simple:1.0.0
    - nodeType: Destination
      name: d
      destinationSettings:
        endpointRef: default
        dataDestination: b
  nodeConnections:
    - from: {name: s}
      to: {name: graph}
    - from: {name: graph}
      to: {name: d}
"#;
    let file = write(dir.path(), "graph.yaml", manifest);
    write(
        dir.path(),
        "endpoints.yaml",
        &format!("registryEndpoints:\n  reg:\n    host: 127.0.0.1:{port}/samples\n    authentication:\n      method: Anonymous\n      anonymousSettings: {{}}\n"),
    );
    let err = load_in(&file, None, Some(&dir.path().join("cache"))).unwrap_err().to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}/samples/graph-simple:1.0.0")), "{err}");
    assert!(err.contains("unreachable"), "{err}");

    // With the artifact mapped to a file, nothing is pulled; modules still resolve there.
    write(dir.path(), "g.yaml", GRAPH);
    write(
        dir.path(),
        "endpoints.yaml",
        &format!("artifacts:\n  graph-simple:1.0.0: g.yaml\nregistryEndpoints:\n  reg:\n    host: 127.0.0.1:{port}/samples\n"),
    );
    let d = load_in(&file, None, None).unwrap();
    assert_eq!(d.graph, dir.path().join("g.yaml"));
    assert_eq!(d.registry.map(|r| r.prefix), Some(Some("samples".to_string())));
}

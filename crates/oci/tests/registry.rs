//! Push and pull against a real registry (Debian's docker-registry, started
//! by the test on 127.0.0.1 with htpasswd auth and TLS from a throw-away CA).

use std::path::Path;

use wasmgraph_oci::{ArtifactKind, Auth, Cache, OciError, Reference, Registry, RegistryEndpoint};
use wasmgraph_test_registry::{TestRegistry, PASSWORD, USER};

/// A component-looking module: pull does not care what is inside.
const MODULE: &[u8] = b"\0asm\x0d\x00\x01\x00 pretend component v1";
const GRAPH: &[u8] =
    b"moduleRequirements:\n  apiVersion: \"1.1.0\"\n  runtimeVersion: \"1.1.0\"\noperations: []\nconnections: []\n";

fn endpoint(registry: &TestRegistry, password: &str) -> RegistryEndpoint {
    let mut e = RegistryEndpoint::anonymous(&format!("{}/wasmgraph-tests", registry.host()));
    e.auth = Auth::Basic { username: USER.into(), password: password.into() };
    e.ca_file = Some(registry.ca_file());
    e
}

fn client(registry: &TestRegistry, cache: &Path) -> Registry {
    Registry::new(Some(endpoint(registry, PASSWORD)), Cache::new(cache)).unwrap()
}

fn blobs_in(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("blobs/sha256")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn push_and_pull_modules_and_graphs() {
    let registry = TestRegistry::start();
    let (push_cache, pull_cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pusher = client(&registry, push_cache.path());
    let module_ref = pusher.resolve("temperature:1.0.0").unwrap();
    assert_eq!(module_ref.to_string(), format!("{}/wasmgraph-tests/temperature:1.0.0", registry.host()));
    let pushed = pusher.push(ArtifactKind::Module, MODULE, "temperature.wasm", &module_ref).unwrap();
    let graph_ref = pusher.resolve("graph-simple:1.0.0").unwrap();
    pusher.push(ArtifactKind::Graph, GRAPH, "graph-simple.yaml", &graph_ref).unwrap();
    assert_eq!(blobs_in(push_cache.path()), 0, "a push caches nothing");

    let puller = client(&registry, pull_cache.path());
    let module = puller.pull(&module_ref).unwrap();
    assert_eq!((module.kind, module.from_cache), (ArtifactKind::Module, false));
    assert_eq!(module.manifest_digest, pushed.digest);
    assert_eq!(std::fs::read(&module.path).unwrap(), MODULE);
    let graph = puller.pull(&graph_ref).unwrap();
    assert_eq!(graph.kind, ArtifactKind::Graph);
    assert_eq!(std::fs::read(&graph.path).unwrap(), GRAPH);
    assert_eq!(puller.current_digest(&module_ref).unwrap(), pushed.digest);

    // A pinned digest that is cached is not asked for again.
    let pinned = puller.pull(&module_ref.with_digest(&pushed.digest)).unwrap();
    assert!(pinned.from_cache);
    println!("pushed and pulled a module ({}) and a graph ({})", pushed.digest, graph.manifest_digest);
}

#[test]
fn wrong_password_and_unknown_ca_are_refused_clearly() {
    let registry = TestRegistry::start();
    let cache = tempfile::tempdir().unwrap();
    let bad = Registry::new(Some(endpoint(&registry, "wrong")), Cache::new(cache.path())).unwrap();
    let r = bad.resolve("x:1").unwrap();
    let err = bad.push(ArtifactKind::Module, MODULE, "x.wasm", &r).unwrap_err().to_string();
    assert!(err.contains("refused the credentials") && err.contains(&r.to_string()), "{err}");
    println!("wrong password: {err}");

    let mut untrusted = endpoint(&registry, PASSWORD);
    untrusted.ca_file = None;
    let client = Registry::new(Some(untrusted), Cache::new(cache.path())).unwrap();
    let err = client.pull(&r).unwrap_err().to_string();
    assert!(err.contains("TLS") && err.contains("--registry-ca"), "{err}");
    println!("unknown CA: {err}");
}

#[test]
fn a_tampered_blob_is_refused_and_nothing_is_cached() {
    let registry = TestRegistry::start();
    let (push_cache, pull_cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pusher = client(&registry, push_cache.path());
    let r = pusher.resolve("tampered:1").unwrap();
    let pushed = pusher.push(ArtifactKind::Module, MODULE, "t.wasm", &r).unwrap();
    // Same length, other bytes: the registry serves it under the old digest.
    let data = registry.blob_data(&pushed.layer_digest);
    let mut bytes = std::fs::read(&data).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();

    let err = client(&registry, pull_cache.path()).pull(&r).unwrap_err();
    assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("digest mismatch") && text.contains(&pushed.layer_digest), "{text}");
    assert_eq!(blobs_in(pull_cache.path()), 0, "nothing is cached");
    assert!(Cache::new(pull_cache.path()).tag_digest(&r).is_none(), "the tag is not recorded");
    println!("tampered: {text}");
}

#[test]
fn a_stopped_registry_is_served_from_the_cache() {
    let mut registry = TestRegistry::start();
    let cache = tempfile::tempdir().unwrap();
    let c = client(&registry, cache.path());
    let r = c.resolve("offline:1").unwrap();
    let pushed = c.push(ArtifactKind::Module, MODULE, "o.wasm", &r).unwrap();
    c.pull(&r).unwrap();
    registry.stop();

    // A new client, as after a restart.
    let pulled = client(&registry, cache.path()).pull(&r).unwrap();
    assert!(pulled.from_cache);
    assert_eq!(pulled.manifest_digest, pushed.digest);
    assert_eq!(std::fs::read(&pulled.path).unwrap(), MODULE);
    // Never pulled: a clear error that names the registry.
    let never: Reference = c.resolve("never:1").unwrap();
    let err = client(&registry, cache.path()).pull(&never).unwrap_err();
    assert!(matches!(err, OciError::Unreachable { .. }), "{err}");
    println!("offline: {err}");
}

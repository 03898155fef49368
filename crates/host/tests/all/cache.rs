//! The compile cache: a second load does not compile again.

use wasmgraph_host::{CacheSource, HostConfig, OperatorKind, Runtime, Services};

use crate::support::*;

fn runtime_in(dir: &std::path::Path) -> Runtime {
    let config = HostConfig {
        cache_dir: Some(dir.to_path_buf()),
        announce_compiles: false,
        max_instances: 4,
        ..HostConfig::default()
    };
    Runtime::new(config, Services::default()).unwrap()
}

#[test]
fn second_load_uses_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture("passthrough");

    let first = runtime_in(dir.path());
    let m = first.load(&path).unwrap();
    assert_eq!(m.cache_source(), CacheSource::Compiled);
    assert_eq!(first.stats().compiled, 1);
    // Same runtime: answered from memory.
    let again = first.load(&path).unwrap();
    assert_eq!(again.digest(), m.digest());
    assert_eq!((first.stats().compiled, first.stats().memory_hits), (1, 1));
    let cached: Vec<_> = walk(first.cache_dir().unwrap());
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].ends_with(format!("{}.cwasm", m.digest())), "{cached:?}");

    // A new runtime (a second start): read from disk, not compiled.
    let second = runtime_in(dir.path());
    let m2 = second.load(&path).unwrap();
    assert_eq!(m2.cache_source(), CacheSource::Disk);
    assert_eq!((second.stats().compiled, second.stats().disk_hits), (0, 1));
    let t = TestRuntime { rt: second, services: Services::default(), _cache: tempfile::tempdir().unwrap() };
    let mut op = t.operator("passthrough", OperatorKind::Map);
    assert_eq!(payload_text(&op.map(&message("cached")).unwrap()), "cached");
}

#[test]
fn a_corrupt_cache_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture("passthrough");
    let first = runtime_in(dir.path());
    first.load(&path).unwrap();
    let entry = walk(first.cache_dir().unwrap()).pop().unwrap();
    std::fs::write(&entry, b"not compiled code").unwrap();
    let second = runtime_in(dir.path());
    let m = second.load(&path).unwrap();
    assert_eq!(m.cache_source(), CacheSource::Compiled);
    assert_eq!(second.stats().compiled, 1);
}

/// Issue 18: another module's compiled code swapped in under this module's
/// name is detected by its digest and not run; the module is compiled again.
#[test]
fn a_swapped_cache_entry_is_detected_and_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let first = runtime_in(dir.path());
    let mine = first.load(&fixture("passthrough")).unwrap();
    let other = first.load(&fixture("invalid-output")).unwrap();
    let entries = walk(first.cache_dir().unwrap());
    let entry_of = |digest: &str| entries.iter().find(|p| p.to_string_lossy().contains(digest)).unwrap().clone();
    std::fs::copy(entry_of(other.digest()), entry_of(mine.digest())).unwrap();
    let second = runtime_in(dir.path());
    let m = second.load(&fixture("passthrough")).unwrap();
    assert_eq!(m.cache_source(), CacheSource::Compiled, "the swapped entry was not loaded");
    assert_eq!((second.stats().compiled, second.stats().disk_hits), (1, 0));
    let t = TestRuntime { rt: second, services: Services::default(), _cache: tempfile::tempdir().unwrap() };
    let mut op = t.operator("passthrough", OperatorKind::Map);
    assert_eq!(payload_text(&op.map(&message("mine")).unwrap()), "mine", "passthrough's own code runs");
}

#[test]
fn a_file_that_is_not_a_component_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"\0asm garbage").unwrap();
    let rt = runtime_in(dir.path());
    let err = rt.load(&bad).unwrap_err();
    assert!(err.to_string().starts_with("cannot compile module bad.wasm"), "{err}");
    let err = rt.load(&dir.path().join("missing.wasm")).unwrap_err();
    assert!(err.to_string().contains("cannot read module"), "{err}");
}

/// The compiled entries under `dir` (not their `.sha256` digests).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|e| e == "cwasm") {
            out.push(p);
        }
    }
    out
}

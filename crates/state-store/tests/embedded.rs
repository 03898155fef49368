//! The semantics suite on the embedded (redb) backend, and what only a file
//! gives: keys, expiry, fencing tokens and the version clock survive reopening.

#[macro_use]
mod suite;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use suite::{start_time, Fixture, NODE};
use wasmgraph_state_store::{
    EmbeddedBackend, Hlc, ManualClock, SetConditions, SetOptions, StateBackend, StateStore, StateStoreError,
};

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start_time()));
    let backend = EmbeddedBackend::open_with_clock(dir.path().join("state.redb"), NODE, clock.clone()).unwrap();
    Fixture { backend: Box::new(backend), clock, _keep: Box::new(dir) }
}

semantics_suite!(fixture);

fn open(path: &Path, clock: &Arc<ManualClock>) -> EmbeddedBackend {
    EmbeddedBackend::open_with_clock(path, NODE, clock.clone()).unwrap()
}

fn expiring(secs: u64) -> SetOptions {
    SetOptions { conditions: SetConditions::Unconditional, expires: Some(Duration::from_secs(secs)) }
}

#[test]
fn keys_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let clock = Arc::new(ManualClock::new(start_time()));
    let token = Hlc::new(1_000, 5, "holder");
    let (kept, short) = {
        let store = open(&path, &clock);
        let kept = store.set(b"kept", b"value", None, SetOptions::default()).unwrap();
        let short = store.set(b"short", b"gone soon", None, expiring(10)).unwrap();
        store.set(b"long", b"later", None, expiring(100)).unwrap();
        store.set(b"locked", b"v", Some(&token), SetOptions::default()).unwrap();
        (kept, short)
    };

    clock.advance(Duration::from_secs(5));
    {
        let store = open(&path, &clock);
        assert_eq!(store.get(b"kept").unwrap().value.as_deref(), Some(&b"value"[..]));
        assert_eq!(store.get(b"kept").unwrap().version, kept.version, "the version is kept to the nanosecond");
        assert_eq!(store.get(b"short").unwrap().version, short.version);
        let older = Hlc::new(1_000, 4, "stale");
        let err = store.set(b"locked", b"w", Some(&older), SetOptions::default()).unwrap_err();
        assert!(matches!(err, StateStoreError::FencingTokenTooOld { .. }), "{err}");
    }

    clock.advance(Duration::from_secs(5));
    let store = open(&path, &clock);
    assert_eq!(store.get(b"short").unwrap().value, None, "expiry holds across restarts");
    let keys: Vec<_> = store.entries().unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"kept"[..], b"locked", b"long"]);
}

#[test]
fn versions_keep_growing_after_reopening_with_the_clock_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let clock = Arc::new(ManualClock::new(start_time()));
    let before = open(&path, &clock).set(b"k", b"1", None, SetOptions::default()).unwrap().version.unwrap();
    clock.set(start_time() - Duration::from_secs(3600));
    let store = open(&path, &clock);
    let after = store.set(b"other", b"2", None, SetOptions::default()).unwrap().version.unwrap();
    assert!(after > before, "{after:?} after {before:?}");
    let deleted = store.del(b"k", None).unwrap().version.unwrap();
    assert!(deleted > after);
}

#[test]
fn a_state_store_handle_over_the_file_keeps_seeded_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/state.redb");
    {
        let store = StateStore::from_backend(EmbeddedBackend::open(&path, "n").unwrap());
        assert_eq!(store.seed_from_json(r#"[{"factoryId":"factoryA"},{"n":1}]"#).unwrap(), 2);
    }
    let store = StateStore::from_backend(EmbeddedBackend::open(&path, "n").unwrap());
    assert_eq!(store.get(b"factoryId").value.as_deref(), Some(&b"factoryA"[..]));
    assert_eq!(store.len(), 2);
}

#[test]
fn a_file_in_use_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let _first = EmbeddedBackend::open(&path, "n").unwrap();
    let err = EmbeddedBackend::open(&path, "n").unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()) && err.contains("in use"), "{err}");
}

#[test]
fn a_file_that_is_not_a_database_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are not the bytes of a redb database, but they are long enough to look".repeat(100))
        .unwrap();
    let err = EmbeddedBackend::open(&path, "n").unwrap_err();
    assert!(matches!(err, StateStoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot open the embedded state store at") && err.to_string().contains("notes.txt")
    );
}

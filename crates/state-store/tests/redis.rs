//! The semantics suite on the Redis backend, against a real redis-server that
//! each test starts on 127.0.0.1 (crates/test-redis), and what only a shared
//! server gives: two stores (standing for two processes) see the same keys.
//! Behind the feature `redis-integration-tests`.

#![cfg(feature = "redis-integration-tests")]

#[macro_use]
mod suite;

use std::sync::Arc;
use std::time::Duration;

use suite::{start_time, Fixture, NODE};
use wasmgraph_state_store::{
    ManualClock, RedisBackend, SetConditions, SetOptions, StateBackend, StateStoreConfig, StateStoreError,
};
use wasmgraph_test_redis::RedisServer;

fn fixture() -> Fixture {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(start_time()));
    let backend = RedisBackend::connect_with_clock(&server.url(), "suite:", NODE, clock.clone()).unwrap();
    Fixture { backend: Box::new(backend), clock, _keep: Box::new(server) }
}

semantics_suite!(fixture);

fn connect(server: &RedisServer, prefix: &str, node: &str, clock: &Arc<ManualClock>) -> RedisBackend {
    RedisBackend::connect_with_clock(&server.url(), prefix, node, clock.clone()).unwrap()
}

/// A plain connection to the server, to look at what the backend wrote.
fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url()).unwrap().get_connection().unwrap()
}

#[test]
fn two_stores_on_one_server_share_keys_tokens_and_versions() {
    let server = RedisServer::start();
    // Process A's clock runs an hour ahead of process B's.
    let clock_a = Arc::new(ManualClock::new(start_time() + Duration::from_secs(3600)));
    let clock_b = Arc::new(ManualClock::new(start_time()));
    let a = connect(&server, "plant:", "process-a", &clock_a);
    let b = connect(&server, "plant:", "process-b", &clock_b);

    let written = a.set(b"k", b"from a", None, SetOptions::default()).unwrap();
    let seen = b.get(b"k").unwrap();
    assert_eq!(seen.value.as_deref(), Some(&b"from a"[..]));
    assert_eq!(seen.version, written.version);
    assert_eq!(&*seen.version.unwrap().node_id, "process-a");

    let nx = b.set(b"k", b"from b", None, SetOptions { conditions: SetConditions::OnlyIfDoesNotExist, expires: None });
    assert!(!nx.unwrap().written, "B sees A's key when creating");
    let over = b.set(b"k", b"from b", None, SetOptions::default()).unwrap();
    assert!(over.version > written.version, "B's version moves past A's though B's clock is behind");
    assert_eq!(a.get(b"k").unwrap().value.as_deref(), Some(&b"from b"[..]));

    let token = wasmgraph_state_store::Hlc::new(500, 0, "holder-a");
    a.set(b"lock", b"a", Some(&token), SetOptions::default()).unwrap();
    let stale = wasmgraph_state_store::Hlc::new(499, 0, "holder-b");
    let err = b.del(b"lock", Some(&stale)).unwrap_err();
    assert!(matches!(err, StateStoreError::FencingTokenTooOld { .. }), "{err}");
    assert_eq!(b.vdel(b"lock", b"a", None).unwrap().deleted, 1);
    assert_eq!(a.get(b"lock").unwrap().value, None);
}

#[test]
fn key_prefixes_keep_stores_apart() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(start_time()));
    let a = connect(&server, "graph-a:", NODE, &clock);
    let b = connect(&server, "graph-b:", NODE, &clock);
    a.set(b"k", b"a", None, SetOptions::default()).unwrap();
    assert_eq!(b.get(b"k").unwrap().value, None);
    assert!(b.entries().unwrap().is_empty());
    // A prefix with glob characters is matched literally when listing.
    let star = connect(&server, "graph-*", NODE, &clock);
    assert!(star.entries().unwrap().is_empty());
    star.set(b"s", b"1", None, SetOptions::default()).unwrap();
    assert_eq!(star.entries().unwrap(), vec![(b"s".to_vec(), b"1".to_vec())]);
    assert_eq!(a.entries().unwrap(), vec![(b"k".to_vec(), b"a".to_vec())]);
}

#[test]
fn expiring_keys_get_a_redis_ttl_and_tokens_do_not() {
    let server = RedisServer::start();
    let store = RedisBackend::connect(&server.url(), "p:", NODE).unwrap();
    let token = wasmgraph_state_store::Hlc::new(1, 0, "t");
    let o = SetOptions { conditions: SetConditions::Unconditional, expires: Some(Duration::from_millis(10_500)) };
    store.set(b"k", b"v", Some(&token), o).unwrap();
    store.set(b"forever", b"v", None, SetOptions::default()).unwrap();
    let mut conn = raw(&server);
    let pttl: i64 = redis::cmd("PTTL").arg("p:d:k").query(&mut conn).unwrap();
    assert!(pttl > 0 && pttl <= 10_500, "{pttl}");
    let fence_ttl: i64 = redis::cmd("PTTL").arg("p:f:k").query(&mut conn).unwrap();
    assert_eq!(fence_ttl, -1, "the fencing token has no TTL");
    let forever_ttl: i64 = redis::cmd("PTTL").arg("p:d:forever").query(&mut conn).unwrap();
    assert_eq!(forever_ttl, -1);
}

#[test]
fn a_key_the_server_expired_is_absent() {
    let server = RedisServer::start();
    let store = RedisBackend::connect(&server.url(), "p:", NODE).unwrap();
    store.set(b"k", b"v", None, SetOptions::default()).unwrap();
    // Stand in for Redis's own expiry timer: the key is gone from the server.
    let _: i64 = redis::cmd("DEL").arg("p:d:k").query(&mut raw(&server)).unwrap();
    assert_eq!(store.get(b"k").unwrap().value, None);
    assert!(
        store
            .set(b"k", b"w", None, SetOptions { conditions: SetConditions::OnlyIfDoesNotExist, expires: None })
            .unwrap()
            .written
    );
}

#[test]
fn the_config_opens_a_redis_store_with_the_default_prefix() {
    let server = RedisServer::start();
    let config: StateStoreConfig = serde_saphyr::from_str(&format!("type: redis\nurl: {}", server.url())).unwrap();
    let store = config.open(std::path::Path::new("/nonexistent")).unwrap();
    assert!(store.describe().contains("wasmgraph:state:"), "{}", store.describe());
    store.set(b"k", b"v", None, SetOptions::default()).unwrap();
    let exists: i64 = redis::cmd("EXISTS").arg("wasmgraph:state:d:k").query(&mut raw(&server)).unwrap();
    assert_eq!(exists, 1);
}

#[test]
fn a_server_gone_away_is_an_error_that_says_where() {
    let server = RedisServer::start();
    let url = server.url();
    let store = RedisBackend::connect(&url, "p:", NODE).unwrap();
    store.set(b"k", b"v", None, SetOptions::default()).unwrap();
    drop(server);
    for _ in 0..2 {
        // The first request finds the pooled connection dead, the second cannot connect.
        let err = store.get(b"k").unwrap_err();
        assert!(matches!(err, StateStoreError::Backend { operation: "get", .. }), "{err:?}");
        assert!(err.to_string().contains(&url), "{err}");
    }
    let err = store.set(b"k", b"v", None, SetOptions::default()).unwrap_err();
    assert!(err.to_string().contains("set of key \"k\""), "{err}");
}

#[test]
fn reads_reconnect_after_a_redis_restart_and_writes_say_they_failed() {
    let mut server = RedisServer::start();
    let store = RedisBackend::connect(&server.url(), "p:", NODE).unwrap();
    store.set(b"k", b"v", None, SetOptions::default()).unwrap();
    server.restart(); // this server keeps no data across restarts
    assert_eq!(store.get(b"k").unwrap().value, None, "a read after the restart reconnects");
    assert!(store.set(b"k", b"w", None, SetOptions::default()).unwrap().written);
    server.restart();
    let err = store.set(b"k", b"x", None, SetOptions::default()).unwrap_err();
    assert!(matches!(err, StateStoreError::Backend { operation: "set", .. }), "a write is not retried: {err:?}");
    assert!(store.set(b"k", b"x", None, SetOptions::default()).unwrap().written, "the next request reconnects");
}

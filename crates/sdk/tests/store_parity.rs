//! The mock host's state store must answer like the wasmgraph host's
//! (`wasmgraph-state-store`): the same requests go to both and every answer is
//! compared (written / deleted, value, whether a version came back, refusals and
//! their messages). Versions are clock readings, so only their presence and
//! order are compared.

use wasm_graph_sdk::state_store::{self, HybridLogicalClock, SetConditions, SetOptions};
use wasm_graph_sdk::testing;
use wasmgraph_state_store as host;
use wasmgraph_types::Hlc;

/// One request of the script.
#[derive(Clone, Copy)]
enum Op {
    Get(&'static str),
    Set(&'static str, &'static str, SetConditions, Option<u64>),
    Del(&'static str, Option<u64>),
    Vdel(&'static str, &'static str, Option<u64>),
}

/// The comparable part of an answer: (flag or count, value, has version) or
/// the refusal's message.
type Answer = Result<(i64, Option<Vec<u8>>, bool), String>;

fn token(counter: u64) -> HybridLogicalClock {
    testing::hlc(1_700_000_000, 0, counter)
}

fn host_token(counter: u64) -> Hlc {
    Hlc::from_secs_nanos(1_700_000_000, 0, counter, "test")
}

fn sdk_answer(op: Op) -> Answer {
    let options = |conditions, _| SetOptions { conditions, expires: None };
    // The host hands its store's refusals to the module as request errors.
    let refused = |err: state_store::StateStoreError| match err {
        state_store::StateStoreError::RequestError(message) => message,
        other => format!("unexpected {other:?}"),
    };
    match op {
        Op::Get(key) => {
            let got = state_store::get(key.as_bytes(), None).map_err(refused)?;
            Ok((0, got.response, got.version.is_some()))
        }
        Op::Set(key, value, conditions, fence) => {
            let fence = fence.map(token);
            let got = state_store::set(key.as_bytes(), value.as_bytes(), None, fence.as_ref(), options(conditions, ()))
                .map_err(refused)?;
            Ok((i64::from(got.response), None, got.version.is_some()))
        }
        Op::Del(key, fence) => {
            let got = state_store::del(key.as_bytes(), fence.map(token).as_ref(), None).map_err(refused)?;
            Ok((got.response, None, got.version.is_some()))
        }
        Op::Vdel(key, value, fence) => {
            let got = state_store::vdel(key.as_bytes(), value.as_bytes(), fence.map(token).as_ref(), None)
                .map_err(refused)?;
            Ok((got.response, None, got.version.is_some()))
        }
    }
}

fn host_answer(store: &host::StateStore, op: Op) -> Answer {
    let options = |conditions| host::SetOptions {
        conditions: match conditions {
            SetConditions::OnlyIfDoesNotExist => host::SetConditions::OnlyIfDoesNotExist,
            SetConditions::OnlyIfEqualOrDoesNotExist => host::SetConditions::OnlyIfEqualOrDoesNotExist,
            SetConditions::Unconditional => host::SetConditions::Unconditional,
        },
        expires: None,
    };
    let refused = |err: host::StateStoreError| err.to_string();
    match op {
        Op::Get(key) => {
            let got = store.get(key.as_bytes());
            Ok((0, got.value, got.version.is_some()))
        }
        Op::Set(key, value, conditions, fence) => {
            let got = store
                .set(key.as_bytes(), value.as_bytes(), fence.map(host_token).as_ref(), options(conditions))
                .map_err(refused)?;
            Ok((i64::from(got.written), None, got.version.is_some()))
        }
        Op::Del(key, fence) => {
            let got = store.del(key.as_bytes(), fence.map(host_token).as_ref()).map_err(refused)?;
            Ok((got.deleted, None, got.version.is_some()))
        }
        Op::Vdel(key, value, fence) => {
            let got = store.vdel(key.as_bytes(), value.as_bytes(), fence.map(host_token).as_ref()).map_err(refused)?;
            Ok((got.deleted, None, got.version.is_some()))
        }
    }
}

/// Conditions, value checks, deletion and fencing tokens (a token remembered
/// past the key's deletion, an older one refused, an equal one accepted).
const SCRIPT: &[Op] = &[
    Op::Get("k"),
    Op::Set("k", "a", SetConditions::OnlyIfDoesNotExist, None),
    Op::Set("k", "b", SetConditions::OnlyIfDoesNotExist, None),
    Op::Get("k"),
    Op::Set("k", "b", SetConditions::OnlyIfEqualOrDoesNotExist, None),
    Op::Set("k", "a", SetConditions::OnlyIfEqualOrDoesNotExist, None),
    Op::Set("k", "c", SetConditions::Unconditional, None),
    Op::Vdel("k", "x", None),
    Op::Vdel("k", "c", None),
    Op::Del("k", None),
    Op::Get("k"),
    Op::Set("lock", "me", SetConditions::Unconditional, Some(5)),
    Op::Set("lock", "old", SetConditions::Unconditional, Some(4)),
    Op::Get("lock"),
    Op::Set("lock", "same", SetConditions::OnlyIfDoesNotExist, Some(5)),
    Op::Del("lock", Some(6)),
    Op::Set("lock", "stale", SetConditions::Unconditional, Some(5)),
    Op::Vdel("lock", "stale", Some(3)),
    Op::Del("lock", None),
    Op::Set("lock", "new", SetConditions::Unconditional, Some(7)),
    Op::Get("lock"),
];

#[test]
fn mock_store_answers_like_the_host_store() {
    testing::reset();
    let store = host::StateStore::new();
    for (step, op) in SCRIPT.iter().enumerate() {
        let (sdk, host) = (sdk_answer(*op), host_answer(&store, *op));
        assert_eq!(sdk, host, "step {step}: the SDK's mock store and the host's store disagree");
    }
    assert_eq!(testing::state(b"lock").as_deref(), Some(&b"new"[..]));
}

#[test]
fn versions_grow_and_expired_keys_are_absent() {
    testing::reset();
    let first = state_store::set(b"k", b"1", None, None, SetOptions::default()).unwrap().version.unwrap();
    let second = state_store::set(b"k", b"2", None, None, SetOptions::default()).unwrap().version.unwrap();
    let key = |v: &HybridLogicalClock| (v.timestamp.secs, v.timestamp.nanos, v.counter);
    assert!(key(&first) < key(&second), "{first:?} then {second:?}");
    assert_eq!(second.node_id, "state-store");
    let expired = SetOptions {
        conditions: SetConditions::Unconditional,
        expires: Some(state_store::Duration { seconds: 0, nanos: 0 }),
    };
    state_store::set(b"gone", b"x", None, None, expired).unwrap();
    assert_eq!(state_store::get(b"gone", None).unwrap().response, None);
    assert!(
        state_store::set(
            b"gone",
            b"y",
            None,
            None,
            SetOptions { conditions: SetConditions::OnlyIfDoesNotExist, expires: None }
        )
        .unwrap()
        .response
    );
}

#[test]
fn seeding_matches_the_host_store() {
    let text = r#"[{"factoryId": "factoryA"}, {"limits": {"max": 3}}, {"n": 42}]"#;
    testing::reset();
    let store = host::StateStore::new();
    assert_eq!(testing::seed_state_json(text), Ok(3));
    assert_eq!(store.seed_from_json(text).unwrap(), 3);
    assert_eq!(testing::state_entries(), store.entries());
    for bad in ["{}", "[1]", r#"[{"a": 1, "b": 2}]"#, "not json"] {
        let sdk = testing::seed_state_json(bad).unwrap_err();
        let host = store.seed_from_json(bad).unwrap_err().to_string();
        assert_eq!(sdk, host, "seed {bad:?}");
    }
}

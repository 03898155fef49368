//! The state-store semantics, written once over `&dyn StateBackend` and run
//! against every backend: each test file makes a [`Fixture`] for its backend and
//! expands [`semantics_suite!`] into one `#[test]` per function here.
//!
//! Time is a [`ManualClock`] that the tests move, so expiry is tested without
//! waiting.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmgraph_state_store::{
    DelResponse, GetResponse, Hlc, ManualClock, SetConditions, SetOptions, StateBackend, StateStoreError,
};

/// The node id every fixture's backend stamps on its versions.
pub const NODE: &str = "suite-node";

/// A backend under test, the clock it reads, and whatever must outlive it (a
/// temporary folder, a Redis server).
pub struct Fixture {
    pub backend: Box<dyn StateBackend>,
    pub clock: Arc<ManualClock>,
    pub _keep: Box<dyn Any>,
}

/// The time every fixture's clock starts at: not a whole millisecond, so that
/// rounding mistakes in stored times show.
pub fn start_time() -> SystemTime {
    UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)
}

/// One `#[test]` per suite function, each on a fresh fixture from `$fixture()`.
macro_rules! semantics_suite {
    ($fixture:path) => {
        semantics_suite!(@tests $fixture;
            get_returns_value_and_version,
            versions_grow_with_every_set,
            versions_grow_when_the_wall_clock_goes_back,
            only_if_does_not_exist,
            only_if_equal_or_does_not_exist,
            unconditional_overwrites,
            expired_keys_behave_as_absent,
            expiry_is_replaced_by_each_write,
            del_returns_count,
            vdel_deletes_only_on_equal_value,
            fencing_rejects_older_tokens,
            accepted_token_is_remembered_even_when_condition_fails,
            fencing_token_outlives_expiry,
            fencing_error_names_both_tokens,
            binary_keys_and_empty_values,
            entries_lists_live_keys_sorted,
            shared_between_threads,
        );
    };
    (@tests $fixture:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let fixture = $fixture();
                suite::$name(&fixture);
            }
        )*
    };
}

fn opts(conditions: SetConditions) -> SetOptions {
    SetOptions { conditions, expires: None }
}

fn expiring(conditions: SetConditions, secs: u64) -> SetOptions {
    SetOptions { conditions, expires: Some(Duration::from_secs(secs)) }
}

fn value(s: &dyn StateBackend, key: &[u8]) -> Option<Vec<u8>> {
    s.get(key).unwrap().value
}

fn set(s: &dyn StateBackend, key: &[u8], v: &[u8], token: Option<&Hlc>) -> Result<bool, StateStoreError> {
    s.set(key, v, token, SetOptions::default()).map(|r| r.written)
}

pub fn get_returns_value_and_version(f: &Fixture) {
    let s = &*f.backend;
    assert_eq!(s.get(b"k").unwrap(), GetResponse::default());
    let r = s.set(b"k", b"v1", None, SetOptions::default()).unwrap();
    assert!(r.written);
    let g = s.get(b"k").unwrap();
    assert_eq!(g.value.as_deref(), Some(&b"v1"[..]));
    assert_eq!(g.version, r.version);
    let version = g.version.unwrap();
    assert_eq!(&*version.node_id, NODE);
    let start = start_time().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    assert_eq!(version.nanos, start, "the version's physical time is the clock's, to the nanosecond");
}

pub fn versions_grow_with_every_set(f: &Fixture) {
    let s = &*f.backend;
    let a = s.set(b"k", b"1", None, SetOptions::default()).unwrap().version.unwrap();
    let b = s.set(b"k", b"2", None, SetOptions::default()).unwrap().version.unwrap();
    let c = s.set(b"other", b"3", None, SetOptions::default()).unwrap().version.unwrap();
    assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
    f.clock.advance(Duration::from_millis(1));
    let d = s.set(b"k", b"4", None, SetOptions::default()).unwrap().version.unwrap();
    assert!(d > c && d.nanos > c.nanos, "a later clock gives a later physical time");
}

pub fn versions_grow_when_the_wall_clock_goes_back(f: &Fixture) {
    let s = &*f.backend;
    let a = s.set(b"k", b"1", None, SetOptions::default()).unwrap().version.unwrap();
    f.clock.set(start_time() - Duration::from_secs(3600));
    let b = s.set(b"k", b"2", None, SetOptions::default()).unwrap().version.unwrap();
    assert!(b > a, "{b:?} after {a:?}");
    assert_eq!(s.get(b"k").unwrap().version, Some(b));
}

pub fn only_if_does_not_exist(f: &Fixture) {
    let s = &*f.backend;
    let first = s.set(b"k", b"a", None, opts(SetConditions::OnlyIfDoesNotExist)).unwrap();
    assert!(first.written);
    let second = s.set(b"k", b"b", None, opts(SetConditions::OnlyIfDoesNotExist)).unwrap();
    assert!(!second.written);
    assert_eq!(second.version, first.version, "a refused set reports the existing version");
    assert_eq!(value(s, b"k").as_deref(), Some(&b"a"[..]));
}

pub fn only_if_equal_or_does_not_exist(f: &Fixture) {
    let s = &*f.backend;
    let c = opts(SetConditions::OnlyIfEqualOrDoesNotExist);
    let first = s.set(b"k", b"a", None, c).unwrap();
    assert!(first.written);
    let same = s.set(b"k", b"a", None, c).unwrap();
    assert!(same.written);
    assert!(same.version > first.version, "an equal write refreshes the version");
    let different = s.set(b"k", b"b", None, c).unwrap();
    assert!(!different.written);
    assert_eq!(different.version, same.version);
    assert_eq!(s.get(b"k").unwrap(), GetResponse { value: Some(b"a".to_vec()), version: same.version });
}

pub fn unconditional_overwrites(f: &Fixture) {
    let s = &*f.backend;
    let first = s.set(b"k", b"a", None, SetOptions::default()).unwrap();
    let second = s.set(b"k", b"b", None, opts(SetConditions::Unconditional)).unwrap();
    assert!(second.written && second.version > first.version);
    assert_eq!(value(s, b"k").as_deref(), Some(&b"b"[..]));
}

pub fn expired_keys_behave_as_absent(f: &Fixture) {
    let s = &*f.backend;
    let o = expiring(SetConditions::Unconditional, 10);
    for key in [&b"k"[..], b"e", b"f", b"g"] {
        s.set(key, b"x", None, o).unwrap();
    }
    f.clock.advance(Duration::from_secs(9));
    assert_eq!(value(s, b"k").as_deref(), Some(&b"x"[..]));
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(s.get(b"k").unwrap(), GetResponse::default(), "expired exactly 10 s after the set");
    // absent for conditions, del, vdel and entries too
    let nx = s.set(b"k", b"b", None, opts(SetConditions::OnlyIfDoesNotExist)).unwrap();
    assert!(nx.written);
    assert_eq!(s.del(b"e", None).unwrap(), DelResponse { deleted: 0, version: None });
    assert_eq!(s.vdel(b"f", b"x", None).unwrap().deleted, 0);
    let eq = s.set(b"g", b"other", None, opts(SetConditions::OnlyIfEqualOrDoesNotExist)).unwrap();
    assert!(eq.written, "an expired key does not hold its old value");
    assert_eq!(s.entries().unwrap(), vec![(b"g".to_vec(), b"other".to_vec()), (b"k".to_vec(), b"b".to_vec())]);
}

pub fn expiry_is_replaced_by_each_write(f: &Fixture) {
    let s = &*f.backend;
    s.set(b"forever", b"a", None, expiring(SetConditions::Unconditional, 10)).unwrap();
    s.set(b"forever", b"a", None, SetOptions::default()).unwrap();
    s.set(b"refreshed", b"a", None, expiring(SetConditions::Unconditional, 10)).unwrap();
    s.set(b"kept", b"a", None, expiring(SetConditions::Unconditional, 10)).unwrap();
    f.clock.advance(Duration::from_secs(5));
    let r = s.set(b"refreshed", b"a", None, expiring(SetConditions::OnlyIfEqualOrDoesNotExist, 10)).unwrap();
    assert!(r.written);
    let refused = s.set(b"kept", b"a", None, expiring(SetConditions::OnlyIfDoesNotExist, 100)).unwrap();
    assert!(!refused.written, "a refused set leaves the expiry alone");
    f.clock.advance(Duration::from_secs(7));
    assert!(value(s, b"forever").is_some(), "a set without expiry removes the earlier expiry");
    assert!(value(s, b"refreshed").is_some(), "an equal write restarts the expiry");
    assert!(value(s, b"kept").is_none());
    f.clock.advance(Duration::from_secs(3));
    assert!(value(s, b"refreshed").is_none());
}

pub fn del_returns_count(f: &Fixture) {
    let s = &*f.backend;
    assert_eq!(s.del(b"k", None).unwrap(), DelResponse { deleted: 0, version: None });
    let set = s.set(b"k", b"a", None, SetOptions::default()).unwrap();
    let d = s.del(b"k", None).unwrap();
    assert_eq!(d.deleted, 1);
    assert!(d.version.unwrap() > set.version.unwrap(), "the deletion's time follows the set's");
    assert_eq!(s.get(b"k").unwrap(), GetResponse::default());
    assert_eq!(s.del(b"k", None).unwrap().deleted, 0);
}

pub fn vdel_deletes_only_on_equal_value(f: &Fixture) {
    let s = &*f.backend;
    s.set(b"k", b"a", None, SetOptions::default()).unwrap();
    assert_eq!(s.vdel(b"k", b"b", None).unwrap(), DelResponse { deleted: 0, version: None });
    assert_eq!(value(s, b"k").as_deref(), Some(&b"a"[..]));
    let d = s.vdel(b"k", b"a", None).unwrap();
    assert_eq!(d.deleted, 1);
    assert!(d.version.is_some());
    assert_eq!(value(s, b"k"), None);
    assert_eq!(s.vdel(b"k", b"a", None).unwrap().deleted, 0);
}

pub fn fencing_rejects_older_tokens(f: &Fixture) {
    let s = &*f.backend;
    let t1 = Hlc::new(100, 0, "a");
    let t2 = Hlc::new(100, 1, "b");
    assert!(set(s, b"k", b"1", Some(&t2)).unwrap());
    let err = set(s, b"k", b"2", Some(&t1)).unwrap_err();
    assert!(matches!(err, StateStoreError::FencingTokenTooOld { .. }), "{err:?}");
    assert!(err.to_string().contains("older"), "{err}");
    assert_eq!(value(s, b"k").as_deref(), Some(&b"1"[..]));
    assert!(matches!(s.del(b"k", Some(&t1)), Err(StateStoreError::FencingTokenTooOld { .. })));
    assert!(matches!(s.vdel(b"k", b"1", Some(&t1)), Err(StateStoreError::FencingTokenTooOld { .. })));
    assert_eq!(value(s, b"k").as_deref(), Some(&b"1"[..]));
    // equal (even from another node) and newer tokens are accepted; no token is not checked
    assert!(set(s, b"k", b"3", Some(&Hlc::new(100, 1, "other"))).unwrap());
    assert!(set(s, b"k", b"4", None).unwrap());
    let t3 = Hlc::new(200, 0, "c");
    assert_eq!(s.del(b"k", Some(&t3)).unwrap().deleted, 1);
    // the token outlives the value: t2 is now too old even for a fresh set
    assert!(set(s, b"k", b"5", Some(&t2)).is_err());
    assert_eq!(value(s, b"k"), None);
    assert!(set(s, b"k", b"5", Some(&t3)).unwrap());
    // tokens are per key
    assert!(set(s, b"other", b"x", Some(&t1)).unwrap());
    // vdel with a newer token that finds another value deletes nothing but remembers it
    let t4 = Hlc::new(300, 0, "d");
    assert_eq!(s.vdel(b"k", b"nope", Some(&t4)).unwrap().deleted, 0);
    assert!(set(s, b"k", b"6", Some(&t3)).is_err());
}

pub fn accepted_token_is_remembered_even_when_condition_fails(f: &Fixture) {
    let s = &*f.backend;
    s.set(b"k", b"1", None, SetOptions::default()).unwrap();
    let t5 = Hlc::new(5, 0, "");
    let r = s.set(b"k", b"2", Some(&t5), opts(SetConditions::OnlyIfDoesNotExist)).unwrap();
    assert!(!r.written);
    assert!(set(s, b"k", b"2", Some(&Hlc::new(4, 0, ""))).is_err());
    assert_eq!(value(s, b"k").as_deref(), Some(&b"1"[..]));
}

pub fn fencing_token_outlives_expiry(f: &Fixture) {
    let s = &*f.backend;
    let new = Hlc::new(1_000_000_000_000, 2, "holder-2");
    let r = s.set(b"lock", b"holder-2", Some(&new), expiring(SetConditions::OnlyIfDoesNotExist, 10)).unwrap();
    assert!(r.written);
    f.clock.advance(Duration::from_secs(60));
    assert_eq!(value(s, b"lock"), None);
    let old = Hlc::new(1_000_000_000_000, 1, "holder-1");
    assert!(s.set(b"lock", b"holder-1", Some(&old), opts(SetConditions::OnlyIfDoesNotExist)).is_err());
    assert_eq!(value(s, b"lock"), None);
}

pub fn fencing_error_names_both_tokens(f: &Fixture) {
    let s = &*f.backend;
    let current = Hlc::new(1_700_000_000_500_000_000, 3, "new-holder");
    let given = Hlc::new(1_700_000_000_400_000_000, 9, "old-holder");
    set(s, b"the-key", b"1", Some(&current)).unwrap();
    let err = s.del(b"the-key", Some(&given)).unwrap_err();
    assert_eq!(
        err,
        StateStoreError::FencingTokenTooOld {
            key: "the-key".into(),
            given: "1700000000400:9:old-holder".into(),
            current: "1700000000500:3:new-holder".into(),
        }
    );
}

pub fn binary_keys_and_empty_values(f: &Fixture) {
    let s = &*f.backend;
    let key = [0u8, 0xff, b':', b'*', b'd', b':', 0];
    assert!(set(s, &key, b"", None).unwrap());
    assert_eq!(value(s, &key), Some(Vec::new()), "an empty value is a value, not an absent key");
    assert!(!s.set(&key, b"x", None, opts(SetConditions::OnlyIfDoesNotExist)).unwrap().written);
    let binary = [0u8, 1, 2, 0xfe, 0xff, b'\n', 0];
    assert!(set(s, b"bin", &binary, None).unwrap());
    assert_eq!(value(s, b"bin"), Some(binary.to_vec()));
    assert_eq!(s.vdel(b"bin", &binary[..6], None).unwrap().deleted, 0, "values compare exactly");
    assert_eq!(s.vdel(&key, b"", None).unwrap().deleted, 1);
    assert_eq!(value(s, &key), None);
}

pub fn entries_lists_live_keys_sorted(f: &Fixture) {
    let s = &*f.backend;
    assert_eq!(s.entries().unwrap(), Vec::<(Vec<u8>, Vec<u8>)>::new());
    set(s, b"b", b"2", None).unwrap();
    set(s, b"a", b"1", None).unwrap();
    s.set(b"c", b"3", None, expiring(SetConditions::Unconditional, 1)).unwrap();
    set(s, b"d", b"4", None).unwrap();
    s.del(b"d", None).unwrap();
    assert_eq!(s.entries().unwrap().len(), 3);
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(s.entries().unwrap(), vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())]);
    assert!(!s.describe().is_empty());
}

pub fn shared_between_threads(f: &Fixture) {
    let s = &*f.backend;
    let written: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4u8)
            .map(|i| {
                scope.spawn(move || {
                    (0..25)
                        .filter(|j| {
                            let key = format!("k{j}");
                            s.set(key.as_bytes(), &[i], None, opts(SetConditions::OnlyIfDoesNotExist)).unwrap().written
                        })
                        .count()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(written, 25, "each key is created exactly once");
    assert_eq!(s.entries().unwrap().len(), 25);
}

//! The `__ts` parser and the clock that takes its times: any text parses or
//! is refused without a panic, a parsed time prints back to a form that
//! parses to the same time, and the clock never goes backwards (counters at
//! their maximum included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmgraph_types::{Hlc, HlcClock};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(time) = Hlc::parse_wire(text) else { return };
    let again = Hlc::parse_wire(&time.to_wire()).expect("a printed time parses");
    assert_eq!((again.nanos / 1_000_000, again.counter), (time.nanos / 1_000_000, time.counter));
    let _ = time.to_rfc3339();
    let mut clock = HlcClock::new("fuzz");
    let seen = clock.observe(&time);
    let next = clock.tick(time.nanos / 2);
    assert!(next >= seen, "the clock went back: {seen:?} then {next:?}");
});

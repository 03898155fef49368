//! Traps, timeouts, memory exhaustion and malformed output affect only their call.

use std::time::{Duration, Instant};

use wasmgraph_host::{FailureKind, OperatorKind};
use wasmgraph_types::{Bytes, DataModel};

use crate::support::*;

#[test]
fn panic_is_a_trap_and_the_next_call_works() {
    let t = runtime();
    let mut op = t.operator("panic-every-third", OperatorKind::Map);
    assert_eq!(payload_text(&op.map(&message("1")).unwrap()), "1");
    assert_eq!(payload_text(&op.map(&message("2")).unwrap()), "2");
    let err = op.map(&message("3")).unwrap_err();
    assert_eq!(err.kind, FailureKind::Trap, "{err}");
    assert!(err.message.contains("wasm backtrace"), "{}", err.message);
    // What the module printed before trapping (Rust's panic message) is part of the error.
    assert!(err.message.contains("call 3 is a multiple of three"), "{}", err.message);
    // A fresh, re-initialised instance: its call counter starts again.
    assert_eq!(payload_text(&op.map(&message("4")).unwrap()), "4");
    assert_eq!(payload_text(&op.map(&message("5")).unwrap()), "5");
    assert_eq!(op.map(&message("6")).unwrap_err().kind, FailureKind::Trap);
    let s = op.stats();
    assert_eq!((s.calls, s.traps, s.recreations), (6, 2, 2));
}

#[test]
fn returned_error_keeps_the_instance() {
    let t = runtime();
    let mut op = t.operator("panic-every-third", OperatorKind::Map);
    let err = op.map(&message("error")).unwrap_err();
    assert_eq!(err.kind, FailureKind::Returned);
    assert_eq!(err.message, "call 1 was asked to fail");
    op.map(&message("x")).unwrap();
    // Same instance: its counter reached 3.
    assert_eq!(op.map(&message("y")).unwrap_err().kind, FailureKind::Trap);
    assert_eq!(op.stats().recreations, 1);
}

#[test]
fn infinite_loop_times_out_and_the_next_call_works() {
    let t = runtime_with(|c, _| c.call_timeout = Duration::from_millis(200));
    let mut op = t.operator("infinite-loop", OperatorKind::Map);
    assert_eq!(payload_text(&op.map(&message("fine")).unwrap()), "fine");
    let started = Instant::now();
    let err = op.map(&message("loop please")).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind, FailureKind::Timeout, "{err}");
    assert!(took >= Duration::from_millis(200), "interrupted too early: {took:?}");
    assert!(took < Duration::from_secs(5), "interrupted too late: {took:?}");
    assert_eq!(payload_text(&op.map(&message("after")).unwrap()), "after");
    assert_eq!((op.stats().timeouts, op.stats().recreations), (1, 1));
}

#[test]
fn unbounded_allocation_hits_the_memory_limit_and_the_next_call_works() {
    let t = runtime_with(|c, _| c.memory_limit = 32 << 20);
    let mut op = t.operator("alloc-forever", OperatorKind::Map);
    assert_eq!(payload_text(&op.map(&message("small")).unwrap()), "small");
    let err = op.map(&message("grow!")).unwrap_err();
    assert_eq!(err.kind, FailureKind::OutOfMemory, "{err}");
    assert!(err.message.contains("memory limit"), "{}", err.message);
    assert_eq!(payload_text(&op.map(&message("after")).unwrap()), "after");
    assert_eq!((op.stats().out_of_memory, op.stats().recreations), (1, 1));
}

#[test]
fn malformed_output_is_invalid_output_not_a_trap_and_keeps_the_instance() {
    let t = runtime();
    let mut op = t.operator("invalid-output", OperatorKind::Map);
    assert_eq!(payload_text(&op.map(&message("a")).unwrap()), "call 1");
    // The module answers with the payload's non-UTF-8 bytes as its content type.
    let mut bad = message("");
    let DataModel::Message(m) = &mut bad.data else { panic!("not a message") };
    m.payload = Bytes::from_static(b"\xff\xfe not UTF-8");
    let err = op.map(&bad).unwrap_err();
    assert_eq!(err.kind, FailureKind::InvalidOutput, "{err}");
    assert!(err.message.contains("content type") && err.message.contains("not UTF-8"), "{}", err.message);
    assert!(err.to_string().starts_with("module returned invalid data: "), "{err}");
    // The same instance answers the next call: its counter went on to 3.
    assert_eq!(payload_text(&op.map(&message("c")).unwrap()), "call 3");
    let s = op.stats();
    assert_eq!((s.calls, s.invalid_outputs, s.traps, s.recreations, s.errors()), (3, 1, 0, 0, 1));
}

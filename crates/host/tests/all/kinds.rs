//! filter, branch, accumulate and delay through one component exporting all four.

use wasmgraph_host::{FailureKind, OperatorKind};
use wasmgraph_types::{DataModel, Hlc, Record};

use crate::support::*;

#[test]
fn filter_keeps_drops_and_errors() {
    let t = runtime();
    let mut op = t.operator("kinds", OperatorKind::Filter);
    assert!(op.filter(&message("keep me")).unwrap());
    assert!(!op.filter(&message("please drop")).unwrap());
    let err = op.filter(&message("error")).unwrap_err();
    assert_eq!(err.kind, FailureKind::Returned);
    assert_eq!(err.message, "filter was asked to fail");
    assert_eq!(op.stats().returned_errors, 1);
    assert_eq!(op.stats().recreations, 0, "a returned error keeps the instance");
}

#[test]
fn branch_sees_payload_and_record_time() {
    let t = runtime();
    let mut op = t.operator("kinds", OperatorKind::Branch);
    assert!(op.branch(&message("hot day")).unwrap());
    assert!(!op.branch(&message("cold day")).unwrap());
    let mut odd = message("by-counter");
    odd.set_time(Hlc::new(5, 1, "n"));
    assert!(op.branch(&odd).unwrap());
    let mut even = message("by-counter");
    even.set_time(Hlc::new(5, 2, "n"));
    assert!(!op.branch(&even).unwrap());
}

#[test]
fn accumulate_folds_batches_from_an_empty_message() {
    let t = runtime();
    let mut op = t.operator_with("kinds", OperatorKind::Accumulate, vec![("separator", "|")]);
    let staged = DataModel::empty_message(time());
    let staged = op.accumulate(staged, &[message("a"), message("b")]).unwrap();
    let staged = op.accumulate(staged, &[message("c")]).unwrap();
    let DataModel::Message(m) = &staged else { panic!("not a message") };
    assert_eq!(&m.payload[..], b"a|b|c");
    assert_eq!(m.user_properties, vec![("count".to_string(), "3".to_string())]);
    assert_eq!(m.content_type.as_deref(), Some("text/plain"));
    assert_eq!(m.timestamp, time());
    let empty = op.accumulate(DataModel::empty_message(time()), &[]).unwrap();
    assert_eq!(empty.payload().len(), 0);
}

#[test]
fn delay_returns_the_module_time() {
    let t = runtime();
    let mut op = t.operator("kinds", OperatorKind::Delay);
    let mut r: Record = message("x");
    r.set_time(Hlc::from_secs_nanos(1_700_000_000, 250, 4, "node-a"));
    let later = op.delay(&r).unwrap();
    assert_eq!(later, Hlc::from_secs_nanos(1_700_000_001, 0, 0, "node-a"));
    assert_eq!(&*later.node_id, "node-a");
    let mut whole = message("x");
    whole.set_time(Hlc::from_secs_nanos(1_700_000_002, 0, 0, "n"));
    assert_eq!(op.delay(&whole).unwrap(), whole.time);
    assert_eq!(op.delay(&message("error")).unwrap_err().kind, FailureKind::Returned);
}

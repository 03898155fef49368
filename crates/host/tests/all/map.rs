//! Map round trips, exports, missing exports and init.

use wasmgraph_host::{HostError, ModuleInstance, OperatorConfig, OperatorKind};
use wasmgraph_types::{Bytes, DataModel, Record, Snapshot};

use crate::support::*;

#[test]
fn passthrough_round_trips_every_field_without_copying_the_payload() {
    let t = runtime();
    let mut op = t.operator("passthrough", OperatorKind::Map);
    let record = message(r#"{"temperature":{"value":1209,"unit":"F"}}"#);
    let out = op.map(&record).unwrap();
    assert_eq!(out, record.data);
    // The module returned the host buffer it was given: same bytes, same allocation.
    assert_eq!(out.payload().as_ptr(), record.data.payload().as_ptr());
    let DataModel::Message(m) = &out else { panic!("not a message") };
    assert_eq!(&*m.timestamp.node_id, "node-a");
    assert_eq!(m.user_properties, vec![("a".to_string(), "1".to_string()), ("a".to_string(), "2".to_string())]);
    assert_eq!(op.stats().calls, 1);
    assert_eq!(op.stats().errors(), 0);
}

#[test]
fn passthrough_round_trips_raw_bytes_and_snapshots() {
    let t = runtime();
    let mut op = t.operator("passthrough", OperatorKind::Map);
    let raw = Record { time: time(), seq: 0, data: DataModel::BufferOrBytes(Bytes::from_static(b"\x00\xffraw")) };
    assert_eq!(op.map(&raw).unwrap(), raw.data);
    let snap = Record {
        time: time(),
        seq: 1,
        data: DataModel::Snapshot(Snapshot {
            timestamp: time(),
            format: "rgb24".into(),
            width: 2,
            height: 1,
            frame: Bytes::from_static(&[1, 2, 3, 4, 5, 6]),
        }),
    };
    let out = op.map(&snap).unwrap();
    assert_eq!(out, snap.data);
    assert_eq!(out.payload().as_ptr(), snap.data.payload().as_ptr());
}

#[test]
fn exports_are_reported() {
    let t = runtime();
    assert_eq!(t.module("passthrough").exports(), vec![OperatorKind::Map]);
    assert_eq!(
        t.module("kinds").exports(),
        vec![OperatorKind::Filter, OperatorKind::Branch, OperatorKind::Accumulate, OperatorKind::Delay]
    );
    assert_eq!(t.module("passthrough").digest().len(), 64);
    assert_eq!("Accumulate".parse::<OperatorKind>().unwrap(), OperatorKind::Accumulate);
    assert!("concatenate".parse::<OperatorKind>().is_err());
}

#[test]
fn missing_export_names_the_operation() {
    let t = runtime();
    let config = OperatorConfig {
        operation: "keep-hot".into(),
        kind: OperatorKind::Filter,
        properties: vec![],
        schemas: vec![],
    };
    let err = ModuleInstance::instantiate(&t.rt, &t.module("passthrough"), config).unwrap_err();
    assert!(matches!(err, HostError::MissingExport { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("\"keep-hot\"") && text.contains("filter") && text.contains("exports map"), "{text}");
}

#[test]
fn init_false_refuses_to_start_naming_the_operation() {
    let t = runtime();
    let config = OperatorConfig {
        operation: "picky".into(),
        kind: OperatorKind::Map,
        properties: vec![("accept".into(), "no".into())],
        schemas: vec![],
    };
    let err = ModuleInstance::instantiate(&t.rt, &t.module("init-false"), config.clone()).unwrap_err();
    assert!(matches!(err, HostError::InitRefused { .. }), "{err:?}");
    assert!(err.to_string().contains("\"picky\""), "{err}");
    // The properties reach init: with accept=yes it starts.
    let ok = OperatorConfig { properties: vec![("accept".into(), "yes".into())], ..config };
    let mut op = ModuleInstance::instantiate(&t.rt, &t.module("init-false"), ok).unwrap();
    assert_eq!(payload_text(&op.map(&message("x")).unwrap()), "x");
}

#[test]
fn operators_are_send() {
    fn is_send<T: Send>() {}
    is_send::<ModuleInstance>();
    let t = runtime();
    let mut op = t.operator("passthrough", OperatorKind::Map);
    let handle = std::thread::spawn(move || op.map(&message("moved")).map(|d| payload_text(&d)));
    assert_eq!(handle.join().unwrap().unwrap(), "moved");
}

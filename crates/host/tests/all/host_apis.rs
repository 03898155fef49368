//! logger, metrics, state store and schema registry, end to end through a module.

use wasmgraph_host::OperatorKind;
use wasmgraph_types::DataModel;

use crate::support::*;

#[test]
fn host_apis_end_to_end() {
    let schemas = tempfile::tempdir().unwrap();
    std::fs::write(schemas.path().join("temperature-1.json"), "{\"type\":\"object\"}\n").unwrap();
    let t = runtime_with(|_, s| s.schema_dir = Some(schemas.path().to_path_buf()));
    t.services.state_store.seed_from_json(r#"[{"factoryId":"factoryA"}]"#).unwrap();
    let mut op = t.operator("host-apis", OperatorKind::Map);

    let record = message("key1");
    let (out, events) = capture_logs(|| op.map(&record));
    let out = out.unwrap();
    let DataModel::Message(m) = &out else { panic!("not a message") };
    assert_report(std::str::from_utf8(&m.payload).unwrap());

    // The echo: topic, content type, schema and user properties (plus one).
    let DataModel::Message(input) = &record.data else { unreachable!() };
    assert_eq!(m.topic, input.topic);
    assert_eq!(m.content_type, input.content_type);
    assert_eq!(m.schema, input.schema);
    assert_eq!(m.timestamp, input.timestamp);
    let mut props = input.user_properties.clone();
    props.push(("host-apis".into(), "seen".into()));
    assert_eq!(m.user_properties, props);

    // The state store is the shared one.
    let store = &t.services.state_store;
    assert_eq!(store.get(b"key1-kept").value.as_deref(), Some(&b"kept"[..]));
    assert_eq!(store.get(b"key1").value, None);
    assert_eq!(store.get(b"key1-lock").value, None);

    // Metrics landed in the shared registry.
    let snap = t.services.metrics.snapshot();
    assert_eq!(snap.counter("records", &[("op", "host-apis")]), Some(1));
    let h = snap.histogram("payload-bytes", &[]).unwrap();
    assert_eq!((h.count, h.sum), (1, 4.0));

    assert_log_lines(&events, &record.time.to_wire());

    // A second record: NX now fails for the kept key only; the counter adds up.
    let again = op.map(&message("key1")).unwrap();
    assert!(payload_text(&again).contains("set-nx-1 Ok(true)"));
    assert_eq!(t.services.metrics.snapshot().counter("records", &[("op", "host-apis")]), Some(2));
}

/// The module's report of what each host API answered, one line per call.
fn assert_report(report: &str) {
    let lines: Vec<&str> = report.lines().collect();
    let expected = [
        "counter true",
        "histogram true",
        "mixed incompatible-type metric \"records\" is a counter, not a histogram",
        "set-nx-1 Ok(true)",
        "set-nx-2 Ok(false)",
        "get v1 version=true",
        "set-nex-same Ok(true)",
        "set-nex-other Ok(false)",
        "vdel-other Ok(0)",
        "vdel-same Ok(1)",
        "get-after-vdel Ok(false)",
        "fenced-set Ok(true)",
    ];
    assert_eq!(&lines[..expected.len()], &expected[..], "{report}");
    let stale = lines[expected.len()];
    assert!(
        stale.starts_with("stale-set rejected StateStoreError::RequestError(") && stale.contains("older"),
        "{stale}"
    );
    assert_eq!(
        &lines[expected.len() + 1..],
        &[
            "del Ok(1)",
            "del-again Ok(0)",
            "seeded Ok(Some(\"factoryA\"))",
            "kept Ok(true)",
            "schema temperature 1 {\"type\":\"object\"}",
            "missing SchemaError::NotFound",
        ][..],
        "{report}"
    );
}

/// Log lines carry the operation, the record time and the context.
fn assert_log_lines(events: &[Event], wire_time: &str) {
    let module_events: Vec<_> = events.iter().filter(|e| e.target == "wasmgraph::module").collect();
    let info = module_events.iter().find(|e| e.field("message") == Some("processing key1")).expect("info event");
    assert_eq!(info.level, tracing::Level::INFO);
    assert_eq!(info.field("operation"), Some("host-apis-op"));
    assert_eq!(info.field("time"), Some(wire_time));
    assert_eq!(info.field("context"), Some("host-apis"));
    let critical = module_events.iter().find(|e| e.field("message") == Some("critical key1")).expect("critical event");
    assert_eq!(critical.level, tracing::Level::ERROR);
    assert_eq!(critical.field("critical"), Some("true"));
}

#[test]
fn init_logs_without_a_record_time() {
    let t = runtime();
    let (op, events) = capture_logs(|| t.operator("host-apis", OperatorKind::Map));
    drop(op);
    let init = events.iter().find(|e| e.field("context") == Some("init")).expect("init event");
    assert_eq!(init.level, tracing::Level::DEBUG);
    assert_eq!(init.field("time"), Some(""));
    assert_eq!(init.field("message"), Some("0 properties, 0 schemas"));
}

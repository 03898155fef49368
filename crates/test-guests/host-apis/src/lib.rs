//! A map that exercises the host APIs (logger, metrics, state store, schema
//! registry) with a fixed script keyed by the record's payload, and returns a
//! report of what it saw, one line per step, as the payload of a message that
//! echoes the input's topic, content type, user properties and schema.

// wit-bindgen's `export!` defines the component's entry points as unsafe
// `extern "C"` functions; the workspace denies unsafe code everywhere else.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../../../wit",
    inline: "
        package test:host-apis;
        world host-apis {
            include wasm-graph:processor/map-impl@1.1.0;
            import wasm-graph:processor/schema-registry@1.1.0;
        }
    ",
    world: "test:host-apis/host-apis",
    generate_all,
});

use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::hybrid_logical_clock::{HybridLogicalClock, Timespec};
use wasm_graph::processor::logger::{self, Level};
use wasm_graph::processor::metrics::{self, CounterValue, HistogramValue, Label};
use wasm_graph::processor::schema_registry;
use wasm_graph::processor::state_store;
use wasm_graph::processor::state_store_types::{SetConditions, SetOptions};
use wasm_graph::processor::types::{
    BufferOrBytes, BufferOrString, DataModel, Error, Message, MessageProperties, ModuleConfiguration,
};

struct HostApis;

fn read(b: &BufferOrBytes) -> Vec<u8> {
    match b {
        BufferOrBytes::Buffer(b) => b.read(),
        BufferOrBytes::Bytes(b) => b.clone(),
    }
}

fn opts(conditions: SetConditions) -> SetOptions {
    SetOptions { conditions, expires: None }
}

fn token(secs: u64, counter: u64) -> HybridLogicalClock {
    HybridLogicalClock { timestamp: Timespec { secs, nanos: 0 }, counter, node_id: "guest".into() }
}

fn script(key: &str, report: &mut Vec<String>) {
    let k = key.as_bytes();
    logger::log(Level::Info, "host-apis", &format!("processing {key}"));
    logger::log(Level::Critical, "host-apis", &format!("critical {key}"));

    let labels = vec![Label { key: "op".into(), value: "host-apis".into() }];
    let r = metrics::add_to_counter("records", CounterValue::U64(1), Some(&labels));
    report.push(format!("counter {}", r.is_ok()));
    let r = metrics::record_to_histogram("payload-bytes", HistogramValue::U64(key.len() as u64), None);
    report.push(format!("histogram {}", r.is_ok()));
    match metrics::record_to_histogram("records", HistogramValue::F64(1.0), None) {
        Ok(()) => report.push("mixed ok".into()),
        Err(metrics::MetricsError::IncompatibleType(m)) => report.push(format!("mixed incompatible-type {m}")),
        Err(metrics::MetricsError::LockError(m)) => report.push(format!("mixed lock-error {m}")),
    }

    let set = |v: &[u8], c: SetConditions| state_store::set(k, v, None, None, opts(c));
    let r = set(b"v1", SetConditions::OnlyIfDoesNotExist).map(|r| r.response);
    report.push(format!("set-nx-1 {r:?}"));
    let r = set(b"v2", SetConditions::OnlyIfDoesNotExist).map(|r| r.response);
    report.push(format!("set-nx-2 {r:?}"));
    match state_store::get(k, None) {
        Ok(g) => report.push(format!(
            "get {} version={}",
            g.response.map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or("<none>".into()),
            g.version.is_some()
        )),
        Err(e) => report.push(format!("get error {e:?}")),
    }
    let r = set(b"v1", SetConditions::OnlyIfEqualOrDoesNotExist).map(|r| r.response);
    report.push(format!("set-nex-same {r:?}"));
    let r = set(b"v3", SetConditions::OnlyIfEqualOrDoesNotExist).map(|r| r.response);
    report.push(format!("set-nex-other {r:?}"));
    let r = state_store::vdel(k, b"nope", None, None).map(|r| r.response);
    report.push(format!("vdel-other {r:?}"));
    let r = state_store::vdel(k, b"v1", None, None).map(|r| r.response);
    report.push(format!("vdel-same {r:?}"));
    let r = state_store::get(k, None).map(|g| g.response.is_some());
    report.push(format!("get-after-vdel {r:?}"));

    let lock = format!("{key}-lock");
    let new = token(100, 1);
    let old = token(100, 0);
    let r = state_store::set(lock.as_bytes(), b"a", None, Some(&new), opts(SetConditions::Unconditional))
        .map(|r| r.response);
    report.push(format!("fenced-set {r:?}"));
    match state_store::set(lock.as_bytes(), b"b", None, Some(&old), opts(SetConditions::Unconditional)) {
        Ok(r) => report.push(format!("stale-set accepted {}", r.response)),
        Err(e) => report.push(format!("stale-set rejected {e:?}")),
    }
    let newer = token(200, 0);
    let r = state_store::del(lock.as_bytes(), Some(&newer), None).map(|r| r.response);
    report.push(format!("del {r:?}"));
    let r = state_store::del(lock.as_bytes(), None, None).map(|r| r.response);
    report.push(format!("del-again {r:?}"));

    let r = state_store::get(b"factoryId", None).map(|g| g.response.map(|v| String::from_utf8_lossy(&v).into_owned()));
    report.push(format!("seeded {r:?}"));
    let kept = format!("{key}-kept");
    let r =
        state_store::set(kept.as_bytes(), b"kept", None, None, opts(SetConditions::Unconditional)).map(|r| r.response);
    report.push(format!("kept {r:?}"));

    match schema_registry::get("temperature", "1", (1, 0)) {
        Ok(s) => report.push(format!("schema {} {} {}", s.name, s.version, s.schema_content.trim())),
        Err(e) => report.push(format!("schema error {e:?}")),
    }
    match schema_registry::get("missing", "1", (1, 0)) {
        Ok(s) => report.push(format!("missing found {}", s.name)),
        Err(e) => report.push(format!("missing {e:?}")),
    }
}

impl Guest for HostApis {
    fn init(configuration: ModuleConfiguration) -> bool {
        logger::log(
            Level::Debug,
            "init",
            &format!("{} properties, {} schemas", configuration.properties.len(), configuration.module_schemas.len()),
        );
        true
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        let DataModel::Message(m) = message else {
            return Err(Error { message: "host-apis expects a message".into() });
        };
        let key = String::from_utf8_lossy(&read(&m.payload)).into_owned();
        let mut report = Vec::new();
        script(&key, &mut report);
        let mut user_properties = m.properties.user_properties;
        user_properties.push((BufferOrString::String("host-apis".into()), BufferOrString::String("seen".into())));
        Ok(DataModel::Message(Message {
            timestamp: m.timestamp,
            topic: m.topic,
            content_type: m.content_type,
            payload: BufferOrBytes::Bytes(report.join("\n").into_bytes()),
            properties: MessageProperties { user_properties },
            schema: m.schema,
        }))
    }
}

export!(HostApis);

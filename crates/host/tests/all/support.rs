//! Shared helpers: building fixtures, runtimes, records, log capture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmgraph_host::{HostConfig, Module, ModuleInstance, OperatorConfig, OperatorKind, Runtime, Services};
use wasmgraph_types::{Bytes, DataModel, Hlc, Message, MessageSchema, Record};

/// The component of `crates/test-guests/<name>`, built once per test process
/// (cargo makes later builds no-ops).
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-guests").join(name);
    let opts = wasmgraph_builder::BuildOptions { quiet: true, ..Default::default() };
    let out = wasmgraph_builder::build(&dir, &opts)
        .unwrap_or_else(|e| panic!("cannot build the test guest {name} (see TOOLCHAIN.md): {e}"));
    built.insert(name.to_string(), out.wasm.clone());
    out.wasm
}

/// A runtime with its own temporary compile cache.
pub struct TestRuntime {
    pub rt: Runtime,
    pub services: Services,
    pub _cache: tempfile::TempDir,
}

pub fn runtime_with(f: impl FnOnce(&mut HostConfig, &mut Services)) -> TestRuntime {
    let cache = tempfile::tempdir().unwrap();
    let mut config = HostConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        announce_compiles: false,
        max_instances: 8,
        ..HostConfig::default()
    };
    let mut services = Services::default();
    f(&mut config, &mut services);
    let rt = Runtime::new(config, services.clone()).unwrap();
    TestRuntime { rt, services, _cache: cache }
}

pub fn runtime() -> TestRuntime {
    runtime_with(|_, _| {})
}

impl TestRuntime {
    pub fn module(&self, name: &str) -> Module {
        self.rt.load(&fixture(name)).unwrap()
    }

    pub fn operator(&self, name: &str, kind: OperatorKind) -> ModuleInstance {
        self.operator_with(name, kind, vec![])
    }

    pub fn operator_with(&self, name: &str, kind: OperatorKind, properties: Vec<(&str, &str)>) -> ModuleInstance {
        let config = OperatorConfig {
            operation: format!("{name}-op"),
            kind,
            properties: properties.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            schemas: vec![],
        };
        ModuleInstance::instantiate(&self.rt, &self.module(name), config).unwrap()
    }
}

pub fn time() -> Hlc {
    Hlc::new(1_700_000_000_500_000_000, 3, "node-a")
}

/// A message record with every field set.
pub fn message(payload: &str) -> Record {
    Record::message(
        time(),
        7,
        Message {
            timestamp: time(),
            topic: Bytes::from_static(b"probe/1"),
            content_type: Some("application/json".into()),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            user_properties: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            schema: Some(MessageSchema::RegistryReference("temperature".into())),
        },
    )
}

pub fn payload_text(d: &DataModel) -> String {
    String::from_utf8_lossy(d.payload()).into_owned()
}

/// One captured tracing event.
#[derive(Clone, Debug)]
pub struct Event {
    pub level: tracing::Level,
    pub target: String,
    pub fields: BTreeMap<String, String>,
}

impl Event {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(|s| s.as_str())
    }
}

#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<Event>>>);

struct Visitor<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Visitor(&mut fields));
        self.0.lock().unwrap().push(Event {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            fields,
        });
    }
}

/// Run `f` with tracing events of this thread captured.
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, Vec<Event>) {
    use tracing_subscriber::layer::SubscriberExt;
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let r = tracing::subscriber::with_default(subscriber, f);
    let events = capture.0.lock().unwrap().clone();
    (r, events)
}

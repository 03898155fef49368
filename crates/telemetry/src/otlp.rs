//! OTLP metrics push: the OpenTelemetry SDK's periodic reader exports
//! observable instruments over OTLP/HTTP (protobuf). Every instrument's
//! callback reads one shared snapshot per export, so a push costs one
//! collection, whatever the number of instruments.

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::metrics::{AsyncInstrument, Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{MetricExporter, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::Resource;

use crate::names::{instrument_name, module_labels};
use crate::{Collect, Snapshot, TelemetryError};

/// The OTLP/HTTP URL metrics go to: `endpoint` as OTEL_EXPORTER_OTLP_ENDPOINT
/// means it (a base URL, `/v1/metrics` appended), unless it names that path already.
pub fn metrics_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/metrics") {
        base.to_string()
    } else {
        format!("{base}/v1/metrics")
    }
}

/// A running push; [`OtlpPush::shutdown`] sends the last figures.
pub struct OtlpPush {
    provider: SdkMeterProvider,
    stop: Sender<()>,
    registrar: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for OtlpPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpPush").finish_non_exhaustive()
    }
}

impl OtlpPush {
    /// Push `source`'s figures to `endpoint` every `interval`.
    pub fn start(endpoint: &str, interval: Duration, source: Arc<dyn Collect>) -> Result<Self, TelemetryError> {
        let url = metrics_url(endpoint);
        let exporter = MetricExporter::builder()
            .with_http()
            .with_endpoint(url.clone())
            .with_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TelemetryError::Otlp { endpoint: url, message: e.to_string() })?;
        let reader = PeriodicReader::builder(exporter).with_interval(interval).build();
        let resource = Resource::builder().with_service_name("wasmgraph").build();
        let provider = SdkMeterProvider::builder().with_reader(reader).with_resource(resource).build();
        let cache = Arc::new(Cache { source, last: Mutex::new(None) });
        let meter = provider.meter("wasmgraph");
        runtime_instruments(&meter, &cache);
        let (stop, stopped) = std::sync::mpsc::channel();
        let period = interval.min(Duration::from_secs(1));
        let registrar = std::thread::Builder::new()
            .name("otlp-instruments".into())
            .spawn(move || register_module_instruments(&meter, &cache, &stopped, period))
            .map_err(|e| TelemetryError::Otlp { endpoint: endpoint.to_string(), message: e.to_string() })?;
        Ok(OtlpPush { provider, stop, registrar: Some(registrar) })
    }

    /// Export once more (the final figures) and stop.
    pub fn shutdown(mut self) {
        self.stop_registrar();
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!("OTLP metrics: the last export failed: {e}");
        }
    }

    fn stop_registrar(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.registrar.take() {
            let _ = t.join();
        }
    }
}

impl Drop for OtlpPush {
    fn drop(&mut self) {
        self.stop_registrar();
    }
}

/// The latest snapshot, taken again once it is older than an export needs.
struct Cache {
    source: Arc<dyn Collect>,
    last: Mutex<Option<(Instant, Arc<Snapshot>)>>,
}

/// Callbacks of one export run within this; the next export is seconds away.
const FRESH: Duration = Duration::from_millis(200);

impl Cache {
    fn get(&self) -> Arc<Snapshot> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match &*last {
            Some((at, snap)) if at.elapsed() < FRESH => snap.clone(),
            _ => {
                let snap = Arc::new(self.source.collect());
                *last = Some((Instant::now(), snap.clone()));
                snap
            }
        }
    }
}

type Points = Vec<(u64, Vec<KeyValue>)>;

/// An observable u64 counter (or gauge) whose series `points` picks from the snapshot.
fn observe_u64(
    meter: &Meter,
    cache: &Arc<Cache>,
    name: &'static str,
    unit: &'static str,
    gauge: bool,
    points: fn(&Snapshot) -> Points,
) {
    let cache = cache.clone();
    let callback = move |obs: &dyn AsyncInstrument<u64>| {
        for (value, attrs) in points(&cache.get()) {
            obs.observe(value, &attrs);
        }
    };
    if gauge {
        meter.u64_observable_gauge(name).with_unit(unit).with_callback(callback).build();
    } else {
        meter.u64_observable_counter(name).with_unit(unit).with_callback(callback).build();
    }
}

fn kv(key: &'static str, value: &str) -> KeyValue {
    KeyValue::new(key, value.to_string())
}

fn runtime_instruments(meter: &Meter, cache: &Arc<Cache>) {
    fn ops(s: &Snapshot, pick: fn(&crate::OperationPoint) -> u64) -> Points {
        s.operations.iter().map(|o| (pick(o), vec![kv("graph", &s.graph), kv("operation", &o.name)])).collect()
    }
    fn sources(s: &Snapshot, pick: fn(&crate::SourcePoint) -> u64) -> Points {
        s.sources.iter().map(|p| (pick(p), vec![kv("graph", &s.graph), kv("source", &p.name)])).collect()
    }
    fn sinks(s: &Snapshot, pick: fn(&crate::SinkPoint) -> u64) -> Points {
        s.sinks.iter().map(|p| (pick(p), vec![kv("graph", &s.graph), kv("sink", &p.name)])).collect()
    }
    observe_u64(meter, cache, "wasmgraph.operation.records_in", "{record}", false, |s| ops(s, |o| o.records_in));
    observe_u64(meter, cache, "wasmgraph.operation.records_out", "{record}", false, |s| ops(s, |o| o.records_out));
    observe_u64(meter, cache, "wasmgraph.operation.errors", "{error}", false, |s| {
        s.operations
            .iter()
            .flat_map(|o| {
                o.errors
                    .iter()
                    .map(|(kind, n)| (*n, vec![kv("graph", &s.graph), kv("operation", &o.name), kv("kind", kind)]))
            })
            .collect()
    });
    observe_u64(meter, cache, "wasmgraph.operation.calls", "{call}", false, |s| {
        s.operations
            .iter()
            .filter_map(|o| o.calls.as_ref().map(|h| (h.count, vec![kv("graph", &s.graph), kv("operation", &o.name)])))
            .collect()
    });
    let c = cache.clone();
    meter
        .f64_observable_counter("wasmgraph.operation.call.duration")
        .with_unit("s")
        .with_description("Total time spent in the operation's module calls")
        .with_callback(move |obs| {
            let s = c.get();
            for o in &s.operations {
                if let Some(h) = &o.calls {
                    obs.observe(h.sum, &[kv("graph", &s.graph), kv("operation", &o.name)]);
                }
            }
        })
        .build();
    observe_u64(meter, cache, "wasmgraph.source.messages_received", "{message}", false, |s| sources(s, |p| p.received));
    observe_u64(meter, cache, "wasmgraph.source.messages_acknowledged", "{message}", false, |s| {
        sources(s, |p| p.acknowledged)
    });
    observe_u64(meter, cache, "wasmgraph.source.messages_in_flight", "{message}", true, |s| {
        sources(s, |p| p.in_flight)
    });
    observe_u64(meter, cache, "wasmgraph.source.lag", "{message}", true, lag_points);
    observe_u64(meter, cache, "wasmgraph.sink.records_published", "{record}", false, |s| sinks(s, |p| p.published));
    observe_u64(meter, cache, "wasmgraph.sink.records_failed", "{record}", false, |s| sinks(s, |p| p.failed));
}

/// One point per partition a source reports lag for.
fn lag_points(s: &Snapshot) -> Points {
    let mut points = Vec::new();
    for p in &s.sources {
        for l in &p.lag {
            let partition = KeyValue::new("partition", i64::from(l.partition));
            points.push((
                l.messages,
                vec![kv("graph", &s.graph), kv("source", &p.name), kv("topic", &l.topic), partition],
            ));
        }
    }
    points
}

fn module_attrs(s: &Snapshot, labels: &[(String, String)]) -> Vec<KeyValue> {
    module_labels(&s.graph, labels).into_iter().map(|(k, v)| KeyValue::new(k, v.to_string())).collect()
}

/// Modules name their metrics as they run: look for new names every
/// `period` and give each an instrument (a counter; a histogram as a
/// `.count` and a `.sum` counter) until told to stop.
fn register_module_instruments(meter: &Meter, cache: &Arc<Cache>, stop: &Receiver<()>, period: Duration) {
    let mut known = BTreeSet::new();
    loop {
        let snap = cache.get();
        for c in &snap.module_counters {
            if known.insert(("c", c.name.clone())) {
                module_counter(meter, cache, c.name.clone());
            }
        }
        for h in &snap.module_histograms {
            if known.insert(("h", h.name.clone())) {
                module_histogram(meter, cache, h.name.clone());
            }
        }
        match stop.recv_timeout(period) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

fn module_counter(meter: &Meter, cache: &Arc<Cache>, name: String) {
    let c = cache.clone();
    let instrument = instrument_name(&name);
    meter
        .u64_observable_counter(instrument)
        .with_callback(move |obs| {
            let s = c.get();
            for m in s.module_counters.iter().filter(|m| m.name == name) {
                obs.observe(m.value, &module_attrs(&s, &m.labels));
            }
        })
        .build();
}

fn module_histogram(meter: &Meter, cache: &Arc<Cache>, name: String) {
    let instrument = instrument_name(&name);
    let (c, n) = (cache.clone(), name.clone());
    meter
        .u64_observable_counter(format!("{instrument}.count"))
        .with_callback(move |obs| {
            let s = c.get();
            for h in s.module_histograms.iter().filter(|h| h.name == n) {
                obs.observe(h.count, &module_attrs(&s, &h.labels));
            }
        })
        .build();
    let c = cache.clone();
    meter
        .f64_observable_counter(format!("{instrument}.sum"))
        .with_callback(move |obs| {
            let s = c.get();
            for h in s.module_histograms.iter().filter(|h| h.name == name) {
                obs.observe(h.sum, &module_attrs(&s, &h.labels));
            }
        })
        .build();
}

#[cfg(test)]
mod tests {
    use super::metrics_url;

    #[test]
    fn the_endpoint_is_a_base_url_unless_it_names_the_metrics_path() {
        assert_eq!(metrics_url("http://127.0.0.1:4318"), "http://127.0.0.1:4318/v1/metrics");
        assert_eq!(metrics_url("http://c:4318/"), "http://c:4318/v1/metrics");
        assert_eq!(metrics_url("http://c:4318/v1/metrics"), "http://c:4318/v1/metrics");
    }
}

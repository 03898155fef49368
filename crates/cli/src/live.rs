//! Running a graph on live MQTT messages: from a deployment file, or a graph
//! definition with the embedded broker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wasmgraph_config::{GraphDefinition, ParameterValues};
use wasmgraph_connectors::file::record_to_json;
use wasmgraph_connectors::mqtt::broker::EmbeddedBroker;
use wasmgraph_connectors::mqtt::{MqttConnection, MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig};
use wasmgraph_connectors::{ConnectorError, Sink};
use wasmgraph_deployment::{Configuration, Deployment, Endpoint, ErrorPolicy};
use wasmgraph_engine::{ErrorEvent, RunOptions, Stats};
use wasmgraph_types::{Bytes, Hlc, Message, Record};

use crate::graph::{load_plan, parse_params, runtime, summary};

/// Settings from the command line that apply to a live run.
#[derive(Debug, Clone)]
pub struct LiveRun {
    pub deployment: Deployment,
    /// `--modules` when given (overrides the deployment's).
    pub modules: Option<PathBuf>,
    pub params: Vec<String>,
    pub state: Option<PathBuf>,
    pub workers: usize,
    pub cache_dir: Option<PathBuf>,
    /// Also print every result record to stdout as a JSON line.
    pub echo: bool,
}

/// Parameter values of a deployment: per operation as written, or AIO's
/// graph-wide `key: value` pairs applied to every operation that declares
/// a parameter of that key (or name).
fn parameter_values(d: &Deployment) -> Result<ParameterValues> {
    let mut values: ParameterValues = HashMap::new();
    match &d.configuration {
        Configuration::PerOperation(ops) => {
            for (op, kv) in ops {
                values.entry(op.clone()).or_default().extend(kv.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        Configuration::Graph(pairs) => {
            if pairs.is_empty() {
                return Ok(values);
            }
            let def = GraphDefinition::load(&d.graph).map_err(|errors| {
                for e in errors.iter() {
                    eprintln!("{e}");
                }
                anyhow::anyhow!("{} cannot be read", d.graph.display())
            })?;
            for (key, value) in pairs {
                let mut used = false;
                for mc in &def.module_configurations {
                    for p in &mc.parameters {
                        if p.key.value == *key || p.name.value == *key {
                            values.entry(mc.name.value.clone()).or_default().insert(p.key.value.clone(), value.clone());
                            used = true;
                        }
                    }
                }
                if !used {
                    tracing::warn!("configuration key '{key}' matches no parameter of {}", d.graph.display());
                }
            }
        }
    }
    Ok(values)
}

/// The connection for an endpoint, starting the embedded broker on first use.
fn resolve(endpoint: &Endpoint, client_id: String, broker: &mut Option<EmbeddedBroker>) -> Result<MqttConnection> {
    match endpoint {
        Endpoint::Broker(c) => {
            let mut c = (**c).clone();
            c.client_id = client_id;
            Ok(c)
        }
        Endpoint::Embedded { port } => {
            if broker.is_none() {
                *broker = Some(EmbeddedBroker::start(*port).context("starting the embedded MQTT broker")?);
            }
            let addr = broker.as_ref().map(|b| b.addr()).context("embedded broker")?;
            Ok(MqttConnection::new(addr.ip().to_string(), addr.port(), client_id))
        }
    }
}

fn client_id(endpoint: &Endpoint, deployment: &str, role: &str) -> String {
    match endpoint {
        Endpoint::Broker(c) if !c.client_id.is_empty() => {
            if role == "source" {
                c.client_id.clone()
            } else {
                format!("{}-{role}", c.client_id)
            }
        }
        _ => format!("wasmgraph-{deployment}-{role}"),
    }
}

/// Sets the flag on Ctrl-C or SIGTERM; a second signal exits at once.
fn on_signals(stop: Arc<AtomicBool>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("signal handler")?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        rt.block_on(async move {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("cannot watch SIGTERM: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    stop.store(true, Ordering::Release);
                    return;
                }
            };
            for round in 0..2 {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                if round == 0 {
                    eprintln!("wasmgraph: stopping: finishing and acknowledging the messages in flight (again to quit at once)");
                    stop.store(true, Ordering::Release);
                } else {
                    std::process::exit(130);
                }
            }
        });
    })?;
    Ok(())
}

/// Prints each record as it is written, then passes it on.
struct Echo<S> {
    inner: S,
}

impl<S: Sink> Sink for Echo<S> {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.inner.write(record)?;
        println!("{}", record_to_json(record));
        Ok(())
    }
    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.inner.flush()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Run until the source ends (Ctrl-C / SIGTERM) or fails.
pub fn run_live(run: LiveRun) -> Result<()> {
    let d = &run.deployment;
    let mut values = parameter_values(d)?;
    for (op, kv) in parse_params(&run.params)? {
        values.entry(op).or_default().extend(kv);
    }
    let modules = run
        .modules
        .clone()
        .or_else(|| d.modules.clone())
        .unwrap_or_else(|| d.graph.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".")));
    let (rt, _metrics) = runtime(run.state.as_deref(), run.cache_dir.clone())?;
    let plan = load_plan(&d.graph, &modules, &values, &rt)?;

    let mut broker = None;
    let source_conn = resolve(&d.source.endpoint, client_id(&d.source.endpoint, &d.name, "source"), &mut broker)?;
    let sink_conn = resolve(&d.sink.endpoint, client_id(&d.sink.endpoint, &d.name, "sink"), &mut broker)?;
    let source = MqttSource::connect(MqttSourceConfig {
        qos: d.source.qos,
        max_message_size: d.source.max_message_size,
        receive_maximum: d.source.receive_maximum,
        ..MqttSourceConfig::new(source_conn.clone(), d.source.topics.clone())
    })?;
    let sink = MqttSink::connect(MqttSinkConfig {
        qos: d.sink.qos,
        retain: d.sink.retain,
        ..MqttSinkConfig::new(sink_conn.clone(), d.sink.topic.clone())
    })?;
    let dead_letters = match &d.errors {
        ErrorPolicy::Drop => None,
        ErrorPolicy::DeadLetter { topic } => {
            let mut conn = sink_conn.clone();
            conn.client_id = client_id(&d.sink.endpoint, &d.name, "dead-letters");
            Some((topic.clone(), Arc::new(Mutex::new(MqttSink::connect(MqttSinkConfig::new(conn, topic.clone()))?))))
        }
    };
    let counters = source.counters();
    let stop = source.stop_handle();
    on_signals(stop.clone())?;

    if let Some(b) = &broker {
        let a = b.addr();
        let first = d.source.topics.first().map(|t| example_topic(t)).unwrap_or_else(|| "in".into());
        eprintln!("wasmgraph: embedded MQTT 5 broker on {a} (no broker configured)");
        eprintln!(
            "  publish:  mosquitto_pub -V 5 -h {} -p {} -q 1 -t '{first}' -m '{{\"temperature\": 21.5}}'",
            a.ip(),
            a.port()
        );
        eprintln!("      or:   wasmgraph publish -p {} -t '{first}' FILE...", a.port());
        eprintln!(
            "  results:  mosquitto_sub -V 5 -h {} -p {} -t '{}' -v",
            a.ip(),
            a.port(),
            sink_topic_filter(&d.sink.topic)
        );
    }
    if !source.wait_subscribed(Duration::from_secs(30)) {
        eprintln!("wasmgraph: warning: not subscribed yet on {} (still trying)", source_conn.endpoint());
    }
    eprintln!(
        "wasmgraph: listening on {} to {}; results go to {} topic '{}'{}. Ctrl-C stops.",
        source_conn.endpoint(),
        d.source.topics.join(", "),
        sink_conn.endpoint(),
        d.sink.topic,
        if run.echo { " and stdout" } else { "" }
    );

    let on_error = dead_letters.clone().map(|(topic, sink)| {
        Arc::new(move |event: &ErrorEvent| {
            let doc = serde_json::json!({
                "operation": event.operation,
                "kind": event.kind.as_str(),
                "message": event.message,
                "records": event.records.iter().map(record_to_json).collect::<Vec<_>>(),
            });
            let time = event.records.first().map(|r| r.time.clone()).unwrap_or_else(|| Hlc::new(0, 0, ""));
            let message = Message {
                topic: Bytes::from(topic.clone().into_bytes()),
                content_type: Some("application/json".into()),
                payload: Bytes::from(doc.to_string().into_bytes()),
                ..Message::default()
            };
            let mut out = sink.lock().unwrap_or_else(|e| e.into_inner());
            // Durable before the source message is acknowledged: this runs
            // before the frontier passes the record's time.
            if let Err(e) = out.write(&Record::message(time, 0, message)).and_then(|_| out.flush()) {
                tracing::error!("cannot publish a failed record to dead-letter topic '{topic}': {e}");
            }
        }) as Arc<dyn Fn(&ErrorEvent) + Send + Sync>
    });
    let stats = Arc::new(Stats::for_plan(&plan));
    let options = RunOptions {
        workers: run.workers,
        node_id: d.name.clone(),
        on_error,
        batch: 256,
        poll_wait: Duration::from_millis(20),
    };
    let sink: Box<dyn Sink> = if run.echo { Box::new(Echo { inner: sink }) } else { Box::new(sink) };
    let result = wasmgraph_engine::run(plan, Box::new(source), sink, stats.clone(), options);
    eprint!("{}", summary(&stats));
    eprintln!(
        "mqtt: received {} message(s), {} over the size limit, {} acknowledged, {} stale ack(s); {} record(s) published; {} failed call(s)",
        counters.received.load(Ordering::Relaxed),
        counters.oversized.load(Ordering::Relaxed),
        counters.acked.load(Ordering::Relaxed),
        counters.stale_acks.load(Ordering::Relaxed),
        stats.written.load(Ordering::Relaxed),
        stats.errors(),
    );
    drop(dead_letters);
    result?;
    if !stop.load(Ordering::Acquire) {
        bail!("the source ended unexpectedly");
    }
    Ok(())
}

/// A topic one can publish to that matches `filter` (`+` and `#` filled in).
fn example_topic(filter: &str) -> String {
    let filter = filter.strip_prefix("$share/").and_then(|r| r.split_once('/').map(|(_, f)| f)).unwrap_or(filter);
    filter.split('/').map(|l| if l == "+" || l == "#" { "1" } else { l }).collect::<Vec<_>>().join("/")
}

/// A filter matching what the sink publishes (`${...}` become `#` at the end).
fn sink_topic_filter(topic: &str) -> String {
    match topic.find("${") {
        Some(i) => {
            let base = topic[..i].trim_end_matches('/');
            if base.is_empty() {
                "#".into()
            } else {
                format!("{base}/#")
            }
        }
        None => topic.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_for_the_hints() {
        assert_eq!(example_topic("$share/g/sensors/+/t/#"), "sensors/1/t/1");
        assert_eq!(sink_topic_filter("out/${inputTopic}"), "out/#");
        assert_eq!(sink_topic_filter("plain"), "plain");
    }
}

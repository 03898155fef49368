//! The MQTT sink: publish records with QoS 1; `flush` waits for the PUBACKs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use rumqttc::Outgoing;
use wasmgraph_types::{Bytes, DataModel, Record};

use super::config::{qos, MqttSinkConfig};
use super::{next_backoff, runtime, CORRELATION_DATA, RESPONSE_TOPIC, TIMESTAMP};
use crate::{ConnectorError, Sink};

/// What the event-loop task tells the sink.
#[derive(Debug, Default)]
struct State {
    /// Bumped when the broker has lost our session (a CONNACK without
    /// `session_present` after the first): publishes not yet acknowledged
    /// then are gone and must be sent again.
    epoch: u64,
    /// Successful PUBACKs in this epoch.
    acked: u64,
    /// PUBACKs that refused a message.
    refused: Vec<String>,
    connected: bool,
    fatal: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    closing: AtomicBool,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.notify_all();
    }
}

struct Unflushed {
    topic: String,
    payload: Bytes,
    properties: PublishProperties,
}

/// Publishes every record to a topic.
pub struct MqttSink {
    config: MqttSinkConfig,
    qos: QoS,
    runtime: tokio::runtime::Runtime,
    client: AsyncClient,
    shared: Arc<Shared>,
    /// QoS 1 publishes since the last flush, kept to be sent again if the
    /// broker loses our session before acknowledging them.
    unflushed: Vec<Unflushed>,
    /// The epoch `unflushed` was published in, and how many of its publishes
    /// count toward that epoch's PUBACKs.
    epoch: u64,
    sent_in_epoch: u64,
    published: Arc<AtomicU64>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MqttSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSink").field("config", &self.config).finish_non_exhaustive()
    }
}

impl MqttSink {
    /// Start connecting (in the background, reconnecting with backoff).
    pub fn connect(config: MqttSinkConfig) -> Result<Self, ConnectorError> {
        let endpoint = config.connection.endpoint();
        let qos = qos(config.qos, &endpoint)?;
        if config.topic.is_empty() {
            return Err(ConnectorError::Config(format!("{endpoint}: the MQTT sink needs a topic")));
        }
        let options = config.connection.options(false, 1000)?;
        let runtime = runtime("mqtt-sink")?;
        let (client, eventloop) = {
            let _guard = runtime.enter();
            AsyncClient::new(options, 16_384)
        };
        let shared = Arc::new(Shared::default());
        let task = runtime.spawn(drive(
            eventloop,
            shared.clone(),
            (config.connection.reconnect_min, config.connection.reconnect_max),
            endpoint,
        ));
        Ok(MqttSink {
            config,
            qos,
            runtime,
            client,
            shared,
            unflushed: Vec::new(),
            epoch: 0,
            sent_in_epoch: 0,
            published: Arc::new(AtomicU64::new(0)),
            task: Some(task),
        })
    }

    /// Wait until connected; an error if the broker refused us or `timeout` passed.
    pub fn wait_connected(&self, timeout: Duration) -> Result<(), ConnectorError> {
        let until = Instant::now() + timeout;
        let endpoint = self.config.connection.endpoint();
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(message) = &state.fatal {
                return Err(ConnectorError::Connection { endpoint, message: message.clone() });
            }
            if state.connected {
                return Ok(());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ConnectorError::Connection { endpoint, message: format!("not connected after {timeout:?}") });
            }
            state = self.shared.changed.wait_timeout(state, left).map(|(s, _)| s).unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// How many publishes the sink has made (re-sends included); shared.
    pub fn published(&self) -> Arc<AtomicU64> {
        self.published.clone()
    }

    /// Publish one message, optionally remembering it for a re-send.
    fn publish(&mut self, topic: String, payload: Bytes, properties: PublishProperties) -> Result<(), ConnectorError> {
        let client = self.client.clone();
        let qos = self.qos;
        let retain = self.config.retain;
        let (t, p, props) = (topic.clone(), payload.clone(), properties.clone());
        self.runtime
            .block_on(async move { client.publish_with_properties(t, qos, retain, p, props).await })
            .map_err(|e| ConnectorError::Connection {
                endpoint: self.config.connection.endpoint(),
                message: format!("publishing to '{topic}': {e}"),
            })?;
        self.published.fetch_add(1, Ordering::Relaxed);
        if self.qos == QoS::AtLeastOnce {
            self.sent_in_epoch += 1;
            self.unflushed.push(Unflushed { topic, payload, properties });
        }
        Ok(())
    }
}

/// The topic for a record: `${inputTopic}` and `${inputTopic.N}` expanded.
pub(crate) fn expand_topic(pattern: &str, input: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return Err(format!("unclosed '${{' in topic '{pattern}'"));
        };
        let name = &rest[start + 2..start + end];
        if name == "inputTopic" {
            out.push_str(input);
        } else if let Some(n) = name.strip_prefix("inputTopic.") {
            let n: usize = n.parse().map_err(|_| format!("'${{{name}}}' in topic '{pattern}': expected a level number"))?;
            let level = input.split('/').nth(n.wrapping_sub(1)).ok_or_else(|| {
                format!("topic '{pattern}': the input topic '{input}' has no level {n}")
            })?;
            out.push_str(level);
        } else {
            return Err(format!("unknown variable '${{{name}}}' in topic '{pattern}' (use ${{inputTopic}} or ${{inputTopic.N}})"));
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    if out.is_empty() || out.contains(['+', '#']) {
        return Err(format!("'{out}' is not a topic one can publish to (from '{pattern}')"));
    }
    Ok(out)
}

/// Payload and MQTT properties for a record: reserved user properties become
/// the response topic and correlation data, and `__ts` is the record's time.
pub(crate) fn to_publish(record: &Record) -> (Option<&Bytes>, Bytes, PublishProperties) {
    let mut props = PublishProperties::default();
    let topic = match &record.data {
        DataModel::Message(m) => {
            props.content_type = m.content_type.clone();
            for (k, v) in &m.user_properties {
                match k.as_str() {
                    TIMESTAMP => {}
                    RESPONSE_TOPIC => props.response_topic = Some(v.clone()),
                    CORRELATION_DATA => match base64::engine::general_purpose::STANDARD.decode(v) {
                        Ok(data) => props.correlation_data = Some(Bytes::from(data)),
                        Err(_) => props.correlation_data = Some(Bytes::from(v.clone().into_bytes())),
                    },
                    _ => props.user_properties.push((k.clone(), v.clone())),
                }
            }
            Some(&m.topic)
        }
        DataModel::Snapshot(_) | DataModel::BufferOrBytes(_) => None,
    };
    props.user_properties.push((TIMESTAMP.to_owned(), record.time.to_wire()));
    (topic, record.data.payload().clone(), props)
}

impl Sink for MqttSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        let (input_topic, payload, properties) = to_publish(record);
        let input = input_topic.map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default();
        let topic = expand_topic(&self.config.topic, &input).map_err(ConnectorError::Config)?;
        self.publish(topic, payload, properties)
    }

    /// Wait until the broker has acknowledged every QoS 1 publish since the
    /// last flush (re-sending them if the broker lost our session meanwhile).
    fn flush(&mut self) -> Result<(), ConnectorError> {
        if self.unflushed.is_empty() {
            return Ok(());
        }
        let endpoint = self.config.connection.endpoint();
        let mut last_note = Instant::now();
        loop {
            let resend = {
                let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(message) = &state.fatal {
                        return Err(ConnectorError::Connection { endpoint, message: message.clone() });
                    }
                    if !state.refused.is_empty() {
                        let refused = std::mem::take(&mut state.refused);
                        return Err(ConnectorError::Connection {
                            endpoint,
                            message: format!("the broker refused {} publish(es): {}", refused.len(), refused.join("; ")),
                        });
                    }
                    if state.epoch != self.epoch {
                        self.epoch = state.epoch;
                        break true;
                    }
                    if state.acked >= self.sent_in_epoch {
                        state.acked -= self.sent_in_epoch;
                        self.sent_in_epoch = 0;
                        self.unflushed.clear();
                        return Ok(());
                    }
                    if last_note.elapsed() > Duration::from_secs(5) {
                        tracing::warn!(
                            %endpoint,
                            waiting = self.sent_in_epoch - state.acked,
                            connected = state.connected,
                            "MQTT sink still waiting for PUBACKs"
                        );
                        last_note = Instant::now();
                    }
                    state = self
                        .shared
                        .changed
                        .wait_timeout(state, Duration::from_millis(500))
                        .map(|(s, _)| s)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
            };
            if resend {
                tracing::warn!(%endpoint, count = self.unflushed.len(), "the broker lost the MQTT sink's session; publishing again");
                self.sent_in_epoch = 0;
                for item in std::mem::take(&mut self.unflushed) {
                    self.publish(item.topic, item.payload, item.properties)?;
                }
            }
        }
    }

    fn describe(&self) -> String {
        format!("mqtt {} topic {}", self.config.connection.endpoint(), self.config.topic)
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        let client = self.client.clone();
        let task = self.task.take();
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), client.disconnect()).await;
            if let Some(task) = task {
                let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
            }
        });
    }
}

async fn drive(mut eventloop: EventLoop, shared: Arc<Shared>, (min, max): (Duration, Duration), endpoint: String) {
    let mut delay = min;
    let mut ever_connected = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                delay = min;
                tracing::info!(%endpoint, session_present = ack.session_present, "MQTT sink connected");
                let lost = ever_connected && !ack.session_present;
                ever_connected = true;
                shared.update(|s| {
                    s.connected = true;
                    if lost {
                        s.epoch += 1;
                        s.acked = 0;
                    }
                });
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                let ok = matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers);
                shared.update(|s| {
                    if ok {
                        s.acked += 1;
                    } else {
                        s.refused.push(format!("{:?}", ack.reason));
                    }
                });
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) if shared.closing.load(Ordering::Acquire) => {
                let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
                return;
            }
            Ok(_) => {}
            Err(err) => {
                if shared.closing.load(Ordering::Acquire) {
                    return;
                }
                shared.update(|s| s.connected = false);
                if let rumqttc::v5::ConnectionError::ConnectionRefused(code) = &err {
                    if !ever_connected {
                        let message = format!("the broker refused the connection: {code:?}");
                        shared.update(|s| s.fatal = Some(message));
                        return;
                    }
                }
                tracing::warn!(%endpoint, "MQTT sink: {err}; reconnecting in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = next_backoff(delay, max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgraph_types::{Hlc, Message};

    #[test]
    fn topic_variables() {
        assert_eq!(expand_topic("out/${inputTopic}", "a/b").unwrap(), "out/a/b");
        assert_eq!(expand_topic("x/${inputTopic.2}/y", "a/b/c").unwrap(), "x/b/y");
        assert!(expand_topic("x/${inputTopic.9}", "a").is_err());
        assert!(expand_topic("x/${other}", "a").is_err());
        assert!(expand_topic("x/#", "a").is_err());
    }

    #[test]
    fn reserved_properties_become_mqtt_properties() {
        let msg = Message {
            topic: Bytes::from_static(b"in/1"),
            payload: Bytes::from_static(b"p"),
            content_type: Some("text/plain".into()),
            user_properties: vec![
                ("k".into(), "v".into()),
                ("__ts".into(), "1:1:old".into()),
                (RESPONSE_TOPIC.into(), "r/t".into()),
                (CORRELATION_DATA.into(), "AQID".into()),
            ],
            ..Message::default()
        };
        let record = Record::message(Hlc::new(5_000_000, 2, "n"), 0, msg);
        let (topic, payload, props) = to_publish(&record);
        assert_eq!(&topic.unwrap()[..], b"in/1");
        assert_eq!(&payload[..], b"p");
        assert_eq!(props.response_topic.as_deref(), Some("r/t"));
        assert_eq!(props.correlation_data.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(props.content_type.as_deref(), Some("text/plain"));
        assert_eq!(props.user_properties, vec![("k".to_string(), "v".to_string()), ("__ts".to_string(), "5:2:n".to_string())]);
    }
}

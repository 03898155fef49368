//! The MQTT source: subscribe, hand messages to the engine, PUBACK on `ack`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish, RetainForwardRule};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop};
use rumqttc::Outgoing;
use wasmgraph_types::{DataModel, Hlc, Message};

use super::config::{qos, MqttSourceConfig};
use super::{next_backoff, runtime, CORRELATION_DATA, RESPONSE_TOPIC, TIMESTAMP};
use crate::{ConnectorError, Incoming, Poll, Source};

/// What the source has seen, shared so a caller can read it during and after a run.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Messages received from the broker (duplicates included).
    pub received: AtomicU64,
    /// Messages dropped because their payload was over the size limit.
    pub oversized: AtomicU64,
    /// PUBACKs sent.
    pub acked: AtomicU64,
    /// Acknowledgements not sent because the connection they belonged to is
    /// gone (the broker delivers those messages again).
    pub stale_acks: AtomicU64,
    /// Successful connections (the first one included).
    pub connects: AtomicU64,
}

/// State shared with the event-loop task.
#[derive(Debug, Default)]
struct Shared {
    /// Connection generation: bumped on every CONNACK. A token from an older
    /// generation must not be acknowledged on the new connection.
    generation: AtomicU64,
    subscribed: AtomicBool,
    closing: AtomicBool,
    fatal: Mutex<Option<String>>,
}

struct Delivery {
    generation: u64,
    publish: Publish,
}

struct Pending {
    token: u64,
    done: bool,
}

/// Reads messages from MQTT topic filters, with manual acknowledgements.
pub struct MqttSource {
    config: MqttSourceConfig,
    runtime: tokio::runtime::Runtime,
    client: AsyncClient,
    rx: Receiver<Delivery>,
    shared: Arc<Shared>,
    counters: Arc<SourceCounters>,
    stop: Arc<AtomicBool>,
    /// QoS 1 messages handed out (or dropped), in arrival order, until PUBACKed.
    outstanding: VecDeque<Pending>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MqttSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSource").field("config", &self.config).finish_non_exhaustive()
    }
}

fn token(generation: u64, pkid: u16) -> u64 {
    (generation << 16) | pkid as u64
}

impl MqttSource {
    /// Start connecting and subscribing (in the background; reconnecting with
    /// backoff). Fails only on settings that can never work.
    pub fn connect(config: MqttSourceConfig) -> Result<Self, ConnectorError> {
        let endpoint = config.connection.endpoint();
        if config.topics.is_empty() {
            return Err(ConnectorError::Config(format!("{endpoint}: the MQTT source needs at least one topic")));
        }
        let qos = qos(config.qos, &endpoint)?;
        let options = config.connection.options(qos == QoS::AtLeastOnce, config.receive_maximum)?;
        let filters: Vec<Filter> = config
            .topics
            .iter()
            .map(|t| {
                let mut f = Filter::new(t.clone(), qos);
                f.retain_forward_rule = RetainForwardRule::OnNewSubscribe;
                f
            })
            .collect();
        let runtime = runtime("mqtt-source")?;
        let (client, eventloop) = {
            let _guard = runtime.enter();
            AsyncClient::new(options, 16_384)
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared::default());
        let counters = Arc::new(SourceCounters::default());
        let task = runtime.spawn(drive(
            eventloop,
            client.clone(),
            filters,
            tx,
            shared.clone(),
            counters.clone(),
            (config.connection.reconnect_min, config.connection.reconnect_max),
            endpoint,
        ));
        Ok(MqttSource {
            config,
            runtime,
            client,
            rx,
            shared,
            counters,
            stop: Arc::new(AtomicBool::new(false)),
            outstanding: VecDeque::new(),
            task: Some(task),
        })
    }

    /// Counters of received, oversized and acknowledged messages.
    pub fn counters(&self) -> Arc<SourceCounters> {
        self.counters.clone()
    }

    /// Set it to make the source end: `poll` then returns [`Poll::End`], the
    /// engine finishes what is in flight and acknowledges it. Messages not yet
    /// polled stay unacknowledged and come again on the next start.
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Wait until the broker has confirmed the subscriptions (true), a fatal
    /// error happened or `timeout` passed (false).
    pub fn wait_subscribed(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.shared.subscribed.load(Ordering::Acquire) {
                return true;
            }
            if self.shared.fatal.lock().map(|f| f.is_some()).unwrap_or(true) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.shared.subscribed.load(Ordering::Acquire)
    }

    fn fatal(&self) -> Option<String> {
        self.shared.fatal.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Turn one delivery into an incoming message, or drop it when too large.
    fn accept(&mut self, delivery: Delivery, out: &mut Vec<Incoming>) {
        let Delivery { generation, publish } = delivery;
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let ack = (publish.qos != QoS::AtMostOnce).then(|| token(generation, publish.pkid));
        if publish.payload.len() > self.config.max_message_size {
            self.counters.oversized.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                topic = %String::from_utf8_lossy(&publish.topic),
                size = publish.payload.len(),
                limit = self.config.max_message_size,
                "MQTT message over the size limit: counted and dropped"
            );
            if let Some(token) = ack {
                self.outstanding.push_back(Pending { token, done: true });
            }
            return;
        }
        if let Some(token) = ack {
            self.outstanding.push_back(Pending { token, done: false });
        }
        let (message, time) = to_message(publish);
        out.push(Incoming { data: DataModel::Message(message), time, ack });
    }

    /// PUBACK every finished message at the front of the queue, in order.
    fn release(&mut self) -> Result<(), ConnectorError> {
        let current = self.shared.generation.load(Ordering::Acquire);
        while self.outstanding.front().is_some_and(|p| p.done) {
            let Some(pending) = self.outstanding.pop_front() else { break };
            if pending.token >> 16 != current {
                self.counters.stale_acks.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut ack = Publish::new("", QoS::AtLeastOnce, Vec::new(), None);
            ack.pkid = pending.token as u16;
            self.runtime.block_on(self.client.ack(&ack)).map_err(|e| ConnectorError::Connection {
                endpoint: self.config.connection.endpoint(),
                message: format!("sending PUBACK: {e}"),
            })?;
            self.counters.acked.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The message for a PUBLISH, and its `__ts` time if it carries one.
fn to_message(publish: Publish) -> (Message, Option<Hlc>) {
    let mut time = None;
    let mut user_properties = Vec::new();
    let mut content_type = None;
    if let Some(props) = publish.properties {
        for (key, value) in props.user_properties {
            if key == TIMESTAMP {
                match Hlc::parse_wire(&value) {
                    Some(t) => time = Some(t),
                    None => tracing::warn!(value, "ignoring a malformed __ts user property"),
                }
            } else {
                user_properties.push((key, value));
            }
        }
        if let Some(topic) = props.response_topic {
            user_properties.push((RESPONSE_TOPIC.to_owned(), topic));
        }
        if let Some(data) = props.correlation_data {
            user_properties.push((CORRELATION_DATA.to_owned(), base64::engine::general_purpose::STANDARD.encode(&data)));
        }
        content_type = props.content_type;
    }
    let message = Message {
        timestamp: time.clone().unwrap_or_else(|| Hlc::new(0, 0, "")),
        topic: publish.topic,
        content_type,
        payload: publish.payload,
        user_properties,
        schema: None,
    };
    (message, time)
}

impl Source for MqttSource {
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Poll, ConnectorError> {
        if let Some(message) = self.fatal() {
            return Err(ConnectorError::Connection { endpoint: self.config.connection.endpoint(), message });
        }
        if self.stop.load(Ordering::Acquire) {
            return Ok(Poll::End);
        }
        // While earlier messages wait for their acknowledgement the broker may
        // hold back new ones (its in-flight window): come back quickly so the
        // engine can finish and acknowledge them.
        let wait = if self.outstanding.iter().any(|p| !p.done) { wait.min(Duration::from_millis(2)) } else { wait };
        let until = Instant::now() + wait;
        let first = loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left.min(Duration::from_millis(50))) {
                Ok(d) => break d,
                Err(RecvTimeoutError::Timeout) if Instant::now() < until && !self.stop.load(Ordering::Acquire) => {}
                Err(RecvTimeoutError::Timeout) => return Ok(Poll::Idle),
                Err(RecvTimeoutError::Disconnected) => {
                    let message = self.fatal().unwrap_or_else(|| "the MQTT connection task ended".into());
                    return Err(ConnectorError::Connection { endpoint: self.config.connection.endpoint(), message });
                }
            }
        };
        let mut out = Vec::new();
        self.accept(first, &mut out);
        while out.len() < max.max(1) {
            match self.rx.try_recv() {
                Ok(d) => self.accept(d, &mut out),
                Err(_) => break,
            }
        }
        self.release()?;
        Ok(if out.is_empty() { Poll::Idle } else { Poll::Data(out) })
    }

    fn describe(&self) -> String {
        format!("mqtt {} topics {}", self.config.connection.endpoint(), self.config.topics.join(", "))
    }

    fn ack(&mut self, tokens: &[u64]) -> Result<(), ConnectorError> {
        for &t in tokens {
            // Tokens come in poll order, so the match is almost always at the front.
            if let Some(p) = self.outstanding.iter_mut().find(|p| p.token == t && !p.done) {
                p.done = true;
            }
        }
        self.release()
    }
}

impl Drop for MqttSource {
    fn drop(&mut self) {
        // Send what is queued (PUBACKs first, they are ahead in the channel),
        // then DISCONNECT, and give the task a moment to write it.
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

#[allow(clippy::too_many_arguments)]
async fn drive(
    mut eventloop: EventLoop,
    client: AsyncClient,
    filters: Vec<Filter>,
    tx: Sender<Delivery>,
    shared: Arc<Shared>,
    counters: Arc<SourceCounters>,
    (min, max): (Duration, Duration),
    endpoint: String,
) {
    let mut delay = min;
    let mut generation = 0u64;
    let mut ever_connected = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
                counters.connects.fetch_add(1, Ordering::Relaxed);
                delay = min;
                ever_connected = true;
                tracing::info!(%endpoint, session_present = ack.session_present, "MQTT source connected");
                // Subscribing again on a resumed session replaces the
                // subscriptions with the same ones; queued messages stay.
                shared.subscribed.store(false, Ordering::Release);
                if let Err(e) = client.try_subscribe_many(filters.clone()) {
                    tracing::error!(%endpoint, "cannot queue SUBSCRIBE: {e}");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused: Vec<String> = ack
                    .return_codes
                    .iter()
                    .zip(&filters)
                    .filter(|(code, _)| !matches!(code, rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(_)))
                    .map(|(code, f)| format!("'{}' ({code:?})", f.path))
                    .collect();
                if refused.is_empty() {
                    tracing::info!(%endpoint, "MQTT source subscribed");
                    shared.subscribed.store(true, Ordering::Release);
                } else {
                    let message = format!("the broker refused the subscription to {}", refused.join(", "));
                    shared.fatal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(message);
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if tx.send(Delivery { generation, publish }).is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Disconnect(d))) => {
                tracing::warn!(%endpoint, reason = ?d.reason_code, "the broker closed the MQTT source's connection");
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) if shared.closing.load(Ordering::Acquire) => {
                // Let the DISCONNECT reach the socket before the task ends.
                let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
                return;
            }
            Ok(_) => {}
            Err(err) => {
                if shared.closing.load(Ordering::Acquire) {
                    return;
                }
                if let ConnectionError::ConnectionRefused(code) = &err {
                    if !ever_connected {
                        let message = format!("the broker refused the connection: {code:?}");
                        shared.fatal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(message);
                        return;
                    }
                }
                tracing::warn!(%endpoint, "MQTT source: {err}; reconnecting in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = next_backoff(delay, max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::v5::mqttbytes::v5::PublishProperties;
    use wasmgraph_types::Bytes;

    #[test]
    fn properties_and_time_come_across() {
        let mut publish = Publish::new(
            "a/b",
            QoS::AtLeastOnce,
            b"{}".to_vec(),
            Some(PublishProperties {
                user_properties: vec![("k".into(), "v".into()), ("__ts".into(), "1700000000123:4:n1".into())],
                content_type: Some("application/json".into()),
                response_topic: Some("reply/here".into()),
                correlation_data: Some(Bytes::from_static(&[1, 2, 3])),
                ..PublishProperties::default()
            }),
        );
        publish.pkid = 7;
        let (m, time) = to_message(publish);
        let time = time.unwrap();
        assert_eq!((time.nanos, time.counter, &*time.node_id), (1_700_000_000_123_000_000, 4, "n1"));
        assert_eq!(&m.topic[..], b"a/b");
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            m.user_properties,
            vec![
                ("k".to_string(), "v".to_string()),
                (RESPONSE_TOPIC.to_string(), "reply/here".to_string()),
                (CORRELATION_DATA.to_string(), "AQID".to_string()),
            ]
        );
    }

    #[test]
    fn tokens_carry_generation_and_packet_id() {
        let t = token(3, 65535);
        assert_eq!(t >> 16, 3);
        assert_eq!(t as u16, 65535);
    }
}

//! The MQTT sink: publish records with QoS 1; `flush` waits for the PUBACKs.
//!
//! `write` only encodes the record's topic, payload and properties and keeps
//! the publish; `flush` hands everything written since the last flush to the
//! connection task (on the shared `mqtt-io` thread, see [`super::client`]) in
//! one go and waits until the broker has acknowledged all of it. The task
//! writes the whole batch with one call, keeps up to the broker's receive
//! maximum in flight, and wakes the flushing thread once, when the last
//! PUBACK it waits for has come, not for every PUBACK.
//!
//! The task keeps every QoS 1 publish until its PUBACK: when the connection
//! breaks it sends them all again after reconnecting (with DUP set when the
//! broker kept our session), so a `flush` that returned means the broker has
//! every message, whatever happened to the connection meanwhile.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rumqttc::tokio_rustls;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason, Publish};
use rumqttc::v5::mqttbytes::QoS;
use wasmgraph_types::{Bytes, Record};

use super::client::{
    io_runtime, let_more_arrive, reconnecting, tls_connector, validate, KeepAlive, Link, LinkError, TaskControl,
};
use super::config::{qos, MqttConnection, MqttSinkConfig};
use super::message::to_publish;
use crate::{ConnectorError, Sink};

/// Publishes handed to the task at most this many at a time without a flush
/// (a caller that writes without flushing still gets them sent).
const HANDOFF: usize = 256;
/// PUBACKs still awaited above which the task lets more arrive before
/// reading again (see `let_more_arrive`).
const MANY_TO_GO: u64 = 32;
/// `write` blocks while the task holds this many unsent publishes.
const MAX_QUEUED: usize = 1 << 16;

/// What the sink and its connection task share.
#[derive(Debug, Default)]
struct State {
    /// Publishes for the task to send, in order.
    queue: VecDeque<Publish>,
    /// QoS 1 publishes that got their PUBACK (or were refused), ever.
    completed: u64,
    /// The flushing thread waits for `completed` to reach this (0: nobody waits).
    wait_for: u64,
    /// The writing thread waits for the queue to shrink.
    queue_full: bool,
    /// Publishes the broker refused (PUBACK with an error, or too large).
    refused: Vec<String>,
    connected: bool,
    fatal: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// The sink's thread waits here (connected, flush, full queue).
    changed: Condvar,
    /// Wakes and stops the connection task.
    task: TaskControl,
    /// The largest packet the broker accepts (its CONNACK's maximum packet
    /// size; 0: it states none): `write` refuses a larger publish up front,
    /// as a per-record failure, instead of the task failing on it later.
    max_packet: std::sync::atomic::AtomicU32,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait (at most 500 ms, so callers re-check the task) for the state to change.
    fn wait_changed<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait_timeout(state, Duration::from_millis(500))
            .map(|(s, _)| s)
            .unwrap_or_else(|e| e.into_inner().0)
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state());
        self.changed.notify_all();
    }
}

/// Publishes every record to a topic.
pub struct MqttSink {
    config: MqttSinkConfig,
    qos: QoS,
    shared: Arc<Shared>,
    /// Written, not yet handed to the task.
    batch: Vec<Publish>,
    /// QoS 1 publishes handed to the task, ever: `flush` waits until that
    /// many have completed.
    handed: u64,
    /// The topic when it has no variables (most sinks): built once.
    fixed_topic: Option<Bytes>,
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
        validate(&config.connection)?;
        let fixed_topic = if config.topic.contains("${") {
            None
        } else {
            Some(Bytes::from(expand_topic(&config.topic, "").map_err(ConnectorError::Config)?.into_bytes()))
        };
        let tls = tls_connector(&config.connection)?;
        let shared = Arc::new(Shared::default());
        let published = Arc::new(AtomicU64::new(0));
        let task = io_runtime()?.spawn(drive(Task {
            connection: config.connection.clone(),
            tls,
            shared: shared.clone(),
            published: published.clone(),
            endpoint,
        }));
        Ok(MqttSink { config, qos, shared, batch: Vec::new(), handed: 0, fixed_topic, published, task: Some(task) })
    }

    /// Wait until connected; an error if the broker refused us or `timeout` passed.
    pub fn wait_connected(&self, timeout: Duration) -> Result<(), ConnectorError> {
        let until = Instant::now() + timeout;
        let endpoint = self.config.connection.endpoint();
        let mut state = self.shared.state();
        loop {
            if let Some(message) = &state.fatal {
                return Err(ConnectorError::Connection { endpoint, message: message.clone() });
            }
            if state.connected {
                return Ok(());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ConnectorError::Connection {
                    endpoint,
                    message: format!("not connected after {timeout:?}"),
                });
            }
            state = self.shared.changed.wait_timeout(state, left).map(|(s, _)| s).unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// How many publishes the sink has made (re-sends included); shared.
    pub fn published(&self) -> Arc<AtomicU64> {
        self.published.clone()
    }

    fn error(&self, message: String) -> ConnectorError {
        ConnectorError::Connection { endpoint: self.config.connection.endpoint(), message }
    }

    /// Give the written publishes to the task and wake it.
    /// With `bounded`, wait while the task holds [`MAX_QUEUED`] unsent publishes.
    fn hand_over(&mut self, bounded: bool) -> Result<(), ConnectorError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut state = self.shared.state();
        // Bound the memory a sink that is written faster than the broker
        // takes can hold.
        while bounded && state.queue.len() >= MAX_QUEUED && state.fatal.is_none() {
            state.queue_full = true;
            self.shared.task.wake.notify_one();
            state = self.shared.wait_changed(state);
        }
        if let Some(message) = &state.fatal {
            return Err(self.error(message.clone()));
        }
        if self.qos == QoS::AtLeastOnce {
            self.handed += self.batch.len() as u64;
        }
        state.queue.extend(self.batch.drain(..));
        drop(state);
        self.shared.task.wake.notify_one();
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
            let n: usize =
                n.parse().map_err(|_| format!("'${{{name}}}' in topic '{pattern}': expected a level number"))?;
            let level = input
                .split('/')
                .nth(n.wrapping_sub(1))
                .ok_or_else(|| format!("topic '{pattern}': the input topic '{input}' has no level {n}"))?;
            out.push_str(level);
        } else {
            return Err(format!(
                "unknown variable '${{{name}}}' in topic '{pattern}' (use ${{inputTopic}} or ${{inputTopic.N}})"
            ));
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    if out.is_empty() || out.contains(['+', '#']) {
        return Err(format!("'{out}' is not a topic one can publish to (from '{pattern}')"));
    }
    Ok(out)
}

impl Sink for MqttSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        let (input_topic, payload, properties) = to_publish(record, self.config.source_id.as_deref());
        let topic = match &self.fixed_topic {
            Some(topic) => topic.clone(),
            None => {
                let input = input_topic.map(|t| String::from_utf8_lossy(t)).unwrap_or_default();
                Bytes::from(
                    expand_topic(&self.config.topic, input.as_ref()).map_err(ConnectorError::Record)?.into_bytes(),
                )
            }
        };
        let mut publish = Publish::new("", self.qos, payload, Some(properties));
        publish.topic = topic;
        publish.retain = self.config.retain;
        let max = self.shared.max_packet.load(Ordering::Relaxed);
        if max > 0 && publish.size() > max as usize {
            return Err(ConnectorError::Record(format!(
                "a {} byte publish to '{}' is larger than {} allows ({max} bytes)",
                publish.size(),
                String::from_utf8_lossy(&publish.topic),
                self.config.connection.endpoint()
            )));
        }
        self.batch.push(publish);
        if self.batch.len() >= HANDOFF {
            self.hand_over(true)?;
        }
        Ok(())
    }

    /// Wait until the broker has acknowledged every QoS 1 publish written so
    /// far (the task sends them again if the connection breaks meanwhile).
    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.hand_over(true)?;
        let target = self.handed;
        let endpoint = self.config.connection.endpoint();
        let mut last_note = Instant::now();
        let mut state = self.shared.state();
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
            if state.completed >= target {
                state.wait_for = 0;
                return Ok(());
            }
            if last_note.elapsed() > Duration::from_secs(5) {
                tracing::warn!(
                    %endpoint,
                    waiting = target - state.completed,
                    connected = state.connected,
                    "MQTT sink still waiting for PUBACKs"
                );
                last_note = Instant::now();
            }
            if self.task.as_ref().is_none_or(|t| t.is_finished()) {
                return Err(ConnectorError::Connection { endpoint, message: "the MQTT connection task ended".into() });
            }
            state.wait_for = target;
            state = self.shared.wait_changed(state);
        }
    }

    fn describe(&self) -> String {
        format!("mqtt {} topic {}", self.config.connection.endpoint(), self.config.topic)
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        // What was written but never flushed is still sent (not waited for).
        let _ = self.hand_over(false);
        self.shared.task.shut_down(self.task.take());
    }
}

/// What the connection task needs.
struct Task {
    connection: MqttConnection,
    tls: Option<tokio_rustls::TlsConnector>,
    shared: Arc<Shared>,
    published: Arc<AtomicU64>,
    endpoint: String,
}

/// QoS 1 publishes sent and not yet acknowledged, in the order sent.
#[derive(Default)]
struct InFlight {
    sent: VecDeque<Publish>,
    /// Which packet ids are taken.
    used: Vec<bool>,
    next: u16,
}

impl InFlight {
    fn new() -> Self {
        InFlight { sent: VecDeque::new(), used: vec![false; 1 << 16], next: 0 }
    }

    /// A free packet id (1..=65535); there is one while fewer than 65535 are in flight.
    fn take_id(&mut self) -> u16 {
        loop {
            self.next = self.next.wrapping_add(1).max(1);
            if !self.used[self.next as usize] {
                self.used[self.next as usize] = true;
                return self.next;
            }
        }
    }

    /// The publish acknowledged by `pkid`, if we sent one with that id.
    fn complete(&mut self, pkid: u16) -> Option<Publish> {
        // The broker acknowledges in order: the match is almost always first.
        let i = self.sent.iter().position(|p| p.pkid == pkid)?;
        self.used[pkid as usize] = false;
        self.sent.remove(i)
    }
}

/// Connect and publish; reconnect with backoff until the sink is dropped or
/// the broker refuses us on the first connection.
async fn drive(task: Task) {
    let task = &task;
    // Publishes sent and not acknowledged, and those taken from the shared
    // queue but not yet sent (the in-flight window was full): both outlive a
    // broken connection.
    let kept = (InFlight::new(), VecDeque::<Publish>::new());
    reconnecting(
        "MQTT sink",
        &task.endpoint,
        &task.connection,
        task.tls.as_ref(),
        1000,
        &task.shared.task,
        kept,
        move |link, (mut inflight, mut waiting)| async move {
            let result = session(task, link, &mut inflight, &mut waiting).await;
            task.shared.update(|s| s.connected = false);
            ((inflight, waiting), result)
        },
        |message| task.shared.update(|s| s.fatal = Some(message)),
    )
    .await
}

/// One connection's life: `Ok` when the sink closed it, `Err` when it broke.
async fn session(
    task: &Task,
    mut link: Link,
    inflight: &mut InFlight,
    waiting: &mut VecDeque<Publish>,
) -> Result<(), LinkError> {
    let shared = &task.shared;
    let endpoint = &task.endpoint;
    let resumed = link.limits.session_present;
    shared.max_packet.store(link.limits.max_packet_size.unwrap_or(0), Ordering::Relaxed);
    tracing::info!(%endpoint, session_present = resumed, "MQTT sink connected");
    if !inflight.sent.is_empty() {
        // Unacknowledged publishes of the broken connection: the same again
        // (a resumed session knows their ids: DUP), or as new ones.
        tracing::warn!(%endpoint, count = inflight.sent.len(), resumed, "MQTT sink: publishing unacknowledged messages again");
        for publish in inflight.sent.iter_mut() {
            publish.dup = resumed;
            link.queue(&Packet::Publish(publish.clone()))?;
        }
        task.published.fetch_add(inflight.sent.len() as u64, Ordering::Relaxed);
    }
    link.flush().await?;
    shared.update(|s| s.connected = true);
    let window = usize::from(link.limits.receive_maximum);
    let mut keep_alive = KeepAlive::new(task.connection.keep_alive);
    let mut packets = Vec::new();
    enum Wake {
        Read(Result<(), LinkError>),
        Queue,
        Ping,
    }
    // Publishes may have been queued while we were not connected.
    let mut take_queue = true;
    loop {
        let wake = if std::mem::take(&mut take_queue) {
            Wake::Queue
        } else {
            tokio::select! {
                r = link.read_packets(&mut packets) => Wake::Read(r),
                _ = shared.task.wake.notified() => Wake::Queue,
                _ = keep_alive.due() => Wake::Ping,
            }
        };
        match wake {
            Wake::Read(result) => {
                result?;
                let read_count = packets.len();
                let (mut done, mut refused) = (0u64, Vec::new());
                for packet in packets.drain(..) {
                    match packet {
                        Packet::PubAck(ack) => {
                            if inflight.complete(ack.pkid).is_none() {
                                continue;
                            }
                            done += 1;
                            if !matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers) {
                                refused.push(format!("{:?}", ack.reason));
                            }
                        }
                        Packet::PingResp(_) => keep_alive.pong(),
                        Packet::Disconnect(d) => {
                            tracing::warn!(%endpoint, reason = ?d.reason_code, "the broker closed the MQTT sink's connection");
                        }
                        Packet::ConnAck(_) => return Err(LinkError::Other("unexpected CONNACK".into())),
                        _ => {}
                    }
                }
                if done > 0 {
                    let mut state = shared.state();
                    state.completed += done;
                    state.refused.append(&mut refused);
                    // Wake the flushing thread once, when all it waits for is in.
                    if (state.wait_for > 0 && state.completed >= state.wait_for) || !state.refused.is_empty() {
                        shared.changed.notify_all();
                    }
                    // Many PUBACKs still to come before the flush can return:
                    // no hurry for the next ones.
                    let to_go = state.wait_for.saturating_sub(state.completed);
                    drop(state);
                    if to_go > MANY_TO_GO {
                        let_more_arrive(read_count);
                    }
                }
            }
            Wake::Queue => {
                let mut state = shared.state();
                waiting.extend(state.queue.drain(..));
                if std::mem::take(&mut state.queue_full) {
                    shared.changed.notify_all();
                }
            }
            Wake::Ping => keep_alive.ping(&mut link, true)?,
        }
        // Send what the window allows.
        let mut too_large = Vec::new();
        while inflight.sent.len() < window {
            let Some(mut publish) = waiting.pop_front() else { break };
            if publish.qos == QoS::AtLeastOnce {
                publish.pkid = inflight.take_id();
            }
            let packet = Packet::Publish(publish);
            let queued = link.queue(&packet);
            let Packet::Publish(publish) = packet else { unreachable!("built as a PUBLISH just above") };
            if let Err(e) = queued {
                if publish.qos == QoS::AtLeastOnce {
                    inflight.used[publish.pkid as usize] = false;
                }
                // Too large for the broker: refused, never sent.
                too_large.push((publish.qos, e.to_string()));
                continue;
            }
            task.published.fetch_add(1, Ordering::Relaxed);
            if publish.qos == QoS::AtLeastOnce {
                inflight.sent.push_back(publish);
            }
        }
        if !too_large.is_empty() {
            let qos1 = too_large.iter().filter(|(q, _)| *q == QoS::AtLeastOnce).count() as u64;
            shared.update(|s| {
                s.completed += qos1;
                s.refused.extend(too_large.into_iter().map(|(_, e)| e));
            });
        }
        if link.has_output() {
            link.flush().await?;
        }
        if shared.task.is_closing() {
            // The sink's last hand-over may not have been taken yet (this
            // turn may have been a read): take it, send it, then close.
            if !shared.state().queue.is_empty() {
                take_queue = true;
                continue;
            }
            // Best effort for what never was flushed: sent, not waited for.
            link.close().await;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_variables() {
        assert_eq!(expand_topic("out/${inputTopic}", "a/b").unwrap(), "out/a/b");
        assert_eq!(expand_topic("x/${inputTopic.2}/y", "a/b/c").unwrap(), "x/b/y");
        assert!(expand_topic("x/${inputTopic.9}", "a").is_err());
        assert!(expand_topic("x/${other}", "a").is_err());
        assert!(expand_topic("x/#", "a").is_err());
    }
}

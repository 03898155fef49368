//! The MQTT source: subscribe, hand messages to the engine in batches, PUBACK
//! on `ack`.
//!
//! The connection task (on the shared `mqtt-io` thread, see
//! [`super::client`]) decodes everything a socket read brought, turns the
//! PUBLISHes into [`Incoming`] messages and appends them to an inbox with one
//! lock; it wakes the engine only when the engine is waiting for input. The
//! engine's acknowledgements go the other way the same way: [`Source::ack`]
//! appends the packet ids to an outbox and wakes the task once, which writes
//! all their PUBACKs with one call.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rumqttc::tokio_rustls;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, PubAck, Publish, RetainForwardRule, Subscribe, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use wasmgraph_types::DataModel;

use super::client::{
    io_runtime, let_more_arrive, reconnecting, tls_connector, validate, KeepAlive, Link, LinkError, TaskControl,
};
use super::config::{qos, MqttConnection, MqttSourceConfig};
use super::drain::{self, Drain};
use super::message::to_message;
use crate::{ConnectorError, Incoming, Poll, Source};

/// Messages waiting for the engine above which the connection task lets more
/// arrive before reading again (see `let_more_arrive`).
const BACKLOG: usize = 64;
/// Messages waiting for the engine above which the connection task stops
/// reading the socket until the engine takes some: QoS 0 has no flow control
/// (QoS 1 stops at the receive maximum), and this keeps memory bounded by
/// leaving the rest to TCP and the broker.
const MAX_INBOX: usize = 16_384;

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
    /// Drain markers the broker delivered at QoS 1, so that they were
    /// acknowledged too (`acked` counts them; the summary does not).
    pub acked_markers: AtomicU64,
}

/// A message from the connection task, ready for the engine.
#[derive(Debug)]
struct Delivery {
    /// The acknowledgement token (QoS 1), see [`token`].
    token: Option<u64>,
    content: Content,
}

#[derive(Debug)]
enum Content {
    /// A message for the engine.
    Message(Incoming),
    /// The topic and size of a message over the size limit.
    Oversized(String, usize),
    /// A message that looks like a drain marker (`mqtt::drain`): the source
    /// decides, and hands it on as a message if it is not one of its own.
    Marker(Publish),
}

/// Messages waiting for the engine.
#[derive(Debug, Default)]
struct Inbox {
    items: VecDeque<Delivery>,
    /// The engine is blocked in `poll` waiting for the first message.
    waiting: bool,
    /// A failure that ends the source (refused connection or subscription).
    fatal: Option<String>,
    /// The thread that polls. When it is not waiting in `poll` it may be
    /// parked elsewhere (timely's `step_or_park` parks the worker between
    /// polls while records are in flight): it is unparked when messages
    /// arrive, so they do not wait for its park to time out.
    poller: Option<std::thread::Thread>,
}

/// State shared between the source and its connection task.
#[derive(Debug, Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    arrived: Condvar,
    /// (connection generation, packet id) of messages to PUBACK.
    outbox: Mutex<Vec<(u64, u16)>>,
    /// Wakes and stops the connection task.
    task: TaskControl,
    /// Connection generation: bumped on every CONNACK. A token from an older
    /// generation must not be acknowledged on the new connection.
    generation: AtomicU64,
    subscribed: AtomicBool,
}

impl Shared {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_fatal(&self, message: String) {
        self.inbox().fatal.get_or_insert(message);
        self.arrived.notify_all();
    }
}

struct Pending {
    token: u64,
    done: bool,
}

/// Reads messages from MQTT topic filters, with manual acknowledgements.
pub struct MqttSource {
    config: MqttSourceConfig,
    shared: Arc<Shared>,
    counters: Arc<SourceCounters>,
    stop: Arc<AtomicBool>,
    /// QoS 1 messages handed out (or dropped), in arrival order, until PUBACKed.
    outstanding: VecDeque<Pending>,
    /// How many entries of `outstanding` are not done yet.
    undone: usize,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The drain under way, once stopped on a broker that needs one.
    draining: Option<Drain>,
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
        validate(&config.connection)?;
        let qos = qos(config.qos, &endpoint)?;
        let filters: Vec<Filter> = config
            .topics
            .iter()
            .map(|t| {
                let mut f = Filter::new(t.clone(), qos);
                f.retain_forward_rule = RetainForwardRule::OnNewSubscribe;
                f
            })
            .collect();
        let tls = tls_connector(&config.connection)?;
        let shared = Arc::new(Shared::default());
        let counters = Arc::new(SourceCounters::default());
        let task = io_runtime()?.spawn(drive(Task {
            connection: config.connection.clone(),
            tls,
            receive_maximum: config.receive_maximum,
            max_message_size: config.max_message_size,
            filters,
            shared: shared.clone(),
            counters: counters.clone(),
            endpoint,
        }));
        Ok(MqttSource {
            config,
            shared,
            counters,
            stop: Arc::new(AtomicBool::new(false)),
            outstanding: VecDeque::new(),
            undone: 0,
            task: Some(task),
            draining: None,
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
            if self.shared.inbox().fatal.is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.shared.subscribed.load(Ordering::Acquire)
    }

    fn error(&self, message: String) -> ConnectorError {
        ConnectorError::Connection { endpoint: self.config.connection.endpoint(), message }
    }

    /// Take one delivery: a message for the engine, or one dropped as too large.
    fn accept(&mut self, delivery: Delivery, out: &mut Vec<Incoming>) {
        let content = match delivery.content {
            Content::Marker(publish) => self.marker(publish, delivery.token),
            other => other,
        };
        match content {
            Content::Marker(_) => {}
            Content::Message(incoming) => {
                if let Some(token) = delivery.token {
                    self.outstanding.push_back(Pending { token, done: false });
                    self.undone += 1;
                }
                out.push(incoming);
            }
            Content::Oversized(topic, size) => {
                self.counters.oversized.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    topic,
                    size,
                    limit = self.config.max_message_size,
                    "MQTT message over the size limit: counted and dropped"
                );
                if let Some(token) = delivery.token {
                    self.outstanding.push_back(Pending { token, done: true });
                }
            }
        }
    }

    /// A message that looks like a drain marker: counted if it is one of the
    /// drain's (and acknowledged: the broker may deliver it at the
    /// subscription's QoS), else a message like any other.
    fn marker(&mut self, publish: Publish, token: Option<u64>) -> Content {
        match self.draining.as_mut().and_then(|d| Some((d.marker(&publish.payload)?, d))) {
            Some((i, drain)) => {
                drain.arrived(i);
                // `received` counts the stream's messages, not our own markers.
                self.counters.received.fetch_sub(1, Ordering::Relaxed);
                if let Some(token) = token {
                    self.outstanding.push_back(Pending { token, done: true });
                    self.counters.acked_markers.fetch_add(1, Ordering::Relaxed);
                }
                Content::Marker(publish)
            }
            None => Content::Message(incoming(publish, token)),
        }
    }

    /// Asked to stop: whether the source may end now. On a broker that
    /// acknowledges on receipt (the embedded one) only once it is drained:
    /// every message it accepted before it stopped taking more has been
    /// handed to the engine (see `mqtt::drain`).
    fn drained(&mut self) -> bool {
        let Some(broker) = &self.config.connection.freeze else { return true };
        let drain = self.draining.get_or_insert_with(|| {
            tracing::info!("draining the embedded MQTT broker: it refuses new publishes; reading what it accepted");
            Drain::start(broker.as_ref(), &self.config.topics)
        });
        if drain.complete() {
            tracing::info!("the embedded MQTT broker is drained");
            return true;
        }
        if drain.overdue() {
            tracing::warn!(
                missing = drain.missing(),
                "the drain of the embedded MQTT broker timed out after {:?}: messages it accepted may be lost",
                drain::DRAIN_TIMEOUT
            );
            return true;
        }
        false
    }

    /// Hand every finished message at the front of the queue, in order, to
    /// the connection task for its PUBACK.
    fn release(&mut self) {
        let current = self.shared.generation.load(Ordering::Acquire);
        let mut acks = Vec::new();
        while self.outstanding.front().is_some_and(|p| p.done) {
            let Some(pending) = self.outstanding.pop_front() else { break };
            let generation = pending.token >> 16;
            if generation != current {
                self.counters.stale_acks.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            acks.push((generation, pending.token as u16));
        }
        if !acks.is_empty() {
            self.shared.outbox.lock().unwrap_or_else(|e| e.into_inner()).extend(acks);
            self.shared.task.wake.notify_one();
        }
    }
}

impl Source for MqttSource {
    fn stop_handle(&self) -> Option<crate::StopHandle> {
        Some(crate::StopHandle::new(self.stop.clone()))
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        self.wait_subscribed(timeout)
    }

    fn summary(&self) -> Option<String> {
        let c = &self.counters;
        Some(format!(
            "mqtt: received {} message(s), {} over the size limit, {} acknowledged, {} stale ack(s)",
            c.received.load(Ordering::Relaxed),
            c.oversized.load(Ordering::Relaxed),
            c.acked.load(Ordering::Relaxed).saturating_sub(c.acked_markers.load(Ordering::Relaxed)),
            c.stale_acks.load(Ordering::Relaxed),
        ))
    }

    fn poll(&mut self, max: usize, wait: Duration) -> Result<Poll, ConnectorError> {
        if self.stop.load(Ordering::Acquire) && self.drained() {
            return Ok(Poll::End);
        }
        // Asked to stop and not draining: wait no longer.
        let ending = || self.stop.load(Ordering::Acquire) && self.draining.is_none();
        // While earlier messages wait for their acknowledgement the broker may
        // hold back new ones (its in-flight window): come back quickly so the
        // engine can finish and acknowledge them.
        let wait = if self.undone > 0 { wait.min(Duration::from_millis(2)) } else { wait };
        let taken: Vec<Delivery> = {
            let mut inbox = self.shared.inbox();
            if inbox.poller.as_ref().is_none_or(|t| t.id() != std::thread::current().id()) {
                inbox.poller = Some(std::thread::current());
            }
            if inbox.items.is_empty() && inbox.fatal.is_none() && !wait.is_zero() {
                let until = Instant::now() + wait;
                inbox.waiting = true;
                while inbox.items.is_empty() && inbox.fatal.is_none() && !ending() {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() || self.task.as_ref().is_none_or(|t| t.is_finished()) {
                        break;
                    }
                    // In slices, so a stop request is seen soon.
                    inbox = self
                        .shared
                        .arrived
                        .wait_timeout(inbox, left.min(Duration::from_millis(50)))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                inbox.waiting = false;
            }
            if let Some(message) = &inbox.fatal {
                return Err(self.error(message.clone()));
            }
            let full = inbox.items.len() >= MAX_INBOX;
            let n = inbox.items.len().min(max.max(1));
            let taken = inbox.items.drain(..n).collect();
            if full && inbox.items.len() < MAX_INBOX {
                // The connection task stopped reading; it may go on.
                self.shared.task.wake.notify_one();
            }
            taken
        };
        if taken.is_empty() {
            if self.task.as_ref().is_none_or(|t| t.is_finished()) {
                return Err(self.error("the MQTT connection task ended".into()));
            }
            return Ok(Poll::Idle);
        }
        let mut out = Vec::with_capacity(taken.len());
        for delivery in taken {
            self.accept(delivery, &mut out);
        }
        self.release();
        Ok(if out.is_empty() { Poll::Idle } else { Poll::Data(out) })
    }

    fn describe(&self) -> String {
        format!("mqtt {} topics {}", self.config.connection.endpoint(), self.config.topics.join(", "))
    }

    fn ack(&mut self, tokens: &[u64]) -> Result<(), ConnectorError> {
        let mut from = 0;
        for &t in tokens {
            // Tokens come in poll order, so the match is almost always at or
            // just after the previous one.
            let found = self.outstanding.iter().skip(from).position(|p| p.token == t && !p.done).map(|i| i + from);
            let found = found.or_else(|| self.outstanding.iter().position(|p| p.token == t && !p.done));
            if let Some(i) = found {
                self.outstanding[i].done = true;
                self.undone -= 1;
                from = i + 1;
            }
        }
        self.release();
        Ok(())
    }
}

impl Drop for MqttSource {
    fn drop(&mut self) {
        // The task sends the PUBACKs still in the outbox, then DISCONNECT.
        self.shared.task.shut_down(self.task.take());
    }
}

/// What the connection task needs.
struct Task {
    connection: MqttConnection,
    tls: Option<tokio_rustls::TlsConnector>,
    receive_maximum: u16,
    max_message_size: usize,
    filters: Vec<Filter>,
    shared: Arc<Shared>,
    counters: Arc<SourceCounters>,
    endpoint: String,
}

impl Task {
    /// A PUBLISH as the engine will see it.
    fn delivery(&self, generation: u64, publish: Publish) -> Delivery {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let token = (publish.qos != QoS::AtMostOnce).then(|| token(generation, publish.pkid));
        let size = message_size(&publish);
        if size > self.max_message_size {
            let topic = String::from_utf8_lossy(&publish.topic).into_owned();
            return Delivery { token, content: Content::Oversized(topic, size) };
        }
        if drain::may_be_marker(&publish.payload) {
            return Delivery { token, content: Content::Marker(publish) };
        }
        Delivery { token, content: Content::Message(incoming(publish, token)) }
    }
}

/// A PUBLISH as the engine takes it, with its acknowledgement token.
fn incoming(publish: Publish, token: Option<u64>) -> Incoming {
    let (message, time) = to_message(publish);
    Incoming { data: DataModel::Message(message), time, ack: token }
}

/// What counts against `maxMessageSize`: the payload and every property the
/// message carries on into the graph (user properties, content type,
/// response topic, correlation data), so a message cannot bring a megabyte of
/// properties past a 64 KiB limit.
pub(crate) fn message_size(publish: &Publish) -> usize {
    let properties = publish.properties.as_ref().map_or(0, |p| {
        let user: usize = p.user_properties.iter().map(|(k, v)| k.len() + v.len()).sum();
        user + p.content_type.as_ref().map_or(0, String::len)
            + p.response_topic.as_ref().map_or(0, String::len)
            + p.correlation_data.as_ref().map_or(0, |d| d.len())
    });
    publish.payload.len() + properties
}

/// Connect, subscribe, deliver and acknowledge; reconnect with backoff until
/// the source is dropped or the broker refuses us for good.
async fn drive(task: Task) {
    let task = &task;
    reconnecting(
        "MQTT source",
        &task.endpoint,
        &task.connection,
        task.tls.as_ref(),
        task.receive_maximum,
        &task.shared.task,
        (),
        move |link, ()| async move { ((), session(task, link).await) },
        |message| task.shared.set_fatal(message),
    )
    .await
}

/// One connection's life: `Ok` when the source closed it, `Err` when it broke.
async fn session(task: &Task, mut link: Link) -> Result<(), LinkError> {
    let shared = &task.shared;
    let endpoint = &task.endpoint;
    let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
    task.counters.connects.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%endpoint, session_present = link.limits.session_present, "MQTT source connected");
    // Subscribing again on a resumed session replaces the subscriptions with
    // the same ones; queued messages stay.
    shared.subscribed.store(false, Ordering::Release);
    let mut subscribe = Subscribe::new_many(task.filters.clone(), None);
    // Our only packet id of our own on this connection (PUBACKs use the broker's).
    subscribe.pkid = 1;
    link.queue(&Packet::Subscribe(subscribe))?;
    link.flush().await?;
    let mut keep_alive = KeepAlive::new(task.connection.keep_alive);
    let mut packets = Vec::new();
    let mut batch = Vec::new();
    enum Wake {
        Read(Result<(), LinkError>),
        Outbox,
        Ping,
    }
    // The outbox may have filled (with now stale PUBACKs) or the source may
    // have been closed while we were not connected.
    let mut first = true;
    loop {
        let reading = shared.inbox().items.len() < MAX_INBOX;
        let wake = if std::mem::take(&mut first) {
            Wake::Outbox
        } else {
            tokio::select! {
                r = link.read_packets(&mut packets), if reading => Wake::Read(r),
                _ = shared.task.wake.notified() => Wake::Outbox,
                _ = keep_alive.due() => Wake::Ping,
            }
        };
        match wake {
            Wake::Read(result) => {
                result?;
                let read_count = packets.len();
                for packet in packets.drain(..) {
                    match packet {
                        Packet::Publish(publish) => batch.push(task.delivery(generation, publish)),
                        Packet::SubAck(ack) => {
                            let refused: Vec<String> = ack
                                .return_codes
                                .iter()
                                .zip(&task.filters)
                                .filter(|(code, _)| !matches!(code, SubscribeReasonCode::Success(_)))
                                .map(|(code, f)| format!("'{}' ({code:?})", f.path))
                                .collect();
                            if !refused.is_empty() {
                                let message = format!("the broker refused the subscription to {}", refused.join(", "));
                                shared.set_fatal(message);
                                link.close().await;
                                return Ok(());
                            }
                            tracing::info!(%endpoint, "MQTT source subscribed");
                            shared.subscribed.store(true, Ordering::Release);
                        }
                        Packet::PingResp(_) => keep_alive.pong(),
                        Packet::Disconnect(d) => {
                            tracing::warn!(%endpoint, reason = ?d.reason_code, "the broker closed the MQTT source's connection");
                        }
                        Packet::ConnAck(_) => return Err(LinkError::Other("unexpected CONNACK".into())),
                        _ => {}
                    }
                }
                if !batch.is_empty() {
                    let mut inbox = shared.inbox();
                    let was_empty = inbox.items.is_empty();
                    inbox.items.extend(batch.drain(..));
                    if inbox.waiting {
                        shared.arrived.notify_one();
                    } else if was_empty {
                        if let Some(poller) = &inbox.poller {
                            poller.unpark();
                        }
                    }
                    let backlog = inbox.items.len();
                    drop(inbox);
                    // The engine is well behind (under saturation): more can
                    // come before it looks again. Not for a few messages
                    // waiting out a flush, which the pause would only delay
                    // (the sink's PUBACKs are read on this thread too).
                    if backlog >= BACKLOG {
                        let_more_arrive(read_count);
                    }
                }
            }
            Wake::Outbox => {
                let acks = std::mem::take(&mut *shared.outbox.lock().unwrap_or_else(|e| e.into_inner()));
                let mut sent = 0;
                for (g, pkid) in acks {
                    if g == generation {
                        link.queue(&Packet::PubAck(PubAck::new(pkid, None)))?;
                        sent += 1;
                    } else {
                        task.counters.stale_acks.fetch_add(1, Ordering::Relaxed);
                    }
                }
                task.counters.acked.fetch_add(sent, Ordering::Relaxed);
                if shared.task.is_closing() {
                    link.close().await;
                    return Ok(());
                }
            }
            Wake::Ping => keep_alive.ping(&mut link, reading)?,
        }
        if link.has_output() {
            link.flush().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_generation_and_packet_id() {
        let t = token(3, 65535);
        assert_eq!(t >> 16, 3);
        assert_eq!(t as u16, 65535);
    }
}

#[cfg(test)]
mod size_tests {
    use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
    use rumqttc::v5::mqttbytes::QoS;

    /// Issue 18: 1.2 MB of user properties passed a 64 KiB limit.
    #[test]
    fn user_properties_count_against_the_message_size() {
        let properties = PublishProperties {
            user_properties: (0..1200).map(|i| (format!("k{i}"), "v".repeat(1000))).collect(),
            ..PublishProperties::default()
        };
        let publish = Publish::new("t", QoS::AtLeastOnce, "tiny", Some(properties));
        assert!(super::message_size(&publish) > 1_200_000);
        assert_eq!(super::message_size(&Publish::new("t", QoS::AtLeastOnce, "tiny", None)), 4);
    }
}

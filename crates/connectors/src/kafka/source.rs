//! The Kafka source: a consumer group member that commits a partition's
//! offset only once everything made from the records before it is durable.
//!
//! **Offsets.** Automatic commits and offset stores are off. Every record
//! handed to the engine gets an acknowledgement token; the source keeps, per
//! partition, the records polled and not yet committed, in offset order.
//! [`Source::ack`] marks tokens done; when the records at the front of a
//! partition's queue are all done, the source commits (asynchronously) the
//! offset after the last of them. A record acknowledged while an earlier one
//! of its partition is not holds nothing up but is not committed past the
//! earlier one either: after a crash, the group resumes at the first record
//! not acknowledged, and everything after it comes again (duplicates, never
//! gaps).
//!
//! **Rebalances.** When the group takes partitions away (revocation, or their
//! loss after a session timeout), the source forgets their queues: tokens of
//! records polled before are acknowledged into nothing ([`SourceCounters::
//! stale_acks`]) and never committed, because the partition's new owner
//! (possibly this same consumer, after an eager rebalance) starts again from
//! the committed offset and redoes the uncommitted records. Each assignment
//! of a partition has its own epoch, so a token can only ever commit into the
//! assignment it was read under.
//!
//! **Start.** A partition with a committed offset resumes there; one without
//! starts as [`StartFrom`] says (for a timestamp, the source looks the offsets
//! up when the partitions are assigned).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Message as _, Offset, TopicPartitionList};
use wasmgraph_types::{Bytes, DataModel};

use super::config::{KafkaEndpoint, KafkaSourceConfig, StartFrom};
use super::message::{to_message, KafkaRecord};
use crate::{ConnectorError, Incoming, LagProbe, PartitionLag, Poll, Source};

/// How long the source waits for the group coordinator when it looks up
/// committed offsets for a timestamp start.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the source has done, shared so a caller can read it during and after a run.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Records received from the brokers (redeliveries included).
    pub received: AtomicU64,
    /// Records skipped because their value was over `maxMessageSize`.
    pub oversized: AtomicU64,
    /// Records skipped because they come before a `startFrom` time.
    pub before_start: AtomicU64,
    /// Tokens the engine acknowledged.
    pub acknowledged: AtomicU64,
    /// Records covered by the offset commits the source sent.
    pub committed: AtomicU64,
    /// Acknowledged tokens not committed because their partition was revoked
    /// after they were read (the partition's owner reads them again).
    pub stale_acks: AtomicU64,
    /// Offset commits the broker refused or that could not be sent (the
    /// records come again after a restart; a later commit covers them).
    pub commit_errors: AtomicU64,
    /// Partition assignments and revocations received from the group.
    pub rebalances: AtomicU64,
}

/// How long a lag reading waits for each broker answer (watermarks, and
/// committed offsets of partitions not read from yet).
const LAG_TIMEOUT: Duration = Duration::from_secs(2);

/// One record polled and not yet committed.
#[derive(Debug)]
struct Pending {
    token: u64,
    offset: i64,
    done: bool,
}

/// A partition as this consumer owns it right now.
#[derive(Debug)]
struct Slot {
    epoch: u64,
    /// Records in offset order (which is poll order within a partition).
    pending: VecDeque<Pending>,
    /// The offset after the last record read in this assignment, once one was.
    next: Option<i64>,
    /// For a partition that starts at a time: records before it are skipped
    /// until the first one at or after it.
    start_ms: Option<i64>,
}

/// The per-partition acknowledgement state, shared with the rebalance callback.
#[derive(Debug, Default)]
struct Tracker {
    slots: HashMap<Arc<str>, HashMap<i32, Slot>>,
    /// Token -> (topic, partition, epoch) for every tracked record.
    tokens: HashMap<u64, (Arc<str>, i32, u64)>,
    epochs: u64,
}

/// An offset to commit: the record after the last one done.
type Commit = (Arc<str>, i32, i64);

impl Tracker {
    /// Take on `partitions`; those also in `from_time` start at `start_ms`.
    fn assign(&mut self, partitions: &TopicPartitionList, from_time: &TopicPartitionList, start_ms: i64) {
        for element in partitions.elements() {
            self.epochs += 1;
            let starts = from_time.find_partition(element.topic(), element.partition()).is_some();
            let slot =
                Slot { epoch: self.epochs, pending: VecDeque::new(), next: None, start_ms: starts.then_some(start_ms) };
            self.slots.entry(Arc::from(element.topic())).or_default().insert(element.partition(), slot);
        }
    }

    /// Forget the partitions: their tokens will not commit anything.
    fn revoke(&mut self, partitions: &TopicPartitionList) {
        for element in partitions.elements() {
            if let Some(topic) = self.slots.get_mut(element.topic()) {
                topic.remove(&element.partition());
            }
        }
        self.slots.retain(|_, partitions| !partitions.is_empty());
    }

    fn revoke_all(&mut self) {
        self.slots.clear();
    }

    fn assigned(&self) -> Vec<(String, i32)> {
        let mut all: Vec<_> =
            self.slots.iter().flat_map(|(t, ps)| ps.keys().map(move |p| (t.to_string(), *p))).collect();
        all.sort();
        all
    }

    /// True when a record with this timestamp comes before its partition's
    /// start time; the first one at or after it (or without a timestamp)
    /// ends the skipping, as Kafka's own lookup by time would start there.
    fn before_start(&mut self, topic: &str, partition: i32, timestamp_ms: Option<i64>) -> bool {
        let Some(slot) = self.slots.get_mut(topic).and_then(|s| s.get_mut(&partition)) else { return false };
        match (slot.start_ms, timestamp_ms) {
            (Some(start), Some(ts)) if ts < start => true,
            _ => {
                slot.start_ms = None;
                false
            }
        }
    }

    /// Note a polled record; false when its partition is not assigned here.
    fn track(&mut self, topic: &str, partition: i32, offset: i64, token: u64, done: bool) -> bool {
        let Some((name, slots)) = self.slots.get_key_value(topic) else { return false };
        let Some(slot) = slots.get(&partition) else { return false };
        self.tokens.insert(token, (name.clone(), partition, slot.epoch));
        let name = name.clone();
        if let Some(slot) = self.slots.get_mut(&name).and_then(|s| s.get_mut(&partition)) {
            slot.pending.push_back(Pending { token, offset, done });
            slot.next = Some(offset + 1);
        }
        true
    }

    /// Every owned partition with the offset this consumer commits next,
    /// where it knows it: the first record not yet committed, or the one
    /// after the last read. `None` before the first record of an assignment
    /// (the group's committed offset then says where it resumes).
    fn positions(&self) -> Vec<(String, i32, Option<i64>)> {
        let mut all: Vec<_> = self
            .slots
            .iter()
            .flat_map(|(t, ps)| {
                ps.iter().map(move |(p, slot)| {
                    let front = slot.pending.front().map(|r| r.offset);
                    (t.to_string(), *p, front.or(slot.next))
                })
            })
            .collect();
        all.sort();
        all
    }

    /// Mark `tokens` done; the offsets that can now be committed.
    fn ack(&mut self, tokens: &[u64], counters: &SourceCounters) -> Vec<Commit> {
        let mut touched: HashSet<(Arc<str>, i32)> = HashSet::new();
        for token in tokens {
            counters.acknowledged.fetch_add(1, Ordering::Relaxed);
            let Some((topic, partition, epoch)) = self.tokens.remove(token) else {
                counters.stale_acks.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let slot = self.slots.get_mut(&topic).and_then(|s| s.get_mut(&partition));
            match slot {
                Some(slot) if slot.epoch == epoch => {
                    if let Ok(i) = slot.pending.binary_search_by_key(token, |p| p.token) {
                        slot.pending[i].done = true;
                        touched.insert((topic, partition));
                    }
                }
                _ => {
                    counters.stale_acks.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        touched.into_iter().filter_map(|(topic, partition)| self.release(topic, partition, counters)).collect()
    }

    /// Every partition's finished front, for records dropped without a token
    /// reaching the engine (too large).
    fn release_all(&mut self, counters: &SourceCounters) -> Vec<Commit> {
        let keys: Vec<(Arc<str>, i32)> =
            self.slots.iter().flat_map(|(t, ps)| ps.keys().map(move |p| (t.clone(), *p))).collect();
        keys.into_iter().filter_map(|(t, p)| self.release(t, p, counters)).collect()
    }

    /// Drop the done records at the front of a partition's queue; the offset
    /// after the last of them, if there was any.
    fn release(&mut self, topic: Arc<str>, partition: i32, counters: &SourceCounters) -> Option<Commit> {
        let slot = self.slots.get_mut(&topic)?.get_mut(&partition)?;
        let mut last = None;
        while slot.pending.front().is_some_and(|p| p.done) {
            let done = slot.pending.pop_front()?;
            last = Some(done.offset);
            counters.committed.fetch_add(1, Ordering::Relaxed);
        }
        Some((topic, partition, last? + 1))
    }
}

/// The consumer's callbacks: rebalances update the tracker.
struct SourceContext {
    tracker: Arc<Mutex<Tracker>>,
    counters: Arc<SourceCounters>,
    start_from: StartFrom,
    endpoint: String,
}

impl SourceContext {
    fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// For a timestamp start: partitions without a committed offset start at
    /// the first record at or after the time. The brokers are asked for that
    /// offset, so a long history is not read only to be skipped; those
    /// partitions are returned so the source also skips earlier records
    /// itself, for brokers whose answer is coarser (tansu answers with the
    /// partition's start). When the committed offsets cannot be looked up,
    /// nothing is skipped (the group's offsets or `earliest` apply).
    fn start_at_time(
        &self,
        consumer: &BaseConsumer<Self>,
        partitions: &mut TopicPartitionList,
        ms: i64,
    ) -> TopicPartitionList {
        let mut from_time = TopicPartitionList::new();
        let committed = match consumer.committed_offsets(partitions.clone(), LOOKUP_TIMEOUT) {
            Ok(committed) => committed,
            Err(e) => {
                tracing::warn!(
                    endpoint = self.endpoint,
                    "Kafka: looking up committed offsets failed ({e}); starting from the earliest record"
                );
                return from_time;
            }
        };
        for element in committed.elements().iter().filter(|e| e.offset() == Offset::Invalid) {
            let _ = from_time.add_partition_offset(element.topic(), element.partition(), Offset::Offset(ms));
        }
        if from_time.count() == 0 {
            return from_time;
        }
        match consumer.offsets_for_times(from_time.clone(), LOOKUP_TIMEOUT) {
            Ok(found) => {
                for element in found.elements() {
                    let _ = partitions.set_partition_offset(element.topic(), element.partition(), element.offset());
                }
            }
            Err(e) => tracing::warn!(
                endpoint = self.endpoint,
                "Kafka: looking up offsets for time {ms} failed ({e}); reading from the earliest record, skipping \
                 those before the time"
            ),
        }
        from_time
    }
}

impl ClientContext for SourceContext {}

impl ConsumerContext for SourceContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, partitions: &mut TopicPartitionList) {
        self.counters.rebalances.fetch_add(1, Ordering::Relaxed);
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let (from_time, ms) = match self.start_from {
                    StartFrom::Timestamp(ms) => (self.start_at_time(consumer, partitions, ms), ms),
                    _ => (TopicPartitionList::new(), 0),
                };
                self.tracker().assign(partitions, &from_time, ms);
                tracing::info!(endpoint = self.endpoint, partitions = ?list(partitions), "Kafka: partitions assigned");
                if cooperative {
                    consumer.incremental_assign(partitions)
                } else {
                    consumer.assign(partitions)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.tracker().revoke(partitions);
                tracing::info!(endpoint = self.endpoint, partitions = ?list(partitions), lost = consumer.assignment_lost(), "Kafka: partitions revoked");
                if cooperative {
                    consumer.incremental_unassign(partitions)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                tracing::error!(
                    endpoint = self.endpoint,
                    "Kafka: rebalance failed: {other:?}; giving up all partitions"
                );
                self.tracker().revoke_all();
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            tracing::error!(endpoint = self.endpoint, "Kafka: applying a rebalance failed: {e}");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            self.counters.commit_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(endpoint = self.endpoint, offsets = ?list(offsets), "Kafka: offset commit failed: {e} (the records come again after a restart)");
        }
    }
}

fn list(partitions: &TopicPartitionList) -> Vec<String> {
    partitions.elements().iter().map(|e| format!("{}[{}]", e.topic(), e.partition())).collect()
}

/// Reads records from Kafka topics as a member of a consumer group, with
/// offsets committed only for what the engine acknowledged.
pub struct KafkaSource {
    /// Shared (weakly) with the [`KafkaLag`] probe only, so that dropping the
    /// source still closes the consumer and leaves the group at once.
    consumer: Arc<BaseConsumer<SourceContext>>,
    tracker: Arc<Mutex<Tracker>>,
    counters: Arc<SourceCounters>,
    stop: Arc<AtomicBool>,
    /// Records read while waiting for the assignment, handed out first.
    backlog: VecDeque<Incoming>,
    next_token: u64,
    max_message_size: usize,
    description: String,
    endpoint: String,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").field("description", &self.description).finish_non_exhaustive()
    }
}

impl KafkaSource {
    /// Create the consumer and subscribe; it joins the group on the first
    /// poll (or [`KafkaSource::wait_assigned`]). `client_id` names the client
    /// to the brokers and is the consumer group unless the config names one.
    /// Fails on settings that can never work; an unreachable broker is not an
    /// error (librdkafka keeps trying).
    pub fn connect(
        endpoint: &KafkaEndpoint,
        config: &KafkaSourceConfig,
        client_id: &str,
    ) -> Result<KafkaSource, ConnectorError> {
        config.validate()?;
        let name = endpoint.describe();
        let group = config.group_id(client_id);
        let mut client = endpoint.client_config(client_id)?;
        let reset = match config.start_from {
            StartFrom::Latest => "latest",
            StartFrom::Earliest | StartFrom::Timestamp(_) => "earliest",
        };
        client
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", reset);
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        let counters = Arc::new(SourceCounters::default());
        let context = SourceContext {
            tracker: tracker.clone(),
            counters: counters.clone(),
            start_from: config.start_from,
            endpoint: name.clone(),
        };
        let consumer: BaseConsumer<SourceContext> = client
            .create_with_context(context)
            .map_err(|e| ConnectorError::Config(format!("Kafka source {name}: {e}")))?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| ConnectorError::Config(format!("Kafka source {name}: subscribing to {topics:?}: {e}")))?;
        Ok(KafkaSource {
            consumer: Arc::new(consumer),
            tracker,
            counters,
            stop: Arc::new(AtomicBool::new(false)),
            backlog: VecDeque::new(),
            next_token: 0,
            max_message_size: config.max_message_size,
            description: format!("kafka {name} topics {} group {group}", config.topics.join(",")),
            endpoint: name,
        })
    }

    /// Counters of received, acknowledged and committed records.
    pub fn counters(&self) -> Arc<SourceCounters> {
        self.counters.clone()
    }

    /// Set it to make the source end: `poll` then returns [`Poll::End`]; the
    /// engine finishes what is in flight and acknowledges it (and the source
    /// commits it). Records not yet polled stay uncommitted and come again on
    /// the next start.
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// The partitions this consumer owns now, sorted.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.tracker().assigned()
    }

    /// Poll until the group has assigned this consumer at least one
    /// partition (true) or `timeout` passed (false). Records that arrive
    /// meanwhile are kept for the next [`Source::poll`].
    pub fn wait_assigned(&mut self, timeout: Duration) -> Result<bool, ConnectorError> {
        let until = Instant::now() + timeout;
        loop {
            if !self.tracker().assigned().is_empty() {
                return Ok(true);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let mut got = Vec::new();
            self.read(&mut got, 64, left.min(Duration::from_millis(100)))?;
            self.backlog.extend(got);
        }
    }

    fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read up to `max` records into `out`, waiting at most `wait` for the first.
    fn read(&mut self, out: &mut Vec<Incoming>, max: usize, wait: Duration) -> Result<(), ConnectorError> {
        let until = Instant::now() + wait;
        let mut dropped = false;
        while out.len() < max {
            // After the first record, take only what is already there.
            let left = if out.is_empty() { until.saturating_duration_since(Instant::now()) } else { Duration::ZERO };
            match self.consumer.poll(left) {
                Some(Ok(record)) => {
                    let token = self.next_token;
                    self.next_token += 1;
                    match self.take(&record, token) {
                        Some(incoming) => out.push(incoming),
                        None => dropped = true,
                    }
                }
                Some(Err(e)) => self.consumer_error(e)?,
                // A rebalance or commit event ends a poll early: go on until the wait is over.
                None if left.is_zero() => break,
                None => {}
            }
        }
        if dropped {
            let commits = self.tracker().release_all(&self.counters);
            self.commit(commits);
        }
        Ok(())
    }

    /// The engine's message for a record; `None` for one too large or before
    /// the start time (counted, and tracked as done so its offset gets
    /// committed).
    fn take(&self, record: &BorrowedMessage<'_>, token: u64) -> Option<Incoming> {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let size = record.payload_len();
        let oversized = size > self.max_message_size;
        let (topic, partition, offset) = (record.topic(), record.partition(), record.offset());
        let timestamp_ms = record.timestamp().to_millis();
        let mut tracker = self.tracker();
        let early = tracker.before_start(topic, partition, timestamp_ms);
        let tracked = tracker.track(topic, partition, offset, token, oversized || early);
        drop(tracker);
        if early {
            self.counters.before_start.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if !tracked {
            tracing::debug!(
                topic,
                partition,
                offset,
                "Kafka record from a partition not assigned here: it will not be committed"
            );
        }
        if oversized {
            self.counters.oversized.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                topic,
                partition,
                offset,
                size,
                limit = self.max_message_size,
                "Kafka record over the size limit: counted and skipped"
            );
            return None;
        }
        let headers = record
            .headers()
            .map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default();
        let (message, time) = to_message(KafkaRecord {
            topic: topic.to_owned(),
            key: record.key().map(<[u8]>::to_vec),
            payload: record.payload().map(Bytes::copy_from_slice),
            headers,
            timestamp_ms,
        });
        Some(Incoming { data: DataModel::Message(message), time, ack: Some(token) })
    }

    /// A consumer error: fatal ones end the source, the rest are logged (the
    /// client reconnects and retries by itself).
    fn consumer_error(&self, error: KafkaError) -> Result<(), ConnectorError> {
        if let Some((code, reason)) = self.consumer.client().fatal_error() {
            return Err(ConnectorError::Connection {
                endpoint: self.endpoint.clone(),
                message: format!("fatal consumer error {code:?}: {reason}"),
            });
        }
        tracing::warn!(endpoint = self.endpoint, "Kafka consumer: {error}");
        Ok(())
    }

    fn commit(&self, commits: Vec<Commit>) {
        if commits.is_empty() {
            return;
        }
        let mut offsets = TopicPartitionList::with_capacity(commits.len());
        for (topic, partition, offset) in &commits {
            let _ = offsets.add_partition_offset(topic, *partition, Offset::Offset(*offset));
        }
        if let Err(e) = self.consumer.commit(&offsets, CommitMode::Async) {
            self.counters.commit_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(endpoint = self.endpoint, offsets = ?list(&offsets), "Kafka: offset commit not sent: {e}");
        }
    }
}

impl Source for KafkaSource {
    fn poll(&mut self, max: usize, wait: Duration) -> Result<Poll, ConnectorError> {
        if self.stop.load(Ordering::Acquire) {
            return Ok(Poll::End);
        }
        let mut out: Vec<Incoming> = self.backlog.drain(..self.backlog.len().min(max)).collect();
        let wait = if out.is_empty() { wait } else { Duration::ZERO };
        self.read(&mut out, max, wait)?;
        Ok(if out.is_empty() { Poll::Idle } else { Poll::Data(out) })
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    fn stop_handle(&self) -> Option<crate::StopHandle> {
        Some(crate::StopHandle::new(self.stop.clone()))
    }

    /// Joined the group and got partitions (a group with more members than
    /// partitions leaves some with none: they stay not ready, and keep polling).
    fn wait_ready(&mut self, timeout: Duration) -> bool {
        match self.wait_assigned(timeout) {
            Ok(ready) => ready,
            Err(e) => {
                tracing::error!("{e}");
                false
            }
        }
    }

    fn lag_probe(&self) -> Option<Arc<dyn LagProbe>> {
        Some(Arc::new(KafkaLag { consumer: Arc::downgrade(&self.consumer) }))
    }

    fn summary(&self) -> Option<String> {
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(format!(
            "kafka: received {} record(s), {} over the size limit, {} before the start time, {} acknowledged, {} committed, {} stale ack(s), \
             {} commit error(s), {} rebalance(s)",
            n(&c.received),
            n(&c.oversized),
            n(&c.before_start),
            n(&c.acknowledged),
            n(&c.committed),
            n(&c.stale_acks),
            n(&c.commit_errors),
            n(&c.rebalances),
        ))
    }

    /// Commit, per partition, the offset after the last record whose token
    /// and every earlier one's came back (see the module docs).
    fn ack(&mut self, tokens: &[u64]) -> Result<(), ConnectorError> {
        let commits = self.tracker().ack(tokens, &self.counters);
        self.commit(commits);
        Ok(())
    }
}

/// Reads a [`KafkaSource`]'s consumer lag for telemetry: per owned
/// partition, the broker's high watermark minus the offset the source
/// commits next. That is the lag Kafka tools report for a consumer group
/// (records neither processed nor committed, those in flight included),
/// without waiting for the asynchronous commit to land.
struct KafkaLag {
    consumer: Weak<BaseConsumer<SourceContext>>,
}

impl LagProbe for KafkaLag {
    fn lag(&self) -> Vec<PartitionLag> {
        let Some(consumer) = self.consumer.upgrade() else { return Vec::new() };
        let positions = consumer.context().tracker().positions();
        let committed = committed_where_unknown(&consumer, &positions);
        positions
            .into_iter()
            .filter_map(|(topic, partition, next)| {
                let (low, high) = match consumer.fetch_watermarks(&topic, partition, LAG_TIMEOUT) {
                    Ok(marks) => marks,
                    Err(e) => {
                        tracing::debug!(topic, partition, "Kafka lag: reading the watermarks failed: {e}");
                        return None;
                    }
                };
                let resumes = next.or_else(|| resume_offset(&committed, &topic, partition)).unwrap_or(
                    match consumer.context().start_from {
                        StartFrom::Latest => high,
                        StartFrom::Earliest | StartFrom::Timestamp(_) => low,
                    },
                );
                let messages = u64::try_from(high.saturating_sub(resumes)).unwrap_or(0);
                Some(PartitionLag { topic, partition, messages })
            })
            .collect()
    }
}

/// The group's committed offsets of the partitions not read from yet in
/// this assignment (one request for all of them); empty when there are none
/// or the coordinator does not answer.
fn committed_where_unknown(
    consumer: &BaseConsumer<SourceContext>,
    positions: &[(String, i32, Option<i64>)],
) -> TopicPartitionList {
    let mut unknown = TopicPartitionList::new();
    for (topic, partition, _) in positions.iter().filter(|p| p.2.is_none()) {
        unknown.add_partition(topic, *partition);
    }
    if unknown.count() == 0 {
        return unknown;
    }
    consumer.committed_offsets(unknown, LAG_TIMEOUT).unwrap_or_else(|e| {
        tracing::debug!("Kafka lag: reading the committed offsets failed: {e}");
        TopicPartitionList::new()
    })
}

/// Where the group resumes `topic[partition]`, if it committed an offset.
fn resume_offset(committed: &TopicPartitionList, topic: &str, partition: i32) -> Option<i64> {
    match committed.find_partition(topic, partition)?.offset() {
        Offset::Offset(n) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partitions(list: &[(&str, i32)]) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in list {
            tpl.add_partition(topic, *partition);
        }
        tpl
    }

    /// Records 0..n of `topic[partition]` at offsets from `first`, tokens from `token`.
    fn track(tracker: &mut Tracker, topic: &str, partition: i32, first: i64, token: u64, n: u64) {
        for i in 0..n {
            assert!(tracker.track(topic, partition, first + i as i64, token + i, false));
        }
    }

    #[test]
    fn commits_only_the_acknowledged_prefix_of_each_partition() {
        let counters = SourceCounters::default();
        let mut tracker = Tracker::default();
        tracker.assign(&partitions(&[("t", 0), ("t", 1)]), &TopicPartitionList::new(), 0);
        track(&mut tracker, "t", 0, 100, 0, 3); // tokens 0, 1, 2 at offsets 100..=102
        track(&mut tracker, "t", 1, 7, 3, 2); // tokens 3, 4 at offsets 7, 8
                                              // Token 1 alone: offset 100 is not done, nothing to commit.
        assert!(tracker.ack(&[1], &counters).is_empty());
        // Token 0 completes 100 and 101: commit 102 (the next to read).
        assert_eq!(tracker.ack(&[0], &counters), vec![(Arc::from("t"), 0, 102)]);
        let mut both = tracker.ack(&[2, 3], &counters);
        both.sort();
        assert_eq!(both, vec![(Arc::from("t"), 0, 103), (Arc::from("t"), 1, 8)]);
        assert_eq!(counters.committed.load(Ordering::Relaxed), 4);
        assert_eq!(counters.acknowledged.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn tokens_from_before_a_revocation_never_commit() {
        let counters = SourceCounters::default();
        let mut tracker = Tracker::default();
        tracker.assign(&partitions(&[("t", 0), ("t", 1)]), &TopicPartitionList::new(), 0);
        track(&mut tracker, "t", 0, 0, 0, 2);
        track(&mut tracker, "t", 1, 0, 2, 2);
        tracker.revoke(&partitions(&[("t", 1)]));
        assert_eq!(tracker.assigned(), vec![("t".to_string(), 0)]);
        // An eager rebalance gives partition 1 back: a new assignment, new epoch.
        tracker.assign(&partitions(&[("t", 1)]), &TopicPartitionList::new(), 0);
        track(&mut tracker, "t", 1, 0, 4, 1); // read again from the committed offset
        let commits = tracker.ack(&[0, 1, 2, 3], &counters);
        assert_eq!(commits, vec![(Arc::from("t"), 0, 2)], "partition 1's old tokens commit nothing");
        assert_eq!(counters.stale_acks.load(Ordering::Relaxed), 2);
        assert_eq!(tracker.ack(&[4], &counters), vec![(Arc::from("t"), 1, 1)]);
    }

    #[test]
    fn the_lag_position_is_the_first_record_not_committed() {
        let counters = SourceCounters::default();
        let mut tracker = Tracker::default();
        tracker.assign(&partitions(&[("t", 0), ("t", 1)]), &TopicPartitionList::new(), 0);
        assert_eq!(tracker.positions(), vec![("t".into(), 0, None), ("t".into(), 1, None)], "nothing read yet");
        track(&mut tracker, "t", 0, 100, 0, 3); // offsets 100..=102
        assert_eq!(tracker.positions()[0], ("t".into(), 0, Some(100)));
        tracker.ack(&[0, 1], &counters);
        assert_eq!(tracker.positions()[0], ("t".into(), 0, Some(102)), "102 is read, not acknowledged");
        tracker.ack(&[2], &counters);
        assert_eq!(tracker.positions()[0], ("t".into(), 0, Some(103)), "all committed: the next to read");
        tracker.revoke(&partitions(&[("t", 0)]));
        assert_eq!(tracker.positions(), vec![("t".into(), 1, None)]);
    }

    #[test]
    fn records_of_unassigned_partitions_are_not_tracked() {
        let counters = SourceCounters::default();
        let mut tracker = Tracker::default();
        assert!(!tracker.track("t", 0, 5, 0, false));
        assert!(tracker.ack(&[0], &counters).is_empty());
        assert_eq!(counters.stale_acks.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn skipped_records_commit_with_the_prefix_they_end() {
        let counters = SourceCounters::default();
        let mut tracker = Tracker::default();
        tracker.assign(&partitions(&[("t", 0)]), &TopicPartitionList::new(), 0);
        assert!(tracker.track("t", 0, 0, 0, false));
        assert!(tracker.track("t", 0, 1, 1, true)); // too large: done at once
        assert!(tracker.release_all(&counters).is_empty(), "offset 0 still waits");
        assert_eq!(tracker.ack(&[0], &counters), vec![(Arc::from("t"), 0, 2)]);
    }

    #[test]
    fn a_time_start_skips_records_before_it_until_the_first_after() {
        let counters = SourceCounters::default();
        let mut tracker = Tracker::default();
        let mut from_time = TopicPartitionList::new();
        from_time.add_partition("t", 0);
        tracker.assign(&partitions(&[("t", 0), ("t", 1)]), &from_time, 5_000);
        assert!(tracker.before_start("t", 0, Some(4_999)));
        assert!(!tracker.before_start("t", 1, Some(1_000)), "partition 1 has a committed offset");
        assert!(!tracker.before_start("t", 0, Some(5_000)));
        assert!(!tracker.before_start("t", 0, Some(10)), "after the first record at the time, all are read");
        // The skipped record is done at once and commits with the one after it.
        assert!(tracker.track("t", 0, 0, 0, true));
        assert!(tracker.track("t", 0, 1, 1, false));
        assert_eq!(tracker.ack(&[1], &counters), vec![(Arc::from("t"), 0, 2)]);
    }
}

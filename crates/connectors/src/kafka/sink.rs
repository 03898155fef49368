//! The Kafka sink: an idempotent producer with `acks=all`; `flush` returns
//! once the brokers have acknowledged every record written before it.
//!
//! `write` maps the record (see [`super::message`]), picks its topic from the
//! template and hands it to librdkafka's queue, which batches and sends in
//! the background and retries on its own (idempotence keeps retries from
//! duplicating or reordering records). `flush` waits until that queue is
//! empty and every delivery report has been seen; a record the brokers
//! refused, or that could not be delivered within librdkafka's
//! `message.timeout.ms` (5 minutes unless `properties` says otherwise), makes
//! it return an error naming the records, so the engine never acknowledges
//! their source messages.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message as _};
use wasmgraph_types::Record;

use super::config::{KafkaEndpoint, KafkaSinkConfig, SinkKey, TopicTemplate};
use super::message::from_record;
use crate::{ConnectorError, Sink};

/// Writes between two polls of the producer's delivery reports.
const POLL_EVERY: u32 = 256;
/// Failed deliveries named in one error; the rest are counted.
const NAMED_FAILURES: usize = 5;

/// What the sink has done, shared so a caller can read it during and after a run.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Records handed to the producer.
    pub written: AtomicU64,
    /// Records the brokers acknowledged.
    pub delivered: AtomicU64,
    /// Records that could not be delivered.
    pub failed: AtomicU64,
}

/// The producer's callbacks: delivery reports.
struct SinkContext {
    counters: Arc<SinkCounters>,
    /// Failed deliveries since the last flush (the first few, described).
    failures: Mutex<Vec<String>>,
}

impl ClientContext for SinkContext {}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, message)) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
                failures.push(format!("{}: {error}", message.topic()));
            }
        }
    }
}

/// Produces every record to a Kafka topic.
pub struct KafkaSink {
    producer: BaseProducer<SinkContext>,
    template: TopicTemplate,
    key: SinkKey,
    /// Written as the `__srcId` header ([`crate::aio`]).
    source_id: Option<String>,
    counters: Arc<SinkCounters>,
    since_poll: u32,
    endpoint: String,
    description: String,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink").field("description", &self.description).finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// Create the producer (idempotent, `acks=all`). `client_id` names the
    /// client to the brokers unless the endpoint names one. Fails on settings
    /// that can never work; an unreachable broker shows at `flush`.
    pub fn connect(
        endpoint: &KafkaEndpoint,
        config: &KafkaSinkConfig,
        client_id: &str,
    ) -> Result<KafkaSink, ConnectorError> {
        config.validate()?;
        let name = endpoint.describe();
        let template = TopicTemplate::parse(&config.topic).map_err(ConnectorError::Config)?;
        let mut client = endpoint.client_config(client_id)?;
        client
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", config.compression.kafka_name());
        // The engine flushes the sink after every batch it hands it, so a
        // linger would only delay that flush (librdkafka still batches what
        // queues up while a request is in flight). `properties` may set one.
        if !["linger.ms", "queue.buffering.max.ms"].iter().any(|k| endpoint.properties.contains_key(*k)) {
            client.set("linger.ms", "0");
        }
        let counters = Arc::new(SinkCounters::default());
        let context = SinkContext { counters: counters.clone(), failures: Mutex::new(Vec::new()) };
        let producer: BaseProducer<SinkContext> = client
            .create_with_context(context)
            .map_err(|e| ConnectorError::Config(format!("Kafka sink {name}: {e}")))?;
        Ok(KafkaSink {
            producer,
            template,
            key: config.key.clone(),
            source_id: None,
            counters,
            since_poll: 0,
            description: format!("kafka {name} topic {}", config.topic),
            endpoint: name,
        })
    }

    /// Write `source_id` as the `__srcId` header of every record, as AIO does
    /// (the registry passes the pipeline's name); without it only `__protVer`
    /// is written besides `__ts`.
    pub fn with_source_id(mut self, source_id: impl Into<String>) -> Self {
        self.source_id = Some(source_id.into());
        self
    }

    /// Counters of written, delivered and failed records.
    pub fn counters(&self) -> Arc<SinkCounters> {
        self.counters.clone()
    }

    fn error(&self, message: String) -> ConnectorError {
        ConnectorError::Connection { endpoint: self.endpoint.clone(), message }
    }

    /// A fatal producer error (idempotence broken): the sink cannot go on.
    fn fatal(&self) -> Result<(), ConnectorError> {
        match self.producer.client().fatal_error() {
            Some((code, reason)) => Err(self.error(format!("fatal producer error {code:?}: {reason}"))),
            None => Ok(()),
        }
    }

    /// The deliveries that failed since the last call, as one error.
    fn failures(&self) -> Result<(), ConnectorError> {
        let failed = std::mem::take(&mut *self.producer.context().failures.lock().unwrap_or_else(|e| e.into_inner()));
        if failed.is_empty() {
            return Ok(());
        }
        let named = failed.iter().take(NAMED_FAILURES).cloned().collect::<Vec<_>>().join("; ");
        let more = failed.len().saturating_sub(NAMED_FAILURES);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        Err(self.error(format!("{} record(s) were not delivered: {named}{more}", failed.len())))
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        let out = from_record(record, &self.key, self.source_id.as_deref());
        let topic = match self.template.fixed() {
            Some(topic) => Cow::Borrowed(topic),
            None => Cow::Owned(
                self.template.expand(&out.topic).map_err(|e| ConnectorError::Config(format!("Kafka sink: {e}")))?,
            ),
        };
        let mut headers = OwnedHeaders::new_with_capacity(out.headers.len());
        for (key, value) in &out.headers {
            headers = headers.insert(Header { key, value: value.as_deref() });
        }
        let payload = out.payload.unwrap_or_default();
        let mut produce = BaseRecord::<[u8], [u8]>::to(&topic).payload(&payload[..]).headers(headers);
        if let Some(key) = &out.key {
            produce = produce.key(&key[..]);
        }
        if let Some(ms) = out.timestamp_ms {
            produce = produce.timestamp(ms);
        }
        loop {
            match self.producer.send(produce) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's queue is full: serve delivery reports until it has room.
                    produce = back;
                    self.producer.poll(Duration::from_millis(100));
                    self.fatal()?;
                }
                Err((e, _)) => return Err(self.error(format!("producing to {topic}: {e}"))),
            }
        }
        self.counters.written.fetch_add(1, Ordering::Relaxed);
        self.since_poll += 1;
        if self.since_poll >= POLL_EVERY {
            self.since_poll = 0;
            self.producer.poll(Duration::ZERO);
        }
        Ok(())
    }

    /// Wait until every record written so far is acknowledged by the brokers
    /// (or failed: then an error).
    fn flush(&mut self) -> Result<(), ConnectorError> {
        let mut last_note = Instant::now();
        loop {
            // A zero timeout sends what lingers and says whether anything is
            // still in flight. rdkafka's own waiting flush serves delivery
            // reports in polls that last a full 100 ms however soon the
            // reports come, which capped the sink at one flush per 100 ms;
            // 1 ms polls return almost as soon as the brokers acknowledge.
            match self.producer.flush(Duration::ZERO) {
                Ok(()) => break,
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    self.producer.poll(Duration::from_millis(1));
                    self.fatal()?;
                    if last_note.elapsed() > Duration::from_secs(5) {
                        tracing::warn!(
                            endpoint = self.endpoint,
                            waiting = self.producer.in_flight_count(),
                            "Kafka sink still waiting for acknowledgements"
                        );
                        last_note = Instant::now();
                    }
                }
                Err(e) => return Err(self.error(format!("flush: {e}"))),
            }
        }
        self.fatal()?;
        self.failures()
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    fn summary(&self) -> Option<String> {
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(format!(
            "kafka: wrote {} record(s), {} delivered, {} failed",
            n(&c.written),
            n(&c.delivered),
            n(&c.failed)
        ))
    }
}

impl Drop for KafkaSink {
    fn drop(&mut self) {
        // What was written but never flushed still gets a short chance to go out.
        if self.producer.in_flight_count() > 0 {
            let _ = self.producer.flush(Duration::from_secs(2));
        }
    }
}

//! Kafka source and sink (the `rdkafka` crate over its bundled librdkafka).
//!
//! **What a record becomes.** A Kafka record becomes a
//! [`wasmgraph_types::Message`] and back through one mapping,
//! [`message`]: topic and payload one to one, the key as the reserved user
//! property `__key`, headers as user properties, the time from the `__ts`
//! header (as MQTT's `__ts` user property) or else the record's timestamp.
//! Keys and header values that are not UTF-8 travel base64-encoded under a
//! `__base64:` prefixed name, so they survive a graph unchanged.
//!
//! **At least once.** The source commits a partition's offset only up to the
//! first record whose token the engine has not acknowledged, i.e. whose
//! derived records the sink has not made durable; a rebalance drops the
//! uncommitted state of revoked partitions, so their new owner redoes that
//! work instead of anyone skipping it ([`source`] explains). The sink is an
//! idempotent producer with `acks=all` whose `flush` waits for every delivery
//! report ([`sink`]).
//!
//! **Topics.** The sink's topic is a template: `${inputTopic}` is the record's
//! topic, `${inputTopic.N}` its N-th level, levels split on `/` when the input
//! topic has one (it came from MQTT) and on `.` otherwise (Kafka naming).
//!
//! Settings are serde structs ([`KafkaEndpoint`], [`KafkaSourceConfig`],
//! [`KafkaSinkConfig`]) as a deployment file spells them.

mod config;
#[cfg(all(test, feature = "kafka-integration-tests"))]
mod integration;
pub mod message;
mod sink;
mod source;
#[cfg(test)]
mod tests;

pub use config::{
    default_max_message_size, Compression, Hosts, KafkaEndpoint, KafkaSasl, KafkaSinkConfig, KafkaSourceConfig,
    KafkaTls, SaslMechanism, SinkKey, StartFrom,
};
pub use message::{KafkaRecord, BASE64_PREFIX, CONTENT_TYPE, KEY, TIMESTAMP};
pub use sink::{KafkaSink, SinkCounters};
pub use source::{KafkaSource, SourceCounters};

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

use std::path::Path;

use crate::plugin::{Connector, OpenContext};
use crate::{ConnectorError, Sink, Source};

/// The Kafka connector (`type: kafka`).
pub struct Kafka;

impl Connector for Kafka {
    const TYPE: &'static str = "kafka";
    type Endpoint = KafkaEndpoint;
    type SourceSpec = KafkaSourceConfig;
    type SinkSpec = KafkaSinkConfig;

    fn source_endpoint(spec: &KafkaSourceConfig) -> Option<&str> {
        spec.endpoint.as_deref()
    }
    fn sink_endpoint(spec: &KafkaSinkConfig) -> Option<&str> {
        spec.endpoint.as_deref()
    }
    fn check_source(spec: &KafkaSourceConfig) -> Vec<String> {
        let mut problems: Vec<String> = spec.validate().err().map(|e| format!("source: {e}")).into_iter().collect();
        if spec.endpoint.is_none() {
            problems.push("source.endpoint: a Kafka source needs an endpoint (a name under `endpoints`)".into());
        }
        problems
    }
    fn check_sink(spec: &KafkaSinkConfig) -> Vec<String> {
        let mut problems: Vec<String> = spec.validate().err().map(|e| format!("sink: {e}")).into_iter().collect();
        if spec.endpoint.is_none() {
            problems.push("sink.endpoint: a Kafka sink needs an endpoint (a name under `endpoints`)".into());
        }
        problems
    }
    fn check_endpoint(endpoint: &KafkaEndpoint) -> Vec<String> {
        endpoint.validate().err().map(|e| e.to_string()).into_iter().collect()
    }
    fn resolve_paths(endpoint: &mut KafkaEndpoint, base: &Path) {
        endpoint.resolve_paths(base)
    }
    fn open_source(
        spec: &KafkaSourceConfig,
        endpoint: Option<&KafkaEndpoint>,
        ctx: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let endpoint = endpoint.ok_or_else(|| ConnectorError::Config("the Kafka source needs an endpoint".into()))?;
        let mut spec = spec.clone();
        if spec.consumer_group.is_none() {
            spec.consumer_group = endpoint.consumer_group_id.clone();
        }
        // Every process of one deployment joins the same group by default.
        Ok(Box::new(KafkaSource::connect(endpoint, &spec, &format!("wasmgraph-{}", ctx.name))?))
    }
    fn open_sink(
        spec: &KafkaSinkConfig,
        endpoint: Option<&KafkaEndpoint>,
        ctx: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let endpoint = endpoint.ok_or_else(|| ConnectorError::Config("the Kafka sink needs an endpoint".into()))?;
        let client_id = format!("wasmgraph-{}-{}", ctx.name, ctx.role);
        Ok(Box::new(KafkaSink::connect(endpoint, spec, &client_id)?.with_source_id(ctx.name)))
    }
    fn source_for_topics(endpoint: &str, topics: Vec<String>) -> Option<KafkaSourceConfig> {
        Some(KafkaSourceConfig { endpoint: Some(endpoint.to_string()), ..KafkaSourceConfig::new(topics) })
    }
    fn sink_for_topic(endpoint: Option<&str>, topic: String) -> Option<KafkaSinkConfig> {
        Some(KafkaSinkConfig { endpoint: endpoint.map(str::to_string), ..KafkaSinkConfig::new(topic) })
    }
    fn sink_with_topic(spec: &KafkaSinkConfig, topic: &str) -> Option<KafkaSinkConfig> {
        Some(KafkaSinkConfig { topic: topic.to_string(), ..spec.clone() })
    }
}

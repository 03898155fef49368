//! MQTT 5 source and sink (our own connection loop over rumqttc's packet
//! codec, see `client.rs` for why), and an embedded broker (rumqttd, with the
//! `embedded-broker` feature).
//!
//! **What a message becomes.** An incoming PUBLISH becomes a
//! [`wasmgraph_types::Message`]: topic, payload, content type and user
//! properties map one to one. The message's time comes from its `__ts` user
//! property (`<ms since epoch>:<counter>:<node>`), which is taken out of the
//! user properties; without one the engine stamps the host clock. MQTT's
//! response topic and correlation data have no field in the WIT `message`, so
//! they travel as the reserved user properties [`RESPONSE_TOPIC`] and
//! [`CORRELATION_DATA`] (base64): operators see them, can set them, and the
//! sink turns them back into the real MQTT properties. The sink writes the
//! record's time as `__ts`, then AIO's `__protVer` and `__srcId` (the
//! pipeline's name, [`crate::aio`]); the source takes incoming ones out.
//!
//! **At least once.** The source subscribes with manual acknowledgements: a
//! QoS 1 message is PUBACKed only when the engine calls
//! [`Source::ack`](crate::Source::ack) with its token, i.e. once everything the
//! graph made from it was published by the sink *and acknowledged by the
//! sink's broker* (the sink's `flush` waits for those PUBACKs). The session is
//! persistent (clean start off, a session expiry), so QoS 1 messages that
//! arrive while wasmgraph is down wait at the broker. A crash loses nothing;
//! messages that were in flight come again (duplicates, never gaps).
//!
//! **Too large.** A message whose payload exceeds
//! [`MqttSourceConfig::max_message_size`] is counted
//! ([`SourceCounters::oversized`]), logged, acknowledged and dropped by the
//! source; the stream goes on.

mod client;
mod config;
mod drain;
// Public for the fuzz target `mqtt_message` (fuzz/), not part of the API.
#[doc(hidden)]
pub mod message;
mod sink;
mod source;
mod spec;
#[cfg(all(test, any(feature = "mqtt-integration-tests", feature = "embedded-broker")))]
mod test_support;
#[cfg(all(test, feature = "mqtt-integration-tests"))]
mod tests;

#[cfg(feature = "embedded-broker")]
pub mod broker;

pub use config::{MqttConnection, MqttSinkConfig, MqttSourceConfig, MqttTls, MQTT_MAX_PACKET};
pub use sink::MqttSink;
pub use source::{MqttSource, SourceCounters};
pub use spec::{
    default_max_message_size, default_qos, default_receive_maximum, feedback, MqttEndpoint, MqttSinkSpec,
    MqttSourceSpec, MqttTlsSpec, EMBEDDED_PORT,
};

use std::path::Path;

use crate::plugin::{Connector, OpenContext};
use crate::{ConnectorError, Sink, Source};

/// The MQTT 5 connector (`type: mqtt`).
pub struct Mqtt;

impl Connector for Mqtt {
    const TYPE: &'static str = "mqtt";
    type Endpoint = MqttEndpoint;
    type SourceSpec = MqttSourceSpec;
    type SinkSpec = MqttSinkSpec;

    fn source_endpoint(spec: &MqttSourceSpec) -> Option<&str> {
        spec.endpoint.as_deref()
    }
    fn sink_endpoint(spec: &MqttSinkSpec) -> Option<&str> {
        spec.endpoint.as_deref()
    }
    fn check_source(spec: &MqttSourceSpec) -> Vec<String> {
        spec.check()
    }
    fn check_sink(spec: &MqttSinkSpec) -> Vec<String> {
        spec.check()
    }
    fn check_endpoint(endpoint: &MqttEndpoint) -> Vec<String> {
        endpoint.check()
    }
    fn resolve_paths(endpoint: &mut MqttEndpoint, base: &Path) {
        endpoint.resolve_paths(base)
    }
    fn open_source(
        spec: &MqttSourceSpec,
        endpoint: Option<&MqttEndpoint>,
        ctx: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let connection = connection(endpoint, ctx)?;
        let config = MqttSourceConfig {
            qos: spec.qos,
            max_message_size: spec.max_message_size,
            receive_maximum: u16::try_from(spec.receive_maximum).unwrap_or(u16::MAX),
            ..MqttSourceConfig::new(connection, spec.topics.clone())
        };
        Ok(Box::new(MqttSource::connect(config)?))
    }
    fn open_sink(
        spec: &MqttSinkSpec,
        endpoint: Option<&MqttEndpoint>,
        ctx: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let connection = connection(endpoint, ctx)?;
        let config = MqttSinkConfig {
            qos: spec.qos,
            retain: spec.retain,
            source_id: Some(ctx.name.to_string()),
            ..MqttSinkConfig::new(connection, &spec.topic)
        };
        Ok(Box::new(MqttSink::connect(config)?))
    }
    fn source_for_topics(endpoint: &str, topics: Vec<String>) -> Option<MqttSourceSpec> {
        Some(MqttSourceSpec::new(Some(endpoint.to_string()), topics))
    }
    fn sink_for_topic(endpoint: Option<&str>, topic: String) -> Option<MqttSinkSpec> {
        Some(MqttSinkSpec::new(endpoint.map(str::to_string), topic))
    }
    fn sink_with_topic(spec: &MqttSinkSpec, topic: &str) -> Option<MqttSinkSpec> {
        Some(MqttSinkSpec { topic: topic.to_string(), retain: false, ..spec.clone() })
    }
}

/// The connection for `endpoint`, or the embedded broker (started on first
/// use) when there is none or it says `embedded: true`.
fn connection(endpoint: Option<&MqttEndpoint>, ctx: &mut OpenContext<'_>) -> Result<MqttConnection, ConnectorError> {
    let default_id = || format!("wasmgraph-{}-{}", ctx.name, ctx.role);
    match endpoint {
        Some(e) if !e.embedded => {
            let id = match &e.client_id {
                Some(id) if !id.is_empty() && ctx.role == "source" => id.clone(),
                Some(id) if !id.is_empty() => format!("{id}-{}", ctx.role),
                _ => default_id(),
            };
            e.connection(id)
        }
        other => embedded(other.and_then(|e| e.port).unwrap_or(EMBEDDED_PORT), default_id(), ctx),
    }
}

#[cfg(feature = "embedded-broker")]
fn embedded(port: u16, client_id: String, ctx: &mut OpenContext<'_>) -> Result<MqttConnection, ConnectorError> {
    let mut notes = Vec::new();
    let broker = ctx.services.get_or_start(|| {
        let b = broker::EmbeddedBroker::start(port)?;
        notes = b.notes();
        Ok(b)
    })?;
    let (addr, freeze) = (broker.internal_addr(), broker.freeze_handle());
    let shown_as = format!("mqtt://{} (embedded)", broker.addr());
    notes.into_iter().for_each(|n| ctx.services.note(n));
    let mut connection = MqttConnection::new(addr.ip().to_string(), addr.port(), client_id);
    connection.freeze = Some(freeze);
    connection.shown_as = Some(shown_as);
    Ok(connection)
}

#[cfg(not(feature = "embedded-broker"))]
fn embedded(_: u16, _: String, _: &mut OpenContext<'_>) -> Result<MqttConnection, ConnectorError> {
    Err(ConnectorError::Config(
        "no MQTT endpoint is configured and this build has no embedded broker (feature `embedded-broker`)".into(),
    ))
}

/// The user property carrying a message's hybrid logical clock time.
pub const TIMESTAMP: &str = "__ts";
/// The reserved user property carrying MQTT's response topic.
pub const RESPONSE_TOPIC: &str = "__response_topic";
/// The reserved user property carrying MQTT's correlation data, base64.
pub const CORRELATION_DATA: &str = "__correlation_data";

/// Wait `delay` and double it, up to `max`: reconnection backoff.
pub(crate) fn next_backoff(delay: std::time::Duration, max: std::time::Duration) -> std::time::Duration {
    (delay * 2).min(max.max(delay))
}

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
//! sink turns them back into the real MQTT properties.
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
mod sink;
mod source;
#[cfg(test)]
mod tests;

#[cfg(feature = "embedded-broker")]
pub mod broker;

pub use config::{MqttConnection, MqttSinkConfig, MqttSourceConfig, MqttTls, MQTT_MAX_PACKET};
pub use sink::MqttSink;
pub use source::{MqttSource, SourceCounters};

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

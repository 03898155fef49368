//! OpenTelemetry destination (`type: otel`, also `opentelemetry`; AIO's
//! endpoint type `OpenTelemetry`): exports the metrics and logs a graph's
//! messages carry to an OpenTelemetry collector over OTLP.
//!
//! **What a message must hold.** AIO's telemetry JSON: a `metrics` and/or a
//! `logs` array ([`payload`] reads it; `docs/otel-endpoint.md` lists where it
//! is lenient). A record that does not conform is counted, logged and
//! dropped, and its source message acknowledged, as AIO does.
//!
//! **What the collector receives.** One data point per measurement and one
//! log record per log, with the names, types, values, attributes and
//! timestamps the message gave ([`otlp`]); a missing timestamp is the record's
//! own time. The OpenTelemetry project's generated OTLP types
//! (`opentelemetry-proto`) are filled directly rather than going through the
//! SDK's instruments, which would aggregate measurements and stamp them with
//! export times.
//!
//! **Transport.** OTLP/gRPC (tonic) or OTLP/HTTP with protobuf bodies
//! (hyper), TLS by rustls, headers for authentication. An unreachable
//! collector holds acknowledgements and is retried with backoff, so nothing is
//! lost ([`OtelSink`] explains).

mod config;
mod export;
#[cfg(all(test, feature = "otel-integration-tests"))]
mod integration;
pub mod otlp;
pub mod payload;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{OtelBatching, OtelEndpoint, OtelProtocol, OtelRetry, OtelSinkConfig, OtelTls};
pub use sink::{OtelCounters, OtelSink};

use std::path::Path;

use crate::plugin::{Connector, OpenContext};
use crate::{ConnectorError, Sink, Source};

/// The OpenTelemetry connector (`type: otel`): a sink only.
pub struct Otel;

impl Connector for Otel {
    const TYPE: &'static str = "otel";
    type Endpoint = OtelEndpoint;
    /// There is no OpenTelemetry source; a source section of this type is
    /// refused at load (see [`Otel::check_source`]).
    type SourceSpec = OtelSinkConfig;
    type SinkSpec = OtelSinkConfig;

    fn source_endpoint(spec: &OtelSinkConfig) -> Option<&str> {
        spec.endpoint.as_deref()
    }
    fn sink_endpoint(spec: &OtelSinkConfig) -> Option<&str> {
        spec.endpoint.as_deref()
    }
    fn check_source(_: &OtelSinkConfig) -> Vec<String> {
        vec!["source: OpenTelemetry is a destination only; read from mqtt, kafka or file".into()]
    }
    fn check_sink(spec: &OtelSinkConfig) -> Vec<String> {
        match spec.endpoint {
            None => vec!["sink.endpoint: an OpenTelemetry sink needs an endpoint (a name under `endpoints`)".into()],
            Some(_) => Vec::new(),
        }
    }
    fn check_endpoint(endpoint: &OtelEndpoint) -> Vec<String> {
        endpoint.validate().err().map(|e| e.to_string()).into_iter().collect()
    }
    fn resolve_paths(endpoint: &mut OtelEndpoint, base: &Path) {
        endpoint.resolve_paths(base)
    }
    fn open_source(
        _: &OtelSinkConfig,
        _: Option<&OtelEndpoint>,
        _: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        Err(ConnectorError::Config("OpenTelemetry is a destination only; it cannot be a source".into()))
    }
    fn open_sink(
        spec: &OtelSinkConfig,
        endpoint: Option<&OtelEndpoint>,
        ctx: &mut OpenContext<'_>,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let endpoint = endpoint.ok_or_else(|| {
            ConnectorError::Config(format!(
                "the OpenTelemetry sink needs an endpoint (sink.endpoint is {:?})",
                spec.endpoint.as_deref().unwrap_or("not set")
            ))
        })?;
        Ok(Box::new(OtelSink::connect(endpoint, ctx.name)?))
    }
    /// AIO cannot read from an OpenTelemetry endpoint either.
    fn source_for_topics(_: &str, _: Vec<String>) -> Option<OtelSinkConfig> {
        None
    }
    /// AIO's `dataDestination` has no meaning for OpenTelemetry (the metric
    /// names are in the messages); it is accepted and not used.
    fn sink_for_topic(endpoint: Option<&str>, _: String) -> Option<OtelSinkConfig> {
        Some(OtelSinkConfig { endpoint: endpoint.map(str::to_string) })
    }
    /// No topics: dead letters need a sink of their own.
    fn sink_with_topic(_: &OtelSinkConfig, _: &str) -> Option<OtelSinkConfig> {
        None
    }
}

//! Settings of the MQTT source and sink, and the client options built from them.
//!
//! These are plain Rust values: the deployment file (crate
//! `wasmgraph-deployment`) parses YAML into them, tests build them directly.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::ConnectorError;

/// The largest packet MQTT can carry (a 256 MiB remaining length plus header).
/// The client announces it as its maximum packet size, so the broker hands us
/// every message: one over [`MqttSourceConfig::max_message_size`] is then
/// counted and dropped by the source instead of silently by the broker.
pub const MQTT_MAX_PACKET: u32 = 268_435_460;

/// Where and how to connect to a broker: shared by source and sink.
#[derive(Debug, Clone)]
pub struct MqttConnection {
    /// Host name or address of the broker.
    pub host: String,
    /// TCP port (1883, or 8883 with TLS, by convention).
    pub port: u16,
    /// The client id. It names the persistent session: keep it stable across
    /// restarts so QoS 1 messages that arrived while down are delivered.
    pub client_id: String,
    /// TLS settings; `None` for plain TCP.
    pub tls: Option<MqttTls>,
    /// User name and password, if the broker wants them.
    pub credentials: Option<(String, String)>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// How long the broker keeps our session (subscriptions and queued QoS 1
    /// messages) after we disconnect. Zero means a clean session every time.
    pub session_expiry: Duration,
    /// First wait before reconnecting; doubled after every failed attempt.
    pub reconnect_min: Duration,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: Duration,
    /// The broker can be frozen and drained on a clean stop (the embedded
    /// one, which acknowledges on receipt); see `mqtt::drain`.
    pub(crate) freeze: Option<super::drain::FreezeHandle>,
    /// How logs name the broker when `host:port` is not where users reach
    /// it (the embedded broker, whose clients go through its proxy).
    pub(crate) shown_as: Option<String>,
}

impl MqttConnection {
    /// Plain TCP to `host:port` with client id `client_id`, a one-hour
    /// persistent session, 30 s keep-alive and reconnects from 100 ms to 10 s.
    pub fn new(host: impl Into<String>, port: u16, client_id: impl Into<String>) -> Self {
        MqttConnection {
            host: host.into(),
            port,
            client_id: client_id.into(),
            tls: None,
            credentials: None,
            keep_alive: Duration::from_secs(30),
            session_expiry: Duration::from_secs(3600),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
            freeze: None,
            shown_as: None,
        }
    }

    /// `mqtt://host:port` or `mqtts://host:port`, for logs.
    pub fn endpoint(&self) -> String {
        if let Some(shown) = &self.shown_as {
            return shown.clone();
        }
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

/// TLS settings (rustls with the *ring* provider).
#[derive(Debug, Clone, Default)]
pub struct MqttTls {
    /// PEM file of the certificate authorities to trust; the system's roots
    /// when `None`.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (chain), for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub key_file: Option<PathBuf>,
}

impl MqttTls {
    pub(crate) fn client_config(&self, endpoint: &str) -> Result<rustls::ClientConfig, ConnectorError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let bad = |what: String| ConnectorError::Config(format!("{endpoint}: {what}"));
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .map_err(|e| bad(format!("reading CA file {}: {e}", path.display())))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(format!("CA file {}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(bad(format!("CA file {} holds no certificate", path.display())));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| bad(format!("CA file {}: {e}", path.display())))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    // A system certificate rustls cannot parse is skipped, as browsers do.
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err(bad("no CA file given and no system root certificates found".into()));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(format!("TLS: {e}")))?
            .with_root_certificates(roots);
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .map_err(|e| bad(format!("reading client certificate {}: {e}", cert.display())))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(format!("client certificate {}: {e}", cert.display())))?;
                let key =
                    PrivateKeyDer::from_pem_file(key).map_err(|e| bad(format!("client key {}: {e}", key.display())))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| bad(format!("client certificate and key: {e}")))
            }
            (None, None) => Ok(builder.with_no_client_auth()),
            _ => Err(bad("a client certificate needs both a certificate file and a key file".into())),
        }
    }
}

/// Settings of [`super::MqttSource`].
#[derive(Debug, Clone)]
pub struct MqttSourceConfig {
    /// The broker.
    pub connection: MqttConnection,
    /// Topic filters to subscribe to: wildcards (`+`, `#`) and shared
    /// subscriptions (`$share/<group>/<filter>`) allowed.
    pub topics: Vec<String>,
    /// QoS of the subscriptions: 0 (at most once) or 1 (at least once, acked
    /// only once the graph's output for the message is durable).
    pub qos: u8,
    /// Messages whose payload and properties together are larger are counted
    /// as errors and dropped (acknowledged, so they do not come back); the
    /// stream goes on.
    pub max_message_size: usize,
    /// How many unacknowledged QoS 1 messages the broker may send us at once.
    pub receive_maximum: u16,
}

impl MqttSourceConfig {
    /// QoS 1 on `topics`, 1 MiB messages at most, 1000 in flight.
    pub fn new(connection: MqttConnection, topics: Vec<String>) -> Self {
        MqttSourceConfig { connection, topics, qos: 1, max_message_size: 1 << 20, receive_maximum: 1000 }
    }
}

/// Settings of [`super::MqttSink`].
#[derive(Debug, Clone)]
pub struct MqttSinkConfig {
    /// The broker.
    pub connection: MqttConnection,
    /// Topic to publish to. `${inputTopic}` is replaced by the record's own
    /// topic and `${inputTopic.N}` by its N-th level (1-based).
    pub topic: String,
    /// QoS of the publishes: 0 or 1. With 1 (the default), `flush` waits for
    /// the broker's PUBACK of everything published.
    pub qos: u8,
    /// Publish with the retain flag.
    pub retain: bool,
    /// Written as the `__srcId` user property of every publish, as AIO does
    /// (see [`crate::aio`]); the registry sets the pipeline's name. `None`:
    /// no `__srcId` (`__protVer` is written regardless).
    pub source_id: Option<String>,
}

impl MqttSinkConfig {
    /// QoS 1, not retained, to `topic`, no source id.
    pub fn new(connection: MqttConnection, topic: impl Into<String>) -> Self {
        MqttSinkConfig { connection, topic: topic.into(), qos: 1, retain: false, source_id: None }
    }
}

pub(crate) fn qos(value: u8, what: &str) -> Result<rumqttc::v5::mqttbytes::QoS, ConnectorError> {
    match value {
        0 => Ok(rumqttc::v5::mqttbytes::QoS::AtMostOnce),
        1 => Ok(rumqttc::v5::mqttbytes::QoS::AtLeastOnce),
        other => Err(ConnectorError::Config(format!("{what}: QoS {other} is not supported; use 0 or 1"))),
    }
}

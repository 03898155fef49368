//! A built-in MQTT 5 broker (rumqttd) on localhost, for running a graph when
//! no broker is configured. It keeps messages in memory only.
//!
//! Its limits, stated to the user when it starts ([`EmbeddedBroker::notes`]):
//! rumqttd acknowledges a QoS 1 publish (PUBACK) as soon as it has it in
//! memory, so publishes the graph has not taken yet when the process stops
//! (SIGTERM included: rumqttd has no shutdown to drain it) or crashes are
//! lost although their publishers were told they were delivered. For
//! at-least-once delivery across restarts, name a broker with persistence
//! (mosquitto, AIO's broker) as the endpoint.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::ConnectorError;

/// A running embedded broker. It lives until the process ends (rumqttd has
/// no shutdown); dropping this handle does not stop it.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Start a broker listening on `127.0.0.1:port` (MQTT 5). With `port` 0,
    /// or when the port is taken, a free port is picked. Returns once it
    /// accepts connections.
    pub fn start(port: u16) -> Result<Self, ConnectorError> {
        let io = |what: &str, source| ConnectorError::Io { path: format!("embedded broker: {what}"), source };
        let addr = match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => l.local_addr().map_err(|e| io("port", e))?,
            Err(_) => TcpListener::bind(("127.0.0.1", 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| io("finding a free port", e))?,
        };
        let server = ServerSettings {
            name: "wasmgraph-v5".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections: ConnectionSettings {
                connection_timeout_ms: 60_000,
                max_payload_size: 256 << 20,
                max_inflight_count: 1000,
                auth: None,
                external_auth: None,
                dynamic_filters: true,
            },
        };
        let config = Config {
            id: 0,
            router: RouterConfig {
                max_connections: 1000,
                max_outgoing_packet_count: 200,
                max_segment_size: 64 << 20,
                max_segment_count: 16,
                custom_segment: None,
                initialized_filters: None,
                shared_subscriptions_strategy: Default::default(),
            },
            v5: Some(HashMap::from([("1".to_string(), server)])),
            ..Config::default()
        };
        std::thread::Builder::new()
            .name("embedded-broker".into())
            .spawn(move || {
                let mut broker = Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!("embedded MQTT broker stopped: {e}");
                }
            })
            .map_err(|e| io("starting its thread", e))?;
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > until {
                return Err(ConnectorError::Connection {
                    endpoint: format!("mqtt://{addr}"),
                    message: "the embedded broker did not start listening within 10 s".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(EmbeddedBroker { addr })
    }

    /// Where it listens.
    /// How to reach it, for the user (printed once at start).
    pub fn notes(&self) -> Vec<String> {
        let a = self.addr;
        vec![
            format!("embedded MQTT 5 broker on {a} (no broker configured); it keeps messages in memory only"),
            "  limits:   it acknowledges publishes on receipt, so those the graph has not taken when wasmgraph stops \
             (Ctrl-C, SIGTERM) or crashes are lost; use a persistent broker endpoint for at-least-once delivery"
                .to_string(),
            format!(
                "  publish:  mosquitto_pub -V 5 -h {} -p {} -q 1 -t TOPIC -m '{{\"temperature\": 21.5}}'",
                a.ip(),
                a.port()
            ),
            format!("      or:   wasmgraph publish -p {} -t TOPIC FILE...", a.port()),
            format!("  results:  mosquitto_sub -V 5 -h {} -p {} -t '#' -v", a.ip(), a.port()),
        ]
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

//! A built-in MQTT 5 broker (rumqttd) on localhost, for running a graph when
//! no broker is configured. It keeps messages in memory only.
//!
//! rumqttd acknowledges a QoS 1 publish (PUBACK) as soon as it has it in
//! memory. So that a clean stop (Ctrl-C, SIGTERM, a graph restart) loses
//! none of those, clients reach it through a proxy ([`proxy`]) that can
//! freeze it: the MQTT source then drains it (see `mqtt::drain`) before it
//! ends. wasmgraph's own source and sink connect to rumqttd directly, so the
//! sink keeps publishing while publishers are refused. What a crash (SIGKILL,
//! power loss) leaves in memory is still lost, and so is a QoS 0 publish in
//! flight at the freeze; this is stated where it starts ([`EmbeddedBroker::notes`]).
//! For at-least-once delivery across crashes, name a broker with persistence
//! (mosquitto, AIO's broker) as the endpoint.

mod proxy;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use super::drain::{Freeze, FreezeHandle};
use crate::ConnectorError;

/// How long a freeze waits for rumqttd to acknowledge what it was sent.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// A running embedded broker. rumqttd cannot be shut down: it lives until the
/// process ends, and a later run in the same process asking for the same
/// port gets the same broker (sessions and queued messages included).
/// Dropping the handle of a drained (frozen) broker waits until its
/// subscribers have been quiet for a moment, so they get what the run's
/// sink published before the process exits.
#[derive(Debug)]
pub struct EmbeddedBroker {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where clients connect: the proxy.
    addr: SocketAddr,
    /// Where rumqttd listens: wasmgraph's own source and sink.
    internal: SocketAddr,
    gate: Arc<proxy::Gate>,
    /// A local link to rumqttd, which publishes the drain markers. The
    /// receiving half is kept so the link stays open.
    link: Mutex<(LinkTx, LinkRx)>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker").field("addr", &self.addr).field("internal", &self.internal).finish()
    }
}

/// Brokers started in this process by the port asked for.
fn started() -> &'static Mutex<HashMap<u16, Arc<Inner>>> {
    static STARTED: OnceLock<Mutex<HashMap<u16, Arc<Inner>>>> = OnceLock::new();
    STARTED.get_or_init(Default::default)
}

fn io(what: &str, source: std::io::Error) -> ConnectorError {
    ConnectorError::Io { path: format!("embedded broker: {what}"), source }
}

impl EmbeddedBroker {
    /// Start a broker listening on `127.0.0.1:port` (MQTT 5). With `port` 0,
    /// or when the port is taken, a free port is picked. Returns once it
    /// accepts connections. A broker this process started before on `port`
    /// is taken again, taking publishes again if a drain froze it.
    pub fn start(port: u16) -> Result<Self, ConnectorError> {
        let mut started = started().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(inner) = started.get(&port).filter(|_| port != 0) {
            inner.gate.thaw();
            return Ok(EmbeddedBroker { inner: inner.clone() });
        }
        let front = TcpListener::bind(("127.0.0.1", port))
            .or_else(|_| TcpListener::bind(("127.0.0.1", 0)))
            .map_err(|e| io("finding a free port", e))?;
        let addr = front.local_addr().map_err(|e| io("port", e))?;
        let internal = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| io("finding a free port", e))?;
        let link = start_rumqttd(internal)?;
        let gate = proxy::start(front, internal).map_err(|e| io("starting its proxy", e))?;
        let inner = Arc::new(Inner { addr, internal, gate, link: Mutex::new(link) });
        if port != 0 {
            started.insert(port, inner.clone());
        }
        Ok(EmbeddedBroker { inner })
    }

    /// Where wasmgraph's own clients connect: rumqttd itself, past the
    /// proxy, so a drain does not refuse the sink's publishes. (Public for
    /// `bench-mqtt`, which measures what the proxy costs.)
    pub fn internal_addr(&self) -> SocketAddr {
        self.inner.internal
    }

    /// What the MQTT source drains the broker with.
    pub(crate) fn freeze_handle(&self) -> FreezeHandle {
        Arc::new(Freezer(self.inner.clone()))
    }

    /// How to reach it, for the user (printed once at start).
    pub fn notes(&self) -> Vec<String> {
        let a = self.inner.addr;
        vec![
            format!("embedded MQTT 5 broker on {a} (no broker configured); it keeps messages in memory only"),
            "  limits:   it acknowledges publishes on receipt; a clean stop (Ctrl-C, SIGTERM) refuses new publishes \
             and drains what it accepted through the graph, but a crash loses what it holds; use a persistent \
             broker endpoint for at-least-once delivery across crashes"
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

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if self.inner.gate.is_frozen() {
            self.inner.gate.wait_quiet(Duration::from_millis(200), Duration::from_secs(5));
        }
    }
}

/// Start rumqttd on `addr` on a thread of its own; returns a local link to
/// it once it accepts connections.
fn start_rumqttd(addr: SocketAddr) -> Result<(LinkTx, LinkRx), ConnectorError> {
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
    let mut broker = Broker::new(config);
    let link = broker.link("wasmgraph-drain").map_err(|e| ConnectorError::Connection {
        endpoint: format!("mqtt://{addr}"),
        message: format!("the embedded broker refused its own link: {e}"),
    })?;
    std::thread::Builder::new()
        .name("embedded-broker".into())
        .spawn(move || {
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
    Ok(link)
}

/// Freezes the broker for a source's drain.
#[derive(Debug)]
struct Freezer(Arc<Inner>);

impl Freeze for Freezer {
    fn freeze_then_mark(&self, markers: Vec<(String, Bytes)>) {
        let inner = self.0.clone();
        inner.gate.freeze();
        let spawned = std::thread::Builder::new().name("embedded-broker-drain".into()).spawn(move || {
            if !inner.gate.wait_settled(SETTLE_TIMEOUT) {
                tracing::warn!(
                    pending = inner.gate.pending(),
                    "embedded broker: publishes still unacknowledged after {SETTLE_TIMEOUT:?}; draining anyway"
                );
            }
            let mut link = inner.link.lock().unwrap_or_else(|e| e.into_inner());
            for (topic, payload) in markers {
                if let Err(e) = link.0.publish(topic.clone(), payload) {
                    tracing::error!(topic, "embedded broker: the drain marker could not be published: {e}");
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("embedded broker: cannot start its drain: {e}");
        }
    }
}

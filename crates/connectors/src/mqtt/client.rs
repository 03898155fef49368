//! One MQTT 5 network connection, as the source and the sink drive it.
//!
//! Why not rumqttc's event loop: it writes (and flushes to the socket) every
//! outgoing packet on its own and takes requests one by one through a
//! channel. At tens of thousands of QoS 1 messages a second that is one
//! `write` syscall, one TCP segment and often one broker wake-up per PUBLISH
//! and per PUBACK, plus a task wake-up per request; measured with
//! `bench-mqtt`, the graph's MQTT threads then cost more CPU than mosquitto
//! itself. Here a connection task encodes everything that is waiting (a
//! batch of PUBACKs from the engine, a batch of publishes from the sink) into
//! one buffer and writes it with one call, and it reads whatever the socket
//! holds and decodes every packet in it before handing them over in one go.
//! The packet encoding and decoding is rumqttc's (`rumqttc::v5::mqttbytes`).
//!
//! All MQTT connections of the process share one tokio runtime with one
//! thread ([`io_runtime`]): the source's and the sink's connections wake the
//! same thread, so a busy graph keeps one network thread busy instead of
//! waking two idle ones (a wake-up costs more than the packet on a VM).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::tokio_rustls;
use rumqttc::v5::mqttbytes::v5::{ConnAck, Connect, ConnectProperties, ConnectReturnCode, Login, Packet};
use rumqttc::v5::mqttbytes::Error as CodecError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::config::{MqttConnection, MQTT_MAX_PACKET};
use crate::ConnectorError;

/// A byte stream to the broker: TCP or TLS over TCP.
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// The runtime every MQTT connection of the process runs on: one worker
/// thread, `mqtt-io`. It lives as long as the process.
pub(crate) fn io_runtime() -> Result<&'static tokio::runtime::Runtime, ConnectorError> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("mqtt-io")
        .enable_all()
        .build()
        .map_err(|e| ConnectorError::Io { path: "MQTT network runtime".into(), source: e })?;
    // Another thread may have won the race; its runtime is the one used.
    let _ = RUNTIME.set(rt);
    RUNTIME.get().ok_or_else(|| ConnectorError::Config("the MQTT network runtime is missing".into()))
}

/// How a source or a sink drives its connection task: wakes it when there is
/// work, and tells it to finish when dropped.
#[derive(Debug, Default)]
pub(crate) struct TaskControl {
    /// Wakes the task: work queued (publishes, PUBACKs), or closing.
    pub wake: tokio::sync::Notify,
    /// Wakes the task while it is not connected, when closing.
    close: tokio::sync::Notify,
    closing: AtomicBool,
}

impl TaskControl {
    /// The source or sink is being dropped.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Resolves once the source or sink is being dropped.
    pub async fn closed(&self) {
        while !self.is_closing() {
            self.close.notified().await;
        }
    }

    /// Tell the task to finish (it sends what it still owes, then
    /// DISCONNECT) and wait up to 3 s for it.
    pub fn shut_down(&self, task: Option<tokio::task::JoinHandle<()>>) {
        self.closing.store(true, Ordering::Release);
        self.wake.notify_one();
        self.close.notify_one();
        if let (Some(task), Ok(rt)) = (task, io_runtime()) {
            let _ = rt.block_on(async move { tokio::time::timeout(Duration::from_secs(3), task).await });
        }
    }
}

/// Connect, run `session` on the connection, and reconnect with backoff
/// (from `reconnect_min`, doubling up to `reconnect_max`) when it breaks,
/// until the source or sink closes (`control`) or `session` returns `Ok`.
/// The broker refusing the *first* connection is for good: `refused` gets
/// the error and the task ends (a refusal after that is retried, as the
/// broker may be restarting with other settings). `label` names the task in
/// the reconnect warning (`"MQTT sink"`). `state` is what outlives a
/// connection (the sink's unacknowledged publishes): `session` gets it with
/// each connection and hands it back when the connection ends.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn reconnecting<S, F, Fut>(
    label: &str,
    endpoint: &str,
    connection: &MqttConnection,
    tls: Option<&tokio_rustls::TlsConnector>,
    receive_maximum: u16,
    control: &TaskControl,
    mut state: S,
    mut session: F,
    refused: impl FnOnce(String),
) where
    F: FnMut(Link, S) -> Fut,
    Fut: std::future::Future<Output = (S, Result<(), LinkError>)>,
{
    let (min, max) = (connection.reconnect_min, connection.reconnect_max);
    let mut delay = min;
    let mut ever_connected = false;
    loop {
        let attempt = tokio::select! {
            r = Link::connect(connection, tls, receive_maximum, Duration::from_secs(10)) => r,
            _ = control.closed() => return,
        };
        let result = match attempt {
            Ok(link) => {
                ever_connected = true;
                delay = min;
                let (kept, result) = session(link, state).await;
                state = kept;
                result
            }
            Err(e) => Err(e),
        };
        let err = match result {
            Ok(()) => return,
            Err(e) => e,
        };
        if control.is_closing() {
            return;
        }
        match &err {
            LinkError::Refused(_) if !ever_connected => {
                refused(err.to_string());
                return;
            }
            _ => tracing::warn!(%endpoint, "{label}: {err}; reconnecting in {delay:?}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = control.closed() => return,
        }
        delay = super::next_backoff(delay, max);
    }
}

/// Why a connection failed or ended.
#[derive(Debug)]
pub(crate) enum LinkError {
    /// The broker answered CONNECT with a failure code.
    Refused(ConnectReturnCode),
    /// Anything else: network, TLS, protocol, timeouts. Worth a reconnect.
    Other(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Refused(code) => write!(f, "the broker refused the connection: {code:?}"),
            LinkError::Other(message) => f.write_str(message),
        }
    }
}

impl From<io::Error> for LinkError {
    fn from(e: io::Error) -> Self {
        LinkError::Other(e.to_string())
    }
}

/// What the broker told us in its CONNACK that governs sending.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BrokerLimits {
    /// How many QoS 1 publishes may await a PUBACK at once.
    pub receive_maximum: u16,
    /// The largest packet the broker accepts.
    pub max_packet_size: Option<u32>,
    /// Whether the broker kept our session (subscriptions, in-flight messages).
    pub session_present: bool,
}

/// An open connection: the stream and its read and write buffers.
pub(crate) struct Link {
    stream: Box<dyn ByteStream>,
    read: BytesMut,
    write: BytesMut,
    /// Packets that came in the same read as the CONNACK (a resumed
    /// session's queued messages): the first [`Link::read_packets`] returns them.
    early: Vec<Packet>,
    pub limits: BrokerLimits,
}

impl Link {
    /// Connect (TCP, TLS if configured), send CONNECT and wait for the CONNACK,
    /// all within `timeout`.
    pub async fn connect(
        conn: &MqttConnection,
        tls: Option<&tokio_rustls::TlsConnector>,
        receive_maximum: u16,
        timeout: Duration,
    ) -> Result<Link, LinkError> {
        match tokio::time::timeout(timeout, Self::open(conn, tls, receive_maximum)).await {
            Ok(result) => result,
            Err(_) => Err(LinkError::Other(format!("no connection within {timeout:?}"))),
        }
    }

    async fn open(
        conn: &MqttConnection,
        tls: Option<&tokio_rustls::TlsConnector>,
        receive_maximum: u16,
    ) -> Result<Link, LinkError> {
        let tcp = tokio::net::TcpStream::connect((conn.host.as_str(), conn.port)).await?;
        // Packets are written in batches already; Nagle's algorithm would only
        // hold the last one back for the peer's delayed ACK (up to 40 ms).
        tcp.set_nodelay(true)?;
        let stream: Box<dyn ByteStream> = match tls {
            Some(connector) => {
                let name = rustls::pki_types::ServerName::try_from(conn.host.clone())
                    .map_err(|e| LinkError::Other(format!("TLS server name '{}': {e}", conn.host)))?;
                Box::new(connector.connect(name, tcp).await.map_err(|e| LinkError::Other(format!("TLS: {e}")))?)
            }
            None => Box::new(tcp),
        };
        let mut link = Link {
            stream,
            read: BytesMut::with_capacity(64 << 10),
            write: BytesMut::with_capacity(64 << 10),
            early: Vec::new(),
            limits: BrokerLimits { receive_maximum: u16::MAX, max_packet_size: None, session_present: false },
        };
        link.queue(&connect_packet(conn, receive_maximum))?;
        link.flush().await?;
        let mut first = Vec::new();
        while first.is_empty() {
            link.read_packets(&mut first).await?;
        }
        let ack = match first.remove(0) {
            Packet::ConnAck(ack) => ack,
            other => return Err(LinkError::Other(format!("expected CONNACK, the broker sent {}", kind(&other)))),
        };
        link.limits = limits(&ack)?;
        link.early = first;
        Ok(link)
    }

    /// Encode `packet` into the write buffer (sent by the next [`Link::flush`]).
    pub fn queue(&mut self, packet: &Packet) -> Result<(), LinkError> {
        packet
            .write(&mut self.write, self.limits.max_packet_size)
            .map(|_| ())
            .map_err(|e| LinkError::Other(format!("encoding {}: {e}", kind(packet))))
    }

    /// Whether the write buffer holds anything.
    pub fn has_output(&self) -> bool {
        !self.write.is_empty()
    }

    /// Write the buffer out (one `write` call unless the socket is full).
    pub async fn flush(&mut self) -> Result<(), LinkError> {
        if !self.write.is_empty() {
            self.stream.write_all(&self.write).await?;
            self.write.clear();
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// Wait until the socket has bytes (cancel-safe: nothing is lost when the
    /// future is dropped), then decode every complete packet into `out`.
    pub async fn read_packets(&mut self, out: &mut Vec<Packet>) -> Result<(), LinkError> {
        if !self.early.is_empty() {
            out.append(&mut self.early);
            return Ok(());
        }
        if self.read.capacity() - self.read.len() < 8 << 10 {
            self.read.reserve(64 << 10);
        }
        if self.stream.read_buf(&mut self.read).await? == 0 {
            return Err(LinkError::Other("the broker closed the connection".into()));
        }
        self.decode(out)
    }

    /// Decode the complete packets at the front of the read buffer.
    fn decode(&mut self, out: &mut Vec<Packet>) -> Result<(), LinkError> {
        loop {
            match Packet::read(&mut self.read, Some(MQTT_MAX_PACKET)) {
                Ok(packet) => out.push(packet),
                Err(CodecError::InsufficientBytes(more)) => {
                    self.read.reserve(more);
                    return Ok(());
                }
                Err(e) => return Err(LinkError::Other(format!("malformed packet from the broker: {e}"))),
            }
        }
    }

    /// Send DISCONNECT (normal) and close the stream, ignoring failures: the
    /// connection is being given up anyway. Then wait (within the same
    /// second) for the broker to close its side: it does so only after it has
    /// read everything before the DISCONNECT, so the PUBACKs just sent count.
    /// Without the wait, a restart that connects again at once with the same
    /// client id could take the session over before the broker read them
    /// (mosquitto then drops the old connection's unread bytes), and those
    /// messages would come again.
    pub async fn close(mut self) {
        use rumqttc::v5::mqttbytes::v5::{Disconnect, DisconnectReasonCode};
        let _ = self.queue(&Packet::Disconnect(Disconnect::new(DisconnectReasonCode::NormalDisconnection)));
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = self.flush().await;
            let _ = self.stream.shutdown().await;
            let mut rest = [0u8; 4096];
            while matches!(self.stream.read(&mut rest).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

/// Let more packets accumulate before the next read, when the connection
/// is busy and the last read brought only a few.
///
/// mosquitto writes every packet on its own, so under load a connection that
/// goes back to waiting right after each read is woken once per PUBLISH and
/// per PUBACK; on a virtual machine that wake-up (and mosquitto's cost of
/// waking us) costs more than handling the packet. Callers pause only when
/// nobody waits for the next packets yet (the engine has 64 or more messages
/// it has not taken; a flush still waits for more than 32 PUBACKs), which
/// happens under saturation and not at moderate load, where it would add its
/// pause to the latency. Measured with `bench-mqtt` at saturation, it halves
/// the CPU the MQTT thread needs per message (graph_io_us 15-17 -> 8-9 µs)
/// and raises the graph's rate by 15-20 %. The whole `mqtt-io` thread
/// sleeps, not only this connection: only MQTT connections run on it, and
/// they all batch better for it.
pub(crate) fn let_more_arrive(packets_read: usize) {
    if packets_read < FEW_PACKETS {
        std::thread::sleep(PAUSE);
    }
}

/// A read with fewer packets than this counts as small for [`let_more_arrive`].
const FEW_PACKETS: usize = 8;
/// How long [`let_more_arrive`] waits (plus the timer slack, ~50 µs): a few
/// packets' worth of mosquitto's time.
const PAUSE: Duration = Duration::from_micros(50);

/// The packet's name, for errors.
pub(crate) fn kind(packet: &Packet) -> &'static str {
    match packet {
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::PingReq(_) => "PINGREQ",
        Packet::Connect(..) => "CONNECT",
        Packet::Disconnect(_) => "DISCONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::SubAck(_) => "SUBACK",
        Packet::PingResp(_) => "PINGRESP",
        _ => "a packet",
    }
}

/// CONNECT for `conn`: persistent session (clean start off) unless the expiry
/// is zero, our receive maximum, the largest packet size.
fn connect_packet(conn: &MqttConnection, receive_maximum: u16) -> Packet {
    let expiry = u32::try_from(conn.session_expiry.as_secs()).unwrap_or(u32::MAX);
    let keep_alive = u16::try_from(conn.keep_alive.as_secs().max(1)).unwrap_or(u16::MAX);
    let connect = Connect {
        keep_alive,
        client_id: conn.client_id.clone(),
        clean_start: expiry == 0,
        properties: Some(ConnectProperties {
            session_expiry_interval: (expiry > 0).then_some(expiry),
            receive_maximum: Some(receive_maximum.max(1)),
            max_packet_size: Some(MQTT_MAX_PACKET),
            ..ConnectProperties::new()
        }),
    };
    let login = conn.credentials.as_ref().map(|(user, password)| Login::new(user.clone(), password.clone()));
    Packet::Connect(connect, None, login)
}

fn limits(ack: &ConnAck) -> Result<BrokerLimits, LinkError> {
    if ack.code != ConnectReturnCode::Success {
        return Err(LinkError::Refused(ack.code));
    }
    let props = ack.properties.as_ref();
    Ok(BrokerLimits {
        receive_maximum: props.and_then(|p| p.receive_max).unwrap_or(u16::MAX).max(1),
        max_packet_size: props.and_then(|p| p.max_packet_size),
        session_present: ack.session_present,
    })
}

/// The TLS connector for `conn`, if it uses TLS (built once per connector).
pub(crate) fn tls_connector(conn: &MqttConnection) -> Result<Option<tokio_rustls::TlsConnector>, ConnectorError> {
    match &conn.tls {
        Some(tls) => Ok(Some(tokio_rustls::TlsConnector::from(Arc::new(tls.client_config(&conn.endpoint())?)))),
        None => Ok(None),
    }
}

/// Checks a connection's settings that can never work, before any attempt.
pub(crate) fn validate(conn: &MqttConnection) -> Result<(), ConnectorError> {
    if conn.client_id.is_empty() {
        return Err(ConnectorError::Config(format!("{}: the MQTT client id must not be empty", conn.endpoint())));
    }
    if conn.host.is_empty() {
        return Err(ConnectorError::Config("an MQTT endpoint needs a host".into()));
    }
    Ok(())
}

/// Keep-alive bookkeeping: a PINGREQ every keep-alive interval; a PINGREQ
/// still unanswered when the next is due means the connection is dead.
pub(crate) struct KeepAlive {
    interval: tokio::time::Interval,
    awaiting: bool,
}

impl KeepAlive {
    pub fn new(every: Duration) -> Self {
        let every = every.max(Duration::from_secs(1));
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        KeepAlive { interval, awaiting: false }
    }

    /// Resolves when a PINGREQ is due.
    pub async fn due(&mut self) {
        self.interval.tick().await;
    }

    /// Queue the PINGREQ, or fail when the previous one got no answer
    /// (`reading`: whether the caller has been reading the socket meanwhile).
    pub fn ping(&mut self, link: &mut Link, reading: bool) -> Result<(), LinkError> {
        if self.awaiting && reading {
            return Err(LinkError::Other("the broker did not answer PINGREQ within the keep-alive interval".into()));
        }
        self.awaiting = true;
        link.queue(&Packet::PingReq(rumqttc::v5::mqttbytes::v5::PingReq))
    }

    /// A PINGRESP arrived.
    pub fn pong(&mut self) {
        self.awaiting = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_carries_session_and_limits() {
        let mut conn = MqttConnection::new("h", 1, "id");
        conn.credentials = Some(("u".into(), "p".into()));
        match connect_packet(&conn, 500) {
            Packet::Connect(c, None, Some(login)) => {
                assert!(!c.clean_start);
                assert_eq!(c.keep_alive, 30);
                let p = c.properties.unwrap();
                assert_eq!(p.session_expiry_interval, Some(3600));
                assert_eq!(p.receive_maximum, Some(500));
                assert_eq!(login.username, "u");
            }
            other => panic!("{other:?}"),
        }
        conn.session_expiry = Duration::ZERO;
        match connect_packet(&conn, 0) {
            Packet::Connect(c, ..) => {
                assert!(c.clean_start);
                assert_eq!(c.properties.unwrap().receive_maximum, Some(1));
            }
            other => panic!("{other:?}"),
        }
    }
}

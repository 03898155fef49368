//! The embedded broker's front door: a TCP proxy that forwards whole MQTT
//! packets between clients and rumqttd, and can *freeze* it.
//!
//! rumqttd has no way to stop taking publishes while it goes on serving, and
//! no way to tell that a publish it acknowledged is in its logs. The proxy
//! gives both, for the drain of a clean stop (see `mqtt::drain`):
//! - frozen, it refuses every PUBLISH: the client gets DISCONNECT 0x8B
//!   ("server shutting down", MQTT 5) and its connection is closed, before
//!   anything reached the broker, so the client still holds the message and
//!   publishes it again when it reconnects. Every other packet (subscribes,
//!   the PUBACKs of subscribers, pings) still passes, so subscribers keep
//!   receiving while the graph drains;
//! - it counts QoS 1 and 2 publishes forwarded and not yet acknowledged by
//!   rumqttd (PUBACK, PUBCOMP). rumqttd appends a publish to its logs in the
//!   same step in which it queues the acknowledgement, so once none is
//!   outstanding every accepted publish is in the logs.
//!
//! Packets are only ever split at their boundaries (the fixed header's
//! remaining length), never parsed further than the header fields above.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};

/// How long a closed client connection waits for rumqttd to acknowledge what
/// was forwarded on it before its broker side is closed.
const SETTLE_ON_CLOSE: Duration = Duration::from_secs(2);
/// MQTT 5 DISCONNECT with reason 0x8B, server shutting down.
const DISCONNECT_SHUTTING_DOWN: [u8; 3] = [0xE0, 0x01, 0x8B];

const CONNECT: u8 = 1;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const PUBREC: u8 = 5;
const PUBCOMP: u8 = 7;

/// What the proxy's connections share with its owner.
#[derive(Debug)]
pub(super) struct Gate {
    frozen: AtomicBool,
    /// QoS 1/2 publishes forwarded to rumqttd, not acknowledged yet, over all connections.
    pending: AtomicUsize,
    /// When a PUBLISH last went from rumqttd to a subscriber (ms since `epoch`).
    last_down: AtomicU64,
    epoch: Instant,
}

impl Gate {
    fn new() -> Self {
        Gate {
            frozen: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            last_down: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Refuse publishes from now on.
    pub(super) fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Take publishes again (a run started again on the same broker).
    pub(super) fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }

    pub(super) fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }

    /// Wait until rumqttd acknowledged every publish forwarded (true) or
    /// `timeout` passed (false).
    pub(super) fn wait_settled(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while self.pending.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Publishes forwarded and not yet acknowledged.
    pub(super) fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Wait until no message went to any subscriber for `quiet`, at most
    /// `max`: subscribers have what the broker had for them. (Reconnecting
    /// publishers' CONNACKs do not count.)
    pub(super) fn wait_quiet(&self, quiet: Duration, max: Duration) {
        let until = Instant::now() + max;
        loop {
            let last = Duration::from_millis(self.last_down.load(Ordering::Relaxed));
            let since = self.epoch.elapsed().saturating_sub(last);
            if since >= quiet || Instant::now() >= until {
                return;
            }
            std::thread::sleep(quiet - since);
        }
    }

    fn touch(&self) {
        self.last_down.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Start proxying connections accepted on `listener` to `broker`, on a
/// thread of its own.
pub(super) fn start(listener: std::net::TcpListener, broker: SocketAddr) -> io::Result<Arc<Gate>> {
    listener.set_nonblocking(true)?;
    let gate = Arc::new(Gate::new());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let g = gate.clone();
    std::thread::Builder::new().name("embedded-broker-proxy".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = match TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => return tracing::error!("embedded broker: cannot listen: {e}"),
            };
            accept(listener, broker, g).await
        })
    })?;
    Ok(gate)
}

async fn accept(listener: TcpListener, broker: SocketAddr, gate: Arc<Gate>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                tokio::spawn(serve(client, broker, gate.clone()));
            }
            Err(e) => {
                tracing::warn!("embedded broker: accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One client connection, and its own connection to rumqttd.
#[derive(Debug, Default)]
struct Conn {
    /// Packet ids of this client's QoS 1/2 publishes rumqttd has not acknowledged.
    pending: Mutex<HashSet<u16>>,
    /// The client said MQTT 5 in its CONNECT.
    v5: AtomicBool,
}

impl Conn {
    /// rumqttd acknowledged `pkid`.
    fn settle(&self, pkid: u16, gate: &Gate) {
        if self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&pkid) {
            gate.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn outstanding(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Give up on what is still unacknowledged (the connection is gone).
    fn abandon(&self, gate: &Gate) {
        let n = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner())).len();
        gate.pending.fetch_sub(n, Ordering::SeqCst);
    }
}

async fn serve(client: TcpStream, broker: SocketAddr, gate: Arc<Gate>) {
    let upstream = match TcpStream::connect(broker).await {
        Ok(s) => s,
        Err(e) => return tracing::warn!("embedded broker: cannot reach rumqttd at {broker}: {e}"),
    };
    let _ = (client.set_nodelay(true), upstream.set_nodelay(true));
    let (client_read, client_write) = client.into_split();
    let (broker_read, mut broker_write) = upstream.into_split();
    let conn = Arc::new(Conn::default());
    let client_write = Arc::new(tokio::sync::Mutex::new(client_write));
    let down = tokio::spawn(downstream(Frames::new(broker_read), client_write.clone(), conn.clone(), gate.clone()));
    if let Err(e) = upstream_pump(Frames::new(client_read), &mut broker_write, &client_write, &conn, &gate).await {
        tracing::debug!("embedded broker: client connection ended: {e}");
    }
    // Let rumqttd acknowledge what reached it before its side is closed: the
    // drain counts on every accepted publish being in its logs.
    let until = Instant::now() + SETTLE_ON_CLOSE;
    while conn.outstanding() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = broker_write.shutdown().await;
    let _ = down.await;
    conn.abandon(&gate);
}

/// Client → rumqttd: forward whole packets, count QoS 1/2 publishes, refuse
/// publishes while frozen. Ends at the client's EOF or on a refusal.
async fn upstream_pump(
    mut frames: Frames<tokio::net::tcp::OwnedReadHalf>,
    broker: &mut OwnedWriteHalf,
    client: &tokio::sync::Mutex<OwnedWriteHalf>,
    conn: &Conn,
    gate: &Gate,
) -> io::Result<()> {
    let mut out = BytesMut::new();
    loop {
        while let Some(packet) = frames.take()? {
            if !admit(&packet, conn, gate) {
                broker.write_all(&out).await?;
                let mut client = client.lock().await;
                if conn.v5.load(Ordering::Relaxed) {
                    let _ = client.write_all(&DISCONNECT_SHUTTING_DOWN).await;
                }
                let _ = client.shutdown().await;
                return Ok(());
            }
            out.extend_from_slice(&packet);
        }
        if !out.is_empty() {
            broker.write_all(&out).await?;
            out.clear();
        }
        if !frames.fill().await? {
            return Ok(());
        }
    }
}

/// Whether a packet from a client may pass; records what the drain needs.
fn admit(packet: &[u8], conn: &Conn, gate: &Gate) -> bool {
    let header = Header::of(packet);
    match header.kind {
        CONNECT => {
            // Variable header: protocol name "MQTT" (2 + 4 bytes), then the level.
            let level = packet.get(header.len + 6).copied();
            conn.v5.store(level == Some(5), Ordering::Relaxed);
            true
        }
        PUBLISH => admit_publish(packet, &header, conn, gate),
        _ => true,
    }
}

fn admit_publish(packet: &[u8], header: &Header, conn: &Conn, gate: &Gate) -> bool {
    let qos = (packet[0] >> 1) & 3;
    let pkid = (qos > 0).then(|| publish_pkid(packet, header)).flatten();
    // Counted before the frozen flag is read (both SeqCst): a freeze either
    // sees this publish pending or this publish sees the freeze.
    gate.pending.fetch_add(1, Ordering::SeqCst);
    let admitted = !gate.is_frozen();
    let counted = admitted && pkid.is_some_and(|id| conn.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(id));
    if !counted {
        gate.pending.fetch_sub(1, Ordering::SeqCst);
    }
    admitted
}

/// rumqttd → client: forward everything, settle the publishes it acknowledges.
async fn downstream(
    mut frames: Frames<tokio::net::tcp::OwnedReadHalf>,
    client: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    conn: Arc<Conn>,
    gate: Arc<Gate>,
) {
    let mut client_gone = false;
    let mut out = BytesMut::new();
    loop {
        loop {
            match frames.take() {
                Ok(Some(packet)) => {
                    if watch_ack(&packet, &conn, &gate) == PUBLISH {
                        gate.touch();
                    }
                    out.extend_from_slice(&packet);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        if !out.is_empty() {
            // A client that is gone still has its acknowledgements read.
            if !client_gone && client.lock().await.write_all(&out).await.is_err() {
                client_gone = true;
            }
            out.clear();
        }
        if !matches!(frames.fill().await, Ok(true)) {
            let _ = client.lock().await.shutdown().await;
            return;
        }
    }
}

/// A PUBACK, or a PUBCOMP (or a PUBREC refusing, MQTT 5 reason >= 0x80),
/// ends a publish's wait. Returns the packet's type.
fn watch_ack(packet: &[u8], conn: &Conn, gate: &Gate) -> u8 {
    let header = Header::of(packet);
    let pkid = || Some(u16::from_be_bytes([*packet.get(header.len)?, *packet.get(header.len + 1)?]));
    let ends = match header.kind {
        PUBACK | PUBCOMP => true,
        PUBREC => packet.get(header.len + 2).is_some_and(|&reason| reason >= 0x80),
        _ => false,
    };
    if let Some(id) = pkid().filter(|_| ends) {
        conn.settle(id, gate);
    }
    header.kind
}

/// The packet id of a QoS 1/2 PUBLISH: after the topic (2-byte length + text).
fn publish_pkid(packet: &[u8], header: &Header) -> Option<u16> {
    let at = header.len;
    let topic_len = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]) as usize;
    let id = at + 2 + topic_len;
    Some(u16::from_be_bytes([*packet.get(id)?, *packet.get(id + 1)?]))
}

/// A whole packet's fixed header: its type and its length in bytes.
struct Header {
    kind: u8,
    /// Bytes of the fixed header (type byte and remaining length).
    len: usize,
}

impl Header {
    /// The header of a whole packet (as [`Frames::take`] returns them).
    fn of(packet: &[u8]) -> Header {
        let len = 1 + packet[1..].iter().take(4).position(|b| b & 0x80 == 0).map_or(4, |i| i + 1);
        Header { kind: packet[0] >> 4, len }
    }
}

/// The length of the packet at the start of `buf`, once its fixed header is
/// complete; an error for a length no MQTT packet may have. (Four length
/// bytes bound a packet at 256 MiB, rumqttd's own payload limit.)
fn packet_len(buf: &[u8]) -> io::Result<Option<usize>> {
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else { return Ok(None) };
        remaining |= ((b & 0x7F) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some(1 + (i + 1) + remaining));
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "a remaining length longer than 4 bytes"))
}

/// Whole packets out of a byte stream.
struct Frames<R> {
    reader: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> Frames<R> {
    fn new(reader: R) -> Self {
        Frames { reader, buf: BytesMut::with_capacity(16 << 10) }
    }

    /// The next whole packet already read, if any.
    fn take(&mut self) -> io::Result<Option<Bytes>> {
        match packet_len(&self.buf)? {
            Some(len) if self.buf.len() >= len => Ok(Some(self.buf.split_to(len).freeze())),
            Some(len) => {
                self.buf.reserve(len - self.buf.len());
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Read more; false at the end of the stream.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.buf.capacity() == self.buf.len() {
            self.buf.reserve(16 << 10);
        }
        Ok(self.reader.read_buf(&mut self.buf).await? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_lengths_follow_the_remaining_length() {
        assert_eq!(packet_len(&[0x30]).unwrap(), None, "no length yet");
        assert_eq!(packet_len(&[0x30, 0x05]).unwrap(), Some(7));
        assert_eq!(packet_len(&[0x30, 0x80]).unwrap(), None, "length continues");
        assert_eq!(packet_len(&[0x30, 0xC1, 0x02]).unwrap(), Some(1 + 2 + 321));
        assert!(packet_len(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err(), "five length bytes");
        assert_eq!(packet_len(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]).unwrap(), Some(1 + 4 + 268_435_455), "the largest");
    }

    /// A QoS 1 PUBLISH on topic `t` with packet id `pkid` (MQTT 3.1.1 layout).
    fn publish(pkid: u16) -> Vec<u8> {
        let mut p = vec![0x32, 7, 0, 1, b't'];
        p.extend_from_slice(&pkid.to_be_bytes());
        p.extend_from_slice(b"xy");
        p
    }

    #[test]
    fn publishes_are_pending_until_acknowledged_and_refused_when_frozen() {
        let (gate, conn) = (Gate::new(), Conn::default());
        assert!(admit(&publish(7), &conn, &gate));
        assert!(admit(&publish(7), &conn, &gate), "a duplicate is passed on");
        assert_eq!(gate.pending(), 1, "but counted once");
        watch_ack(&[0x40, 2, 0, 8], &conn, &gate);
        assert_eq!(gate.pending(), 1, "another packet id");
        watch_ack(&[0x40, 2, 0, 7], &conn, &gate);
        assert_eq!(gate.pending(), 0);
        assert!(gate.wait_settled(Duration::ZERO));
        gate.freeze();
        assert!(!admit(&publish(9), &conn, &gate), "refused while frozen");
        assert!(admit(&[0xC0, 0], &conn, &gate), "a PINGREQ passes");
        assert_eq!(gate.pending(), 0);
        gate.thaw();
        assert!(admit(&publish(9), &conn, &gate));
        conn.abandon(&gate);
        assert_eq!(gate.pending(), 0);
    }

    #[test]
    fn a_qos2_publish_waits_for_its_pubcomp() {
        let (gate, conn) = (Gate::new(), Conn::default());
        let mut p = publish(3);
        p[0] = 0x34;
        assert!(admit(&p, &conn, &gate));
        watch_ack(&[0x50, 2, 0, 3], &conn, &gate);
        assert_eq!(gate.pending(), 1, "PUBREC: not in the logs before PUBREL");
        watch_ack(&[0x70, 2, 0, 3], &conn, &gate);
        assert_eq!(gate.pending(), 0);
    }

    #[test]
    fn the_protocol_level_comes_from_connect() {
        let (gate, conn) = (Gate::new(), Conn::default());
        let connect = [0x10, 10, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60];
        assert!(admit(&connect, &conn, &gate));
        assert!(conn.v5.load(Ordering::Relaxed));
    }
}

//! The scrape endpoint: a small blocking HTTP/1.1 server on its own thread
//! that answers `GET /metrics` with a fresh snapshot's exposition. One route,
//! scraped every few seconds by one or two Prometheus servers: a thread per
//! connection and `Connection: close` are all it needs, and it costs the
//! graph nothing between scrapes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{Collect, TelemetryError};

/// Longest a client may take to send its request (or read the answer).
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests are a line and a few headers; anything longer is refused.
const MAX_REQUEST: usize = 16 * 1024;
/// Connections served at once; more are closed unanswered.
const MAX_CONNECTIONS: usize = 16;

/// A running scrape endpoint; dropping it stops it.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer").field("addr", &self.addr).finish()
    }
}

impl MetricsServer {
    /// Listen on `addr` (port 0: any free port) and serve `source`'s figures.
    pub fn start(addr: SocketAddr, source: Arc<dyn Collect>) -> Result<Self, TelemetryError> {
        let listener = TcpListener::bind(addr).map_err(|e| TelemetryError::Bind { addr, source: e })?;
        let addr = listener.local_addr().map_err(|e| TelemetryError::Bind { addr, source: e })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || accept_loop(&listener, &flag, &source))
            .map_err(|e| TelemetryError::Bind { addr, source: e })?;
        Ok(MetricsServer { addr, stop, thread: Some(thread) })
    }

    /// The address it listens on (the port chosen when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, source: &Arc<dyn Collect>) {
    let open = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = conn else { continue };
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::Relaxed);
            continue;
        }
        let (source, done) = (source.clone(), open.clone());
        // A slow client must not hold up the next scrape.
        let spawned = std::thread::Builder::new().name("metrics-conn".into()).spawn(move || {
            if let Err(e) = serve(stream, &*source) {
                tracing::debug!("metrics endpoint: {e}");
            }
            done.fetch_sub(1, Ordering::Relaxed);
        });
        if let Err(e) = spawned {
            open.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!("metrics endpoint: no thread for a connection: {e}");
        }
    }
}

/// Answer one request and close.
fn serve(mut stream: TcpStream, source: &dyn Collect) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = path.split('?').next().unwrap_or_default();
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            ("200 OK", crate::prometheus::CONTENT_TYPE, crate::prometheus::encode(&source.collect()))
        }
        ("GET" | "HEAD", "/") => ("200 OK", "text/plain; charset=utf-8", "wasmgraph metrics: GET /metrics\n".into()),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found: try /metrics\n".into()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".into()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        response.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&response)?;
    stream.flush()
}

/// The request line and headers, up to the blank line.
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() > MAX_REQUEST {
            return Err(std::io::Error::other("request headers too long"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Snapshot;

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_the_exposition_on_metrics_and_refuses_the_rest() {
        let source = Arc::new(|| Snapshot {
            graph: "g".into(),
            sinks: vec![crate::SinkPoint { name: "s".into(), published: 5, failed: 0 }],
            ..Snapshot::default()
        });
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), source).unwrap();
        let addr = server.local_addr();
        let ok = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: application/openmetrics-text"), "{ok}");
        assert!(ok.contains("wasmgraph_sink_records_published_total{graph=\"g\",sink=\"s\"} 5\n"), "{ok}");
        assert!(get(addr, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(get(addr, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        drop(server);
        assert!(TcpStream::connect(addr).is_err(), "the listener closes with the server");
    }
}

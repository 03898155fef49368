//! A redis-server of the test's own, for the tests that need a real Redis (the
//! state store's Redis backend): Debian's `redis-server` binary, started on a
//! free 127.0.0.1 port with its working directory and log in a temporary folder
//! the test owns, no snapshots and no append-only file; never the system Redis.
//! The server is killed when the handle is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it just after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The redis-server binary; panics with how to install it when there is none.
pub fn redis_server_binary() -> PathBuf {
    for candidate in ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v redis-server"]).output() {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            return p.into();
        }
    }
    panic!(
        "redis-server is missing: these tests start their own Redis; install it with scripts/setup.sh \
         (apt-get install redis-server)"
    );
}

/// A running redis-server on 127.0.0.1:`port`, killed when dropped.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    // Holds the working directory (and log) until the server is gone.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Start a redis-server on a free port and wait until it answers `PING`.
    /// A port taken between choosing and binding it is retried with another.
    pub fn start() -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(free_port()) {
                Ok(server) => return server,
                Err(why) => last = why,
            }
        }
        panic!("could not start redis-server: {last}");
    }

    fn try_start(port: u16) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("creating a temporary folder: {e}"))?;
        let child = spawn(dir.path(), port)?;
        let mut server = RedisServer { child, port, dir };
        server.wait_ready()?;
        Ok(server)
    }

    /// Kill the server and start a new one on the same port and folder (it
    /// keeps no data: snapshots are off), as a Redis restart looks to clients.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.dir.path(), self.port).unwrap_or_else(|why| panic!("restarting redis-server: {why}"));
        self.wait_ready().unwrap_or_else(|why| panic!("restarting redis-server: {why}"));
    }

    /// Wait (up to 10 s) until the server answers `PING` with `PONG`; fails early
    /// when the process exits (a port already in use, say).
    fn wait_ready(&mut self) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                return Err(format!("redis-server on port {} exited at start ({status}); its log:\n{log}", self.port));
            }
            if ping(self.port) {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!("redis-server on port {} did not answer PING within 10 s", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL to connect to it: `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's working directory (its log is `redis.log` there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Start redis-server on 127.0.0.1:`port` with `dir` as its working folder and
/// its log in `dir/redis.log`.
fn spawn(dir: &Path, port: u16) -> Result<Child, String> {
    Command::new(redis_server_binary())
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawning redis-server: {e}"))
}

/// Whether a Redis on 127.0.0.1:`port` answers `PING` (inline command) with `+PONG`.
fn ping(port: u16) -> bool {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
    if conn.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    conn.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_stops() {
        let server = RedisServer::start();
        let port = server.port;
        assert!(ping(port), "a started server answers PING");
        assert_eq!(server.url(), format!("redis://127.0.0.1:{port}/"));
        assert!(server.dir().join("redis.log").exists());
        let mut server = server;
        server.restart();
        assert!(ping(port), "a restarted server answers on the same port");
        drop(server);
        assert!(!ping(port), "a dropped server is gone");
    }
}

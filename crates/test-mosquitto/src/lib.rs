//! A mosquitto of the test's own, for the tests that need a real MQTT broker
//! (the connectors' unit tests and the CLI's end-to-end tests): Debian's
//! `mosquitto` binary, started on a free 127.0.0.1 port with its own config,
//! persistence and log in a folder the test owns; never the system broker.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Wait (up to 10 s) until something listens on 127.0.0.1:`port`.
pub fn wait_port(port: u16) {
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nothing listens on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The mosquitto binary; panics with how to install it when there is none.
pub fn mosquitto_binary() -> PathBuf {
    for candidate in
        ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/local/bin/mosquitto"]
    {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v mosquitto"]).output() {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            return p.into();
        }
    }
    panic!("mosquitto is missing: these tests start their own broker; install it with scripts/setup.sh (apt-get install mosquitto)");
}

/// A running mosquitto on 127.0.0.1:`port`, killed when dropped.
pub struct Mosquitto {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Its config file (to start it again with [`Mosquitto::spawn`]).
    pub conf: PathBuf,
}

impl Mosquitto {
    /// A mosquitto with persistence in `dir/mosquitto-data`, its log in
    /// `dir/mosquitto.log`, up to 1000 QoS 1 messages in flight per client and
    /// no limit on what it queues for offline clients.
    pub fn start(dir: &Path, port: u16) -> Self {
        let data = dir.join("mosquitto-data");
        std::fs::create_dir_all(&data).unwrap();
        // mosquitto drops root privileges to its own user: let it write here.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
            let _ = std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777));
        }
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
                 max_inflight_messages 1000\nmax_queued_messages 0\nlog_dest file {}/mosquitto.log\n",
                data.display(),
                dir.display()
            ),
        )
        .unwrap();
        Self::spawn(conf, port)
    }

    /// Start mosquitto with an existing config (after [`stop`](Self::stop),
    /// say) and wait until it listens on `port`.
    pub fn spawn(conf: PathBuf, port: u16) -> Self {
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mosquitto");
        wait_port(port);
        Mosquitto { child, port, conf }
    }

    /// SIGTERM (mosquitto writes its persistence file) and wait for the exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }

    /// Stop gracefully and start again with the same config and port.
    pub fn restart(&mut self) {
        self.stop();
        std::thread::sleep(Duration::from_millis(500));
        *self = Self::spawn(self.conf.clone(), self.port);
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

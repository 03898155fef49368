//! A container registry of the test's own, for the tests that need a real
//! OCI registry: Debian's `docker-registry` (the CNCF distribution registry),
//! started on a free 127.0.0.1 port with TLS from a throw-away CA (made with
//! `openssl`), htpasswd basic auth (made with `htpasswd -B`) and its storage in
//! a temporary folder the test owns; never the system registry. The
//! registry is killed when the handle is dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user the registry accepts.
pub const USER: &str = "wasmgraph";
/// That user's password.
pub const PASSWORD: &str = "s3cret-for-tests";

/// A free TCP port on 127.0.0.1 (free when asked; the registry binds it just after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `name`'s path, or a panic saying how to install it.
fn binary(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is missing: these tests start their own registry; install it with scripts/setup.sh (apt-get install {package})");
}

/// A running registry on 127.0.0.1:`port` over TLS with basic auth.
pub struct TestRegistry {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl TestRegistry {
    /// Make a CA, a server certificate for 127.0.0.1 and a password file,
    /// start the registry and wait until it accepts connections.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        make_certificates(dir.path());
        run(Command::new(binary("htpasswd", "apache2-utils"))
            .args(["-Bbc", "htpasswd", USER, PASSWORD])
            .current_dir(dir.path()));
        let mut last = String::new();
        let mut registry = TestRegistry { child: None, port: 0, dir };
        for _ in 0..5 {
            registry.port = free_port();
            match registry.spawn() {
                Ok(()) => return registry,
                Err(why) => last = why,
            }
        }
        panic!("could not start docker-registry: {last}");
    }

    /// `127.0.0.1:<port>`, the host of references to it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The PEM file of the CA that signed the registry's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Where the registry keeps the blob of `digest` (`sha256:<hex>`) on
    /// disk, for tests that tamper with it.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.path().join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }

    /// Stop the registry (its storage stays), as a network outage looks to clients.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn().unwrap_or_else(|why| panic!("restarting docker-registry: {why}"));
    }

    fn spawn(&mut self) -> Result<(), String> {
        let d = self.dir.path();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {d}/server.pem\n    key: {d}/server.key\n\
             auth:\n  htpasswd:\n    realm: wasmgraph-tests\n    path: {d}/htpasswd\n",
            data = d.join("data").display(),
            port = self.port,
            d = d.display(),
        );
        std::fs::write(d.join("config.yml"), config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("registry.log")).map_err(|e| e.to_string())?;
        let child = Command::new(binary("docker-registry", "docker-registry"))
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawning docker-registry: {e}"))?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Wait (up to 10 s) until the port accepts connections; fails early
    /// when the process exits (a port in use, a bad config).
    fn wait_ready(&mut self) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
                self.child = None;
                return Err(format!(
                    "docker-registry on port {} exited at start ({status}); its log:\n{log}",
                    self.port
                ));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!("docker-registry on port {} did not listen within 10 s", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 and localhost
/// signed by it (`server.pem`, `server.key`), P-256 keys, valid two days.
fn make_certificates(dir: &Path) {
    let openssl = binary("openssl", "openssl");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(Command::new(&openssl)
        .args(["req", "-x509", "-days", "2", "-subj", "/CN=wasmgraph test CA"])
        .args(ec)
        .args(["-keyout", "ca.key", "-out", "ca.pem"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .current_dir(dir));
    run(Command::new(&openssl)
        .args(["req", "-subj", "/CN=127.0.0.1"])
        .args(ec)
        .args(["-keyout", "server.key", "-out", "server.csr"])
        .current_dir(dir));
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("writing server.ext");
    run(Command::new(&openssl)
        .args(["x509", "-req", "-days", "2", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key"])
        .args(["-CAcreateserial", "-out", "server.pem", "-extfile", "server.ext"])
        .current_dir(dir));
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_listens_and_stops() {
        let mut registry = TestRegistry::start();
        let port = registry.port;
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(registry.ca_file().is_file());
        registry.stop();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "a stopped registry is gone");
        registry.restart();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok(), "a restarted registry listens again");
    }
}

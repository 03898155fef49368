//! Helpers shared by the CLI's end-to-end tests (`mqtt.rs`, `kafka.rs`): the
//! `wasmgraph run` process under test, signals, and an MQTT 5 test client.
//!
//! Each test binary includes this module with `mod common;` and uses a part
//! of it, so items unused by one binary are expected.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::v5::{Filter, Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};

/// What `wasmgraph run` prints once its source is open and the graph runs
/// (`commands/run.rs`, `announce`).
pub const READY: &str = "wasmgraph: reading ";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Send `signal` (`TERM`, `KILL`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
}

/// A running `wasmgraph run`, its stderr going to a file.
pub struct Runtime {
    child: Child,
    log: PathBuf,
}

impl Runtime {
    /// `wasmgraph run DEPLOYMENT`, waiting until it is ready.
    pub fn start(deployment: &Path, dir: &Path, tag: &str) -> Self {
        Self::start_with(deployment, dir, tag, &[])
    }

    /// The same with extra arguments.
    pub fn start_with(deployment: &Path, dir: &Path, tag: &str, args: &[&str]) -> Self {
        let mut rt = Self::spawn(deployment, dir, tag, args);
        rt.wait_for(READY, Duration::from_secs(120));
        rt
    }

    /// Start it without waiting for anything.
    pub fn spawn(deployment: &Path, dir: &Path, tag: &str, args: &[&str]) -> Self {
        let log = dir.join(format!("wasmgraph-{tag}.log"));
        let err = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
            .arg("run")
            .arg(deployment)
            .args(args)
            .current_dir(root())
            .env("WASMGRAPH_CACHE_DIR", dir.join("cache"))
            .env("RUST_LOG", "warn,wasmgraph_connectors=info")
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        Runtime { child, log }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until its stderr shows `text`; panics (with the log) if it exits
    /// or `timeout` passes first.
    pub fn wait_for(&mut self, text: &str, timeout: Duration) {
        wait_for_text(&mut self.child, &self.log, text, timeout);
    }

    /// SIGKILL: no clean-up of any kind, as in a crash.
    pub fn kill(mut self) {
        signal(self.child.id(), "KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, wait for a clean exit, return the log.
    pub fn stop(mut self) -> String {
        signal(self.child.id(), "TERM");
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = self.log();
                assert!(status.success(), "wasmgraph exited with {status}:\n{log}");
                return log;
            }
            assert!(Instant::now() < until, "wasmgraph did not stop on SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message as a test client received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: String,
    pub user_properties: Vec<(String, String)>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub content_type: Option<String>,
    pub at: Instant,
}

/// An MQTT 5 client on its own runtime: publishes, and collects what arrives
/// on its subscriptions (persistent session, so broker restarts lose nothing).
pub struct Client {
    rt: tokio::runtime::Runtime,
    client: AsyncClient,
    received: Arc<Mutex<Vec<Received>>>,
    acks: Arc<Mutex<u64>>,
    subscribed: Arc<Mutex<bool>>,
}

impl Client {
    pub fn connect(port: u16, id: &str, subscribe: &[&str]) -> Self {
        Self::connect_with(port, id, subscribe, None)
    }

    pub fn connect_with(port: u16, id: &str, subscribe: &[&str], credentials: Option<(&str, &str)>) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_clean_start(false).set_session_expiry_interval(Some(600)).set_max_packet_size(Some(1 << 24));
        if let Some((user, password)) = credentials {
            options.set_credentials(user, password);
        }
        let (client, mut eventloop) = {
            let _g = rt.enter();
            AsyncClient::new(options, 20_000)
        };
        let received = Arc::new(Mutex::new(Vec::new()));
        let acks = Arc::new(Mutex::new(0u64));
        let subscribed = Arc::new(Mutex::new(subscribe.is_empty()));
        let filters: Vec<Filter> = subscribe.iter().map(|t| Filter::new(*t, QoS::AtLeastOnce)).collect();
        let (r, a, s, c) = (received.clone(), acks.clone(), subscribed.clone(), client.clone());
        rt.spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) if !filters.is_empty() => {
                        let _ = c.try_subscribe_many(filters.clone());
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => *s.lock().unwrap() = true,
                    Ok(Event::Incoming(Packet::PubAck(_))) => *a.lock().unwrap() += 1,
                    Ok(Event::Incoming(Packet::Publish(p))) => r.lock().unwrap().push(Received {
                        topic: String::from_utf8_lossy(&p.topic).into_owned(),
                        payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        user_properties: p.properties.as_ref().map(|p| p.user_properties.clone()).unwrap_or_default(),
                        response_topic: p.properties.as_ref().and_then(|p| p.response_topic.clone()),
                        correlation_data: p
                            .properties
                            .as_ref()
                            .and_then(|p| p.correlation_data.as_ref().map(|d| d.to_vec())),
                        content_type: p.properties.as_ref().and_then(|p| p.content_type.clone()),
                        at: Instant::now(),
                    }),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        let me = Client { rt, client, received, acks, subscribed };
        let until = Instant::now() + Duration::from_secs(10);
        while !*me.subscribed.lock().unwrap() {
            assert!(Instant::now() < until, "test client {id} could not subscribe");
            std::thread::sleep(Duration::from_millis(10));
        }
        me
    }

    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>, props: Vec<(String, String)>) {
        self.publish_props(topic, payload, PublishProperties { user_properties: props, ..Default::default() });
    }

    pub fn publish_props(&self, topic: &str, payload: impl Into<Vec<u8>>, props: PublishProperties) {
        let client = self.client.clone();
        let topic = topic.to_string();
        let payload = payload.into();
        self.rt
            .block_on(
                async move { client.publish_with_properties(topic, QoS::AtLeastOnce, false, payload, props).await },
            )
            .unwrap();
    }

    /// Wait until the broker acknowledged `n` publishes.
    pub fn wait_acks(&self, n: u64, timeout: Duration) {
        let until = Instant::now() + timeout;
        while *self.acks.lock().unwrap() < n {
            assert!(Instant::now() < until, "the broker acknowledged {} of {n} publishes", self.acks.lock().unwrap());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// PUBACKs received so far.
    pub fn acks(&self) -> u64 {
        *self.acks.lock().unwrap()
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn wait_received(&self, what: &str, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(Instant::now() < until, "timed out waiting for {what}: {} message(s) so far", got.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The component of the guest crate at `crate_dir` (relative to the
/// workspace root), built with `wasmgraph build` on first use when missing.
/// Wait until the log file of `child` shows `text`; panics (with the log) if
/// the process exits or `timeout` passes first.
pub fn wait_for_text(child: &mut Child, log: &Path, text: &str, timeout: Duration) {
    let read = || std::fs::read_to_string(log).unwrap_or_default();
    let until = Instant::now() + timeout;
    while !read().contains(text) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("wasmgraph exited ({status}) before printing '{text}':\n{}", read());
        }
        assert!(Instant::now() < until, "wasmgraph did not print '{text}' in time:\n{}", read());
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn built_guest(crate_dir: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _one_build_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join(crate_dir);
    let find = || {
        std::fs::read_dir(dir.join("bin/x86_64/release"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "wasm"))
    };
    if let Some(p) = find() {
        return p;
    }
    eprintln!("building {} (first run only)", dir.display());
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph")).arg("build").arg(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "`wasmgraph build {}` failed (scripts/setup.sh installs the guest toolchain):\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    find().expect("wasmgraph build produced no .wasm")
}

/// Writes a deployment folder under `dir`: `graph.yaml`, each module
/// `(name, component)` copied to `modules/<name>.wasm`, and the deployment file
/// `file_name` holding `deployment`. Returns the deployment file's path.
pub fn deployment_folder(
    dir: &Path,
    graph: &str,
    modules: &[(&str, PathBuf)],
    file_name: &str,
    deployment: &str,
) -> PathBuf {
    std::fs::create_dir_all(dir.join("modules")).unwrap();
    for (name, component) in modules {
        std::fs::copy(component, dir.join(format!("modules/{name}.wasm")))
            .unwrap_or_else(|e| panic!("copying {}: {e}", component.display()));
    }
    std::fs::write(dir.join("graph.yaml"), graph).unwrap();
    let path = dir.join(file_name);
    std::fs::write(&path, deployment).unwrap();
    path
}

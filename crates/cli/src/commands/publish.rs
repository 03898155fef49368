//! `wasmgraph publish`: send files as MQTT 5 messages (one file, one
//! message), e.g. to the broker `wasmgraph run` embeds, without installing
//! an MQTT client.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use wasmgraph_connectors::mqtt::{MqttConnection, MqttSink, MqttSinkConfig};
use wasmgraph_connectors::Sink;
use wasmgraph_types::{Bytes, HlcClock, Message, Record};

/// Arguments of `wasmgraph publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Files to send, one message each; a directory sends its files in name order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The topic.
    #[arg(long, short)]
    pub topic: String,
    /// Broker host.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Broker port.
    #[arg(long, short, default_value_t = 1883)]
    pub port: u16,
    /// QoS 0 or 1 (with 1, waits for the broker's acknowledgements).
    #[arg(long, short, default_value_t = 1)]
    pub qos: u8,
    /// A user property KEY=VALUE (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Content type of the messages.
    #[arg(long)]
    pub content_type: Option<String>,
    /// Give up when not connected after this many seconds.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout: u64,
    /// Wait this long between messages (milliseconds).
    #[arg(long, default_value_t = 0)]
    pub interval_ms: u64,
}

impl PublishArgs {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let mut files = Vec::new();
        for path in &self.files {
            if path.is_dir() {
                let mut inner: Vec<PathBuf> = std::fs::read_dir(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                    .collect();
                inner.sort();
                files.extend(inner);
            } else {
                files.push(path.clone());
            }
        }
        let mut user_properties = Vec::new();
        for p in &self.properties {
            let Some((k, v)) = p.split_once('=') else { bail!("--property '{p}': expected KEY=VALUE") };
            user_properties.push((k.to_string(), v.to_string()));
        }
        let mut connection =
            MqttConnection::new(self.host.clone(), self.port, format!("wasmgraph-publish-{}", std::process::id()));
        connection.session_expiry = Duration::ZERO;
        let mut sink =
            MqttSink::connect(MqttSinkConfig { qos: self.qos, ..MqttSinkConfig::new(connection, self.topic.clone()) })?;
        sink.wait_connected(Duration::from_secs(self.connect_timeout)).context("is a broker running there?")?;
        let mut clock = HlcClock::new("wasmgraph-publish");
        for (seq, file) in files.iter().enumerate() {
            let payload = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let message = Message {
                topic: Bytes::from(self.topic.clone().into_bytes()),
                content_type: self.content_type.clone(),
                payload: Bytes::from(payload),
                user_properties: user_properties.clone(),
                ..Message::default()
            };
            sink.write(&Record::message(clock.now(), seq as u64, message))?;
            if self.interval_ms > 0 {
                sink.flush()?;
                std::thread::sleep(Duration::from_millis(self.interval_ms));
            }
        }
        sink.flush()?;
        eprintln!("published {} message(s) to '{}' on mqtt://{}:{}", files.len(), self.topic, self.host, self.port);
        Ok(ExitCode::SUCCESS)
    }
}

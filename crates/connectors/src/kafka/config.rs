//! Settings of the Kafka source and sink: documented serde structs, as a
//! deployment file spells them (camelCase keys, unknown keys rejected), and
//! the librdkafka configuration built from them.
//!
//! What serde cannot check is checked by `validate` (empty topics, unknown
//! `${...}` placeholders, a password given twice); the connectors call it
//! again on connect, so a config built in code gets the same checks.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rdkafka::ClientConfig;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ConnectorError;

/// librdkafka settings the connectors' guarantees rest on, or that have a
/// field of their own: `properties` may not set them.
const GUARDED: &[(&str, &str)] = &[
    ("bootstrap.servers", "use `host`"),
    ("metadata.broker.list", "use `host`"),
    ("client.id", "use `clientId`"),
    ("group.id", "use the source's `consumerGroup`"),
    ("enable.auto.commit", "the source commits offsets itself, only once the graph's output is durable"),
    ("enable.auto.offset.store", "the source commits offsets itself, only once the graph's output is durable"),
    ("enable.partition.eof", "the source reads partitions as endless streams"),
    ("enable.idempotence", "the sink is always idempotent (no duplicates from its own retries)"),
    ("acks", "the sink always waits for all in-sync replicas"),
    ("request.required.acks", "the sink always waits for all in-sync replicas"),
    ("auto.offset.reset", "use the source's `startFrom`"),
];

/// Where a Kafka cluster is and how to log in: shared by source and sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaEndpoint {
    /// Bootstrap brokers: `"host:port"`, a comma-separated list of them, or a
    /// YAML list. The client learns the rest of the cluster from these.
    pub host: Hosts,
    /// TLS to the brokers; absent for plain TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<KafkaTls>,
    /// SASL authentication; absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl: Option<KafkaSasl>,
    /// The client id brokers see in their logs and quotas; by default the
    /// name the connector is opened with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The consumer group of sources on this endpoint that name none
    /// themselves (AIO's Kafka endpoint setting of the same name).
    #[serde(default, rename = "consumerGroupId", skip_serializing_if = "Option::is_none")]
    pub consumer_group_id: Option<String>,
    /// Raw librdkafka settings for anything not covered above (say
    /// `linger.ms`, `message.timeout.ms`, `partition.assignment.strategy`),
    /// applied last. Keys the delivery guarantees rest on (auto commit,
    /// idempotence, acks) or that have a field here are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// Bootstrap brokers, each `host:port` (the port defaults to 9092).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts(pub Vec<String>);

impl Serialize for Hosts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Hosts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "\"host:port\", a comma-separated list of them, or a list")]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        let list = match Form::deserialize(deserializer)? {
            Form::One(text) => text.split(',').map(|h| h.trim().to_owned()).collect(),
            Form::Many(list) => list.into_iter().map(|h| h.trim().to_owned()).collect(),
        };
        Ok(Hosts(list))
    }
}

impl From<&str> for Hosts {
    fn from(text: &str) -> Self {
        Hosts(text.split(',').map(|h| h.trim().to_owned()).collect())
    }
}

/// TLS settings (OpenSSL, through librdkafka).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaTls {
    /// PEM file of the certificate authorities to trust; the system's roots
    /// when absent. Relative paths are taken from the deployment file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate, for mutual TLS (needs `keyFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key (needs `certFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

/// The SASL mechanisms the connectors offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SaslMechanism {
    /// User name and password in the clear (use it with TLS).
    #[serde(alias = "PLAIN", alias = "Plain")]
    Plain,
    /// SCRAM with SHA-256.
    #[serde(alias = "SCRAM-SHA-256", alias = "ScramSha256")]
    ScramSha256,
    /// SCRAM with SHA-512.
    #[serde(alias = "SCRAM-SHA-512", alias = "ScramSha512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The name librdkafka and Kafka use.
    pub fn kafka_name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL user name and password; the password inline or in a file (a mounted
/// secret), exactly one of the two.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaSasl {
    /// `plain`, `scramSha256` or `scramSha512` (Kafka's own spellings
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` are accepted too).
    pub mechanism: SaslMechanism,
    /// The user name.
    pub username: String,
    /// The password, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A file holding the password (one trailing newline is ignored).
    /// Relative paths are taken from the deployment file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

impl fmt::Debug for KafkaSasl {
    /// The password never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl KafkaEndpoint {
    /// Plain TCP to `host` (`"host:port"` or a comma-separated list).
    pub fn new(host: &str) -> Self {
        KafkaEndpoint {
            host: Hosts::from(host),
            tls: None,
            sasl: None,
            client_id: None,
            consumer_group_id: None,
            properties: BTreeMap::new(),
        }
    }

    /// `kafka://host:port,...` (or `kafka+tls://`), for logs and errors.
    pub fn describe(&self) -> String {
        let scheme = if self.tls.is_some() { "kafka+tls" } else { "kafka" };
        format!("{scheme}://{}", self.host.0.join(","))
    }

    /// Check what serde cannot: hosts, TLS file pairs, one password.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let bad = |what: String| Err(ConnectorError::Config(format!("Kafka endpoint {}: {what}", self.describe())));
        if self.host.0.is_empty() || self.host.0.iter().any(|h| h.is_empty()) {
            return bad("`host` needs at least one \"host:port\" and no empty entries".into());
        }
        if let Some(h) = self.host.0.iter().find(|h| h.contains("://") || h.contains(char::is_whitespace)) {
            return bad(format!("host '{h}' should be \"host:port\" (no scheme, no spaces)"));
        }
        if let Some(tls) = &self.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return bad("a TLS client certificate needs both `certFile` and `keyFile`".into());
            }
        }
        if let Some(sasl) = &self.sasl {
            if sasl.username.is_empty() {
                return bad("SASL needs a `username`".into());
            }
            if sasl.password.is_some() == sasl.password_file.is_some() {
                return bad("SASL needs exactly one of `password` and `passwordFile`".into());
            }
        }
        if let Some((key, why)) = GUARDED.iter().find(|(k, _)| self.properties.contains_key(*k)) {
            return bad(format!("`properties` may not set '{key}': {why}"));
        }
        Ok(())
    }

    /// Make relative file paths (TLS files, password file) relative to
    /// `base`, the folder of the file the settings came from.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |path: &mut PathBuf| *path = crate::relative_to(base, path);
        if let Some(tls) = &mut self.tls {
            tls.ca_file.iter_mut().chain(tls.cert_file.iter_mut()).chain(tls.key_file.iter_mut()).for_each(fix);
        }
        if let Some(sasl) = &mut self.sasl {
            sasl.password_file.iter_mut().for_each(fix);
        }
    }

    /// The librdkafka settings shared by consumer and producer: brokers,
    /// client id (ours unless the endpoint names one), TLS, SASL, then the raw
    /// `properties`. Reads the password file.
    pub(crate) fn client_config(&self, client_id: &str) -> Result<ClientConfig, ConnectorError> {
        self.validate()?;
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.host.0.join(","));
        config.set("client.id", self.client_id.as_deref().unwrap_or(client_id));
        let protocol = match (self.tls.is_some(), self.sasl.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        config.set("security.protocol", protocol);
        if let Some(tls) = &self.tls {
            let paths = [("ssl.ca.location", &tls.ca_file), ("ssl.certificate.location", &tls.cert_file)];
            for (key, path) in paths.into_iter().chain([("ssl.key.location", &tls.key_file)]) {
                if let Some(path) = path {
                    if !path.is_file() {
                        return Err(ConnectorError::Config(format!(
                            "Kafka endpoint {}: TLS file {} does not exist",
                            self.describe(),
                            path.display()
                        )));
                    }
                    config.set(key, path.display().to_string());
                }
            }
        }
        if let Some(sasl) = &self.sasl {
            config.set("sasl.mechanism", sasl.mechanism.kafka_name());
            config.set("sasl.username", &sasl.username);
            config.set("sasl.password", self.password(sasl)?);
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        Ok(config)
    }

    fn password(&self, sasl: &KafkaSasl) -> Result<String, ConnectorError> {
        match (&sasl.password, &sasl.password_file) {
            (Some(password), _) => Ok(password.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConnectorError::Io { path: path.display().to_string(), source })?;
                let text = text.strip_suffix('\n').unwrap_or(&text);
                Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
            }
            (None, None) => {
                Err(ConnectorError::Config(format!("Kafka endpoint {}: SASL needs a password", self.describe())))
            }
        }
    }
}

/// Where a source starts reading a partition for which its consumer group has
/// no committed offset yet (a partition with one always resumes there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The oldest record the broker keeps.
    #[default]
    Earliest,
    /// Only records produced from now on.
    Latest,
    /// The first record whose timestamp is at or after this many
    /// milliseconds since the Unix epoch (the end when there is none).
    Timestamp(i64),
}

impl Serialize for StartFrom {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StartFrom::Earliest => serializer.serialize_str("earliest"),
            StartFrom::Latest => serializer.serialize_str("latest"),
            StartFrom::Timestamp(ms) => serializer.serialize_i64(*ms),
        }
    }
}

impl<'de> Deserialize<'de> for StartFrom {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "`earliest`, `latest` or a timestamp in milliseconds since the epoch")]
        enum Form {
            Millis(i64),
            Word(String),
        }
        match Form::deserialize(deserializer)? {
            Form::Millis(ms) if ms >= 0 => Ok(StartFrom::Timestamp(ms)),
            Form::Millis(ms) => Err(serde::de::Error::custom(format!("startFrom: {ms} is before the epoch"))),
            Form::Word(word) => match word.as_str() {
                "earliest" => Ok(StartFrom::Earliest),
                "latest" => Ok(StartFrom::Latest),
                other => match other.parse::<i64>() {
                    Ok(ms) if ms >= 0 => Ok(StartFrom::Timestamp(ms)),
                    _ => Err(serde::de::Error::custom(format!(
                        "startFrom: '{other}' is none of `earliest`, `latest` or a timestamp in milliseconds"
                    ))),
                },
            },
        }
    }
}

/// Settings of [`super::KafkaSource`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaSourceConfig {
    /// The endpoint (a name under `endpoints:` in a deployment file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Topics to read: names, or regular expressions starting with `^`
    /// (librdkafka's pattern subscriptions, matched against every topic of
    /// the cluster, new ones included).
    pub topics: Vec<String>,
    /// The consumer group: members of one group share the topics' partitions
    /// and resume from the group's committed offsets. By default the name the
    /// source is opened with (the deployment's name), so every process of one
    /// deployment joins the same group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_group: Option<String>,
    /// Where to start when the group has no committed offset for a partition:
    /// `earliest` (the default: nothing the broker keeps is skipped),
    /// `latest`, or a timestamp in milliseconds since the epoch.
    #[serde(default)]
    pub start_from: StartFrom,
    /// Records whose value is larger are counted, logged and skipped (their
    /// offset is committed, so they do not come again); the stream goes on.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
}

/// 1 MiB, the same as the MQTT source (Kafka's own default limit is about 1 MB).
pub fn default_max_message_size() -> usize {
    1 << 20
}

impl KafkaSourceConfig {
    /// Read `topics` from the earliest record, in the default group.
    pub fn new<T: Into<String>>(topics: impl IntoIterator<Item = T>) -> Self {
        KafkaSourceConfig {
            endpoint: None,
            topics: topics.into_iter().map(Into::into).collect(),
            consumer_group: None,
            start_from: StartFrom::default(),
            max_message_size: default_max_message_size(),
        }
    }

    /// The group the source joins: `consumerGroup`, else `default_name`.
    pub fn group_id<'a>(&'a self, default_name: &'a str) -> &'a str {
        self.consumer_group.as_deref().unwrap_or(default_name)
    }

    /// Check what serde cannot: at least one topic, no empty names, valid
    /// patterns' syntax left to librdkafka, a non-empty group.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let bad = |what: String| Err(ConnectorError::Config(format!("Kafka source: {what}")));
        if self.topics.is_empty() {
            return bad("`topics` needs at least one topic name or `^pattern`".into());
        }
        for topic in &self.topics {
            if topic.is_empty() {
                return bad("`topics` has an empty entry".into());
            }
            if !topic.starts_with('^') {
                check_topic_name(topic).map_err(|e| ConnectorError::Config(format!("Kafka source: {e}")))?;
            }
        }
        if self.consumer_group.as_deref().is_some_and(|g| g.trim().is_empty()) {
            return bad("`consumerGroup` is empty".into());
        }
        if self.max_message_size == 0 {
            return bad("`maxMessageSize` must be above 0".into());
        }
        Ok(())
    }
}

/// What key a sink gives each record it produces.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum SinkKey {
    /// The key the record came with (the reserved user property `__key`, see
    /// the module docs), none if it has none.
    #[default]
    Preserve,
    /// No key: records spread over partitions.
    None,
    /// The input topic (the record's `topic`) as key, so each source topic
    /// keeps its order within one partition.
    Topic,
    /// The value of this user property (none when the record lacks it).
    Property(String),
}

/// Compression of produced batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Compression {
    /// None (the default).
    #[default]
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// librdkafka's `compression.type` value.
    pub(crate) fn kafka_name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Settings of [`super::KafkaSink`]. The producer is always idempotent and
/// waits for all in-sync replicas (`acks=all`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaSinkConfig {
    /// The endpoint (a name under `endpoints:` in a deployment file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The topic to produce to; `${inputTopic}` is the record's own topic and
    /// `${inputTopic.N}` its N-th level (from 1). Levels are split on `/`
    /// (MQTT topics), or on `.` when the input topic has no `/` (Kafka
    /// topics). The result must be a valid Kafka topic name.
    pub topic: String,
    /// The key of each produced record: `preserve` (default), `none`,
    /// `topic` or `{property: <name>}`.
    #[serde(default)]
    pub key: SinkKey,
    /// Compression of produced batches: `none` (default), `gzip`, `snappy`,
    /// `lz4` or `zstd`.
    #[serde(default)]
    pub compression: Compression,
}

impl KafkaSinkConfig {
    /// Produce to `topic` (a template), keys preserved, no compression.
    pub fn new(topic: impl Into<String>) -> Self {
        KafkaSinkConfig {
            endpoint: None,
            topic: topic.into(),
            key: SinkKey::default(),
            compression: Compression::default(),
        }
    }

    /// Check what serde cannot: the topic template's placeholders, and the
    /// topic name itself when it has none.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let template =
            TopicTemplate::parse(&self.topic).map_err(|e| ConnectorError::Config(format!("Kafka sink: {e}")))?;
        if let Some(fixed) = template.fixed() {
            check_topic_name(fixed).map_err(|e| ConnectorError::Config(format!("Kafka sink: {e}")))?;
        }
        if matches!(&self.key, SinkKey::Property(name) if name.is_empty()) {
            return Err(ConnectorError::Config("Kafka sink: `key: {property: ...}` needs a property name".into()));
        }
        Ok(())
    }
}

/// A sink's topic, parsed: literal text and `${inputTopic}` / `${inputTopic.N}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicTemplate {
    parts: Vec<Part>,
    source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Input,
    /// 1-based level.
    Level(usize),
}

impl TopicTemplate {
    pub(crate) fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("`topic` is empty".into());
        }
        let mut parts = Vec::new();
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let end = rest[start..].find('}').ok_or_else(|| format!("unclosed '${{' in topic '{pattern}'"))?;
            let name = &rest[start + 2..start + end];
            parts.push(match name {
                "inputTopic" => Part::Input,
                _ => match name.strip_prefix("inputTopic.").map(str::parse::<usize>) {
                    Some(Ok(n)) if n >= 1 => Part::Level(n),
                    Some(_) => return Err(format!("'${{{name}}}' in topic '{pattern}': levels count from 1")),
                    None => {
                        return Err(format!(
                            "unknown placeholder '${{{name}}}' in topic '{pattern}' (use ${{inputTopic}} or ${{inputTopic.N}})"
                        ))
                    }
                },
            });
            rest = &rest[start + end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(TopicTemplate { parts, source: pattern.to_owned() })
    }

    /// The topic when the template has no placeholder.
    pub(crate) fn fixed(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    /// The topic for a record that came from `input`.
    pub(crate) fn expand(&self, input: &str) -> Result<String, String> {
        let separator = if input.contains('/') { '/' } else { '.' };
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Input => out.push_str(input),
                Part::Level(n) => {
                    out.push_str(input.split(separator).nth(n - 1).ok_or_else(|| {
                        format!("topic '{}': the input topic '{input}' has no level {n}", self.source)
                    })?)
                }
            }
        }
        check_topic_name(&out).map_err(|e| format!("{e} (from topic '{}' and input topic '{input}')", self.source))?;
        Ok(out)
    }
}

/// Kafka's rule for topic names: 1 to 249 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub(crate) fn check_topic_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(format!("'{name}' is not a valid Kafka topic name (1-249 of letters, digits, '.', '_', '-')"))
    }
}

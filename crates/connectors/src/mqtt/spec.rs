//! The MQTT sections of a deployment file: serde structs as users write them,
//! turned into the connection settings ([`MqttConnection`]) the source and
//! sink run with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::config::{MqttConnection, MqttTls};
use crate::ConnectorError;

/// A named MQTT endpoint (`endpoints: {plant: {...}}`), or the embedded broker.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MqttEndpoint {
    /// Start the built-in broker on 127.0.0.1 instead of connecting to one.
    #[serde(default)]
    pub embedded: bool,
    /// Broker host name or address (required unless `embedded`).
    pub host: Option<String>,
    /// TCP port; default 1883, or 8883 with `tls`.
    pub port: Option<u16>,
    /// The source's client id (names its persistent session); the sink adds
    /// `-sink`, dead letters `-dead-letters`. Default: `wasmgraph-<name>-<role>`.
    pub client_id: Option<String>,
    /// User name for the broker.
    pub username: Option<String>,
    /// Password (or `passwordFile`).
    pub password: Option<String>,
    /// A file whose first line is the password, relative to the deployment file.
    pub password_file: Option<PathBuf>,
    /// TLS; its presence turns TLS on.
    pub tls: Option<MqttTlsSpec>,
    /// Keep-alive interval in seconds (default 30).
    pub keep_alive_seconds: Option<u64>,
    /// How long the broker keeps our session while we are down (default 3600).
    pub session_expiry_seconds: Option<u64>,
}

/// TLS files of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MqttTlsSpec {
    /// PEM file of the CAs to trust; the system's roots when absent.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for mutual TLS (with `keyFile`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
}

/// `source:` of type mqtt.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MqttSourceSpec {
    /// A name under `endpoints`; absent: the embedded broker.
    pub endpoint: Option<String>,
    /// Topic filters (wildcards and `$share/<group>/...` allowed).
    pub topics: Vec<String>,
    /// QoS of the subscriptions: 0 or 1.
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// Larger payloads are counted as errors and dropped (bytes).
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
    /// Unacknowledged QoS 1 messages the broker may send at once (MQTT 5
    /// Receive Maximum, 1-65535). A message stays unacknowledged until the
    /// graph's output for it is published, so a windowed graph needs at least
    /// its input rate times its window.
    #[serde(default = "default_receive_maximum")]
    pub receive_maximum: u32,
}

/// `sink:` of type mqtt.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MqttSinkSpec {
    /// A name under `endpoints`; absent: the embedded broker.
    pub endpoint: Option<String>,
    /// The topic; `${inputTopic}` and `${inputTopic.N}` (N-th level, from 1)
    /// are filled from the record's topic.
    pub topic: String,
    /// QoS of the publishes: 0 or 1.
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// Publish with the retain flag.
    #[serde(default)]
    pub retain: bool,
}

/// QoS 1: at least once.
pub fn default_qos() -> u8 {
    1
}

/// 1 MiB.
pub fn default_max_message_size() -> usize {
    1 << 20
}

/// 1000 messages in flight.
pub fn default_receive_maximum() -> u32 {
    1000
}

/// The port the embedded broker prefers.
pub const EMBEDDED_PORT: u16 = 1883;

impl MqttSourceSpec {
    /// QoS 1 on `topics` through `endpoint` (or the embedded broker), defaults otherwise.
    pub fn new(endpoint: Option<String>, topics: Vec<String>) -> Self {
        MqttSourceSpec {
            endpoint,
            topics,
            qos: default_qos(),
            max_message_size: default_max_message_size(),
            receive_maximum: default_receive_maximum(),
        }
    }

    pub(crate) fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.topics.is_empty() {
            problems.push("source.topics: give at least one topic filter".into());
        }
        for topic in &self.topics {
            if let Err(why) = check_filter(topic) {
                problems.push(format!("source.topics: '{topic}' is not a valid MQTT topic filter: {why}"));
            }
        }
        problems.extend(check_qos("source.qos", self.qos));
        if !(1..=65535).contains(&self.receive_maximum) {
            problems.push(format!(
                "source.receiveMaximum: {} is out of range; use 1 to 65535 (MQTT 5 Receive Maximum)",
                self.receive_maximum
            ));
        }
        problems
    }
}

impl MqttSinkSpec {
    /// QoS 1, not retained, to `topic` through `endpoint` (or the embedded broker).
    pub fn new(endpoint: Option<String>, topic: String) -> Self {
        MqttSinkSpec { endpoint, topic, qos: default_qos(), retain: false }
    }

    pub(crate) fn check(&self) -> Vec<String> {
        let mut problems = check_qos("sink.qos", self.qos);
        if self.topic.is_empty() {
            problems.push("sink.topic: give the topic to publish to".into());
        } else if let Err(why) = check_template(&self.topic) {
            problems.push(format!("sink.topic: {why}"));
        }
        problems
    }
}

/// An MQTT topic filter: levels split by `/`; `+` alone in a level; `#` alone
/// in the last level; no NUL; a `$share/<group>/` prefix with a filter after it.
pub(crate) fn check_filter(filter: &str) -> Result<(), String> {
    let filter = match filter.strip_prefix("$share/") {
        Some(rest) => match rest.split_once('/') {
            Some((group, f)) if !group.is_empty() && !group.contains(['+', '#']) && !f.is_empty() => f,
            _ => return Err("a shared subscription is `$share/<group>/<filter>`".into()),
        },
        None => filter,
    };
    if filter.is_empty() {
        return Err("it is empty".into());
    }
    if filter.contains('\0') {
        return Err("it contains a NUL character".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("`#` must be a whole level, and the last one".into());
        }
        if level.contains('+') && *level != "+" {
            return Err("`+` must be a whole level".into());
        }
    }
    Ok(())
}

/// A sink topic template: `${inputTopic}` and `${inputTopic.N}` (N from 1)
/// are the only placeholders, and the fixed text has no wildcard.
pub(crate) fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    let mut fixed = String::new();
    while let Some(start) = rest.find("${") {
        fixed.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return Err(format!("unclosed '${{' in '{template}'"));
        };
        let name = &rest[start + 2..start + end];
        let known = name == "inputTopic"
            || name.strip_prefix("inputTopic.").is_some_and(|n| n.parse::<usize>().is_ok_and(|n| n >= 1));
        if !known {
            return Err(format!("unknown placeholder '${{{name}}}' in '{template}' (use ${{inputTopic}} or ${{inputTopic.N}}, N from 1)"));
        }
        rest = &rest[start + end + 1..];
    }
    fixed.push_str(rest);
    if fixed.contains(['+', '#']) {
        return Err(format!("'{template}' has a wildcard; one publishes to a topic, not a filter"));
    }
    Ok(())
}

/// When a sink publishing to `template` would feed a source reading
/// `filters` on the same broker (every output read again, a loop): an input
/// topic that shows it and the topic its output would go to. The input is
/// each filter with its wildcards filled in.
pub fn feedback(filters: &[String], template: &str) -> Option<(String, String)> {
    filters.iter().find_map(|f| {
        let input = super::drain::sample_topic(f, "x");
        let output = super::sink::expand_topic(template, &input).ok()?;
        let read_again = super::drain::reading(filters, &output).next().is_some();
        read_again.then_some((input, output))
    })
}

fn check_qos(what: &str, qos: u8) -> Vec<String> {
    if qos > 1 {
        vec![format!("{what}: {qos} is not supported; use 0 or 1")]
    } else {
        vec![]
    }
}

impl MqttEndpoint {
    pub(crate) fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.embedded && self.host.is_none() {
            problems.push("give `host` (or `embedded: true`)".into());
        }
        if self.password.is_some() && self.password_file.is_some() {
            problems.push("give `password` or `passwordFile`, not both".into());
        }
        if self.username.is_none() && (self.password.is_some() || self.password_file.is_some()) {
            problems.push("a password needs a `username`".into());
        }
        if self.keep_alive_seconds.is_some_and(|s| s > u16::MAX as u64) {
            problems.push(format!("keepAliveSeconds: at most {} (MQTT's limit)", u16::MAX));
        }
        if self.session_expiry_seconds.is_some_and(|s| s > u32::MAX as u64) {
            problems.push(format!("sessionExpirySeconds: at most {} (MQTT's limit)", u32::MAX));
        }
        if let Some(f) = &self.password_file {
            if let Err(e) = std::fs::metadata(f) {
                problems.push(format!("passwordFile {}: {e}", f.display()));
            }
        }
        problems
    }

    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        let rel = |p: &mut Option<PathBuf>| {
            if let Some(path) = p.as_mut() {
                *path = crate::relative_to(base, path);
            }
        };
        rel(&mut self.password_file);
        if let Some(tls) = self.tls.as_mut() {
            rel(&mut tls.ca_file);
            rel(&mut tls.cert_file);
            rel(&mut tls.key_file);
        }
    }

    /// The connection settings, with `client_id` when the endpoint names none.
    pub fn connection(&self, client_id: String) -> Result<MqttConnection, ConnectorError> {
        let host = self.host.clone().ok_or_else(|| ConnectorError::Config("MQTT endpoint: give `host`".into()))?;
        let tls = self.tls.as_ref().map(|t| MqttTls {
            ca_file: t.ca_file.clone(),
            cert_file: t.cert_file.clone(),
            key_file: t.key_file.clone(),
        });
        let port = self.port.unwrap_or(if tls.is_some() { 8883 } else { 1883 });
        let mut c = MqttConnection::new(host, port, client_id);
        c.tls = tls;
        if let Some(user) = &self.username {
            c.credentials = Some((user.clone(), self.password()?));
        }
        if let Some(s) = self.keep_alive_seconds {
            c.keep_alive = Duration::from_secs(s);
        }
        if let Some(s) = self.session_expiry_seconds {
            c.session_expiry = Duration::from_secs(s);
        }
        Ok(c)
    }

    fn password(&self) -> Result<String, ConnectorError> {
        match (&self.password, &self.password_file) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(f)) => Ok(std::fs::read_to_string(f)
                .map_err(|source| ConnectorError::Io { path: f.display().to_string(), source })?
                .lines()
                .next()
                .unwrap_or("")
                .to_string()),
            (None, None) => Ok(String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{check_filter, check_template, feedback, MqttEndpoint};

    #[test]
    fn sink_topics_the_source_reads_again_are_found() {
        let filters = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let found = feedback(&filters(&["in/#"]), "in/out/${inputTopic.2}");
        assert_eq!(found, Some(("in/x".into(), "in/out/x".into())));
        assert!(feedback(&filters(&["#"]), "out/${inputTopic}").is_some(), "`#` reads everything");
        assert!(feedback(&filters(&["$share/g/a/+"]), "a/done").is_some());
        assert_eq!(feedback(&filters(&["in/#"]), "out/${inputTopic}"), None);
        assert_eq!(feedback(&filters(&["sensors/+/raw"]), "sensors/${inputTopic.2}/clean"), None);
    }

    /// Issue 18: `keepAliveSeconds: 18446744073709551615` panicked in the
    /// MQTT thread (an `Instant` overflow) and the process then ignored
    /// SIGTERM. Out-of-range durations are refused at load, by key.
    #[test]
    fn durations_out_of_mqtt_range_are_refused_at_load() {
        let endpoint = MqttEndpoint {
            embedded: true,
            keep_alive_seconds: Some(u64::MAX),
            session_expiry_seconds: Some(u64::MAX),
            ..MqttEndpoint::default()
        };
        assert_eq!(
            endpoint.check(),
            [
                "keepAliveSeconds: at most 65535 (MQTT's limit)",
                "sessionExpirySeconds: at most 4294967295 (MQTT's limit)"
            ]
        );
        let fine = MqttEndpoint { keep_alive_seconds: Some(65_535), ..endpoint };
        assert_eq!(fine.check().len(), 1, "{:?}", fine.check());
    }

    #[test]
    fn filters_are_checked() {
        for good in ["a/b", "sensors/+/t", "#", "a/#", "+", "$share/g/a/+/b", "/a"] {
            assert!(check_filter(good).is_ok(), "{good}");
        }
        for bad in ["sens#ors/a+b", "a/#/b", "a/b#", "a+/b", "", "$share/g", "$share//a"] {
            assert!(check_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_are_checked() {
        for good in ["out/${inputTopic}", "x/${inputTopic.3}/y", "plain"] {
            assert!(check_template(good).is_ok(), "{good}");
        }
        for bad in ["out/${foo}", "out/${inputTopic.0}", "out/${inputTopic.x}", "out/${inputTopic", "out/#"] {
            assert!(check_template(bad).is_err(), "{bad}");
        }
    }
}

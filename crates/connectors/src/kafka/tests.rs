//! Settings (parsing, validation, topic templates, the librdkafka settings
//! built from them) and a sink that cannot deliver; no broker needed. The
//! tests against a real broker are in `integration.rs`.

use std::path::{Path, PathBuf};

use serde_json::json;
use wasmgraph_types::{Hlc, Message, Record};

use super::config::{check_topic_name, TopicTemplate};
use super::*;
use crate::{ConnectorError, Sink};

fn endpoint(value: serde_json::Value) -> Result<KafkaEndpoint, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn config_error(result: Result<(), ConnectorError>) -> String {
    match result {
        Err(ConnectorError::Config(message)) => message,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn endpoint_parses_every_documented_key() {
    let parsed = endpoint(json!({
        "host": "a:9092, b:9093",
        "tls": {"caFile": "ca.pem", "certFile": "c.pem", "keyFile": "k.pem"},
        "sasl": {"mechanism": "scramSha512", "username": "u", "passwordFile": "secret"},
        "clientId": "me",
        "properties": {"linger.ms": "20"}
    }))
    .unwrap();
    assert_eq!(parsed.host, Hosts(vec!["a:9092".into(), "b:9093".into()]));
    assert_eq!(parsed.tls.as_ref().unwrap().ca_file.as_deref(), Some(Path::new("ca.pem")));
    let sasl = parsed.sasl.as_ref().unwrap();
    assert_eq!((sasl.mechanism, sasl.username.as_str()), (SaslMechanism::ScramSha512, "u"));
    assert_eq!(parsed.client_id.as_deref(), Some("me"));
    assert_eq!(parsed.properties["linger.ms"], "20");
    assert_eq!(parsed.describe(), "kafka+tls://a:9092,b:9093");
    parsed.validate().unwrap();

    let list = endpoint(json!({"host": ["x:1", "y:2"]})).unwrap();
    assert_eq!(list.host.0, ["x:1", "y:2"]);
    for (spelling, mechanism) in [
        ("plain", SaslMechanism::Plain),
        ("PLAIN", SaslMechanism::Plain),
        ("SCRAM-SHA-256", SaslMechanism::ScramSha256),
        ("scramSha256", SaslMechanism::ScramSha256),
    ] {
        let e = endpoint(json!({"host": "h:1", "sasl": {"mechanism": spelling, "username": "u", "password": "p"}}));
        assert_eq!(e.unwrap().sasl.unwrap().mechanism, mechanism, "{spelling}");
    }
}

#[test]
fn endpoint_rejects_unknown_keys_and_bad_values() {
    let unknown = endpoint(json!({"host": "h:1", "port": 9092})).unwrap_err();
    assert!(unknown.contains("unknown field `port`"), "{unknown}");
    let nested = endpoint(json!({"host": "h:1", "tls": {"ca": "x"}})).unwrap_err();
    assert!(nested.contains("unknown field `ca`"), "{nested}");
    let mechanism = endpoint(json!({"host": "h:1", "sasl": {"mechanism": "gssapi", "username": "u"}})).unwrap_err();
    assert!(mechanism.contains("gssapi"), "{mechanism}");

    let check = |value| config_error(endpoint(value).unwrap().validate());
    assert!(check(json!({"host": ""})).contains("at least one"));
    assert!(check(json!({"host": "tcp://h:1"})).contains("no scheme"));
    assert!(check(json!({"host": "h:1", "tls": {"certFile": "c"}})).contains("both `certFile` and `keyFile`"));
    let both =
        json!({"host": "h:1", "sasl": {"mechanism": "plain", "username": "u", "password": "p", "passwordFile": "f"}});
    assert!(check(both).contains("exactly one of `password` and `passwordFile`"));
    let guarded = check(json!({"host": "h:1", "properties": {"enable.auto.commit": "true"}}));
    assert!(guarded.contains("'enable.auto.commit'") && guarded.contains("durable"), "{guarded}");
    assert!(check(json!({"host": "h:1", "properties": {"acks": "1"}})).contains("all in-sync replicas"));
}

#[test]
fn password_never_shows_in_debug_output() {
    let e = endpoint(json!({"host": "h:1", "sasl": {"mechanism": "plain", "username": "u", "password": "hunter2"}}));
    let text = format!("{:?}", e.unwrap());
    assert!(!text.contains("hunter2") && text.contains("***"), "{text}");
}

#[test]
fn relative_paths_are_taken_from_the_base_folder() {
    let mut e = endpoint(json!({
        "host": "h:1",
        "tls": {"caFile": "certs/ca.pem", "certFile": "/etc/c.pem", "keyFile": "k.pem"},
        "sasl": {"mechanism": "plain", "username": "u", "passwordFile": "secret"}
    }))
    .unwrap();
    e.resolve_paths(Path::new("/deploy"));
    let tls = e.tls.as_ref().unwrap();
    assert_eq!(tls.ca_file.as_deref(), Some(Path::new("/deploy/certs/ca.pem")));
    assert_eq!(tls.cert_file.as_deref(), Some(Path::new("/etc/c.pem")));
    assert_eq!(tls.key_file.as_deref(), Some(Path::new("/deploy/k.pem")));
    assert_eq!(e.sasl.unwrap().password_file, Some(PathBuf::from("/deploy/secret")));
}

#[test]
fn client_settings_follow_tls_sasl_and_properties() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, secret) = (dir.path().join("ca.pem"), dir.path().join("secret"));
    std::fs::write(&ca, "not checked here").unwrap();
    std::fs::write(&secret, "s3cret\n").unwrap();
    let e = endpoint(json!({
        "host": ["a:1", "b:2"],
        "tls": {"caFile": ca},
        "sasl": {"mechanism": "scramSha256", "username": "u", "passwordFile": secret},
        "properties": {"linger.ms": "7"}
    }))
    .unwrap();
    let config = e.client_config("my-client").unwrap();
    let get = |key| config.get(key).unwrap_or("<unset>").to_owned();
    assert_eq!(get("bootstrap.servers"), "a:1,b:2");
    assert_eq!(get("client.id"), "my-client");
    assert_eq!(get("security.protocol"), "sasl_ssl");
    assert_eq!(get("sasl.mechanism"), "SCRAM-SHA-256");
    assert_eq!(get("sasl.password"), "s3cret", "one trailing newline dropped");
    assert_eq!(get("ssl.ca.location"), ca.display().to_string());
    assert_eq!(get("linger.ms"), "7");

    let mut missing = e.clone();
    missing.tls.as_mut().unwrap().ca_file = Some(dir.path().join("nope.pem"));
    assert!(config_error(missing.client_config("c").map(|_| ())).contains("nope.pem does not exist"));
    let plain = KafkaEndpoint::new("h:1").client_config("c").unwrap();
    assert_eq!(plain.get("security.protocol"), Some("plaintext"));
}

#[test]
fn source_config_defaults_and_start_positions() {
    let parse = |v| serde_json::from_value::<KafkaSourceConfig>(v).map_err(|e| e.to_string());
    let minimal = parse(json!({"topics": ["a", "^b.*"]})).unwrap();
    assert_eq!(minimal.start_from, StartFrom::Earliest);
    assert_eq!(minimal.max_message_size, default_max_message_size());
    assert_eq!(minimal.group_id("deployment-x"), "deployment-x");
    minimal.validate().unwrap();
    let named = parse(json!({"topics": ["a"], "consumerGroup": "g1", "startFrom": "latest"})).unwrap();
    assert_eq!((named.group_id("d"), named.start_from), ("g1", StartFrom::Latest));
    for (value, expected) in
        [(json!(1_700_000_000_000i64), 1_700_000_000_000), (json!("1700000000001"), 1_700_000_000_001)]
    {
        let parsed = parse(json!({"topics": ["a"], "startFrom": value})).unwrap();
        assert_eq!(parsed.start_from, StartFrom::Timestamp(expected));
    }
    let word = parse(json!({"topics": ["a"], "startFrom": "yesterday"})).unwrap_err();
    assert!(word.contains("'yesterday' is none of"), "{word}");
    assert!(parse(json!({"topics": ["a"], "startFrom": -5})).unwrap_err().contains("before the epoch"));
    assert!(parse(json!({"topics": ["a"], "group": "g"})).unwrap_err().contains("unknown field `group`"));

    assert!(config_error(KafkaSourceConfig::new(Vec::<String>::new()).validate()).contains("at least one"));
    assert!(config_error(KafkaSourceConfig::new(["a/b"]).validate()).contains("not a valid Kafka topic"));
    let mut empty_group = KafkaSourceConfig::new(["a"]);
    empty_group.consumer_group = Some(" ".into());
    assert!(config_error(empty_group.validate()).contains("`consumerGroup` is empty"));
}

#[test]
fn sink_config_parses_keys_and_compression() {
    let parse = |v| serde_json::from_value::<KafkaSinkConfig>(v).map_err(|e| e.to_string());
    let minimal = parse(json!({"topic": "out"})).unwrap();
    assert_eq!((minimal.key, minimal.compression), (SinkKey::Preserve, Compression::None));
    let full =
        parse(json!({"topic": "out-${inputTopic.2}", "key": {"property": "device"}, "compression": "zstd"})).unwrap();
    assert_eq!((full.key, full.compression), (SinkKey::Property("device".into()), Compression::Zstd));
    assert_eq!(parse(json!({"topic": "o", "key": "topic"})).unwrap().key, SinkKey::Topic);
    assert_eq!(parse(json!({"topic": "o", "key": "none"})).unwrap().key, SinkKey::None);
    assert!(parse(json!({"topic": "o", "key": "random"})).is_err());

    let unknown = config_error(KafkaSinkConfig::new("x-${outputTopic}").validate());
    assert!(unknown.contains("unknown placeholder '${outputTopic}'"), "{unknown}");
    assert!(config_error(KafkaSinkConfig::new("").validate()).contains("`topic` is empty"));
    assert!(config_error(KafkaSinkConfig::new("a b").validate()).contains("not a valid Kafka topic"));
    assert!(config_error(KafkaSinkConfig::new("x-${inputTopic").validate()).contains("unclosed"));
    assert!(config_error(KafkaSinkConfig::new("x-${inputTopic.0}").validate()).contains("count from 1"));
}

#[test]
fn topic_templates_expand_levels_of_mqtt_and_kafka_topics() {
    let t = |pattern: &str, input: &str| TopicTemplate::parse(pattern).unwrap().expand(input);
    assert_eq!(t("copy-${inputTopic}", "plant.line1").unwrap(), "copy-plant.line1");
    assert_eq!(t("${inputTopic.2}-out", "sensors/1/temp").unwrap(), "1-out");
    assert_eq!(t("x.${inputTopic.3}", "plant.line1.temp").unwrap(), "x.temp");
    assert!(t("${inputTopic.4}", "a/b").unwrap_err().contains("has no level 4"));
    let invalid = t("${inputTopic}", "sensors/1/temp").unwrap_err();
    assert!(invalid.contains("'sensors/1/temp' is not a valid Kafka topic"), "{invalid}");
    assert_eq!(TopicTemplate::parse("fixed").unwrap().fixed(), Some("fixed"));
    assert!(check_topic_name(&"a".repeat(250)).is_err() && check_topic_name("..").is_err());
}

/// A sink whose broker never answers: `flush` reports the records as not
/// delivered (after librdkafka's message timeout, set short here) instead of
/// returning as if they were durable.
#[test]
fn flush_reports_records_that_were_not_delivered() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut e = KafkaEndpoint::new(&format!("127.0.0.1:{port}"));
    e.properties.insert("message.timeout.ms".into(), "300".into());
    let mut sink = KafkaSink::connect(&e, &KafkaSinkConfig::new("out"), "test").unwrap();
    for i in 0..3 {
        let message = Message { topic: "in".into(), payload: format!("{i}").into(), ..Message::default() };
        sink.write(&Record::message(Hlc::new(1_000_000, i, ""), i, message)).unwrap();
    }
    let error = sink.flush().unwrap_err().to_string();
    assert!(error.contains("3 record(s) were not delivered"), "{error}");
    let counters = sink.counters();
    assert_eq!(counters.written.load(std::sync::atomic::Ordering::Relaxed), 3);
    assert_eq!(counters.failed.load(std::sync::atomic::Ordering::Relaxed), 3);
    // The failures were reported once; nothing is pending any more.
    sink.flush().unwrap();
}

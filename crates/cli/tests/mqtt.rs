//! `wasmgraph run DEPLOYMENT` end to end against real MQTT brokers on
//! 127.0.0.1: Debian's `mosquitto` (started here on free ports, with its own
//! config and persistence folder; never the system broker) and the embedded
//! broker (rumqttd, started by `wasmgraph run` itself).
//!
//! Operators: the `kinds` test guest (filter / delay / accumulate), built from
//! `crates/test-guests/kinds` with `wasmgraph build` if it is not built yet.
//!
//! Every test prints its counts (`cargo test -- --nocapture` shows them).
//! They need mosquitto: enabled by the feature `mqtt-integration-tests`
//! (`scripts/test.sh` turns it on).
#![cfg(feature = "mqtt-integration-tests")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{root, Client, Received, Runtime};
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use wasmgraph_test_mosquitto::{free_port, wait_port, Mosquitto};

/// The `kinds` guest component, built once per test run when missing.
fn kinds_module() -> PathBuf {
    common::built_guest("crates/test-guests/kinds")
}

const FILTER_GRAPH: &str = "metadata:\n  $schema: x\n  name: filter\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: filter\n    name: keep\n    module: kinds\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {name: source}\n    to: {name: keep}\n  - from: {name: keep}\n    to: {name: sink}\n";

const WINDOW_GRAPH: &str = "metadata:\n  $schema: x\n  name: windows\n  version: '1.0.0'\nmoduleRequirements:\n  apiVersion: '1.1.0'\n  runtimeVersion: '1.1.0'\n\
operations:\n  - operationType: source\n    name: source\n  - operationType: delay\n    name: second\n    module: kinds\n  - operationType: accumulate\n    name: join\n    module: kinds\n  - operationType: sink\n    name: sink\n\
connections:\n  - from: {name: source}\n    to: {name: second}\n  - from: {name: second}\n    to: {name: join}\n  - from: {name: join}\n    to: {name: sink}\n";

/// A folder with the graph, the module and a deployment using `endpoint`.
fn setup(dir: &Path, graph: &str, endpoint: &str, extra: &str) -> PathBuf {
    let deployment = format!(
        "kind: Deployment\nname: t\ngraph: graph.yaml\nmodules: modules\n\
             source:\n  endpoint: broker\n  topics: ['in/#']\n  maxMessageSize: 4096\n\
             sink:\n  endpoint: broker\n  topic: out/${{inputTopic}}\n\
             endpoints:\n  broker:\n{endpoint}{extra}"
    );
    common::deployment_folder(dir, graph, &[("kinds", kinds_module())], "deployment.yaml", &deployment)
}

fn counts(seen: &[Received]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in seen {
        *m.entry(r.payload.clone()).or_insert(0) += 1;
    }
    m
}

#[test]
fn kill_mid_stream_loses_nothing() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let deployment = setup(
        dir.path(),
        FILTER_GRAPH,
        &format!("    host: 127.0.0.1\n    port: {}\n    clientId: kill-test\n", broker.port),
        "",
    );
    let collector = Client::connect(broker.port, "collector", &["out/#"]);
    let runtime = Runtime::start(&deployment, dir.path(), "1");
    let publisher = Client::connect(broker.port, "publisher", &[]);
    let started = Instant::now();
    for i in 0..N {
        publisher.publish("in/kill", format!("m{i:05}"), vec![]);
    }
    publisher.wait_acks(N as u64, Duration::from_secs(60));
    // Kill it once part of the stream is through.
    collector.wait_received("a third of the output", Duration::from_secs(60), |r| r.len() >= N / 3);
    let before_kill = collector.received().len();
    runtime.kill();
    let runtime = Runtime::start(&deployment, dir.path(), "2");
    let seen = collector.wait_received("every input in the output", Duration::from_secs(90), |r| counts(r).len() >= N);
    let log = runtime.stop();
    let c = counts(&seen);
    let missing: Vec<String> = (0..N).map(|i| format!("m{i:05}")).filter(|m| !c.contains_key(m)).collect();
    let duplicates: usize = c.values().map(|n| n - 1).sum();
    println!(
        "kill test: published {N}, output {} record(s) ({before_kill} before SIGKILL), distinct {}, missing {}, duplicates {duplicates}, in {:.1?}",
        seen.len(),
        c.len(),
        missing.len(),
        started.elapsed()
    );
    println!("after restart: {}", log.lines().filter(|l| l.starts_with("mqtt:")).collect::<Vec<_>>().join(" "));
    assert!(missing.is_empty(), "lost {} message(s), e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    // Only messages in flight at the kill come twice: at most the broker's
    // in-flight window (1000 unacknowledged messages).
    assert!(duplicates <= 1000, "{duplicates} duplicates: more than were in flight");
    assert!(c.values().all(|&n| n <= 2), "a message came more than twice");
}

#[test]
fn broker_restart_mid_stream_loses_nothing() {
    const N: usize = 3_000;
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Mosquitto::start(dir.path(), free_port());
    let deployment = setup(
        dir.path(),
        FILTER_GRAPH,
        &format!("    host: 127.0.0.1\n    port: {}\n    clientId: restart-test\n", broker.port),
        "",
    );
    let collector = Client::connect(broker.port, "collector", &["out/#"]);
    let runtime = Runtime::start(&deployment, dir.path(), "1");
    let publisher = Client::connect(broker.port, "publisher", &[]);
    for i in 0..N {
        publisher.publish("in/restart", format!("r{i:05}"), vec![]);
    }
    publisher.wait_acks(N as u64, Duration::from_secs(60));
    collector.wait_received("some output", Duration::from_secs(60), |r| r.len() >= N / 4);
    let before = collector.received().len();
    broker.restart();
    let seen = collector.wait_received("every input in the output", Duration::from_secs(90), |r| counts(r).len() >= N);
    let log = runtime.stop();
    let c = counts(&seen);
    let duplicates: usize = c.values().map(|n| n - 1).sum();
    println!(
        "broker restart: published {N}, output {} record(s) ({before} before the restart), distinct {}, duplicates {duplicates}",
        seen.len(),
        c.len()
    );
    println!(
        "{} (source connections: {})",
        log.lines().filter(|l| l.starts_with("mqtt:")).collect::<Vec<_>>().join(" "),
        log.matches("MQTT source connected").count()
    );
    if std::env::var_os("WASMGRAPH_TEST_SHOW_LOG").is_some() {
        println!("{log}");
    }
    assert!((0..N).all(|i| c.contains_key(&format!("r{i:05}"))));
}

/// The number before `before` in the summary: the source's `mqtt:` line, or
/// the run's `N record(s) published; M failed call(s)` line.
fn summary_count(log: &str, before: &str) -> u64 {
    let line = log
        .lines()
        .filter(|l| l.starts_with("mqtt:") || l.contains("record(s) published;"))
        .find(|l| l.contains(before))
        .unwrap_or_else(|| panic!("no summary with '{before}' in:\n{log}"));
    let i = line.find(before).unwrap_or_else(|| panic!("'{before}' not in '{line}'"));
    line[..i].trim_end().rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn rejected_and_oversized_messages_are_counted_and_the_stream_goes_on() {
    // The embedded broker: `wasmgraph run` starts it from the deployment.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let deployment = setup(
        dir.path(),
        FILTER_GRAPH,
        &format!("    embedded: true\n    port: {port}\n"),
        "errors:\n  policy: deadLetter\n  topic: dead/letters\n",
    );
    let runtime = Runtime::start(&deployment, dir.path(), "1");
    assert!(runtime.log().contains("embedded MQTT 5 broker on 127.0.0.1"), "{}", runtime.log());
    let client = Client::connect(port, "probe", &["out/#", "dead/letters"]);
    // The first message carries MQTT 5 request/response properties.
    client.publish_props(
        "in/e",
        "ok-1",
        PublishProperties {
            user_properties: vec![("k".into(), "v".into())],
            response_topic: Some("reply/to/me".into()),
            correlation_data: Some(vec![0u8, 1, 2, 255].into()),
            content_type: Some("text/plain".into()),
            ..Default::default()
        },
    );
    let big = "x".repeat(10_000);
    for payload in ["error", big.as_str(), "ok-2", "please drop me", "ok-3"] {
        client.publish("in/e", payload, vec![("k".into(), "v".into())]);
    }
    let seen = client.wait_received("three results and one dead letter", Duration::from_secs(30), |r| {
        r.iter().filter(|m| m.topic.starts_with("out/")).count() >= 3 && r.iter().any(|m| m.topic == "dead/letters")
    });
    std::thread::sleep(Duration::from_millis(500));
    let log = runtime.stop();
    let seen_after = client.received();
    let out: Vec<&Received> = seen_after.iter().filter(|m| m.topic.starts_with("out/")).collect();
    let dead: Vec<&Received> = seen_after.iter().filter(|m| m.topic == "dead/letters").collect();
    let oversized = summary_count(&log, "over the size limit");
    let failed = summary_count(&log, "failed call(s)");
    let received = summary_count(&log, "message(s),");
    println!(
        "errors test: published 6, broker delivered {received}, output {} ({:?}), dead letters {}, oversized {oversized}, failed calls {failed}",
        out.len(),
        out.iter().map(|m| m.payload.as_str()).collect::<Vec<_>>(),
        dead.len()
    );
    assert_eq!(out.iter().map(|m| m.payload.as_str()).collect::<Vec<_>>(), ["ok-1", "ok-2", "ok-3"]);
    assert!(out.iter().all(|m| m.topic == "out/in/e"));
    // Properties come through, and the record time goes out as __ts.
    assert!(out[0].user_properties.contains(&("k".into(), "v".into())), "{:?}", out[0].user_properties);
    assert!(out[0].user_properties.iter().any(|(k, _)| k == "__ts"));
    // Response topic, correlation data and content type go back out as such.
    assert_eq!(out[0].response_topic.as_deref(), Some("reply/to/me"));
    assert_eq!(out[0].correlation_data.as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert_eq!(out[0].content_type.as_deref(), Some("text/plain"));
    assert!(
        !out[0]
            .user_properties
            .iter()
            .any(|(k, _)| k.starts_with("__") && !["__ts", "__protVer", "__srcId"].contains(&k.as_str())),
        "{:?}",
        out[0].user_properties
    );
    // AIO's user properties after `__ts`: the protocol version and the
    // deployment's name as the source id.
    let stamped: Vec<(&str, &str)> = out[0]
        .user_properties
        .iter()
        .skip_while(|(k, _)| k != "__ts")
        .skip(1)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(stamped, [("__protVer", "1.0"), ("__srcId", "t")], "{:?}", out[0].user_properties);
    assert_eq!(out[1].response_topic, None);
    assert_eq!(dead.len(), 1);
    assert!(dead[0].payload.contains("filter was asked to fail"), "{}", dead[0].payload);
    assert_eq!(oversized, 1);
    assert_eq!(failed, 1);
    assert_eq!(received, 6);
    drop(seen);
}

#[test]
fn windows_close_once_when_time_passes_even_without_input() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let deployment = setup(
        dir.path(),
        WINDOW_GRAPH,
        &format!("    host: 127.0.0.1\n    port: {}\n    clientId: window-test\n", broker.port),
        "",
    );
    let deployment_text = std::fs::read_to_string(&deployment).unwrap().replace("out/${inputTopic}", "out/windows");
    std::fs::write(&deployment, deployment_text).unwrap();
    let collector = Client::connect(broker.port, "collector", &["out/#"]);
    let runtime = Runtime::start(&deployment, dir.path(), "1");
    let publisher = Client::connect(broker.port, "publisher", &[]);
    // Message times (`__ts`) a few seconds ahead: second S holds a, b, c and
    // second S+1 holds d, e. The delay moves each to the end of its second.
    let (now, base) = (SystemTime::now().duration_since(UNIX_EPOCH).unwrap(), Instant::now());
    let s = now.as_secs() + 3;
    let wall_of = |secs: u64| base + (Duration::from_secs(secs) - now);
    let sends = [("a", 100), ("b", 200), ("c", 300), ("d", 1100), ("e", 1200)];
    for (payload, ms) in sends {
        let ts = format!("{}:0:test", s * 1000 + ms);
        publisher.publish("in/w", payload, vec![("__ts".into(), ts)]);
    }
    publisher.wait_acks(5, Duration::from_secs(10));
    // No more input: the second window must still close, by the clock.
    let seen = collector.wait_received("two windows", Duration::from_secs(20), |r| r.len() >= 2);
    std::thread::sleep(Duration::from_secs(2));
    let seen_later = collector.received();
    let log = runtime.stop();
    let second_close = wall_of(s + 2);
    println!(
        "windows: published 5, windows emitted {} {:?}; the last (closed by the clock, no input) {:?} after its second ended",
        seen_later.len(),
        seen_later.iter().map(|m| m.payload.as_str()).collect::<Vec<_>>(),
        seen[1].at.saturating_duration_since(second_close),
    );
    println!("{}", log.lines().filter(|l| l.starts_with("mqtt:")).collect::<Vec<_>>().join(" "));
    assert_eq!(seen_later.len(), 2, "each window exactly once: {seen_later:?}");
    assert_eq!(seen[0].payload, "a,b,c");
    assert_eq!(seen[1].payload, "d,e");
    assert!(seen[0].user_properties.contains(&("count".into(), "3".into())));
    let ts_prefix = format!("{}:0:", (s + 1) * 1000);
    assert!(
        seen[0].user_properties.iter().any(|(k, v)| k == "__ts" && v.starts_with(&ts_prefix)),
        "the window's time is the end of its second: {:?}",
        seen[0].user_properties
    );
    // The first window closes by event time: the message at S+1.1 shows that
    // time has passed S+1. The second closes by the clock alone (no input
    // after it): not before the end of its second, and soon after (50 ms
    // slack for clock reads).
    assert!(seen[1].at + Duration::from_millis(50) >= second_close, "the last window came out before its second ended");
    assert!(
        seen[1].at <= second_close + Duration::from_secs(3),
        "the last window took too long to close without input"
    );
}

#[test]
fn example_deployment_runs_on_the_embedded_broker() {
    let module = root().join("examples/operators/temperature/bin/x86_64/release/temperature.wasm");
    assert!(module.exists(), "{} is missing: run scripts/build-examples.sh (scripts/test.sh does)", module.display());
    let dir = tempfile::tempdir().unwrap();
    let runtime =
        Runtime::start_with(&root().join("examples/deployments/temperature.yaml"), dir.path(), "1", &["--echo"]);
    let log = runtime.log();
    // Port 1883, or a free one when 1883 is taken: read it from the hint.
    let addr = log
        .lines()
        .find_map(|l| l.strip_prefix("wasmgraph: embedded MQTT 5 broker on "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no embedded broker line in:\n{log}"));
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    assert!(log.contains("mosquitto_pub -V 5"), "{log}");
    let client = Client::connect(port, "example-probe", &["processed/#"]);
    let files = ["temperature_payload_1.json"; 3];
    for f in files {
        let payload = std::fs::read(root().join("examples/data/temperature").join(f)).unwrap();
        client.publish("sensors/1/temperature", payload, vec![]);
    }
    let seen = client.wait_received("three converted readings", Duration::from_secs(30), |r| r.len() >= 3);
    let log = runtime.stop();
    println!(
        "example deployment: published {}, received {} on {:?}; first: {}",
        files.len(),
        seen.len(),
        seen.iter().map(|m| m.topic.as_str()).collect::<std::collections::BTreeSet<_>>(),
        seen[0].payload
    );
    assert!(seen.iter().all(|m| m.topic == "processed/sensors/1/temperature"), "{seen:?}");
    assert!(seen[0].payload.contains("\"C\""), "expected Celsius: {}", seen[0].payload);
    assert_eq!(summary_count(&log, "message(s),"), 3);
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh").arg("-ec").arg(script).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn tls_with_client_certificate_and_password() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A CA, a server certificate for 127.0.0.1 and a client certificate.
    sh(
        d,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null
         openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
         printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
         openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=wasmgraph 2>/dev/null
         printf 'extendedKeyUsage=clientAuth\n' > client.ext
         openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null
         chmod 644 *.key *.pem",
    );
    let passwd = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(d.join("passwd"))
        .args(["wasmgraph", "s3cret"])
        .status();
    assert!(passwd.is_ok_and(|s| s.success()), "mosquitto_passwd failed (it comes with the mosquitto package)");
    std::fs::write(d.join("password.txt"), "s3cret\n").unwrap();
    let (tls_port, plain_port) = (free_port(), free_port());
    let conf = d.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings false\nallow_anonymous false\npassword_file {dir}/passwd\n\
             listener {plain_port} 127.0.0.1\n\
             listener {tls_port} 127.0.0.1\ncafile {dir}/ca.pem\ncertfile {dir}/server.pem\nkeyfile {dir}/server.key\n\
             require_certificate true\n",
            dir = d.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755));
        let _ = std::fs::set_permissions(d.join("passwd"), std::fs::Permissions::from_mode(0o644));
    }
    let _broker = Mosquitto::spawn(conf, tls_port);
    wait_port(plain_port);
    let deployment = setup(
        d,
        FILTER_GRAPH,
        &format!(
            "    host: 127.0.0.1\n    port: {tls_port}\n    clientId: tls-test\n    username: wasmgraph\n    passwordFile: password.txt\n\
             \x20   tls:\n      caFile: ca.pem\n      certFile: client.pem\n      keyFile: client.key\n"
        ),
        "",
    );
    let runtime = Runtime::start(&deployment, d, "1");
    // The test's own client uses the plain listener, with the password.
    let client = Client::connect_with(plain_port, "tls-probe", &["out/#"], Some(("wasmgraph", "s3cret")));
    for i in 0..20 {
        client.publish("in/tls", format!("t{i}"), vec![]);
    }
    let seen = client.wait_received("20 results over TLS", Duration::from_secs(30), |r| r.len() >= 20);
    let log = runtime.stop();
    println!(
        "tls: published 20 over plain TCP, 20 went through wasmgraph over mutual TLS with a password: received {}",
        seen.len()
    );
    assert_eq!(summary_count(&log, "message(s),"), 20);
    // A wrong password is refused with a clear error.
    std::fs::write(d.join("password.txt"), "wrong\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph")).arg("run").arg(&deployment).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    println!("tls: wrong password -> exit {:?}", out.status.code());
    assert!(!out.status.success());
    assert!(err.contains("refused the connection"), "{err}");
}

#[test]
fn publish_sends_files_as_messages() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path(), free_port());
    let collector = Client::connect(broker.port, "collector", &["files/#"]);
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    for (name, body) in [("b.json", "{\"b\":2}"), ("a.json", "{\"a\":1}"), (".hidden", "no")] {
        std::fs::write(files.join(name), body).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
        .args(["publish", "--topic", "files/x", "--property", "site=7", "--content-type", "application/json"])
        .args(["--port", &broker.port.to_string()])
        .arg(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen = collector.wait_received("two messages", Duration::from_secs(10), |r| r.len() >= 2);
    println!(
        "publish: 2 files sent, {} received: {:?}",
        seen.len(),
        seen.iter().map(|m| m.payload.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(seen.iter().map(|m| m.payload.as_str()).collect::<Vec<_>>(), ["{\"a\":1}", "{\"b\":2}"]);
    assert!(seen[0].user_properties.contains(&("site".into(), "7".into())));
    assert!(seen[0].user_properties.iter().any(|(k, _)| k == "__ts"));
    // Nothing listening: a clear error, not a hang.
    let out = Command::new(env!("CARGO_BIN_EXE_wasmgraph"))
        .args(["publish", "--topic", "t", "--connect-timeout", "1", "--port", &free_port().to_string()])
        .arg(files.join("a.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a broker running there?"));
}

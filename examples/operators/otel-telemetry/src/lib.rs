//! Map operator: a temperature reading becomes the telemetry JSON an
//! OpenTelemetry destination exports (AIO's payload format, see
//! `docs/otel-endpoint.md`).
//!
//! `{"temperature":{"value":1209,"unit":"F"}}` on `sensors/7/temperature`
//! becomes three metrics, each stamped with the message's time and
//! attributed with the unit and the input topic:
//!
//! * `temperature` (`f64_gauge`): the reading;
//! * `temperature.readings` (`u64_counter`): 1 per reading;
//! * `temperature.distribution` (`f64_histogram`): the reading again, so a
//!   collector can tell its spread;
//!
//! plus a `warn` log when the reading is above the init parameter
//! `warn_above` (1000 by default; `none` turns the log off).

use std::cell::Cell;

use serde_json::{json, Value};
use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::map_operator;
use wasm_graph_sdk::metrics::{self, CounterValue, Label};

const CONTEXT: &str = "module-otel-telemetry/map";
const DEFAULT_WARN_ABOVE: f64 = 1000.0;

thread_local! {
    static WARN_ABOVE: Cell<Option<f64>> = const { Cell::new(Some(DEFAULT_WARN_ABOVE)) };
}

#[derive(serde::Deserialize)]
struct Input {
    temperature: Reading,
}

#[derive(serde::Deserialize)]
struct Reading {
    value: f64,
    #[serde(default)]
    unit: Option<String>,
}

/// Reads `warn_above`: a number, or `none`.
fn telemetry_init(configuration: ModuleConfiguration) -> bool {
    let text = configuration.properties.iter().find(|(key, _)| key == "warn_above").map(|(_, v)| v.trim());
    let limit = match text {
        None => Some(DEFAULT_WARN_ABOVE),
        Some("none") => None,
        Some(text) => match text.parse::<f64>() {
            Ok(limit) if limit.is_finite() => Some(limit),
            _ => {
                logger::log(Level::Error, CONTEXT, &format!("warn_above must be a number or `none`, got {text:?}"));
                return false;
            }
        },
    };
    WARN_ABOVE.with(|w| w.set(limit));
    true
}

/// Nanoseconds since the epoch of the message's time; `None` at time zero
/// (then the sink stamps the record's time).
fn nanos(message: &Message) -> Option<u64> {
    let t = &message.timestamp.timestamp;
    let ns = t.secs.checked_mul(1_000_000_000)?.checked_add(u64::from(t.nanos))?;
    (ns > 0).then_some(ns)
}

/// The telemetry JSON for one reading.
fn telemetry(reading: &Reading, topic: &str, timestamp: Option<u64>, warn_above: Option<f64>) -> Value {
    let mut attributes = Vec::new();
    if let Some(unit) = &reading.unit {
        attributes.push(json!({"key": "unit", "value": unit}));
    }
    if !topic.is_empty() {
        attributes.push(json!({"key": "topic", "value": topic}));
    }
    let metric = |name: &str, kind: &str, value: Value, description: &str| {
        let mut m = json!({"name": name, "type": kind, "value": value, "description": description,
                           "attributes": attributes});
        if let Some(ns) = timestamp {
            m["timestamp"] = json!(ns);
        }
        m
    };
    let value = reading.value;
    let mut out = json!({"metrics": [
        metric("temperature", "f64_gauge", json!(value), "Latest temperature reading"),
        metric("temperature.readings", "u64_counter", json!(1), "Temperature readings received"),
        metric("temperature.distribution", "f64_histogram", json!(value), "Distribution of temperature readings"),
    ]});
    if let Some(limit) = warn_above.filter(|limit| value > *limit) {
        let unit = reading.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
        let mut log = json!({"value": format!("temperature {value}{unit} is above {limit}{unit}"),
                             "level": "warn", "attributes": attributes});
        if let Some(ns) = timestamp {
            log["timestamp"] = json!(ns);
        }
        out["logs"] = json!([log]);
    }
    out
}

/// Turns a temperature reading into OpenTelemetry metrics (and a log when
/// it is too hot).
#[map_operator(init = "telemetry_init")]
fn temperature_telemetry(input: DataModel) -> Result<DataModel, Error> {
    let labels = vec![Label { key: "module".to_owned(), value: CONTEXT.to_owned() }];
    let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels));

    let DataModel::Message(mut message) = input else {
        return Err(Error { message: "expected a message".to_owned() });
    };
    let payload = message.payload.read();
    let reading: Input = serde_json::from_slice(&payload).map_err(|err| Error {
        message: format!("payload is not {{\"temperature\":{{\"value\":<number>}}}}: {err}"),
    })?;
    let topic = String::from_utf8_lossy(&message.topic.read()).into_owned();
    let out = telemetry(&reading.temperature, &topic, nanos(&message), WARN_ABOVE.with(Cell::get));
    let bytes = serde_json::to_vec(&out).map_err(|err| Error { message: err.to_string() })?;
    message.payload = BufferOrBytes::Bytes(bytes);
    message.content_type = Some(BufferOrString::String("application/json".to_owned()));
    Ok(DataModel::Message(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    fn run(payload: &str, topic: &str, secs: u64, nanos: u32) -> Value {
        let mut message = testing::buffer_message(payload.as_bytes().to_vec(), secs, nanos);
        message.topic = BufferOrBytes::Bytes(topic.as_bytes().to_vec());
        let out = temperature_telemetry(DataModel::Message(message)).unwrap();
        serde_json::from_slice(&testing::payload(&out)).unwrap()
    }

    #[test]
    fn a_reading_becomes_three_metrics_at_its_time() {
        testing::reset();
        assert!(telemetry_init(testing::configuration(&[])));
        let out = run(r#"{"temperature":{"value":72.5,"unit":"F"}}"#, "sensors/7/temperature", 1_754_851_200, 5);
        let metrics = out["metrics"].as_array().unwrap();
        let kinds: Vec<(&str, &str)> =
            metrics.iter().map(|m| (m["name"].as_str().unwrap(), m["type"].as_str().unwrap())).collect();
        assert_eq!(
            kinds,
            [
                ("temperature", "f64_gauge"),
                ("temperature.readings", "u64_counter"),
                ("temperature.distribution", "f64_histogram")
            ]
        );
        assert_eq!((metrics[0]["value"].as_f64(), metrics[1]["value"].as_u64()), (Some(72.5), Some(1)));
        assert_eq!(metrics[0]["timestamp"].as_u64(), Some(1_754_851_200_000_000_005));
        assert_eq!(
            metrics[2]["attributes"],
            json!([{"key": "unit", "value": "F"}, {"key": "topic", "value": "sensors/7/temperature"}])
        );
        assert!(out.get("logs").is_none(), "72.5 is not above 1000");
        assert_eq!(testing::counter("requests"), 1);
    }

    #[test]
    fn too_hot_adds_a_warning_log() {
        testing::reset();
        assert!(telemetry_init(testing::configuration(&[("warn_above", "100")])));
        let out = run(r#"{"temperature":{"value":1209,"unit":"F"}}"#, "", 0, 0);
        let log = &out["logs"][0];
        assert_eq!(
            (log["level"].as_str(), log["value"].as_str()),
            (Some("warn"), Some("temperature 1209 F is above 100 F"))
        );
        assert!(out["metrics"][0].get("timestamp").is_none(), "time zero: the sink stamps the record's time");
        assert!(telemetry_init(testing::configuration(&[("warn_above", "none")])));
        assert!(run(r#"{"temperature":{"value":1209}}"#, "", 0, 0).get("logs").is_none());
    }

    #[test]
    fn bad_input_and_parameters_are_refused() {
        testing::reset();
        assert!(!telemetry_init(testing::configuration(&[("warn_above", "hot")])));
        let err = temperature_telemetry(testing::data(br#"{"humidity":{"value":3}}"#.to_vec())).unwrap_err();
        assert!(err.message.starts_with(r#"payload is not {"temperature":{"value":<number>}}"#), "{}", err.message);
    }
}

//! Accumulate: count, max, min, average and last (the reading with the latest
//! time) of `{"humidity":{"value":H}}` readings of one time. The staged value
//! carries the statistics between calls as
//! `{"humidity":{"count":…,"max":…,"min":…,"average":…,"last":…}}`; records that
//! are not humidity readings are skipped (and counted in `skipped`).

use serde::{Deserialize, Serialize};
use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::accumulate_operator;
use wasm_graph_sdk::metrics::{self, CounterValue, Label};

const CONTEXT: &str = "module-humidity/accumulate";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct HumidityReading {
    humidity: Humidity,
}

/// One reading, or statistics over several (field order is the wire order).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Humidity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(default)]
    count: u64,
    #[serde(default)]
    max: f64,
    #[serde(default)]
    min: f64,
    #[serde(default)]
    average: f64,
    #[serde(default)]
    last: f64,
}

fn labels() -> Vec<Label> {
    vec![Label { key: "module".to_owned(), value: CONTEXT.to_owned() }]
}

fn skip(why: &str) {
    logger::log(Level::Warn, CONTEXT, &format!("skipping a record: {why}"));
    let _ = metrics::add_to_counter("skipped", CounterValue::U64(1), Some(&labels()));
}

fn time_of(message: &Message) -> (u64, u32, u64) {
    let t = &message.timestamp;
    (t.timestamp.secs, t.timestamp.nanos, t.counter)
}

fn value_of(message: &Message) -> Result<f64, String> {
    let reading: HumidityReading =
        serde_json::from_slice(&message.payload.read()).map_err(|err| format!("not a humidity reading ({err})"))?;
    reading.humidity.value.ok_or_else(|| "humidity reading without a value".to_owned())
}

#[accumulate_operator]
fn accumulate_humidity(staged: DataModel, inputs: Vec<DataModel>) -> Result<DataModel, Error> {
    let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels()));
    let DataModel::Message(mut result) = staged else {
        return Err(Error { message: "expected the staged value to be a message".to_owned() });
    };
    let staged_payload = result.payload.read();
    let mut stats = if staged_payload.is_empty() {
        Humidity { value: None, count: 0, max: 0.0, min: 0.0, average: 0.0, last: 0.0 }
    } else {
        serde_json::from_slice::<HumidityReading>(&staged_payload)
            .map_err(|err| Error { message: format!("staged value is not humidity statistics: {err}") })?
            .humidity
    };
    let mut sum = stats.average * stats.count as f64;
    let mut last_time = time_of(&result);
    let before = stats.count;

    for input in inputs {
        let DataModel::Message(message) = input else {
            skip("not a message");
            continue;
        };
        let value = match value_of(&message) {
            Ok(value) => value,
            Err(why) => {
                skip(&why);
                continue;
            }
        };
        if stats.count == 0 {
            stats.max = value;
            stats.min = value;
        }
        stats.max = stats.max.max(value);
        stats.min = stats.min.min(value);
        stats.count += 1;
        sum += value;
        let time = time_of(&message);
        if stats.count == 1 || time >= last_time {
            stats.last = value;
            last_time = time;
            result.timestamp.timestamp = message.timestamp.timestamp;
            result.timestamp.counter = message.timestamp.counter;
            result.topic = message.topic;
        }
    }
    if stats.count == before {
        return Ok(DataModel::Message(result));
    }
    stats.average = sum / stats.count as f64;
    let bytes =
        serde_json::to_vec(&HumidityReading { humidity: stats }).map_err(|err| Error { message: err.to_string() })?;
    logger::log(Level::Debug, CONTEXT, &String::from_utf8_lossy(&bytes));
    result.payload = BufferOrBytes::Bytes(bytes);
    Ok(DataModel::Message(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    fn reading(value: f64, secs: u64) -> DataModel {
        let payload = format!(r#"{{"humidity":{{"value":{value}}}}}"#);
        DataModel::Message(testing::buffer_message(payload.into_bytes(), secs, 0))
    }

    fn text(data: &DataModel) -> String {
        String::from_utf8(testing::payload(data)).unwrap()
    }

    #[test]
    fn one_reading() {
        testing::reset();
        let out = accumulate_humidity(testing::data(Vec::new()), vec![reading(85.0, 1)]).unwrap();
        assert_eq!(text(&out), r#"{"humidity":{"count":1,"max":85.0,"min":85.0,"average":85.0,"last":85.0}}"#);
        assert_eq!(testing::counter("requests"), 1);
    }

    #[test]
    fn statistics_continue_across_batches() {
        testing::reset();
        let first = accumulate_humidity(testing::data(Vec::new()), vec![reading(40.0, 2), reading(60.0, 1)]).unwrap();
        assert_eq!(text(&first), r#"{"humidity":{"count":2,"max":60.0,"min":40.0,"average":50.0,"last":40.0}}"#);
        let second = accumulate_humidity(first, vec![reading(20.0, 3), testing::data(b"{}".to_vec())]).unwrap();
        assert_eq!(text(&second), r#"{"humidity":{"count":3,"max":60.0,"min":20.0,"average":40.0,"last":20.0}}"#);
        assert_eq!(testing::counter("skipped"), 1);
    }

    #[test]
    fn errors() {
        testing::reset();
        let bytes = DataModel::BufferOrBytes(BufferOrBytes::Bytes(Vec::new()));
        assert!(accumulate_humidity(bytes, Vec::new()).is_err());
        assert!(accumulate_humidity(testing::data(b"[]".to_vec()), Vec::new()).is_err());
    }
}

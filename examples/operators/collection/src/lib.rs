//! Accumulate: collects the temperature, humidity and object records of one time
//! into one document, `{"sensor_data":{"temperature":[…],"humidity":[…],"object":[…]}}`.
//! Snapshots contribute their frame when it is such a JSON record (for example an
//! object detection result); anything else is skipped (and counted in `skipped`).

use serde::{Deserialize, Serialize};
use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::accumulate_operator;
use wasm_graph_sdk::metrics::{self, CounterValue, Label};

const CONTEXT: &str = "module-collection/accumulate";

/// One record: `{"temperature":{…}}`, `{"humidity":{…}}`, `{"object":{…}}` or an
/// already collected `{"sensor_data":{…}}`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Measurement {
    #[serde(rename = "temperature")]
    Temperature(Temperature),
    #[serde(rename = "humidity")]
    Humidity(Humidity),
    #[serde(rename = "object")]
    Object(Object),
    #[serde(rename = "sensor_data")]
    SensorData(SensorData),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Temperature {
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
    unit: Unit,
    #[serde(default)]
    overtemp: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Unit {
    #[serde(rename = "C")]
    Celsius,
    #[serde(rename = "F")]
    Fahrenheit,
}

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

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Object {
    result: String,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct SensorData {
    #[serde(default)]
    temperature: Vec<Temperature>,
    #[serde(default)]
    humidity: Vec<Humidity>,
    #[serde(default)]
    object: Vec<Object>,
}

impl SensorData {
    fn add(&mut self, measurement: Measurement) {
        match measurement {
            Measurement::Temperature(t) => self.temperature.push(t),
            Measurement::Humidity(h) => self.humidity.push(h),
            Measurement::Object(o) => self.object.push(o),
            Measurement::SensorData(more) => {
                self.temperature.extend(more.temperature);
                self.humidity.extend(more.humidity);
                self.object.extend(more.object);
            }
        }
    }
}

fn labels() -> Vec<Label> {
    vec![Label { key: "module".to_owned(), value: CONTEXT.to_owned() }]
}

#[accumulate_operator]
fn collect_sensor_data(staged: DataModel, inputs: Vec<DataModel>) -> Result<DataModel, Error> {
    let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels()));
    let DataModel::Message(mut result) = staged else {
        return Err(Error { message: "expected the staged value to be a message".to_owned() });
    };
    let staged_payload = result.payload.read();
    let mut collected = if staged_payload.is_empty() {
        SensorData::default()
    } else {
        match serde_json::from_slice(&staged_payload) {
            Ok(Measurement::SensorData(data)) => data,
            _ => return Err(Error { message: "staged value is not a {\"sensor_data\":…} document".to_owned() }),
        }
    };

    for input in inputs {
        let payload = match &input {
            DataModel::Message(message) => message.payload.read(),
            DataModel::Snapshot(snapshot) => snapshot.frame.read(),
            DataModel::BufferOrBytes(bytes) => bytes.read(),
        };
        match serde_json::from_slice::<Measurement>(&payload) {
            Ok(measurement) => collected.add(measurement),
            Err(err) => {
                logger::log(Level::Warn, CONTEXT, &format!("skipping a record that is not a measurement: {err}"));
                let _ = metrics::add_to_counter("skipped", CounterValue::U64(1), Some(&labels()));
            }
        }
    }

    let bytes =
        serde_json::to_vec(&Measurement::SensorData(collected)).map_err(|err| Error { message: err.to_string() })?;
    result.payload = BufferOrBytes::Bytes(bytes);
    Ok(DataModel::Message(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    fn text(data: &DataModel) -> String {
        String::from_utf8(testing::payload(data)).unwrap()
    }

    #[test]
    fn collects_each_kind() {
        testing::reset();
        let inputs = vec![
            testing::data(br#"{"temperature":{"count":1,"max":653.8888888888889,"min":653.8888888888889,"average":653.8888888888889,"last":653.8888888888889,"unit":"C"}}"#.to_vec()),
            testing::data(br#"{"humidity":{"count":1,"max":85.0,"min":85.0,"average":85.0,"last":85.0}}"#.to_vec()),
        ];
        let out = collect_sensor_data(testing::data(Vec::new()), inputs).unwrap();
        assert_eq!(
            text(&out),
            r#"{"sensor_data":{"temperature":[{"count":1,"max":653.8888888888889,"min":653.8888888888889,"average":653.8888888888889,"last":653.8888888888889,"unit":"C","overtemp":false}],"humidity":[{"count":1,"max":85.0,"min":85.0,"average":85.0,"last":85.0}],"object":[]}}"#
        );
    }

    #[test]
    fn continues_from_the_staged_document_and_reads_snapshots() {
        testing::reset();
        let first = collect_sensor_data(
            testing::data(Vec::new()),
            vec![testing::data(br#"{"object":{"result":"bear"}}"#.to_vec())],
        )
        .unwrap();
        let snapshot = Snapshot {
            timestamp: testing::message(Vec::new()).timestamp,
            format: BufferOrString::String("json".to_owned()),
            width: 0,
            height: 0,
            frame: BufferOrBytes::Bytes(br#"{"object":{"result":"tripod"}}"#.to_vec()),
        };
        let second =
            collect_sensor_data(first, vec![DataModel::Snapshot(snapshot), testing::data(b"\x89PNG".to_vec())])
                .unwrap();
        assert_eq!(
            text(&second),
            r#"{"sensor_data":{"temperature":[],"humidity":[],"object":[{"result":"bear"},{"result":"tripod"}]}}"#
        );
        assert_eq!(testing::counter("skipped"), 1);
    }

    #[test]
    fn a_bad_staged_value_is_an_error() {
        testing::reset();
        let err = collect_sensor_data(testing::data(br#"{"humidity":{}}"#.to_vec()), Vec::new()).unwrap_err();
        assert!(err.message.contains("sensor_data"));
    }
}

//! Map: Fahrenheit readings to Celsius; everything else passes unchanged.

use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::map_operator;

use crate::{count_request, error, is_temperature, TemperatureReading, Unit};

const CONTEXT: &str = "module-temperature/map";

fn fahrenheit_to_celsius_init(configuration: ModuleConfiguration) -> bool {
    for (key, value) in &configuration.properties {
        logger::log(Level::Info, CONTEXT, &format!("property {key}={value}"));
    }
    true
}

#[map_operator(init = "fahrenheit_to_celsius_init")]
fn fahrenheit_to_celsius(input: DataModel) -> Result<DataModel, Error> {
    count_request(CONTEXT);
    let DataModel::Message(mut message) = input else {
        return Err(error("expected a message"));
    };
    let payload = message.payload.read();
    let temperature = is_temperature(&payload).map_err(|err| error(format!("payload is not JSON: {err}")))?;
    if !temperature {
        return Ok(DataModel::Message(message));
    }
    let mut reading: TemperatureReading =
        serde_json::from_slice(&payload).map_err(|err| error(format!("not a temperature reading: {err}")))?;
    if reading.temperature.unit == Unit::Fahrenheit {
        let fahrenheit = reading.temperature.value.ok_or_else(|| error("temperature reading without a value"))?;
        let celsius = to_celsius(fahrenheit);
        logger::log(Level::Debug, CONTEXT, &format!("{fahrenheit} F is {celsius} C"));
        reading.temperature.value = Some(celsius);
        reading.temperature.unit = Unit::Celsius;
        let bytes = serde_json::to_vec(&reading).map_err(|err| error(err.to_string()))?;
        message.payload = BufferOrBytes::Bytes(bytes);
    }
    Ok(DataModel::Message(message))
}

fn to_celsius(fahrenheit: f64) -> f64 {
    (fahrenheit - 32.0) * 5.0 / 9.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing::{self, Buffer};

    fn run(payload: &str) -> Result<String, Error> {
        let mut message = testing::message(Vec::new());
        message.payload = BufferOrBytes::Buffer(Buffer::new(payload.as_bytes()));
        let out = fahrenheit_to_celsius(DataModel::Message(message))?;
        Ok(String::from_utf8(testing::payload(&out)).unwrap())
    }

    #[test]
    fn converts_fahrenheit_like_aio() {
        testing::reset();
        assert!(fahrenheit_to_celsius_init(testing::configuration(&[("key1", "x")])));
        let out = run(r#"{"temperature":{"value":1209,"unit":"F"}}"#).unwrap();
        assert_eq!(
            out,
            r#"{"temperature":{"value":653.8888888888889,"count":0,"max":0.0,"min":0.0,"average":0.0,"last":0.0,"unit":"C","overtemp":false}}"#
        );
        assert_eq!(testing::counter("requests"), 1);
        assert_eq!(testing::metrics()[0].labels[0].value, CONTEXT);
        assert!(testing::logs().iter().any(|l| l.message == "property key1=x"));
    }

    #[test]
    fn celsius_and_other_measurements_pass_unchanged() {
        testing::reset();
        let celsius = r#"{"temperature": {"value": 20, "unit": "C"}}"#;
        assert_eq!(run(celsius).unwrap(), celsius);
        let humidity = r#"{"humidity":{"value":85}}"#;
        assert_eq!(run(humidity).unwrap(), humidity);
    }

    #[test]
    fn bad_payloads_are_errors() {
        testing::reset();
        assert!(run("not json").unwrap_err().message.contains("not JSON"));
        assert!(run(r#"{"temperature":{"unit":"F"}}"#).unwrap_err().message.contains("without a value"));
        assert!(run(r#"{"temperature":{"value":1,"unit":"K"}}"#)
            .unwrap_err()
            .message
            .contains("not a temperature reading"));
        let not_message = fahrenheit_to_celsius(DataModel::BufferOrBytes(BufferOrBytes::Bytes(vec![])));
        assert_eq!(not_message.unwrap_err().message, "expected a message");
    }
}

//! Map operator: `{"temperature":{"value":C}}` becomes
//! `{"temperature":{"value_fahrenheit":F,"original_celsius":C}}`.

use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::map_operator;
use wasm_graph_sdk::metrics::{self, CounterValue, Label};

const CONTEXT: &str = "module-celsius-to-fahrenheit/map";

#[derive(serde::Deserialize)]
struct Input {
    temperature: Celsius,
}

#[derive(serde::Deserialize)]
struct Celsius {
    value: f64,
}

#[derive(serde::Serialize)]
struct Output {
    temperature: Converted,
}

#[derive(serde::Serialize)]
struct Converted {
    value_fahrenheit: f64,
    original_celsius: f64,
}

fn convert_init(configuration: ModuleConfiguration) -> bool {
    logger::log(Level::Info, CONTEXT, &format!("init with {} properties", configuration.properties.len()));
    true
}

/// Adds the Fahrenheit value of a Celsius reading.
#[map_operator(init = "convert_init")]
fn celsius_to_fahrenheit(input: DataModel) -> Result<DataModel, Error> {
    let labels = vec![Label { key: "module".to_owned(), value: CONTEXT.to_owned() }];
    let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels));

    let DataModel::Message(mut message) = input else {
        return Err(Error { message: "expected a message".to_owned() });
    };
    let payload = message.payload.read();
    let reading: Input = serde_json::from_slice(&payload).map_err(|err| Error {
        message: format!("payload is not {{\"temperature\":{{\"value\":<number>}}}}: {err}"),
    })?;
    let celsius = reading.temperature.value;
    let output =
        Output { temperature: Converted { value_fahrenheit: celsius * 9.0 / 5.0 + 32.0, original_celsius: celsius } };
    let bytes = serde_json::to_vec(&output).map_err(|err| Error { message: err.to_string() })?;
    message.payload = BufferOrBytes::Bytes(bytes);
    Ok(DataModel::Message(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing::{self, Buffer};

    #[test]
    fn adds_fahrenheit() {
        testing::reset();
        assert!(convert_init(testing::configuration(&[])));
        let mut message = testing::message(Vec::new());
        message.payload = BufferOrBytes::Buffer(Buffer::new(br#"{"temperature":{"value":100}}"#.to_vec()));
        let out = celsius_to_fahrenheit(DataModel::Message(message)).unwrap();
        assert_eq!(testing::payload(&out), br#"{"temperature":{"value_fahrenheit":212.0,"original_celsius":100.0}}"#);
        let out = celsius_to_fahrenheit(testing::data(br#"{"temperature":{"value":-40}}"#.to_vec())).unwrap();
        assert_eq!(testing::payload(&out), br#"{"temperature":{"value_fahrenheit":-40.0,"original_celsius":-40.0}}"#);
        assert_eq!(testing::counter("requests"), 2);
    }

    #[test]
    fn other_payloads_are_errors() {
        testing::reset();
        let err = celsius_to_fahrenheit(testing::data(br#"{"humidity":{"value":3}}"#.to_vec())).unwrap_err();
        assert!(err.message.starts_with(r#"payload is not {"temperature":{"value":<number>}}"#), "{}", err.message);
        let err = celsius_to_fahrenheit(DataModel::BufferOrBytes(BufferOrBytes::Bytes(Vec::new()))).unwrap_err();
        assert_eq!(err.message, "expected a message");
    }
}

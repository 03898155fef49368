//! A filter that keeps the messages whose JSON payload is valid against a
//! schema, written the way AIO's samples write it: the compiled schema lives in
//! a `once_cell::sync::Lazy<Mutex<Option<JSONSchema>>>` static, set by `init`
//! from the `schema` parameter (or a built-in default). jsonschema 0.8 and
//! its dependencies reach thread parking and pthread mutexes, which Debian's
//! wasi-libc does not provide: the fixture for the builder's pthread support.

use std::sync::Mutex;

use jsonschema::JSONSchema;
use once_cell::sync::Lazy;
use serde_json::Value;
use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::filter_operator;

/// A reading: an object with a numeric `temperature`.
const DEFAULT_SCHEMA: &str =
    r#"{"type": "object", "required": ["temperature"], "properties": {"temperature": {"type": "number"}}}"#;

static SCHEMA: Lazy<Mutex<Option<JSONSchema<'static>>>> = Lazy::new(|| Mutex::new(None));

fn compile(text: &str) -> Result<JSONSchema<'static>, String> {
    let value: Value = serde_json::from_str(text).map_err(|err| format!("schema is not JSON: {err}"))?;
    // jsonschema 0.8 borrows the schema for the validator's lifetime: keep it.
    let value: &'static Value = Box::leak(Box::new(value));
    JSONSchema::compile(value).map_err(|err| format!("schema does not compile: {err}"))
}

fn schema_init(configuration: ModuleConfiguration) -> bool {
    let text = configuration
        .properties
        .iter()
        .find(|(key, _)| key == "schema")
        .map(|(_, value)| value.as_str())
        .unwrap_or(DEFAULT_SCHEMA);
    match compile(text) {
        Ok(schema) => {
            *SCHEMA.lock().unwrap_or_else(|p| p.into_inner()) = Some(schema);
            true
        }
        Err(why) => {
            logger::log(Level::Error, "jsonschema-filter", &why);
            false
        }
    }
}

/// Keeps valid records; a payload that is not JSON is dropped as invalid.
#[filter_operator(init = "schema_init")]
fn valid(input: DataModel) -> Result<bool, Error> {
    let DataModel::Message(message) = &input else {
        return Err(Error { message: "expected a message".to_owned() });
    };
    let Ok(value) = serde_json::from_slice::<Value>(&message.payload.read()) else { return Ok(false) };
    let guard = SCHEMA.lock().unwrap_or_else(|p| p.into_inner());
    let schema = guard.as_ref().ok_or_else(|| Error { message: "init did not compile a schema".to_owned() })?;
    Ok(schema.is_valid(&value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    #[test]
    fn keeps_only_valid_readings() {
        testing::reset();
        assert!(schema_init(testing::configuration(&[])));
        assert!(valid(testing::data(br#"{"temperature": 21.5}"#.to_vec())).unwrap());
        assert!(!valid(testing::data(br#"{"temperature": "hot"}"#.to_vec())).unwrap());
        assert!(!valid(testing::data(b"not json".to_vec())).unwrap());
    }

    #[test]
    fn a_bad_schema_fails_init() {
        testing::reset();
        assert!(!schema_init(testing::configuration(&[("schema", "{")])));
        assert!(testing::logs()[0].message.contains("not JSON"));
    }
}

//! Example operators on temperature readings, four kinds in one module:
//!
//! * [`map`]: `{"temperature":{"value":F,"unit":"F"}}` to Celsius (unit `"C"`);
//! * [`branch`]: temperature readings to arm "True", other measurements to "False";
//! * [`filter`]: keeps Celsius readings strictly between the init parameters
//!   `temperature_lower_bound` and `temperature_upper_bound` (defaults -40 and 3422);
//! * [`accumulate`]: count, min, max, average and last of the readings of one time.
//!
//! The component exports `wasm-graph:processor/{map,branch,filter,accumulate}@1.1.0`;
//! a graph picks the one it needs by operation type.

mod accumulate;
mod branch;
mod filter;
mod map;

use serde::{Deserialize, Serialize};

/// `{"temperature": {...}}`, the payload these operators read and write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemperatureReading {
    pub temperature: Temperature,
}

/// One reading, or statistics over several (field order is the wire order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    /// The reading; absent in statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub max: f64,
    #[serde(default)]
    pub min: f64,
    #[serde(default)]
    pub average: f64,
    #[serde(default)]
    pub last: f64,
    pub unit: Unit,
    #[serde(default)]
    pub overtemp: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    #[serde(rename = "C")]
    Celsius,
    #[serde(rename = "F")]
    Fahrenheit,
}

/// Whether a JSON payload is an object with a `temperature` member.
fn is_temperature(payload: &[u8]) -> Result<bool, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(payload)?;
    Ok(value.get("temperature").is_some())
}

/// A `wasm_graph_sdk` error with this message.
fn error(message: impl Into<String>) -> wasm_graph_sdk::types::Error {
    wasm_graph_sdk::types::Error { message: message.into() }
}

/// Counts one call of an operation in the `requests` counter.
fn count_request(context: &str) {
    use wasm_graph_sdk::metrics::{self, CounterValue, Label};
    let labels = vec![Label { key: "module".to_owned(), value: context.to_owned() }];
    let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels));
}

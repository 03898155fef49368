//! F->C on `{"temperature":{"value":1209,"unit":"F"}}`: read the payload
//! buffer, parse, convert, serialize, return the message with the new payload
//! as bytes. The same logic as `wasmgraph_bench::lean_f2c`, so the bench
//! compares the component boundary and nothing else.

use serde::{Deserialize, Serialize};
use wasm_graph_sdk::macros::map_operator;

#[derive(Serialize, Deserialize)]
struct Reading {
    temperature: Temperature,
}

#[derive(Serialize, Deserialize)]
struct Temperature {
    value: f64,
    unit: String,
}

#[map_operator]
fn f2c(input: DataModel) -> Result<DataModel, Error> {
    let DataModel::Message(mut message) = input else {
        return Err(Error { message: "expected a message".into() });
    };
    let payload = message.payload.read();
    let mut reading: Reading = serde_json::from_slice(&payload).map_err(|e| Error { message: e.to_string() })?;
    if reading.temperature.unit == "F" {
        reading.temperature.value = (reading.temperature.value - 32.0) * 5.0 / 9.0;
        reading.temperature.unit = "C".into();
        let bytes = serde_json::to_vec(&reading).map_err(|e| Error { message: e.to_string() })?;
        message.payload = BufferOrBytes::Bytes(bytes);
    }
    Ok(DataModel::Message(message))
}

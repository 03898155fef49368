use wasm_graph_sdk::macros::delay_operator;

#[delay_operator]
fn delay(_input: DataModel, _timestamp: HybridLogicalClock) {}

fn main() {}

use wasm_graph_sdk::macros::map_operator;

#[map_operator]
fn two_inputs(a: DataModel, b: DataModel) -> Result<DataModel, Error> {
    let _ = b;
    Ok(a)
}

fn main() {}

use wasm_graph_sdk::macros::map_operator;

#[map_operator]
struct Operator;

#[map_operator(init)]
fn f(input: DataModel) -> Result<DataModel, Error> {
    Ok(input)
}

fn main() {}

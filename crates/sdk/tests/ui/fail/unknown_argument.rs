use wasm_graph_sdk::macros::map_operator;

#[map_operator(init = "my_init", name = "x")]
fn f(input: DataModel) -> Result<DataModel, Error> {
    Ok(input)
}

fn my_init(_c: ModuleConfiguration) -> bool {
    true
}

fn main() {}

use wasm_graph_sdk::macros::filter_operator;

#[filter_operator]
fn keep(input: String) -> Result<bool, Error> {
    Ok(!input.is_empty())
}

fn main() {}

//! Two operators of the same kind in one crate: the component could export
//! only one of them, so this is a compile error naming the rule, not a link
//! error in the wasm32 build.

mod first {
    use wasm_graph_sdk::macros::map_operator;

    #[map_operator]
    fn upper(input: DataModel) -> Result<DataModel, Error> {
        Ok(input)
    }
}

mod second {
    use wasm_graph_sdk::macros::map_operator;

    #[map_operator]
    fn lower(input: DataModel) -> Result<DataModel, Error> {
        Ok(input)
    }
}

fn main() {}

use wasm_graph_sdk::macros::{accumulate_operator, branch_operator};

mod missing {
    use super::*;

    #[branch_operator(init = "no_such_fn")]
    fn b(_t: HybridLogicalClock, _input: DataModel) -> Result<bool, Error> {
        Ok(true)
    }
}

mod wrong_signature {
    use super::*;

    fn setup() -> bool {
        true
    }

    #[accumulate_operator(init = "setup")]
    fn a(staged: DataModel, _inputs: Vec<DataModel>) -> Result<DataModel, Error> {
        Ok(staged)
    }
}

#[branch_operator(init = "not a name")]
fn c(_t: HybridLogicalClock, _input: DataModel) -> Result<bool, Error> {
    Ok(true)
}

fn main() {}

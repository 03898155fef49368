//! Branch: temperature readings to arm "True", other measurements to "False".

use wasm_graph_sdk::macros::branch_operator;

use crate::{count_request, error, is_temperature};

const CONTEXT: &str = "module-temperature/branch";

#[branch_operator]
fn check_temperature(_timestamp: HybridLogicalClock, input: DataModel) -> Result<bool, Error> {
    count_request(CONTEXT);
    let DataModel::Message(message) = input else {
        return Err(error("expected a message"));
    };
    is_temperature(&message.payload.read()).map_err(|err| error(format!("payload is not JSON: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    #[test]
    fn temperature_goes_to_true_others_to_false() {
        testing::reset();
        let time = testing::hlc(10, 0, 0);
        let temperature = testing::data(br#"{"temperature":{"value":1209,"unit":"F"}}"#.to_vec());
        assert_eq!(check_temperature(time.clone(), temperature), Ok(true));
        let humidity = testing::data(br#"{"humidity":{"value":85}}"#.to_vec());
        assert_eq!(check_temperature(time.clone(), humidity), Ok(false));
        assert!(check_temperature(time, testing::data(b"{".to_vec())).is_err());
        assert_eq!(testing::counter("requests"), 3);
    }
}

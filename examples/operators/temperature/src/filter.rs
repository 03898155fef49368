//! Filter: keeps Celsius readings strictly between two bounds, given as the init
//! parameters `temperature_lower_bound` and `temperature_upper_bound` (defaults
//! -40 and 3422, the melting point of tungsten).

use std::cell::Cell;

use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::filter_operator;

use crate::{count_request, error, is_temperature, TemperatureReading, Unit};

const CONTEXT: &str = "module-temperature/filter";
const DEFAULT_LOWER_BOUND: f64 = -40.0;
const DEFAULT_UPPER_BOUND: f64 = 3422.0;

thread_local! {
    // A module instance runs on one thread; per-thread state also keeps native
    // unit tests, which run in parallel threads, apart.
    static BOUNDS: Cell<(f64, f64)> = const { Cell::new((DEFAULT_LOWER_BOUND, DEFAULT_UPPER_BOUND)) };
}

fn bound(configuration: &ModuleConfiguration, key: &str, default: f64) -> Result<f64, String> {
    match configuration.properties.iter().find(|(k, _)| k == key) {
        None => Ok(default),
        Some((_, text)) => match text.trim().parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(value),
            _ => Err(format!("{key} must be a number, got {text:?}")),
        },
    }
}

fn filter_temperature_init(configuration: ModuleConfiguration) -> bool {
    let lower = bound(&configuration, "temperature_lower_bound", DEFAULT_LOWER_BOUND);
    let upper = bound(&configuration, "temperature_upper_bound", DEFAULT_UPPER_BOUND);
    match (lower, upper) {
        (Ok(lower), Ok(upper)) if lower < upper => {
            logger::log(Level::Info, CONTEXT, &format!("keeping readings in ({lower}, {upper}) C"));
            BOUNDS.with(|bounds| bounds.set((lower, upper)));
            true
        }
        (Ok(lower), Ok(upper)) => {
            logger::log(
                Level::Error,
                CONTEXT,
                &format!("temperature_lower_bound {lower} must be below temperature_upper_bound {upper}"),
            );
            false
        }
        (lower, upper) => {
            for problem in [lower.err(), upper.err()].into_iter().flatten() {
                logger::log(Level::Error, CONTEXT, &problem);
            }
            false
        }
    }
}

#[filter_operator(init = "filter_temperature_init")]
fn filter_temperature(input: DataModel) -> Result<bool, Error> {
    count_request(CONTEXT);
    let DataModel::Message(message) = input else {
        return Err(error("expected a message"));
    };
    let payload = message.payload.read();
    if !is_temperature(&payload).map_err(|err| error(format!("payload is not JSON: {err}")))? {
        return Ok(false);
    }
    let reading: TemperatureReading =
        serde_json::from_slice(&payload).map_err(|err| error(format!("not a temperature reading: {err}")))?;
    let (lower, upper) = BOUNDS.with(Cell::get);
    Ok(match (reading.temperature.unit, reading.temperature.value) {
        (Unit::Celsius, Some(value)) => lower < value && value < upper,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    fn keeps(celsius: f64) -> bool {
        let payload = format!(r#"{{"temperature":{{"value":{celsius},"unit":"C"}}}}"#);
        filter_temperature(testing::data(payload.into_bytes())).unwrap()
    }

    #[test]
    fn default_bounds_are_exclusive() {
        testing::reset();
        assert!(filter_temperature_init(testing::configuration(&[])));
        assert!(keeps(653.88));
        assert!(keeps(-39.9));
        assert!(!keeps(-40.0));
        assert!(!keeps(3422.0));
        assert!(!keeps(5000.0));
    }

    #[test]
    fn bounds_come_from_init_parameters() {
        testing::reset();
        let config = testing::configuration(&[("temperature_lower_bound", "0"), ("temperature_upper_bound", "100")]);
        assert!(filter_temperature_init(config));
        assert!(keeps(50.0));
        assert!(!keeps(100.0));
        assert!(!keeps(653.88));
    }

    #[test]
    fn bad_parameters_refuse_to_start() {
        testing::reset();
        assert!(!filter_temperature_init(testing::configuration(&[("temperature_lower_bound", "cold")])));
        assert!(testing::logs().iter().any(|l| l.level == Level::Error && l.message.contains("\"cold\"")));
        assert!(!filter_temperature_init(testing::configuration(&[
            ("temperature_lower_bound", "10"),
            ("temperature_upper_bound", "5"),
        ])));
    }

    #[test]
    fn fahrenheit_and_other_measurements_are_dropped() {
        testing::reset();
        assert!(filter_temperature_init(testing::configuration(&[])));
        let fahrenheit = testing::data(br#"{"temperature":{"value":50,"unit":"F"}}"#.to_vec());
        assert_eq!(filter_temperature(fahrenheit), Ok(false));
        let humidity = testing::data(br#"{"humidity":{"value":50}}"#.to_vec());
        assert_eq!(filter_temperature(humidity), Ok(false));
    }
}

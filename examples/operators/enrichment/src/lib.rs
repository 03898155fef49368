//! Map over collected sensor data (`{"sensor_data":{…}}`, as the `collection`
//! example makes it) that uses the state store to flag over-temperature:
//!
//! * a temperature maximum above 100 C sets `overtemp` on that entry, records
//!   `overtemp = "true"` in the state store and increments `overtemp_count`
//!   under a lock (a conditional set with expiry, whose version fences the
//!   write, released with `vdel`);
//! * a minimum below 0 C clears the flag (`overtemp = "false"`);
//! * otherwise the entry is flagged if the store says an over-temperature was
//!   recorded earlier: the alert sticks until cleared;
//! * a humidity maximum above 80 records `wet_flag`; a lower one deletes it.
//!
//! The output is the collected document itself,
//! `{"temperature":[…],"humidity":[…],"object":[…]}` with readings' `value`
//! removed, on topic `sensors`. State store failures are logged and do not fail
//! the record.

use serde::{Deserialize, Serialize};
use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::map_operator;
use wasm_graph_sdk::metrics::{self, CounterValue, Label};
use wasm_graph_sdk::state_store::{self, SetConditions, SetOptions};

const CONTEXT: &str = "module-enrichment/map";
const OVERTEMP_KEY: &[u8] = b"overtemp";
const OVERTEMP_COUNT_KEY: &[u8] = b"overtemp_count";
const LOCK_KEY: &[u8] = b"overtemp_count_lock";
const LOCK_HOLDER: &[u8] = b"module-enrichment";
const OVERTEMP_CELSIUS: f64 = 100.0;
const FREEZING_CELSIUS: f64 = 0.0;
const WET_HUMIDITY: f64 = 80.0;
const WET_FLAG_KEY: &[u8] = b"wet_flag";

#[derive(Debug, Deserialize)]
struct Input {
    sensor_data: SensorData,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SensorData {
    #[serde(default)]
    temperature: Vec<Temperature>,
    #[serde(default)]
    humidity: Vec<Humidity>,
    #[serde(default)]
    object: Vec<Object>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Temperature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(default)]
    count: u64,
    #[serde(default)]
    max: f64,
    #[serde(default)]
    min: f64,
    #[serde(default)]
    average: f64,
    #[serde(default)]
    last: f64,
    unit: Unit,
    #[serde(default)]
    overtemp: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Unit {
    #[serde(rename = "C")]
    Celsius,
    #[serde(rename = "F")]
    Fahrenheit,
}

#[derive(Debug, Serialize, Deserialize)]
struct Humidity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(default)]
    count: u64,
    #[serde(default)]
    max: f64,
    #[serde(default)]
    min: f64,
    #[serde(default)]
    average: f64,
    #[serde(default)]
    last: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Object {
    result: String,
}

fn celsius(value: f64, unit: Unit) -> f64 {
    match unit {
        Unit::Celsius => value,
        Unit::Fahrenheit => (value - 32.0) * 5.0 / 9.0,
    }
}

fn set(key: &[u8], value: &[u8]) {
    if let Err(err) = state_store::set(key, value, None, None, SetOptions::default()) {
        let key = String::from_utf8_lossy(key);
        logger::log(Level::Error, CONTEXT, &format!("cannot set '{key}': {err}"));
    }
}

/// Whether an over-temperature was recorded earlier.
fn recorded_overtemp() -> bool {
    match state_store::get(OVERTEMP_KEY, None) {
        Ok(got) => got.response.as_deref() == Some(b"true"),
        Err(err) => {
            logger::log(Level::Error, CONTEXT, &format!("cannot read 'overtemp': {err}"));
            false
        }
    }
}

/// Adds one to `overtemp_count` while holding the lock; false if the lock could
/// not be taken or the write was refused.
fn increment_overtemp_count() -> bool {
    for attempt in 1..=3 {
        let lock = SetOptions {
            conditions: SetConditions::OnlyIfEqualOrDoesNotExist,
            expires: Some(state_store::Duration { seconds: 10, nanos: 0 }),
        };
        let token = match state_store::set(LOCK_KEY, LOCK_HOLDER, None, None, lock) {
            Ok(taken) if taken.response => taken.version,
            Ok(_) => {
                logger::log(Level::Warn, CONTEXT, &format!("lock busy (attempt {attempt} of 3)"));
                continue;
            }
            Err(err) => {
                logger::log(Level::Error, CONTEXT, &format!("cannot take the lock: {err}"));
                continue;
            }
        };
        let count = state_store::get(OVERTEMP_COUNT_KEY, None)
            .ok()
            .and_then(|got| got.response)
            .and_then(|bytes| String::from_utf8(bytes).ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        let written = state_store::set(
            OVERTEMP_COUNT_KEY,
            (count + 1).to_string().as_bytes(),
            None,
            token.as_ref(),
            SetOptions::default(),
        );
        let _ = state_store::vdel(LOCK_KEY, LOCK_HOLDER, None, None);
        match written {
            Ok(set) if set.response => return true,
            Ok(_) => logger::log(Level::Warn, CONTEXT, "overtemp_count was not written"),
            Err(err) => logger::log(Level::Error, CONTEXT, &format!("cannot write overtemp_count: {err}")),
        }
    }
    logger::log(Level::Error, CONTEXT, "gave up counting an over-temperature");
    false
}

fn enrich(data: &mut SensorData) {
    for temperature in &mut data.temperature {
        let max = celsius(temperature.max, temperature.unit);
        let min = celsius(temperature.min, temperature.unit);
        if max > OVERTEMP_CELSIUS {
            temperature.overtemp = true;
            set(OVERTEMP_KEY, b"true");
            logger::log(Level::Warn, CONTEXT, &format!("over-temperature: {max} C"));
            increment_overtemp_count();
        } else if min < FREEZING_CELSIUS {
            temperature.overtemp = false;
            set(OVERTEMP_KEY, b"false");
            logger::log(Level::Info, CONTEXT, &format!("over-temperature cleared: {min} C"));
        } else if recorded_overtemp() {
            temperature.overtemp = true;
        }
        temperature.value = None;
    }
    for humidity in &mut data.humidity {
        if humidity.max > WET_HUMIDITY {
            set(WET_FLAG_KEY, humidity.max.to_string().as_bytes());
        } else if let Err(err) = state_store::del(WET_FLAG_KEY, None, None) {
            logger::log(Level::Error, CONTEXT, &format!("cannot delete 'wet_flag': {err}"));
        }
        humidity.value = None;
    }
}

#[map_operator]
fn overtemp_check(input: DataModel) -> Result<DataModel, Error> {
    let labels = vec![Label { key: "module".to_owned(), value: CONTEXT.to_owned() }];
    let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels));
    let DataModel::Message(message) = input else {
        return Err(Error { message: "expected a message".to_owned() });
    };
    let Input { sensor_data: mut data } = serde_json::from_slice(&message.payload.read())
        .map_err(|err| Error { message: format!("payload is not {{\"sensor_data\":…}}: {err}") })?;
    enrich(&mut data);
    let payload = serde_json::to_vec(&data).map_err(|err| Error { message: err.to_string() })?;
    Ok(DataModel::Message(Message {
        timestamp: message.timestamp,
        topic: BufferOrBytes::Bytes(b"sensors".to_vec()),
        content_type: None,
        payload: BufferOrBytes::Bytes(payload),
        properties: message.properties,
        schema: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::state_store::StateStoreError;
    use wasm_graph_sdk::testing;

    fn run(payload: &str) -> String {
        let out = overtemp_check(testing::data(payload.as_bytes().to_vec())).unwrap();
        String::from_utf8(testing::payload(&out)).unwrap()
    }

    fn temperature(max: f64, min: f64) -> String {
        format!(
            r#"{{"sensor_data":{{"temperature":[{{"count":1,"max":{max:?},"min":{min:?},"average":{max:?},"last":{max:?},"unit":"C","overtemp":false}}],"humidity":[],"object":[]}}}}"#
        )
    }

    #[test]
    fn over_temperature_is_flagged_counted_and_remembered() {
        testing::reset();
        let out = run(&temperature(653.8888888888889, 653.8888888888889));
        assert_eq!(
            out,
            r#"{"temperature":[{"count":1,"max":653.8888888888889,"min":653.8888888888889,"average":653.8888888888889,"last":653.8888888888889,"unit":"C","overtemp":true}],"humidity":[],"object":[]}"#
        );
        assert_eq!(testing::state("overtemp").as_deref(), Some(&b"true"[..]));
        assert_eq!(testing::state("overtemp_count").as_deref(), Some(&b"1"[..]));
        assert_eq!(testing::state("overtemp_count_lock"), None, "the lock is released");

        // A later normal reading keeps the alert; a freezing one clears it.
        assert!(run(&temperature(50.0, 40.0)).contains(r#""overtemp":true"#));
        assert!(run(&temperature(20.0, -3.0)).contains(r#""overtemp":false"#));
        assert_eq!(testing::state("overtemp").as_deref(), Some(&b"false"[..]));
        assert!(run(&temperature(50.0, 40.0)).contains(r#""overtemp":false"#));
        run(&temperature(150.0, 150.0));
        assert_eq!(testing::state("overtemp_count").as_deref(), Some(&b"2"[..]));
    }

    #[test]
    fn busy_lock_leaves_the_count_alone() {
        testing::reset();
        testing::seed_state("overtemp_count_lock", "someone-else");
        testing::seed_state("overtemp_count", "7");
        assert!(run(&temperature(150.0, 150.0)).contains(r#""overtemp":true"#));
        assert_eq!(testing::state("overtemp_count").as_deref(), Some(&b"7"[..]));
        assert_eq!(testing::logs().iter().filter(|l| l.message.starts_with("lock busy")).count(), 3);
    }

    #[test]
    fn wet_flag_follows_humidity() {
        testing::reset();
        let humid = r#"{"sensor_data":{"humidity":[{"value":85.0,"count":1,"max":85.0,"min":85.0,"average":85.0,"last":85.0}]}}"#;
        assert_eq!(
            run(humid),
            r#"{"temperature":[],"humidity":[{"count":1,"max":85.0,"min":85.0,"average":85.0,"last":85.0}],"object":[]}"#
        );
        assert_eq!(testing::state("wet_flag").as_deref(), Some(&b"85"[..]));
        run(r#"{"sensor_data":{"humidity":[{"count":1,"max":40.0,"min":40.0,"average":40.0,"last":40.0}]}}"#);
        assert_eq!(testing::state("wet_flag"), None);
    }

    #[test]
    fn state_store_failures_do_not_fail_the_record() {
        testing::reset();
        testing::fail_state_store(Some(StateStoreError::Timeout));
        assert!(run(&temperature(150.0, 150.0)).contains(r#""overtemp":true"#));
        assert!(testing::logs().iter().any(|l| l.level == Level::Error));
    }

    #[test]
    fn output_is_on_topic_sensors() {
        testing::reset();
        let out = overtemp_check(testing::data(temperature(20.0, 10.0).into_bytes())).unwrap();
        let DataModel::Message(message) = out else { panic!("not a message") };
        assert_eq!(message.topic.read(), b"sensors");
        assert!(overtemp_check(testing::data(b"{}".to_vec())).is_err());
    }
}

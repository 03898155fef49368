//! Accumulate: count, max, min, average and last (the reading with the latest
//! time) of the temperature readings of one time, in Celsius. The staged value
//! carries the statistics between calls; records that are not temperature
//! readings are skipped (and counted in `skipped`).

use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::accumulate_operator;
use wasm_graph_sdk::metrics::{self, CounterValue, Label};

use crate::{count_request, error, Temperature, TemperatureReading, Unit};

const CONTEXT: &str = "module-temperature/accumulate";

/// Running statistics.
struct Stats {
    count: u64,
    sum: f64,
    max: f64,
    min: f64,
    last: f64,
    /// Time of `last`: (secs, nanos, counter).
    last_time: (u64, u32, u64),
}

impl Stats {
    fn add(&mut self, value: f64, time: (u64, u32, u64)) {
        if self.count == 0 {
            self.max = value;
            self.min = value;
        } else {
            self.max = self.max.max(value);
            self.min = self.min.min(value);
        }
        self.count += 1;
        self.sum += value;
        if self.count == 1 || time >= self.last_time {
            self.last = value;
            self.last_time = time;
        }
    }
}

fn time_of(message: &Message) -> (u64, u32, u64) {
    let t = &message.timestamp;
    (t.timestamp.secs, t.timestamp.nanos, t.counter)
}

fn skip(why: &str) {
    logger::log(Level::Warn, CONTEXT, &format!("skipping a record: {why}"));
    let labels = [Label { key: "module".to_owned(), value: CONTEXT.to_owned() }];
    let _ = metrics::add_to_counter("skipped", CounterValue::U64(1), Some(&labels));
}

/// The Celsius value of one record, or why it is skipped.
fn celsius(message: &Message) -> Result<f64, String> {
    let reading: TemperatureReading =
        serde_json::from_slice(&message.payload.read()).map_err(|err| format!("not a temperature reading ({err})"))?;
    let value = reading.temperature.value.ok_or("temperature reading without a value")?;
    Ok(match reading.temperature.unit {
        Unit::Celsius => value,
        Unit::Fahrenheit => (value - 32.0) * 5.0 / 9.0,
    })
}

#[accumulate_operator]
fn accumulate_temperature(staged: DataModel, inputs: Vec<DataModel>) -> Result<DataModel, Error> {
    count_request(CONTEXT);
    let DataModel::Message(mut result) = staged else {
        return Err(error("expected the staged value to be a message"));
    };
    let staged_payload = result.payload.read();
    let mut stats = Stats { count: 0, sum: 0.0, max: 0.0, min: 0.0, last: 0.0, last_time: (0, 0, 0) };
    if !staged_payload.is_empty() {
        let staged: TemperatureReading = serde_json::from_slice(&staged_payload)
            .map_err(|err| error(format!("staged value is not temperature statistics: {err}")))?;
        let t = staged.temperature;
        stats = Stats {
            count: t.count,
            sum: t.average * t.count as f64,
            max: t.max,
            min: t.min,
            last: t.last,
            last_time: time_of(&result),
        };
    }

    let before = stats.count;
    for input in inputs {
        let DataModel::Message(message) = input else {
            skip("not a message");
            continue;
        };
        match celsius(&message) {
            Ok(value) => {
                let time = time_of(&message);
                let latest = stats.count == 0 || time >= stats.last_time;
                stats.add(value, time);
                if latest {
                    result.timestamp.timestamp = message.timestamp.timestamp;
                    result.timestamp.counter = message.timestamp.counter;
                    result.topic = message.topic;
                }
            }
            Err(why) => skip(&why),
        }
    }
    if stats.count == before {
        return Ok(DataModel::Message(result));
    }

    let summary = TemperatureReading {
        temperature: Temperature {
            value: None,
            count: stats.count,
            max: stats.max,
            min: stats.min,
            average: stats.sum / stats.count as f64,
            last: stats.last,
            unit: Unit::Celsius,
            overtemp: false,
        },
    };
    let bytes = serde_json::to_vec(&summary).map_err(|err| error(err.to_string()))?;
    logger::log(Level::Debug, CONTEXT, &String::from_utf8_lossy(&bytes));
    result.payload = BufferOrBytes::Bytes(bytes);
    Ok(DataModel::Message(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    fn reading(celsius: f64, secs: u64) -> DataModel {
        let payload = format!(
            r#"{{"temperature":{{"value":{celsius},"count":0,"max":0.0,"min":0.0,"average":0.0,"last":0.0,"unit":"C","overtemp":false}}}}"#
        );
        let mut message = testing::buffer_message(payload.into_bytes(), secs, 0);
        message.topic = BufferOrBytes::Bytes(format!("sensors/{secs}").into_bytes());
        DataModel::Message(message)
    }

    fn text(data: &DataModel) -> String {
        String::from_utf8(testing::payload(data)).unwrap()
    }

    #[test]
    fn one_reading_gives_aio_statistics() {
        testing::reset();
        let out = accumulate_temperature(testing::data(Vec::new()), vec![reading(653.8888888888889, 30)]).unwrap();
        assert_eq!(
            text(&out),
            r#"{"temperature":{"count":1,"max":653.8888888888889,"min":653.8888888888889,"average":653.8888888888889,"last":653.8888888888889,"unit":"C","overtemp":false}}"#
        );
        let DataModel::Message(message) = out else { panic!("not a message") };
        assert_eq!(message.timestamp.timestamp.secs, 30);
        assert_eq!(message.topic.read(), b"sensors/30");
    }

    #[test]
    fn staged_statistics_continue_across_batches() {
        testing::reset();
        let first =
            accumulate_temperature(testing::data(Vec::new()), vec![reading(10.0, 5), reading(30.0, 3)]).unwrap();
        assert_eq!(
            text(&first),
            r#"{"temperature":{"count":2,"max":30.0,"min":10.0,"average":20.0,"last":10.0,"unit":"C","overtemp":false}}"#
        );
        let second = accumulate_temperature(first, vec![reading(-5.0, 4), reading(25.0, 9)]).unwrap();
        assert_eq!(
            text(&second),
            r#"{"temperature":{"count":4,"max":30.0,"min":-5.0,"average":15.0,"last":25.0,"unit":"C","overtemp":false}}"#
        );
    }

    #[test]
    fn other_records_are_skipped_and_fahrenheit_converted() {
        testing::reset();
        let inputs = vec![
            testing::data(br#"{"humidity":{"value":85}}"#.to_vec()),
            testing::data(br#"{"temperature":{"value":212,"unit":"F"}}"#.to_vec()),
        ];
        let out = accumulate_temperature(testing::data(Vec::new()), inputs).unwrap();
        assert!(text(&out).starts_with(r#"{"temperature":{"count":1,"max":100.0,"#), "{}", text(&out));
        assert_eq!(testing::counter("skipped"), 1);
    }

    #[test]
    fn nothing_to_add_keeps_the_staged_value() {
        testing::reset();
        let out = accumulate_temperature(testing::data(Vec::new()), Vec::new()).unwrap();
        assert!(testing::payload(&out).is_empty());
        assert!(accumulate_temperature(testing::data(b"junk".to_vec()), Vec::new()).is_err());
    }
}

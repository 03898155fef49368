//! Delay: moves each record up to the end of its window, so that a downstream
//! accumulate sees one batch per window. Windows are 10 seconds long by default
//! (init parameter `window_ms` changes that). A record's new time is the next
//! multiple of the window with counter 0; a record already on a boundary keeps its
//! time, so a record never moves back.

use std::cell::Cell;
use std::time::Duration as StdDuration;

use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::delay_operator;
use wasm_graph_sdk::metrics::{self, CounterValue, Label};

const CONTEXT: &str = "module-window/delay";
const DEFAULT_WINDOW_MS: u64 = 10_000;

thread_local! {
    static WINDOW: Cell<StdDuration> = const { Cell::new(StdDuration::from_millis(DEFAULT_WINDOW_MS)) };
}

fn window_init(configuration: ModuleConfiguration) -> bool {
    let Some((_, text)) = configuration.properties.iter().find(|(key, _)| key == "window_ms") else {
        WINDOW.with(|w| w.set(StdDuration::from_millis(DEFAULT_WINDOW_MS)));
        return true;
    };
    match text.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => {
            logger::log(Level::Info, CONTEXT, &format!("windows of {ms} ms"));
            WINDOW.with(|w| w.set(StdDuration::from_millis(ms)));
            true
        }
        _ => {
            logger::log(Level::Error, CONTEXT, &format!("window_ms must be a positive integer, got {text:?}"));
            false
        }
    }
}

/// The end of the window `time` falls in, or `time` itself on a boundary.
fn window_end(time: Duration, window: Duration) -> Option<Duration> {
    let (t, w) = (time.as_nanos(), window.as_nanos());
    let rest = t % w;
    if rest == 0 {
        return None;
    }
    let end = t - rest + w;
    let secs = u64::try_from(end / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (end % 1_000_000_000) as u32))
}

#[delay_operator(init = "window_init")]
fn delay_to_window_end(input: DataModel, timestamp: HybridLogicalClock) -> Result<HybridLogicalClock, Error> {
    let labels = vec![Label { key: "module".to_owned(), value: CONTEXT.to_owned() }];
    let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels));

    // The record's own time if it carries one, never earlier than the host's.
    let own = match &input {
        DataModel::Message(message) => Some(message.timestamp.timestamp),
        DataModel::Snapshot(snapshot) => Some(snapshot.timestamp.timestamp),
        DataModel::BufferOrBytes(_) => None,
    };
    let time = match own {
        Some(own) if own > timestamp.timestamp => own,
        _ => timestamp.timestamp,
    };
    let window = WINDOW.with(Cell::get);
    let Some(end) = window_end(Duration::from(time), window) else {
        return Ok(HybridLogicalClock { timestamp: time, ..timestamp });
    };
    let delayed = HybridLogicalClock { timestamp: end.into(), counter: 0, node_id: timestamp.node_id };
    logger::log(Level::Debug, CONTEXT, &format!("delayed to {delayed:?}"));
    Ok(delayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    fn delay(secs: u64, nanos: u32, counter: u64) -> HybridLogicalClock {
        let mut message = testing::message(b"{}".to_vec());
        message.timestamp.timestamp = Timespec { secs, nanos };
        delay_to_window_end(DataModel::Message(message), testing::hlc(secs, nanos, counter)).unwrap()
    }

    #[test]
    fn moves_up_to_the_next_ten_second_boundary() {
        testing::reset();
        assert!(window_init(testing::configuration(&[])));
        assert_eq!(delay(1_700_000_003, 250_000_000, 7), testing::hlc(1_700_000_010, 0, 0));
        assert_eq!(delay(1_700_000_009, 999_999_999, 0), testing::hlc(1_700_000_010, 0, 0));
        assert_eq!(delay(1_700_000_010, 1, 2), testing::hlc(1_700_000_020, 0, 0));
        assert_eq!(testing::counter("requests"), 3);
    }

    #[test]
    fn times_on_a_boundary_stay() {
        testing::reset();
        assert!(window_init(testing::configuration(&[])));
        assert_eq!(delay(1_700_000_020, 0, 3), testing::hlc(1_700_000_020, 0, 3));
    }

    #[test]
    fn never_earlier_than_the_record_time() {
        testing::reset();
        assert!(window_init(testing::configuration(&[])));
        // The host's time is later than the message's own: the host's wins.
        let mut message = testing::message(Vec::new());
        message.timestamp.timestamp = Timespec { secs: 5, nanos: 0 };
        let out = delay_to_window_end(DataModel::Message(message), testing::hlc(12, 0, 0)).unwrap();
        assert_eq!(out, testing::hlc(20, 0, 0));
        let bytes = DataModel::BufferOrBytes(BufferOrBytes::Bytes(Vec::new()));
        assert_eq!(delay_to_window_end(bytes, testing::hlc(21, 5, 1)).unwrap(), testing::hlc(30, 0, 0));
    }

    #[test]
    fn window_length_from_init() {
        testing::reset();
        assert!(window_init(testing::configuration(&[("window_ms", "500")])));
        assert_eq!(delay(3, 200_000_000, 0), testing::hlc(3, 500_000_000, 0));
        assert!(!window_init(testing::configuration(&[("window_ms", "0")])));
        assert!(!window_init(testing::configuration(&[("window_ms", "soon")])));
    }
}

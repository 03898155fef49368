//! Records held back until the frontier passes their time, then released one
//! time after another, in source order within a time: what accumulate and the
//! in-time-order stage both need.

use std::collections::BTreeMap;

use timely::dataflow::operators::{Capability, InputCapability};
use timely::progress::frontier::MutableAntichain;
use wasmgraph_types::Record;

use super::{sort_within_time, Time};

/// Records by time, each time with the capability to emit at it.
#[derive(Default)]
pub(crate) struct Pending {
    times: BTreeMap<Time, (Capability<Time>, Vec<Record>)>,
}

impl Pending {
    /// Hold `records` (which arrived under `cap`) for output `port`.
    pub fn hold(&mut self, cap: &InputCapability<Time>, port: usize, records: &mut Vec<Record>) {
        for record in records.drain(..) {
            let time = record.time.as_time();
            self.times.entry(time).or_insert_with(|| (cap.delayed(&time, port), Vec::new())).1.push(record);
        }
    }

    /// The earliest time the frontier has passed, with its records sorted;
    /// `None` while every held time may still receive records.
    pub fn next_ready(&mut self, frontier: &MutableAntichain<Time>) -> Option<(Capability<Time>, Vec<Record>)> {
        let entry = self.times.first_entry()?;
        if frontier.less_equal(entry.key()) {
            return None;
        }
        let (cap, mut records) = entry.remove();
        sort_within_time(&mut records);
        Some((cap, records))
    }
}

//! Records held back until the frontier passes their time, then released in
//! [`record_order`](super::record_order): what accumulate, the in-time-order
//! stage and the sink all need.
//!
//! Records are held by their own time (`record.time`), not by the capability
//! they arrived under: a capability stands for a whole source poll, and the
//! records under it have later times of their own (the driver's invariant: a
//! record's time is never earlier than its capability's). A record at time
//! `t` is ready once the input frontier is no longer `less_equal(t)`: every
//! record still to come has a time at or after the frontier.
//!
//! Holding costs no allocation per record or per time: records wait in one
//! `Vec`, and one capability is held, at the earliest held record time, which
//! is all the output needs (every released record's time is at or after it).

use timely::dataflow::operators::{Capability, InputCapability};
use timely::progress::frontier::MutableAntichain;
use wasmgraph_types::Record;

use super::{sort_records, Time};

/// Records waiting for the frontier, with the capability to emit them.
#[derive(Default)]
pub(crate) struct Pending {
    records: Vec<Record>,
    /// At `earliest` while any record is held, for the output the records go to.
    cap: Option<Capability<Time>>,
    /// The earliest time among `records`.
    earliest: Time,
    /// The latest time among `records` (when the frontier has passed it,
    /// everything goes at once, without sifting).
    latest: Time,
}

impl Pending {
    /// Hold `records` (which arrived under `cap`) for output `port`.
    pub fn hold(&mut self, cap: &InputCapability<Time>, port: usize, records: &mut Vec<Record>) {
        let mut times = records.iter().map(|r| r.time.as_time());
        let Some(first) = times.next() else { return };
        let (earliest, latest) = times.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t)));
        if self.cap.is_none() || latest > self.latest {
            self.latest = latest;
        }
        if self.cap.is_none() || earliest < self.earliest {
            // `earliest` is at or after `cap`'s time (the invariant above), so
            // the capability can be delayed to it.
            self.cap = Some(cap.delayed(&earliest, port));
            self.earliest = earliest;
        }
        if self.records.is_empty() {
            std::mem::swap(&mut self.records, records);
        } else {
            self.records.append(records);
        }
    }

    /// Every held record the frontier has passed, sorted into record order,
    /// with a capability at (or before) the earliest of them; `None` while
    /// every held record may still be joined by records at its time.
    ///
    /// The remaining records keep a capability at their earliest time, so
    /// downstream frontiers advance as far as they may.
    pub fn take_ready(&mut self, frontier: &MutableAntichain<Time>) -> Option<(Capability<Time>, Vec<Record>)> {
        let cap = self.cap.as_mut()?;
        if frontier.less_equal(&self.earliest) {
            return None;
        }
        let mut ready: Vec<Record> = if frontier.less_equal(&self.latest) {
            self.records.extract_if(.., |r| !frontier.less_equal(&r.time.as_time())).collect()
        } else {
            std::mem::take(&mut self.records)
        };
        let earliest = self.records.iter().map(|r| r.time.as_time()).min().unwrap_or(Time::MAX);
        let out = if self.records.is_empty() {
            self.cap.take()
        } else {
            let out = cap.clone();
            cap.downgrade(&earliest);
            self.earliest = earliest;
            Some(out)
        };
        sort_records(&mut ready);
        out.map(|cap| (cap, ready))
    }

    /// Drop everything held (and the capability).
    pub fn clear(&mut self) {
        self.records.clear();
        self.cap = None;
    }
}

//! Where delays moved records, so a source message is acknowledged only after
//! every record derived from it was written.
//!
//! The driver acknowledges a message once the probe after the sink has passed
//! the message's time. A delay breaks that link: it moves a record to a later
//! time, so the probe can pass the message's time while the moved record still
//! waits (in a window, say) unwritten, and a crash then would lose it. Every
//! delay therefore reports each move (original time -> new time) here, and the
//! driver waits for the probe to pass the latest time any record of a message
//! may have been moved to.
//!
//! The registry is kept as a staircase: keys are original times, and each key's
//! value (a new time) is larger than every value at an earlier key, so "the
//! latest new time of any record at or before time t" is one lookup. That is
//! conservative (a message may wait for a later, unrelated move of an earlier
//! message) but never early, and stays small: delays move many records to the
//! few times that close their windows.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::Time;

/// Moves made by every delay of one run.
#[derive(Debug, Default)]
pub(crate) struct Moves {
    stairs: Mutex<BTreeMap<Time, Time>>,
}

impl Moves {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Time, Time>> {
        self.stairs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records were moved: each `(from, to)` with `to > from`.
    pub fn record(&self, moves: impl IntoIterator<Item = (Time, Time)>) {
        let mut stairs = self.lock();
        for (from, to) in moves {
            if to <= from {
                continue;
            }
            // Already covered by an earlier (or the same) original time?
            if stairs.range(..=from).next_back().is_some_and(|(_, &latest)| latest >= to) {
                continue;
            }
            // Later steps that this move now covers are no longer steps.
            let covered: Vec<Time> = stairs.range(from..).take_while(|(_, &t)| t <= to).map(|(&k, _)| k).collect();
            for k in covered {
                stairs.remove(&k);
            }
            stairs.insert(from, to);
        }
    }

    /// A view for settling several acknowledgements under one lock.
    pub fn settle(&self) -> Settle<'_> {
        Settle { stairs: self.lock() }
    }
}

/// [`Moves`], locked.
pub(crate) struct Settle<'a> {
    stairs: std::sync::MutexGuard<'a, BTreeMap<Time, Time>>,
}

impl Settle<'_> {
    /// The latest time a record of a message at `time` may now have: `time`
    /// itself, or where delays moved records at or before it (following moves
    /// of moved records too).
    pub fn horizon(&self, time: Time) -> Time {
        let mut until = time;
        while let Some((_, &to)) = self.stairs.range(..=until).next_back() {
            if to <= until {
                break;
            }
            until = to;
        }
        until
    }

    /// No message before `time` waits for acknowledgement any more (and none
    /// will come): moves from earlier times no longer matter, since a later
    /// message's records were never at an earlier time. Keeps the registry to
    /// the moves of messages in flight, also for sources that never ask for
    /// acknowledgements.
    pub fn forget_before(&mut self, time: Time) {
        let keep = self.stairs.split_off(&time);
        *self.stairs = keep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_waits_for_where_its_records_were_moved() {
        let moves = Moves::default();
        assert_eq!(moves.settle().horizon(5), 5);
        moves.record([(5, 100), (6, 100), (7, 100), (120, 200)]);
        let s = moves.settle();
        assert_eq!(s.horizon(4), 4);
        assert_eq!(s.horizon(5), 100);
        assert_eq!(s.horizon(7), 100);
        // Beyond the window, the next move of a later record counts only from its own time.
        assert_eq!(s.horizon(110), 110);
        assert_eq!(s.horizon(120), 200);
    }

    #[test]
    fn moves_of_moved_records_are_followed() {
        let moves = Moves::default();
        // A first delay moves 5 to 100; a second delay moves what is at 100 to 300.
        moves.record([(5, 100)]);
        moves.record([(100, 300)]);
        assert_eq!(moves.settle().horizon(5), 300);
    }

    #[test]
    fn covered_moves_collapse_and_acknowledged_ones_go() {
        let moves = Moves::default();
        moves.record([(10, 20), (12, 25), (11, 30)]);
        assert_eq!(moves.lock().len(), 2, "{:?}", moves.lock());
        // Conservative: 10 moved to 20, and a record at 11 (<= 20) moved to 30.
        assert_eq!(moves.settle().horizon(10), 30);
        assert_eq!(moves.settle().horizon(12), 30);
        moves.record([(3, 4), (9, 9)]);
        let mut s = moves.settle();
        s.forget_before(12);
        drop(s);
        assert_eq!(moves.lock().keys().copied().collect::<Vec<_>>(), Vec::<Time>::new());
        assert_eq!(moves.settle().horizon(12), 12);
    }
}

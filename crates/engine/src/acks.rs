//! Acknowledgement tracking: which source messages may be acknowledged, given
//! how far the sink has written.
//!
//! The probe sits after the sink, so its frontier passing a time means every
//! record at that time (and before) is durable or was dropped. Records a delay
//! moved later count at the time they were moved to (see [`Moves`]).

use std::collections::VecDeque;
use std::sync::Arc;

use timely::dataflow::ProbeHandle;
use wasmgraph_connector::{ConnectorError, Source};

use crate::moves::Moves;
use crate::Time;

/// Messages polled from the source and not yet acknowledged to it, in poll order.
pub(crate) struct PendingAcks {
    /// (record time, the source's token), oldest first.
    unacked: VecDeque<(Time, u64)>,
    /// Where delays moved records.
    moves: Arc<Moves>,
}

impl PendingAcks {
    pub fn new(moves: Arc<Moves>) -> Self {
        PendingAcks { unacked: VecDeque::new(), moves }
    }

    /// A message whose records start at `time` wants `token` back once written.
    pub fn push(&mut self, time: Time, token: u64) {
        self.unacked.push_back((time, token));
    }

    /// Acknowledge every message whose records the sink has written. `next` is
    /// the earliest time a message not yet polled can have.
    pub fn settle(
        &mut self,
        source: &mut dyn Source,
        probe: &ProbeHandle<Time>,
        next: Time,
    ) -> Result<(), ConnectorError> {
        let mut done = Vec::new();
        let mut settle = self.moves.settle();
        while let Some(&(time, token)) = self.unacked.front() {
            if probe.less_equal(&settle.horizon(time)) {
                break;
            }
            done.push(token);
            self.unacked.pop_front();
        }
        settle.forget_before(self.unacked.front().map_or(next, |&(time, _)| time.min(next)));
        drop(settle);
        if done.is_empty() {
            Ok(())
        } else {
            source.ack(&done)
        }
    }
}

//! The semantics suite on the in-memory backend.

#[macro_use]
mod suite;

use std::sync::Arc;

use suite::{start_time, Fixture, NODE};
use wasmgraph_state_store::{ManualClock, MemoryBackend};

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(start_time()));
    let backend = MemoryBackend::with_clock(NODE, clock.clone());
    Fixture { backend: Box::new(backend), clock, _keep: Box::new(()) }
}

semantics_suite!(fixture);

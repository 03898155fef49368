//! The engine: turns a checked graph into a timely dataflow and runs it.
//!
//! Every record carries a hybrid logical clock time (`Record::time`), packed
//! into a `u128` ([`wasmgraph_types::Hlc::as_time`]) that is also the timely
//! timestamp. Timely times are coarser than record times: the records of one
//! source poll travel under one capability, at the poll's earliest record
//! time, so timely's progress tracking works per poll rather than per record.
//! The invariant every operator keeps: **a record's own time is never earlier
//! than the time of the capability it travels under.** So once the frontier
//! is no longer `less_equal` to a record's time, no record at or before that
//! time can arrive any more: accumulate, the in-time-order stage and the sink
//! group and order by the record's own time and act on that, which is what
//! makes windows close exactly once and output come out in time order.
//!
//! Operations are reached through the [`Operator`] trait, one live instance per
//! worker, made by an [`OperatorFactory`]; the wasmtime host implements them for
//! WebAssembly components, and tests implement them natively. Output does not
//! depend on the number of workers: records sharing a time are put in source
//! order before an accumulate or the sink sees them.
//!
//! A node may be keyed ([`Node::partition`]): its records are then exchanged
//! by the hash of their [`PartitionKey`] rather than gathered by time (an
//! accumulate) or on one worker (an operation using the state store), so one
//! key's records meet on one worker and keys are worked on in parallel. The
//! invariants above hold unchanged: the exchange moves records, not times.

mod acks;
mod cluster;
mod driver;
mod key;
mod moves;
mod operator;
mod operators;
mod plan;
mod stats;

pub use cluster::{Cluster, SinkPlacement};
pub use driver::{run, RunError, RunOptions, RunReport, DEFAULT_MAX_CLOCK_SKEW};
pub use key::PartitionKey;
pub use operator::{ErrorEvent, ErrorHandler, Failure, FailureKind, Operator, OperatorFactory};
pub use plan::{Input, Node, NodeKind, Plan, PlanError};
pub use stats::{NodeStats, Stats};

/// The timely timestamp: [`wasmgraph_types::Hlc::as_time`].
pub(crate) type Time = u128;

//! The engine: turns a checked graph into a timely dataflow and runs it.
//!
//! Every record carries a hybrid logical clock time, packed into the `u128`
//! timely timestamp ([`wasmgraph_types::Hlc::as_time`]). Timely's progress
//! tracking tells each operation when no more records at or before a time can
//! arrive; accumulate and the sink act on that, which is what makes windows
//! close exactly once and output come out in time order.
//!
//! Operations are reached through the [`Operator`] trait, one live instance per
//! worker, made by an [`OperatorFactory`]; the wasmtime host implements them for
//! WebAssembly components, and tests implement them natively. Output does not
//! depend on the number of workers: records sharing a time are put in source
//! order before an accumulate or the sink sees them.

mod driver;
mod operator;
mod operators;
mod plan;
mod stats;
pub mod wasm;

pub use driver::{run, ErrorEvent, RunOptions, RunReport};
pub use operator::{Failure, FailureKind, Operator, OperatorFactory};
pub use plan::{Input, Node, NodeKind, Plan, PlanError};
pub use stats::{NodeStats, Stats};

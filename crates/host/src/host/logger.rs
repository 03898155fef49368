//! The `logger` interface, forwarded to `tracing`.
//!
//! Every event has the target `wasmgraph::module` and the fields `operation`
//! (the graph operation running the module), `time` (the record's hybrid logical
//! clock time in `__ts` wire form, empty outside a record call such as `init`),
//! `context` (what the module passed) and the message. Levels map one to one;
//! `critical` becomes an `ERROR` event with the field `critical = true`.

use crate::bindings::imports::logger::{self, Level};
use crate::state::Api;

impl logger::Host for Api<'_> {
    fn log(&mut self, level: Level, context: String, message: String) -> wasmtime::Result<()> {
        let operation: &str = &self.ctx.operation;
        let time = self
            .ctx
            .record_time
            .as_ref()
            .map(|t| t.to_wire())
            .unwrap_or_default();
        macro_rules! emit {
            ($lvl:expr, $($extra:tt)*) => {
                tracing::event!(target: "wasmgraph::module", $lvl, operation, time = %time, context = %context, $($extra)* "{message}")
            };
        }
        match level {
            Level::Trace => emit!(tracing::Level::TRACE,),
            Level::Debug => emit!(tracing::Level::DEBUG,),
            Level::Info => emit!(tracing::Level::INFO,),
            Level::Warn => emit!(tracing::Level::WARN,),
            Level::Error => emit!(tracing::Level::ERROR,),
            Level::Critical => emit!(tracing::Level::ERROR, critical = true,),
        }
        Ok(())
    }
}

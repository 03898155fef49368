//! The `logger` interface, forwarded to `tracing`.
//!
//! Every event has the target `wasmgraph::module` and the fields `operation`
//! (the graph operation running the module), `time` (the record's hybrid logical
//! clock time in `__ts` wire form, empty outside a record call such as `init`),
//! `context` (what the module passed) and the message. Levels map one to one;
//! `critical` becomes an `ERROR` event with the field `critical = true`.

use crate::bindings::imports::logger::{self, Level};
use crate::state::Api;

/// A record time shown in `__ts` wire form (empty when there is none).
struct WireTime<'a>(Option<&'a wasmgraph_types::Hlc>);

impl std::fmt::Display for WireTime<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(t) => f.write_str(&t.to_wire()),
            None => Ok(()),
        }
    }
}

impl logger::Host for Api<'_> {
    fn log(&mut self, level: Level, context: String, message: String) -> wasmtime::Result<()> {
        let operation: &str = &self.ctx.operation;
        // Formatted only if a subscriber records the event: a module that logs
        // at a disabled level (debug, usually) then costs no allocation here.
        let time = WireTime(self.ctx.record_time.as_ref());
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

//! The `logger` interface, forwarded to `tracing`.
//!
//! Every event has the target `wasmgraph::module` and the fields `operation`
//! (the graph operation running the module), `time` (the record's hybrid logical
//! clock time in `__ts` wire form, empty outside a record call such as `init`),
//! `context` (what the module passed) and the message. Levels map one to one;
//! `critical` becomes an `ERROR` event with the field `critical = true`.
//!
//! The instance's log budget applies first (limits.rs): lines beyond the
//! rate are dropped and a message or context longer than the line size is cut,
//! ending with `… [N bytes cut]`; both are counted, neither allocates.

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

/// A log text, and how many bytes were cut off its end.
struct Cut<'a>(&'a str, usize);

impl std::fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)?;
        if self.1 > 0 {
            write!(f, "… [{} bytes cut]", self.1)?;
        }
        Ok(())
    }
}

impl logger::Host for Api<'_> {
    fn log(&mut self, level: Level, context: String, message: String) -> wasmtime::Result<()> {
        let budget = &self.ctx.log;
        if !budget.admit() {
            return Ok(());
        }
        let (text, cut) = budget.cut(&message);
        let message = Cut(text, cut);
        let (text, cut) = budget.cut(&context);
        let context = Cut(text, cut);
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

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
//! Lines at a level no subscriber records are dropped before that, without
//! reading their text (see [`log_borrowed`]), and do not count against the rate.

use wasmtime::component::{Linker, WasmStr};
use wasmtime::StoreContextMut;

use crate::bindings::imports::logger::{self, Level};
use crate::limits::Cut;
use crate::state::{Api, ApiCtx, StoreState};

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
        emit(self.ctx, level, &context, &message);
        Ok(())
    }
}

/// Replaces the generated `logger.log` in `linker` (which must already hold
/// the generated bindings) with [`log_borrowed`].
pub(crate) fn add_borrowed_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let defined = linker.instance(INTERFACE).and_then(|mut i| i.func_wrap("log", log_borrowed));
    linker.allow_shadowing(false);
    defined
}

const INTERFACE: &str = "wasm-graph:processor/logger@1.1.0";

/// `logger.log` without copying its strings out of the module. The generated
/// binding lifts both strings into host `String`s before the host sees the
/// level, so a module logging at a disabled level (a debug line per record, as
/// AIO's samples do) paid two allocations and two UTF-8 checks per call for
/// nothing. Here the strings arrive as views into the module's memory, the
/// level is checked first, and the text is read (in place) only for an event
/// a subscriber records.
fn log_borrowed(
    store: StoreContextMut<'_, StoreState>,
    (level, context, message): (Level, WasmStr, WasmStr),
) -> wasmtime::Result<()> {
    if !enabled(level) {
        return Ok(());
    }
    let context = context.to_str(&store)?;
    let message = message.to_str(&store)?;
    emit(&store.data().api, level, &context, &message);
    Ok(())
}

/// Whether a subscriber records module events at `level`.
fn enabled(level: Level) -> bool {
    match level {
        Level::Trace => tracing::enabled!(target: "wasmgraph::module", tracing::Level::TRACE),
        Level::Debug => tracing::enabled!(target: "wasmgraph::module", tracing::Level::DEBUG),
        Level::Info => tracing::enabled!(target: "wasmgraph::module", tracing::Level::INFO),
        Level::Warn => tracing::enabled!(target: "wasmgraph::module", tracing::Level::WARN),
        Level::Error | Level::Critical => tracing::enabled!(target: "wasmgraph::module", tracing::Level::ERROR),
    }
}

/// One module log line, within the instance's log budget.
fn emit(ctx: &ApiCtx, level: Level, context: &str, message: &str) {
    let budget = &ctx.log;
    if !budget.admit() {
        return;
    }
    let (text, cut) = budget.cut(message);
    let message = Cut(text, cut);
    let (text, cut) = budget.cut(context);
    let context = Cut(text, cut);
    let operation: &str = &ctx.operation;
    // Formatted only if a subscriber records the event.
    let time = WireTime(ctx.record_time.as_ref());
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
}

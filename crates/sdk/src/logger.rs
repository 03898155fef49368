//! Log lines from operators into the host's log (WIT `logger`).
//!
//! ```
//! use wasm_graph_sdk::logger::{self, Level};
//! logger::log(Level::Info, "module-temperature/map", "converted 1 reading");
//! ```
//!
//! In native builds the line goes to the mock host ([`crate::testing::logs`]) and
//! to stderr, where the test harness captures it.

pub use crate::bindings::imports::wasm_graph::processor::logger::Level;

/// Emit a log line. `context` groups related lines (usually
/// `"<module>/<operation>"`); the host adds the operation and record time.
pub fn log(level: Level, context: &str, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::imports::wasm_graph::processor::logger::log(level, context, message);
    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::host::log(level, context, message);
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Critical => "critical",
        })
    }
}

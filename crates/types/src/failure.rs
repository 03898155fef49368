//! Why one operator call failed: one vocabulary from the host that makes the
//! call, through the engine that routes the record, to the reports users read
//! (`errors.jsonl`, dead-letter messages, logs, metric labels).

use std::fmt;

/// Why one call failed. Each kind affects only the record (or accumulate batch)
/// the call was made for; the graph keeps running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FailureKind {
    /// The module returned an `error` for this record. The instance is kept.
    Returned,
    /// The module trapped (a Rust panic, a Python exception, `unreachable`).
    /// The instance is re-created.
    Trap,
    /// The call ran past its time budget. The instance is re-created.
    Timeout,
    /// The instance hit its memory limit. The instance is re-created.
    OutOfMemory,
    /// The module answered something that cannot be used: a string field that
    /// is not UTF-8, a buffer handle it does not own, a delay to an earlier
    /// time. The instance is kept.
    InvalidOutput,
    /// The instance holds more resource handles (buffers, streams, builders)
    /// than the host allows (a module that creates them without dropping
    /// them). The instance is re-created, which frees them.
    ResourceLimit,
}

impl FailureKind {
    /// Every kind, for counters that report each one.
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Returned,
        FailureKind::Trap,
        FailureKind::Timeout,
        FailureKind::OutOfMemory,
        FailureKind::InvalidOutput,
        FailureKind::ResourceLimit,
    ];

    /// The name written to `errors.jsonl`, dead letters, logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Returned => "error",
            FailureKind::Trap => "trap",
            FailureKind::Timeout => "timeout",
            FailureKind::OutOfMemory => "out-of-memory",
            FailureKind::InvalidOutput => "invalid-output",
            FailureKind::ResourceLimit => "resource-limit",
        }
    }

    /// True when the instance that failed was discarded and made anew.
    pub fn recreates_instance(self) -> bool {
        matches!(self, FailureKind::Trap | FailureKind::Timeout | FailureKind::OutOfMemory | FailureKind::ResourceLimit)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::FailureKind;

    #[test]
    fn names_are_distinct_and_stable() {
        let names: std::collections::BTreeSet<_> = FailureKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), FailureKind::ALL.len());
        assert_eq!(FailureKind::InvalidOutput.to_string(), "invalid-output");
        assert_eq!(FailureKind::Returned.as_str(), "error");
        assert!(FailureKind::Trap.recreates_instance() && !FailureKind::InvalidOutput.recreates_instance());
    }
}

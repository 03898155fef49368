//! Host-side caps on what a module can make the host keep or do on its behalf
//! (issue 18): log line size and rate, state-store keys and bytes, metric
//! series, resource handles. The instance's own memory limit does not bound
//! these, since their cost lives in the host.
//!
//! Each cap is counted per operation when it is hit ([`LimitHits`], exported
//! through the [`MetricsRegistry`](crate::MetricsRegistry) as the counter
//! [`LIMIT_HITS_METRIC`]) and warned about once per operation and cap, so a
//! flood cannot flood the log with its own warnings.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The counter series (labels `operation`, `limit`) that counts each cap hit.
pub const LIMIT_HITS_METRIC: &str = "wasmgraph_host_limit_hits";

/// The caps (see docs/hardening.md). The defaults leave room for real modules
/// and stop a runaway one long before the host runs out of memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostLimits {
    /// Longest log message (and context) a module may log, in bytes; longer
    /// ones are cut to this length and counted (stdout and stderr lines too).
    pub log_line_bytes: usize,
    /// Log lines (logger calls, stdout and stderr lines) one instance may emit
    /// per second; the rest of that second's lines are dropped and counted.
    pub log_lines_per_second: u32,
    /// State-store keys one operation may hold (keys it set and nobody deleted).
    pub state_keys: usize,
    /// Bytes (keys plus values) one operation may hold in the state store.
    pub state_bytes: usize,
    /// Metric series (name plus label set) one operation may create; updates of
    /// further new series are dropped and counted.
    pub metric_series: usize,
    /// Resource handles (buffers, command builders, WASI streams) one instance
    /// may hold at once; a call that would create more fails with
    /// [`FailureKind::ResourceLimit`](crate::FailureKind::ResourceLimit) and the
    /// instance is re-created, which frees them.
    pub resources: usize,
}

impl Default for HostLimits {
    fn default() -> Self {
        HostLimits {
            log_line_bytes: 16 * 1024,
            log_lines_per_second: 1_000,
            state_keys: 100_000,
            state_bytes: 64 << 20,
            metric_series: 1_000,
            resources: 10_000,
        }
    }
}

/// One of the caps, as counted and named in the `limit` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// A log line was cut to [`HostLimits::log_line_bytes`].
    LogLineSize,
    /// A log line was dropped by [`HostLimits::log_lines_per_second`].
    LogRate,
    /// A state-store set was refused by [`HostLimits::state_keys`] or `state_bytes`.
    StateStore,
    /// A new metric series was dropped by [`HostLimits::metric_series`].
    MetricSeries,
    /// A call failed on [`HostLimits::resources`].
    Resources,
}

impl Limit {
    /// Every cap, in counter order.
    pub const ALL: [Limit; 5] =
        [Limit::LogLineSize, Limit::LogRate, Limit::StateStore, Limit::MetricSeries, Limit::Resources];

    /// The `limit` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::LogLineSize => "log-line-size",
            Limit::LogRate => "log-rate",
            Limit::StateStore => "state-store",
            Limit::MetricSeries => "metric-series",
            Limit::Resources => "resources",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How often each cap was hit by one operation (all its instances).
#[derive(Debug)]
pub struct LimitHits {
    operation: Arc<str>,
    hits: [AtomicU64; Limit::ALL.len()],
    warned: [AtomicBool; Limit::ALL.len()],
    /// State-store keys and bytes this operation holds (changed under the
    /// ledger's lock, see state_quota.rs).
    pub(crate) state_keys: AtomicUsize,
    pub(crate) state_bytes: AtomicUsize,
    /// Metric series this operation created (changed under the registry's lock).
    pub(crate) series: AtomicUsize,
}

impl LimitHits {
    pub(crate) fn new(operation: Arc<str>) -> Self {
        LimitHits {
            operation,
            hits: Default::default(),
            warned: Default::default(),
            state_keys: AtomicUsize::new(0),
            state_bytes: AtomicUsize::new(0),
            series: AtomicUsize::new(0),
        }
    }

    /// The operation counted.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// Times `limit` was hit.
    pub fn get(&self, limit: Limit) -> u64 {
        self.hits[limit.index()].load(Ordering::Relaxed)
    }

    /// Counts one hit of `limit`; the first one per operation logs a warning
    /// saying what happened (`what` is only called then).
    pub(crate) fn hit(&self, limit: Limit, what: impl FnOnce() -> String) {
        self.hits[limit.index()].fetch_add(1, Ordering::Relaxed);
        if !self.warned[limit.index()].swap(true, Ordering::Relaxed) {
            tracing::warn!(
                operation = %self.operation,
                limit = limit.as_str(),
                "{}; further hits of this limit are counted ({LIMIT_HITS_METRIC}{{operation=\"{}\",limit=\"{}\"}}) without another warning",
                what(),
                self.operation,
                limit.as_str()
            );
        }
    }
}

/// The caps of one runtime, the state-store ledger they need, and the hit
/// counters of every operation (registered with the metrics registry, which
/// exports them).
pub(crate) struct Caps {
    pub limits: HostLimits,
    pub ledger: crate::state_quota::StateLedger,
    hits: std::sync::Mutex<std::collections::HashMap<String, Arc<LimitHits>>>,
}

impl Caps {
    pub fn new(limits: HostLimits) -> Self {
        Caps { limits, ledger: Default::default(), hits: Default::default() }
    }

    /// The counters of `operation`, shared by all its instances; the first
    /// call registers them with `metrics`.
    pub fn hits_for(&self, operation: &Arc<str>, metrics: &crate::MetricsRegistry) -> Arc<LimitHits> {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = hits.get(&**operation) {
            return h.clone();
        }
        let h = Arc::new(LimitHits::new(operation.clone()));
        metrics.register_limit_hits(h.clone());
        hits.insert(operation.to_string(), h.clone());
        h
    }
}

/// A log text as the budget let it through, and how many bytes were cut off
/// its end (shown as `… [N bytes cut]`): module log lines and stdout/stderr
/// lines alike.
pub(crate) struct Cut<'a>(pub &'a str, pub usize);

impl std::fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)?;
        if self.1 > 0 {
            write!(f, "… [{} bytes cut]", self.1)?;
        }
        Ok(())
    }
}

/// The log-rate budget of one instance, shared by its logger calls and its
/// stdout and stderr lines: at most `per_second` lines in each second.
#[derive(Debug)]
pub(crate) struct LogBudget {
    per_second: u32,
    line_bytes: usize,
    start: Instant,
    second: AtomicU64,
    used: AtomicU32,
    pub hits: Arc<LimitHits>,
}

impl LogBudget {
    pub fn new(limits: &HostLimits, hits: Arc<LimitHits>) -> Self {
        LogBudget {
            per_second: limits.log_lines_per_second,
            line_bytes: limits.log_line_bytes,
            start: Instant::now(),
            second: AtomicU64::new(0),
            used: AtomicU32::new(0),
            hits,
        }
    }

    /// Whether one more line may be emitted now; a refused line is counted.
    /// (No allocation: a clock read and two atomics.)
    pub fn admit(&self) -> bool {
        let now = self.start.elapsed().as_secs();
        if self.second.load(Ordering::Relaxed) != now {
            self.second.store(now, Ordering::Relaxed);
            self.used.store(0, Ordering::Relaxed);
        }
        if self.used.fetch_add(1, Ordering::Relaxed) < self.per_second {
            return true;
        }
        let per_second = self.per_second;
        self.hits.hit(Limit::LogRate, || {
            format!("the module logs more than {per_second} lines per second; the excess is dropped")
        });
        false
    }

    /// The longest line in bytes.
    pub fn line_bytes(&self) -> usize {
        self.line_bytes
    }

    /// `text` cut to the line size on a character boundary, counted when cut.
    pub fn cut<'a>(&self, text: &'a str) -> (&'a str, usize) {
        if text.len() <= self.line_bytes {
            return (text, 0);
        }
        let mut end = self.line_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.count_cut(text.len());
        (&text[..end], text.len() - end)
    }

    /// Counts a line of `len` bytes that was cut to the line size.
    pub fn count_cut(&self, len: usize) {
        let max = self.line_bytes;
        self.hits.hit(Limit::LogLineSize, || {
            format!("the module logged a line of {len} bytes; lines are cut to {max} bytes")
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(per_second: u32, line_bytes: usize) -> LogBudget {
        let limits =
            HostLimits { log_lines_per_second: per_second, log_line_bytes: line_bytes, ..HostLimits::default() };
        LogBudget::new(&limits, Arc::new(LimitHits::new("op".into())))
    }

    #[test]
    fn lines_beyond_the_rate_are_refused_and_counted() {
        let b = budget(10, 100);
        // The test runs well within one second of the budget's start unless
        // the machine stalls; then the window restarts and fewer are refused,
        // so only the count's consistency is asserted.
        let admitted = (0..25).filter(|_| b.admit()).count() as u64;
        assert!(admitted >= 10);
        assert_eq!(b.hits.get(Limit::LogRate), 25 - admitted);
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let b = budget(10, 5);
        assert_eq!(b.cut("abc"), ("abc", 0));
        assert_eq!(b.cut("abcdéf"), ("abcd", 3));
        assert_eq!(b.hits.get(Limit::LogLineSize), 1);
    }
}

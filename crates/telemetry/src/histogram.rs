//! A lock-free latency histogram for call durations: updated from every
//! worker thread on every module call, read by the exporters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::HistogramPoint;

/// Upper bounds of the call-latency buckets, in seconds: from 5 µs (a
/// trivial WebAssembly call) to 10 s (past any sensible call budget).
pub const CALL_BUCKETS: [f64; 20] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Durations in fixed buckets ([`CALL_BUCKETS`] and +Inf). An observation is
/// two relaxed atomic additions and a search over 20 bounds in nanoseconds.
#[derive(Debug)]
pub struct LatencyHistogram {
    bounds_nanos: [u64; CALL_BUCKETS.len()],
    /// One more than the bounds: the last counts what exceeds every bound.
    counts: [AtomicU64; CALL_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            bounds_nanos: CALL_BUCKETS.map(|s| (s * 1e9).round() as u64),
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one call that took `elapsed`.
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = self.bounds_nanos.partition_point(|&bound| bound < nanos);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The buckets, sum (seconds) and count as they are now. Read while
    /// calls go on, sum and count may be one observation apart; each is exact
    /// once calls stop.
    pub fn point(&self) -> HistogramPoint {
        let buckets: Vec<(f64, u64)> = CALL_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(&self.counts)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        HistogramPoint { buckets, sum, count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = LatencyHistogram::new();
        h.observe(Duration::from_micros(5)); // exactly the first bound: le="5e-6"
        h.observe(Duration::from_micros(6));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60)); // past every bound: +Inf
        let p = h.point();
        assert_eq!(p.count, 4);
        assert_eq!(p.buckets.len(), CALL_BUCKETS.len() + 1);
        assert_eq!(p.buckets[0], (0.000_005, 1));
        assert_eq!(p.buckets[1], (0.000_01, 1));
        assert_eq!(p.buckets[9], (0.005, 1));
        assert_eq!(p.buckets[20], (f64::INFINITY, 1));
        assert!((p.sum - 60.003_011).abs() < 1e-9, "{}", p.sum);
    }
}

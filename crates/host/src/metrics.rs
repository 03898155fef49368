//! The in-process metrics registry behind the WIT `metrics` interface.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::limits::{Limit, LimitHits, LIMIT_HITS_METRIC};

/// Label set of one metric point, sorted by key.
pub type Labels = Vec<(String, String)>;

/// Why a metric update was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The name is already used by a metric of the other type.
    #[error("metric {name:?} is a {existing}, not a {requested}")]
    IncompatibleType {
        /// The metric name.
        name: String,
        /// What it already is ("counter" or "histogram").
        existing: &'static str,
        /// What the update wanted.
        requested: &'static str,
    },
}

/// Summary of a histogram's observations.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSummary {
    /// Number of observations.
    pub count: u64,
    /// Sum of the observations.
    pub sum: f64,
    /// Smallest observation.
    pub min: f64,
    /// Largest observation.
    pub max: f64,
}

/// One counter series.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterPoint {
    /// Metric name.
    pub name: String,
    /// Labels, sorted by key.
    pub labels: Labels,
    /// Total.
    pub value: u64,
}

/// One histogram series.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPoint {
    /// Metric name.
    pub name: String,
    /// Labels, sorted by key.
    pub labels: Labels,
    /// Its observations.
    pub summary: HistogramSummary,
}

/// Every series in the registry, sorted by name then labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Counters.
    pub counters: Vec<CounterPoint>,
    /// Histograms.
    pub histograms: Vec<HistogramPoint>,
}

impl MetricsSnapshot {
    /// The value of a counter series, if it exists.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
        let labels = sorted(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        self.counters.iter().find(|c| c.name == name && c.labels == labels).map(|c| c.value)
    }

    /// The summary of a histogram series, if it exists.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Option<&HistogramSummary> {
        let labels = sorted(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        self.histograms.iter().find(|h| h.name == name && h.labels == labels).map(|h| &h.summary)
    }
}

#[derive(Debug)]
enum Metric {
    Counter(BTreeMap<Labels, u64>),
    Histogram(BTreeMap<Labels, HistogramSummary>),
}

impl Metric {
    fn kind(&self) -> &'static str {
        match self {
            Metric::Counter(_) => "counter",
            Metric::Histogram(_) => "histogram",
        }
    }

    fn has(&self, labels: &Labels) -> bool {
        match self {
            Metric::Counter(series) => series.contains_key(labels),
            Metric::Histogram(series) => series.contains_key(labels),
        }
    }
}

/// Counters and histograms with labels, shared by all operators of a runtime
/// (and usable by the engine for its own figures). A name is either a counter or
/// a histogram; using it as the other is an error.
///
/// Operators update metrics on every record from every worker thread, so the
/// registry is sharded: each thread updates its own shard (an uncontended
/// lock), and [`snapshot`](Self::snapshot) merges the shards. Which type a name
/// has is decided once, in a registry-wide table consulted only the first time
/// a shard sees the name.
///
/// Series that modules create count against their operation's cap
/// ([`HostLimits::metric_series`](crate::HostLimits::metric_series)); the
/// registry-wide table of those series is consulted only when a shard sees a
/// series for the first time, so updates of known series cost nothing more.
#[derive(Debug)]
pub struct MetricsRegistry {
    shards: Box<[Mutex<BTreeMap<String, Metric>>]>,
    kinds: Mutex<BTreeMap<String, &'static str>>,
    /// Series modules created, by name (for the series cap).
    known: Mutex<HashMap<String, HashSet<Labels>>>,
    /// The host's cap counters, exported as [`LIMIT_HITS_METRIC`].
    limit_hits: Mutex<Vec<Arc<LimitHits>>>,
}

/// The series cap of the operation a module update comes from.
pub(crate) struct SeriesCap<'a> {
    pub hits: &'a LimitHits,
    pub max: usize,
}

/// Shards per registry: enough that worker threads rarely share one.
const SHARDS: usize = 16;

impl Default for MetricsRegistry {
    fn default() -> Self {
        MetricsRegistry {
            shards: (0..SHARDS).map(|_| Mutex::new(BTreeMap::new())).collect(),
            kinds: Mutex::new(BTreeMap::new()),
            known: Mutex::new(HashMap::new()),
            limit_hits: Mutex::new(Vec::new()),
        }
    }
}

fn sorted(mut labels: Labels) -> Labels {
    labels.sort();
    labels
}

/// This thread's shard: threads take shards round robin as they first update.
fn shard_index() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    INDEX.with(|i| *i)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Update the series `name{labels}` (of kind `requested`) in this thread's
    /// shard, creating the metric with `empty` the first time this shard sees
    /// it; a new series beyond `cap` is dropped (counted), not created.
    fn update(
        &self,
        name: &str,
        requested: &'static str,
        empty: fn() -> Metric,
        (labels, cap): (Labels, Option<SeriesCap<'_>>),
        apply: impl FnOnce(&mut Metric, Labels),
    ) -> Result<(), MetricsError> {
        let mut shard = lock(&self.shards[shard_index()]);
        // Look the name up before inserting: `entry` would allocate the name on
        // every call, and operators count on every record.
        if !shard.contains_key(name) {
            let mut kinds = lock(&self.kinds);
            let existing = *kinds.entry(name.to_string()).or_insert(requested);
            if existing != requested {
                return Err(MetricsError::IncompatibleType { name: name.to_string(), existing, requested });
            }
            shard.insert(name.to_string(), empty());
        }
        let Some(metric) = shard.get_mut(name) else { unreachable!("inserted above") };
        if metric.kind() != requested {
            return Err(MetricsError::IncompatibleType { name: name.to_string(), existing: metric.kind(), requested });
        }
        if let Some(cap) = cap {
            if !metric.has(&labels) && !self.admit(name, &labels, &cap) {
                return Ok(());
            }
        }
        apply(metric, labels);
        Ok(())
    }

    /// Whether a module may create the series `name{labels}` (new to this
    /// shard): yes if some module created it already, else if its operation
    /// is under its cap (then it counts).
    fn admit(&self, name: &str, labels: &Labels, cap: &SeriesCap<'_>) -> bool {
        let mut known = lock(&self.known);
        if known.get(name).is_some_and(|s| s.contains(labels)) {
            return true;
        }
        if cap.hits.series.load(Ordering::Relaxed) >= cap.max {
            let max = cap.max;
            cap.hits.hit(Limit::MetricSeries, || {
                format!("the module created {max} metric series, its limit; updates of new series are dropped")
            });
            return false;
        }
        cap.hits.series.fetch_add(1, Ordering::Relaxed);
        known.entry(name.to_string()).or_default().insert(labels.clone());
        true
    }

    /// Export `hits` as the [`LIMIT_HITS_METRIC`] counters.
    pub(crate) fn register_limit_hits(&self, hits: Arc<LimitHits>) {
        lock(&self.limit_hits).push(hits);
    }

    /// A module's counter update, under its operation's series cap.
    pub(crate) fn add_to_counter_capped(
        &self,
        name: &str,
        value: u64,
        labels: Labels,
        cap: SeriesCap<'_>,
    ) -> Result<(), MetricsError> {
        self.counter(name, value, (sorted(labels), Some(cap)))
    }

    /// A module's histogram update, under its operation's series cap.
    pub(crate) fn record_to_histogram_capped(
        &self,
        name: &str,
        value: f64,
        labels: Labels,
        cap: SeriesCap<'_>,
    ) -> Result<(), MetricsError> {
        self.histogram(name, value, (sorted(labels), Some(cap)))
    }

    /// Add `value` to the counter `name` with `labels` (saturating at `u64::MAX`).
    pub fn add_to_counter(&self, name: &str, value: u64, labels: Labels) -> Result<(), MetricsError> {
        self.counter(name, value, (sorted(labels), None))
    }

    /// Record one observation `value` in the histogram `name` with `labels`.
    pub fn record_to_histogram(&self, name: &str, value: f64, labels: Labels) -> Result<(), MetricsError> {
        self.histogram(name, value, (sorted(labels), None))
    }

    fn counter(&self, name: &str, value: u64, series: (Labels, Option<SeriesCap<'_>>)) -> Result<(), MetricsError> {
        self.update(
            name,
            "counter",
            || Metric::Counter(BTreeMap::new()),
            series,
            |metric, labels| {
                if let Metric::Counter(series) = metric {
                    let v = series.entry(labels).or_insert(0);
                    *v = v.saturating_add(value);
                }
            },
        )
    }

    fn histogram(&self, name: &str, value: f64, series: (Labels, Option<SeriesCap<'_>>)) -> Result<(), MetricsError> {
        self.update(
            name,
            "histogram",
            || Metric::Histogram(BTreeMap::new()),
            series,
            |metric, labels| {
                if let Metric::Histogram(series) = metric {
                    series.entry(labels).or_insert_with(HistogramSummary::empty).observe(value);
                }
            },
        )
    }

    /// A copy of every series, the shards merged.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let mut counters: BTreeMap<(String, Labels), u64> = BTreeMap::new();
        let mut histograms: BTreeMap<(String, Labels), HistogramSummary> = BTreeMap::new();
        for shard in self.shards.iter() {
            for (name, metric) in lock(shard).iter() {
                match metric {
                    Metric::Counter(series) => {
                        for (labels, v) in series {
                            let total = counters.entry((name.clone(), labels.clone())).or_insert(0);
                            *total = total.saturating_add(*v);
                        }
                    }
                    Metric::Histogram(series) => {
                        for (labels, s) in series {
                            histograms
                                .entry((name.clone(), labels.clone()))
                                .or_insert_with(HistogramSummary::empty)
                                .merge(s);
                        }
                    }
                }
            }
        }
        for hits in lock(&self.limit_hits).iter() {
            for limit in Limit::ALL {
                let n = hits.get(limit);
                if n > 0 {
                    let labels = vec![
                        ("limit".to_string(), limit.as_str().to_string()),
                        ("operation".to_string(), hits.operation().to_string()),
                    ];
                    *counters.entry((LIMIT_HITS_METRIC.to_string(), labels)).or_insert(0) += n;
                }
            }
        }
        MetricsSnapshot {
            counters: counters
                .into_iter()
                .map(|((name, labels), value)| CounterPoint { name, labels, value })
                .collect(),
            histograms: histograms
                .into_iter()
                .map(|((name, labels), summary)| HistogramPoint { name, labels, summary })
                .collect(),
        }
    }
}

impl HistogramSummary {
    fn empty() -> Self {
        HistogramSummary { count: 0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }

    fn observe(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    fn merge(&mut self, other: &HistogramSummary) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn counters_add_per_label_set() {
        let m = MetricsRegistry::new();
        m.add_to_counter("c", 2, vec![l("b", "2"), l("a", "1")]).unwrap();
        m.add_to_counter("c", 3, vec![l("a", "1"), l("b", "2")]).unwrap();
        m.add_to_counter("c", 1, vec![]).unwrap();
        let s = m.snapshot();
        assert_eq!(s.counter("c", &[("a", "1"), ("b", "2")]), Some(5));
        assert_eq!(s.counter("c", &[]), Some(1));
    }

    #[test]
    fn histograms_summarise() {
        let m = MetricsRegistry::new();
        for v in [3.0, 1.0, 2.0] {
            m.record_to_histogram("h", v, vec![]).unwrap();
        }
        let s = m.snapshot();
        assert_eq!(s.histogram("h", &[]), Some(&HistogramSummary { count: 3, sum: 6.0, min: 1.0, max: 3.0 }));
    }

    #[test]
    fn threads_update_their_own_shards_and_the_snapshot_merges_them() {
        let m = std::sync::Arc::new(MetricsRegistry::new());
        let threads: Vec<_> = (0..20)
            .map(|i| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        m.add_to_counter("c", 1, vec![l("a", "1")]).unwrap();
                    }
                    m.record_to_histogram("h", i as f64, vec![]).unwrap();
                    // The type of a name holds across shards.
                    assert!(m.record_to_histogram("c", 1.0, vec![]).is_err());
                    assert!(m.add_to_counter("h", 1, vec![]).is_err());
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = m.snapshot();
        assert_eq!(s.counter("c", &[("a", "1")]), Some(2000));
        assert_eq!(s.counters.len(), 1);
        assert_eq!(s.histogram("h", &[]), Some(&HistogramSummary { count: 20, sum: 190.0, min: 0.0, max: 19.0 }));
    }

    #[test]
    fn one_name_one_type() {
        let m = MetricsRegistry::new();
        m.add_to_counter("x", 1, vec![]).unwrap();
        let e = m.record_to_histogram("x", 1.0, vec![]).unwrap_err();
        assert!(e.to_string().contains("is a counter"), "{e}");
        m.record_to_histogram("y", 1.0, vec![]).unwrap();
        assert!(m.add_to_counter("y", 1, vec![]).is_err());
    }

    #[test]
    fn new_series_beyond_an_operations_cap_are_dropped_and_counted() {
        let m = MetricsRegistry::new();
        let hits = Arc::new(LimitHits::new("op".into()));
        m.register_limit_hits(hits.clone());
        let cap = || SeriesCap { hits: &hits, max: 2 };
        for n in ["1", "2", "3", "1"] {
            m.add_to_counter_capped("c", 1, vec![l("n", n)], cap()).unwrap();
        }
        // Known series still update; another operation's series are its own.
        m.record_to_histogram_capped("h", 1.0, vec![], cap()).unwrap();
        let s = m.snapshot();
        assert_eq!((s.counter("c", &[("n", "1")]), s.counter("c", &[("n", "3")])), (Some(2), None));
        assert_eq!(s.histogram("h", &[]), None);
        assert_eq!(s.counter(LIMIT_HITS_METRIC, &[("operation", "op"), ("limit", "metric-series")]), Some(2));
    }
}

//! The in-process metrics registry behind the WIT `metrics` interface.

use std::collections::BTreeMap;
use std::sync::Mutex;

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
        let labels = sorted(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        self.counters
            .iter()
            .find(|c| c.name == name && c.labels == labels)
            .map(|c| c.value)
    }

    /// The summary of a histogram series, if it exists.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Option<&HistogramSummary> {
        let labels = sorted(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        self.histograms
            .iter()
            .find(|h| h.name == name && h.labels == labels)
            .map(|h| &h.summary)
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
}

/// Counters and histograms with labels, shared by all operators of a runtime
/// (and usable by the engine for its own figures). A name is either a counter or
/// a histogram; using it as the other is an error.
#[derive(Debug, Default)]
pub struct MetricsRegistry {
    metrics: Mutex<BTreeMap<String, Metric>>,
}

fn sorted(mut labels: Labels) -> Labels {
    labels.sort();
    labels
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Metric>> {
        self.metrics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add `value` to the counter `name` with `labels` (saturating at `u64::MAX`).
    pub fn add_to_counter(
        &self,
        name: &str,
        value: u64,
        labels: Labels,
    ) -> Result<(), MetricsError> {
        let mut metrics = self.lock();
        // Look the name up before inserting: `entry` would allocate the name on
        // every call, and operators count on every record.
        if !metrics.contains_key(name) {
            metrics.insert(name.to_string(), Metric::Counter(BTreeMap::new()));
        }
        let Some(metric) = metrics.get_mut(name) else { unreachable!("inserted above") };
        match metric {
            Metric::Counter(series) => {
                let v = series.entry(sorted(labels)).or_insert(0);
                *v = v.saturating_add(value);
                Ok(())
            }
            other => Err(MetricsError::IncompatibleType {
                name: name.to_string(),
                existing: other.kind(),
                requested: "counter",
            }),
        }
    }

    /// Record one observation `value` in the histogram `name` with `labels`.
    pub fn record_to_histogram(
        &self,
        name: &str,
        value: f64,
        labels: Labels,
    ) -> Result<(), MetricsError> {
        let mut metrics = self.lock();
        if !metrics.contains_key(name) {
            metrics.insert(name.to_string(), Metric::Histogram(BTreeMap::new()));
        }
        let Some(metric) = metrics.get_mut(name) else { unreachable!("inserted above") };
        match metric {
            Metric::Histogram(series) => {
                let s = series.entry(sorted(labels)).or_insert(HistogramSummary {
                    count: 0,
                    sum: 0.0,
                    min: f64::INFINITY,
                    max: f64::NEG_INFINITY,
                });
                s.count += 1;
                s.sum += value;
                s.min = s.min.min(value);
                s.max = s.max.max(value);
                Ok(())
            }
            other => Err(MetricsError::IncompatibleType {
                name: name.to_string(),
                existing: other.kind(),
                requested: "histogram",
            }),
        }
    }

    /// A copy of every series.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let metrics = self.lock();
        let mut snap = MetricsSnapshot::default();
        for (name, metric) in metrics.iter() {
            match metric {
                Metric::Counter(series) => {
                    snap.counters
                        .extend(series.iter().map(|(labels, v)| CounterPoint {
                            name: name.clone(),
                            labels: labels.clone(),
                            value: *v,
                        }))
                }
                Metric::Histogram(series) => {
                    snap.histograms
                        .extend(series.iter().map(|(labels, s)| HistogramPoint {
                            name: name.clone(),
                            labels: labels.clone(),
                            summary: s.clone(),
                        }))
                }
            }
        }
        snap
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
        m.add_to_counter("c", 2, vec![l("b", "2"), l("a", "1")])
            .unwrap();
        m.add_to_counter("c", 3, vec![l("a", "1"), l("b", "2")])
            .unwrap();
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
        assert_eq!(
            s.histogram("h", &[]),
            Some(&HistogramSummary {
                count: 3,
                sum: 6.0,
                min: 1.0,
                max: 3.0
            })
        );
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
}

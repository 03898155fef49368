//! Counters and histograms recorded by operators (WIT `metrics`).
//!
//! ```
//! use wasm_graph_sdk::metrics::{self, CounterValue, Label};
//! let labels = vec![Label { key: "module".to_owned(), value: "module-temperature/map".to_owned() }];
//! let _ = metrics::add_to_counter("requests", CounterValue::U64(1), Some(&labels));
//! let _ = metrics::add_to_counter("requests", CounterValue::U64(1), None);
//! ```
//!
//! In native builds points go to the mock host ([`crate::testing::metrics`]). The
//! mock, like the host, refuses to use one name both as a counter and as a
//! histogram ([`MetricsError::IncompatibleType`]).

pub use crate::bindings::imports::wasm_graph::processor::metrics::{CounterValue, HistogramValue, Label, MetricsError};

/// Add `value` to the counter `name`. `labels` accepts `Some(&vec)`,
/// `Some(&[..])` or `None`.
pub fn add_to_counter(name: &str, value: CounterValue, labels: Option<&[Label]>) -> Result<(), MetricsError> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::imports::wasm_graph::processor::metrics::add_to_counter(name, value, labels);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::host::add_to_counter(name, value, labels);
}

/// Record one observation of `value` in the histogram `name`.
pub fn record_to_histogram(name: &str, value: HistogramValue, labels: Option<&[Label]>) -> Result<(), MetricsError> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::imports::wasm_graph::processor::metrics::record_to_histogram(name, value, labels);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::host::record_to_histogram(name, value, labels);
}

impl Label {
    /// A label `key=value`.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Label { key: key.into(), value: value.into() }
    }
}

impl PartialEq for Label {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}

impl Eq for Label {}

impl PartialEq for CounterValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (CounterValue::U64(a), CounterValue::U64(b)) => a == b,
        }
    }
}

impl PartialEq for HistogramValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HistogramValue::F64(a), HistogramValue::F64(b)) => a == b,
            (HistogramValue::U64(a), HistogramValue::U64(b)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq for MetricsError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (MetricsError::IncompatibleType(a), MetricsError::IncompatibleType(b)) => a == b,
            (MetricsError::LockError(a), MetricsError::LockError(b)) => a == b,
            _ => false,
        }
    }
}

//! The `metrics` interface, recorded in the runtime's [`MetricsRegistry`](crate::MetricsRegistry).

use crate::bindings::imports::metrics::{self, CounterValue, HistogramValue, Label, MetricsError};
use crate::metrics::SeriesCap;
use crate::state::Api;

impl Api<'_> {
    /// The calling operation's metric-series cap.
    fn series_cap(&self) -> SeriesCap<'_> {
        SeriesCap { hits: &self.ctx.hits, max: self.ctx.caps.limits.metric_series }
    }
}

fn labels(labels: Option<Vec<Label>>) -> Vec<(String, String)> {
    labels.unwrap_or_default().into_iter().map(|l| (l.key, l.value)).collect()
}

fn to_wit(e: crate::MetricsError) -> MetricsError {
    MetricsError::IncompatibleType(e.to_string())
}

impl metrics::Host for Api<'_> {
    fn add_to_counter(
        &mut self,
        name: String,
        value: CounterValue,
        l: Option<Vec<Label>>,
    ) -> wasmtime::Result<Result<(), MetricsError>> {
        let CounterValue::U64(v) = value;
        Ok(self.ctx.services.metrics.add_to_counter_capped(&name, v, labels(l), self.series_cap()).map_err(to_wit))
    }

    fn record_to_histogram(
        &mut self,
        name: String,
        value: HistogramValue,
        l: Option<Vec<Label>>,
    ) -> wasmtime::Result<Result<(), MetricsError>> {
        let v = match value {
            HistogramValue::F64(v) => v,
            HistogramValue::U64(v) => v as f64,
        };
        let metrics = &self.ctx.services.metrics;
        Ok(metrics.record_to_histogram_capped(&name, v, labels(l), self.series_cap()).map_err(to_wit))
    }
}

//! The mock host behind `logger`, `metrics` and `state_store` in native builds.
//! One per thread (each test runs on its own thread), so tests running in
//! parallel do not see each other's logs, metrics or state.

use std::cell::RefCell;

use super::store::MockStore;
use super::{LogLine, MetricPoint, MetricValue};
use crate::logger::Level;
use crate::metrics::{CounterValue, HistogramValue, Label, MetricsError};
use crate::state_store::{
    Duration, HybridLogicalClock, SetOptions, StateStoreDelResponse, StateStoreError, StateStoreGetResponse,
    StateStoreSetResponse,
};

pub(crate) struct MockHost {
    pub(crate) logs: Vec<LogLine>,
    pub(crate) metrics: Vec<MetricPoint>,
    pub(crate) store: MockStore,
    pub(crate) store_failure: Option<StateStoreError>,
}

impl MockHost {
    fn new() -> Self {
        MockHost { logs: Vec::new(), metrics: Vec::new(), store: MockStore::default(), store_failure: None }
    }
}

thread_local! {
    static HOST: RefCell<MockHost> = RefCell::new(MockHost::new());
}

/// Runs `f` on this thread's mock host.
pub(crate) fn with<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
    HOST.with(|host| f(&mut host.borrow_mut()))
}

pub(crate) fn reset() {
    with(|host| *host = MockHost::new());
}

pub(crate) fn log(level: Level, context: &str, message: &str) {
    eprintln!("[{level}] {context}: {message}");
    with(|host| host.logs.push(LogLine { level, context: context.to_owned(), message: message.to_owned() }));
}

fn record(name: &str, value: MetricValue, labels: Option<&[Label]>) -> Result<(), MetricsError> {
    with(|host| {
        let clash = host.metrics.iter().find(|point| {
            point.name == name
                && matches!(point.value, MetricValue::Counter(_)) != matches!(value, MetricValue::Counter(_))
        });
        if let Some(existing) = clash {
            let (was, now) = match existing.value {
                MetricValue::Counter(_) => ("a counter", "a histogram"),
                MetricValue::Histogram(_) => ("a histogram", "a counter"),
            };
            return Err(MetricsError::IncompatibleType(format!(
                "metric `{name}` is {was} and cannot be used as {now}"
            )));
        }
        host.metrics.push(MetricPoint {
            name: name.to_owned(),
            value,
            labels: labels.map(<[Label]>::to_vec).unwrap_or_default(),
        });
        Ok(())
    })
}

pub(crate) fn add_to_counter(name: &str, value: CounterValue, labels: Option<&[Label]>) -> Result<(), MetricsError> {
    record(name, MetricValue::Counter(value), labels)
}

pub(crate) fn record_to_histogram(
    name: &str,
    value: HistogramValue,
    labels: Option<&[Label]>,
) -> Result<(), MetricsError> {
    record(name, MetricValue::Histogram(value), labels)
}

pub(crate) fn state_get(key: &[u8], _timeout: Option<Duration>) -> Result<StateStoreGetResponse, StateStoreError> {
    with(|host| {
        failure(host)?;
        Ok(host.store.get(key))
    })
}

pub(crate) fn state_set(
    key: &[u8],
    value: &[u8],
    _timeout: Option<Duration>,
    fencing_token: Option<&HybridLogicalClock>,
    options: SetOptions,
) -> Result<StateStoreSetResponse, StateStoreError> {
    with(|host| {
        failure(host)?;
        host.store.set(key, value, fencing_token, options)
    })
}

pub(crate) fn state_del(
    key: &[u8],
    value: Option<&[u8]>,
    fencing_token: Option<&HybridLogicalClock>,
    _timeout: Option<Duration>,
) -> Result<StateStoreDelResponse, StateStoreError> {
    with(|host| {
        failure(host)?;
        host.store.del(key, value, fencing_token)
    })
}

fn failure(host: &MockHost) -> Result<(), StateStoreError> {
    match &host.store_failure {
        Some(err) => Err(err.clone()),
        None => Ok(()),
    }
}

//! The mock host behind `logger`, `metrics` and `state_store` in native builds.
//! One per thread (each test runs on its own thread), so tests running in
//! parallel do not see each other's logs, metrics or state.

use std::cell::RefCell;

use wasmgraph_state_store as store;
use wasmgraph_types::Hlc;

use super::{LogLine, MetricPoint, MetricValue};
use crate::logger::Level;
use crate::metrics::{CounterValue, HistogramValue, Label, MetricsError};
use crate::state_store::{
    Duration, HybridLogicalClock, SetConditions, SetOptions, StateStoreDelResponse, StateStoreError,
    StateStoreGetResponse, StateStoreSetResponse,
};
use crate::types::Timespec;

pub(crate) struct MockHost {
    pub(crate) logs: Vec<LogLine>,
    pub(crate) metrics: Vec<MetricPoint>,
    pub(crate) store: store::StateStore,
    pub(crate) store_failure: Option<StateStoreError>,
}

impl MockHost {
    fn new() -> Self {
        MockHost { logs: Vec::new(), metrics: Vec::new(), store: store::StateStore::new(), store_failure: None }
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

pub(crate) fn to_hlc(clock: &HybridLogicalClock) -> Hlc {
    Hlc::from_secs_nanos(clock.timestamp.secs, clock.timestamp.nanos, clock.counter, clock.node_id.as_str())
}

pub(crate) fn from_hlc(hlc: &Hlc) -> HybridLogicalClock {
    let (secs, nanos) = hlc.secs_nanos();
    HybridLogicalClock { timestamp: Timespec { secs, nanos }, counter: hlc.counter, node_id: hlc.node_id.to_string() }
}

fn store_error(err: store::StateStoreError) -> StateStoreError {
    StateStoreError::RequestError(err.to_string())
}

fn failure(host: &MockHost) -> Result<(), StateStoreError> {
    match &host.store_failure {
        Some(err) => Err(err.clone()),
        None => Ok(()),
    }
}

pub(crate) fn state_get(key: &[u8], _timeout: Option<Duration>) -> Result<StateStoreGetResponse, StateStoreError> {
    with(|host| {
        failure(host)?;
        let answer = host.store.get(key);
        Ok(StateStoreGetResponse { response: answer.value, version: answer.version.as_ref().map(from_hlc) })
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
        let options = store::SetOptions {
            conditions: match options.conditions {
                SetConditions::OnlyIfDoesNotExist => store::SetConditions::OnlyIfDoesNotExist,
                SetConditions::OnlyIfEqualOrDoesNotExist => store::SetConditions::OnlyIfEqualOrDoesNotExist,
                SetConditions::Unconditional => store::SetConditions::Unconditional,
            },
            expires: options.expires.map(std::time::Duration::from),
        };
        let token = fencing_token.map(to_hlc);
        let answer = host.store.set(key, value, token.as_ref(), options).map_err(store_error)?;
        Ok(StateStoreSetResponse { response: answer.written, version: answer.version.as_ref().map(from_hlc) })
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
        let token = fencing_token.map(to_hlc);
        let answer = match value {
            Some(value) => host.store.vdel(key, value, token.as_ref()),
            None => host.store.del(key, token.as_ref()),
        }
        .map_err(store_error)?;
        Ok(StateStoreDelResponse { response: answer.deleted, version: answer.version.as_ref().map(from_hlc) })
    })
}

//! The JSON a message sent to an OpenTelemetry endpoint carries, as AIO
//! documents it, read into typed metrics and logs.
//!
//! ```json
//! {"metrics": [{"name": "temperature", "type": "f64_gauge", "value": 72.5,
//!               "description": "...", "timestamp": 1754851200000000000,
//!               "attributes": [{"key": "factoryId", "value": "factory1"}]}],
//!  "logs": [{"value": "sensor initialized", "level": "info",
//!            "timestamp": 1754851200000000000, "attributes": [...]}]}
//! ```
//!
//! Where AIO's page and its samples leave room, the reading is lenient (each
//! case is listed in `docs/otel-endpoint.md`): type names and levels in any
//! case, `warning` for `warn`; attributes also as a JSON object, with number
//! and boolean values kept typed; timestamps also as decimal strings; metric
//! values also as numeric strings; a log value that is not a string is
//! exported as its JSON text; unknown keys ignored. Everything else that does
//! not conform is an error naming the element and key, and the whole message
//! is dropped (AIO drops non-conforming messages whole too).

use serde_json::{Map, Value};

/// What one message holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Telemetry {
    /// Metric measurements, in message order.
    pub metrics: Vec<Metric>,
    /// Log records, in message order.
    pub logs: Vec<Log>,
}

impl Telemetry {
    /// Metric measurements plus log records.
    pub fn len(&self) -> usize {
        self.metrics.len() + self.logs.len()
    }

    /// True when the message holds neither (`{"metrics": []}`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One metric measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The metric's name.
    pub name: String,
    /// Its instrument type.
    pub kind: MetricKind,
    /// The measurement, of the type's number kind.
    pub value: Number,
    /// What the metric measures.
    pub description: Option<String>,
    /// When it was measured, in nanoseconds since the Unix epoch; `None`:
    /// the record's own time.
    pub timestamp: Option<u64>,
    /// Its attributes, in the order given.
    pub attributes: Vec<Attribute>,
}

/// AIO's nine metric types: OpenTelemetry's instruments with their number type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// `u64_counter`
    U64Counter,
    /// `f64_counter`
    F64Counter,
    /// `i64_up_down_counter`
    I64UpDownCounter,
    /// `f64_up_down_counter`
    F64UpDownCounter,
    /// `u64_gauge`
    U64Gauge,
    /// `i64_gauge`
    I64Gauge,
    /// `f64_gauge`
    F64Gauge,
    /// `f64_histogram`
    F64Histogram,
    /// `u64_histogram`
    U64Histogram,
}

/// Every metric type with its name as written.
pub const METRIC_KINDS: [(&str, MetricKind); 9] = [
    ("u64_counter", MetricKind::U64Counter),
    ("f64_counter", MetricKind::F64Counter),
    ("i64_up_down_counter", MetricKind::I64UpDownCounter),
    ("f64_up_down_counter", MetricKind::F64UpDownCounter),
    ("u64_gauge", MetricKind::U64Gauge),
    ("i64_gauge", MetricKind::I64Gauge),
    ("f64_gauge", MetricKind::F64Gauge),
    ("f64_histogram", MetricKind::F64Histogram),
    ("u64_histogram", MetricKind::U64Histogram),
];

impl MetricKind {
    /// The name as written in a message.
    pub fn name(self) -> &'static str {
        METRIC_KINDS.iter().find(|(_, k)| *k == self).map_or("", |(n, _)| n)
    }

    fn parse(text: &str) -> Option<MetricKind> {
        METRIC_KINDS.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)).map(|(_, k)| *k)
    }

    /// The number kind its values have.
    fn number(self) -> NumberKind {
        use MetricKind::*;
        match self {
            U64Counter | U64Gauge | U64Histogram => NumberKind::U64,
            I64UpDownCounter | I64Gauge => NumberKind::I64,
            F64Counter | F64UpDownCounter | F64Gauge | F64Histogram => NumberKind::F64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberKind {
    U64,
    I64,
    F64,
}

/// A measurement of the metric type's number kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An unsigned integer (`u64_*` types).
    U64(u64),
    /// A signed integer (`i64_*` types).
    I64(i64),
    /// A float (`f64_*` types).
    F64(f64),
}

impl Number {
    /// As a float (histogram sums, buckets).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::U64(v) => v as f64,
            Number::I64(v) => v as f64,
            Number::F64(v) => v,
        }
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    /// The message text.
    pub body: String,
    /// Its severity.
    pub level: Level,
    /// When it was logged (ns since the epoch); `None`: the record's time.
    pub timestamp: Option<u64>,
    /// Its attributes, in the order given.
    pub attributes: Vec<Attribute>,
}

/// AIO's log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `trace`
    Trace,
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn` (also `warning`)
    Warn,
    /// `error`
    Error,
    /// `fatal`
    Fatal,
}

impl Level {
    /// OpenTelemetry's severity number: the first of the level's range.
    pub fn severity_number(self) -> i32 {
        match self {
            Level::Trace => 1,
            Level::Debug => 5,
            Level::Info => 9,
            Level::Warn => 13,
            Level::Error => 17,
            Level::Fatal => 21,
        }
    }

    /// OpenTelemetry's short name of the range (`INFO`).
    pub fn severity_text(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    fn parse(text: &str) -> Option<Level> {
        Some(match text.to_ascii_lowercase().as_str() {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" => Level::Error,
            "fatal" => Level::Fatal,
            _ => return None,
        })
    }
}

/// A key and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The name.
    pub key: String,
    /// The value.
    pub value: AttributeValue,
}

/// An attribute's value: AIO documents strings; numbers and booleans are
/// accepted and kept typed.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// Text.
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
}

/// Why a message is not a telemetry payload: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PayloadError {
    /// The element (`metrics[2].type`), or `payload` for the whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn error(path: impl Into<String>, message: impl Into<String>) -> PayloadError {
    PayloadError { path: path.into(), message: message.into() }
}

/// Read a message's payload.
pub fn parse(payload: &[u8]) -> Result<Telemetry, PayloadError> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| error("payload", format!("not JSON ({e})")))?;
    let Value::Object(top) = value else {
        return Err(error("payload", "not a JSON object with `metrics` and/or `logs` arrays"));
    };
    let (metrics, logs) = (top.get("metrics"), top.get("logs"));
    if metrics.is_none() && logs.is_none() {
        return Err(error("payload", "neither `metrics` nor `logs` is present"));
    }
    let mut telemetry = Telemetry::default();
    if let Some(metrics) = metrics {
        for (i, m) in array(metrics, "metrics")?.iter().enumerate() {
            telemetry.metrics.push(metric(m, &format!("metrics[{i}]"))?);
        }
    }
    if let Some(logs) = logs {
        for (i, l) in array(logs, "logs")?.iter().enumerate() {
            telemetry.logs.push(log(l, &format!("logs[{i}]"))?);
        }
    }
    Ok(telemetry)
}

fn array<'v>(value: &'v Value, path: &str) -> Result<&'v Vec<Value>, PayloadError> {
    value.as_array().ok_or_else(|| error(path, format!("expected an array, found {}", kind_of(value))))
}

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Map<String, Value>, PayloadError> {
    value.as_object().ok_or_else(|| error(path, format!("expected an object, found {}", kind_of(value))))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required_str<'v>(obj: &'v Map<String, Value>, key: &str, path: &str) -> Result<&'v str, PayloadError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(error(format!("{path}.{key}"), "missing")),
        Some(Value::String(s)) if s.is_empty() => Err(error(format!("{path}.{key}"), "empty")),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(error(format!("{path}.{key}"), format!("expected a string, found {}", kind_of(other)))),
    }
}

fn metric(value: &Value, path: &str) -> Result<Metric, PayloadError> {
    let obj = object(value, path)?;
    let name = required_str(obj, "name", path)?.to_string();
    let type_name = required_str(obj, "type", path)?;
    let kind = MetricKind::parse(type_name).ok_or_else(|| {
        let known: Vec<&str> = METRIC_KINDS.iter().map(|(n, _)| *n).collect();
        error(format!("{path}.type"), format!("'{type_name}' is not a metric type ({})", known.join(", ")))
    })?;
    let value = match obj.get("value") {
        None | Some(Value::Null) => return Err(error(format!("{path}.value"), "missing")),
        Some(v) => number(v, kind, &format!("{path}.value"))?,
    };
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(error(format!("{path}.description"), format!("expected a string, found {}", kind_of(other))))
        }
    };
    Ok(Metric {
        name,
        kind,
        value,
        description,
        timestamp: timestamp(obj.get("timestamp"), &format!("{path}.timestamp"))?,
        attributes: attributes(obj.get("attributes"), &format!("{path}.attributes"))?,
    })
}

/// A measurement of `kind`'s number type: integers for `u64_*`/`i64_*`
/// (a float with no fraction counts), any finite number for `f64_*`.
fn number(value: &Value, kind: MetricKind, path: &str) -> Result<Number, PayloadError> {
    let parsed: serde_json::Number = match value {
        Value::Number(n) => n.clone(),
        Value::String(s) => s.trim().parse().map_err(|_| error(path, format!("'{s}' is not a number")))?,
        other => return Err(error(path, format!("expected a number, found {}", kind_of(other)))),
    };
    let as_f64 = parsed.as_f64().filter(|f| f.is_finite());
    let whole = |f: f64| (f.fract() == 0.0).then_some(f);
    let type_name = kind.name();
    match kind.number() {
        NumberKind::F64 => as_f64.map(Number::F64).ok_or_else(|| error(path, format!("{parsed} is not finite"))),
        // OTLP's integer points are signed 64-bit: u64 values above 2^63-1 do not fit.
        NumberKind::U64 => parsed
            .as_u64()
            .or_else(|| as_f64.and_then(whole).filter(|f| *f >= 0.0 && *f < i64::MAX as f64).map(|f| f as u64))
            .filter(|v| i64::try_from(*v).is_ok())
            .map(Number::U64)
            .ok_or_else(|| error(path, format!("{parsed} is not a whole number from 0 to 2^63-1 ({type_name})"))),
        NumberKind::I64 => parsed
            .as_i64()
            .or_else(|| as_f64.and_then(whole).filter(|f| f.abs() < i64::MAX as f64).map(|f| f as i64))
            .map(Number::I64)
            .ok_or_else(|| error(path, format!("{parsed} is not a whole number within 64-bit range ({type_name})"))),
    }
}

/// Nanoseconds since the epoch: a non-negative integer, or its decimal text.
fn timestamp(value: Option<&Value>, path: &str) -> Result<Option<u64>, PayloadError> {
    let bad = |what: String| error(path, format!("{what}: expected nanoseconds since the Unix epoch"));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(ns) => Ok(Some(ns)),
            None => match n.as_f64() {
                // 1.7548512e18: a whole float within range (JSON writers without 64-bit integers).
                Some(f) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => Ok(Some(f as u64)),
                _ => Err(bad(format!("{n}"))),
            },
        },
        Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| bad(format!("'{s}'"))),
        Some(other) => Err(bad(kind_of(other).to_string())),
    }
}

/// `[{key, value}, ...]` as AIO documents, or `{key: value, ...}`.
fn attributes(value: Option<&Value>, path: &str) -> Result<Vec<Attribute>, PayloadError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("{path}[{i}]");
                let obj = object(item, &at)?;
                let key = required_str(obj, "key", &at)?.to_string();
                let value = attribute_value(obj.get("value"), &format!("{at}.value"))?;
                Ok(Attribute { key, value })
            })
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, v)| {
                let value = attribute_value(Some(v), &format!("{path}.{key}"))?;
                Ok(Attribute { key: key.clone(), value })
            })
            .collect(),
        Some(other) => Err(error(path, format!("expected an array of {{key, value}}, found {}", kind_of(other)))),
    }
}

fn attribute_value(value: Option<&Value>, path: &str) -> Result<AttributeValue, PayloadError> {
    match value {
        None | Some(Value::Null) => Err(error(path, "missing")),
        Some(Value::String(s)) => Ok(AttributeValue::String(s.clone())),
        Some(Value::Bool(b)) => Ok(AttributeValue::Bool(*b)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(AttributeValue::Int(i)),
            None => n.as_f64().map(AttributeValue::Double).ok_or_else(|| error(path, format!("{n} is out of range"))),
        },
        Some(other) => Err(error(path, format!("expected a string, found {}", kind_of(other)))),
    }
}

fn log(value: &Value, path: &str) -> Result<Log, PayloadError> {
    let obj = object(value, path)?;
    let body = match obj.get("value") {
        None | Some(Value::Null) => return Err(error(format!("{path}.value"), "missing")),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let level_text = required_str(obj, "level", path)?;
    let level = Level::parse(level_text).ok_or_else(|| {
        error(
            format!("{path}.level"),
            format!("'{level_text}' is not a log level (trace, debug, info, warn, error, fatal)"),
        )
    })?;
    Ok(Log {
        body,
        level,
        timestamp: timestamp(obj.get("timestamp"), &format!("{path}.timestamp"))?,
        attributes: attributes(obj.get("attributes"), &format!("{path}.attributes"))?,
    })
}

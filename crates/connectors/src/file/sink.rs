//! Write records as JSON lines.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Map, Value};
use wasmgraph_types::{DataModel, MessageSchema, Record};

use crate::{ConnectorError, Sink};

/// Appends one JSON object per record to a file.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl FileSink {
    /// Create (or truncate) `path`, creating its directory if needed.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self, ConnectorError> {
        let path = path.into();
        let io = |source| ConnectorError::Io { path: path.display().to_string(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let out = BufWriter::new(File::create(&path).map_err(io)?);
        Ok(FileSink { path, out })
    }

    /// Append one line of text (a newline is added).
    pub fn write_line(&mut self, line: &str) -> Result<(), ConnectorError> {
        let io = |source| ConnectorError::Io { path: self.path.display().to_string(), source };
        self.out.write_all(line.as_bytes()).map_err(io)?;
        self.out.write_all(b"\n").map_err(io)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Sink for FileSink {
    fn write(&mut self, record: &Record) -> Result<(), ConnectorError> {
        self.write_line(&record_to_json(record).to_string())
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        let io = |source| ConnectorError::Io { path: self.path.display().to_string(), source };
        self.out.flush().map_err(io)?;
        self.out.get_ref().sync_data().map_err(io)
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// The JSON form of a record, as the file sink writes it and `wasmgraph test`
/// compares it: `topic`, `payload` (text when UTF-8, else base64 with
/// `"payload_encoding": "base64"`), `content-type`, `properties.user-properties`
/// (an object; a key that repeats maps to the array of its values), `schema`,
/// `timestamp` (RFC 3339) and `hlc` (`<ms>:<counter>:<node>`, the `__ts` form).
pub fn record_to_json(record: &Record) -> Value {
    let mut obj = Map::new();
    let (topic, content_type, props, schema) = match &record.data {
        DataModel::Message(m) => {
            (Some(&m.topic), m.content_type.clone(), m.user_properties.as_slice(), m.schema.as_ref())
        }
        DataModel::Snapshot(_) | DataModel::BufferOrBytes(_) => (None, None, &[][..], None),
    };
    if let Some(topic) = topic {
        obj.insert("topic".into(), Value::String(String::from_utf8_lossy(topic).into_owned()));
    }
    let payload = record.data.payload();
    match std::str::from_utf8(payload) {
        Ok(text) => {
            obj.insert("payload".into(), Value::String(text.to_owned()));
        }
        Err(_) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(payload);
            obj.insert("payload".into(), Value::String(b64));
            obj.insert("payload_encoding".into(), Value::String("base64".into()));
        }
    }
    if let DataModel::Snapshot(s) = &record.data {
        obj.insert("snapshot".into(), json!({"format": s.format, "width": s.width, "height": s.height}));
    }
    obj.insert("content-type".into(), content_type.map(Value::String).unwrap_or(Value::Null));
    let mut user = Map::new();
    for (k, v) in props {
        match user.get_mut(k) {
            None => {
                user.insert(k.clone(), Value::String(v.clone()));
            }
            Some(Value::Array(values)) => values.push(Value::String(v.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v.clone())]);
            }
        }
    }
    obj.insert("properties".into(), json!({ "user-properties": user }));
    if let Some(schema) = schema {
        let s = match schema {
            MessageSchema::RegistryReference(r) => json!({"registry-reference": r}),
            MessageSchema::Inline { name, content } => json!({"inline": {"name": name, "content": content}}),
        };
        obj.insert("schema".into(), s);
    }
    obj.insert("timestamp".into(), Value::String(record.time.to_rfc3339()));
    obj.insert("hlc".into(), Value::String(record.time.to_wire()));
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgraph_types::{Bytes, Hlc, Message};

    fn record(payload: &[u8], props: Vec<(&str, &str)>) -> Record {
        let msg = Message {
            topic: Bytes::from_static(b"t/1"),
            payload: Bytes::copy_from_slice(payload),
            user_properties: props.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            ..Message::default()
        };
        Record::message(Hlc::new(1_000_000_000, 2, "n"), 0, msg)
    }

    #[test]
    fn text_payload_and_properties() {
        let v = record_to_json(&record(b"{\"a\":1}", vec![("k", "v"), ("r", "1"), ("r", "2")]));
        assert_eq!(v["topic"], "t/1");
        assert_eq!(v["payload"], "{\"a\":1}");
        assert_eq!(v["properties"]["user-properties"]["k"], "v");
        assert_eq!(v["properties"]["user-properties"]["r"], json!(["1", "2"]));
        assert_eq!(v["hlc"], "1000:2:n");
        assert!(v.get("payload_encoding").is_none());
    }

    #[test]
    fn binary_payload_is_base64() {
        let v = record_to_json(&record(&[0xff, 0x00], vec![]));
        assert_eq!(v["payload"], "/wA=");
        assert_eq!(v["payload_encoding"], "base64");
    }

    #[test]
    fn sink_writes_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/output.jsonl");
        let mut sink = FileSink::create(&path).unwrap();
        sink.write(&record(b"1", vec![])).unwrap();
        sink.write(&record(b"2", vec![])).unwrap();
        sink.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
    }
}

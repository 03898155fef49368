//! The error policy's dead letters: every failed call becomes one message on a
//! sink of any connector type.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wasmgraph_connector::{ConnectorError, Sink};
use wasmgraph_connectors::file::{record_to_json, FileSink};
use wasmgraph_engine::{ErrorEvent, ErrorHandler};
use wasmgraph_types::{Bytes, Hlc, Message, Record};

/// The user property naming the operation whose call failed.
pub const OPERATION_PROPERTY: &str = "__operation";
/// The user property with the failure kind (`error`, `trap`, `timeout`, ...).
pub const FAILURE_KIND_PROPERTY: &str = "__error_kind";
/// The user property with the module's message or the trap text.
pub const ERROR_PROPERTY: &str = "__error";

/// The failure document: operation, kind, message and the records.
pub fn failure_document(event: &ErrorEvent) -> serde_json::Value {
    serde_json::json!({
        "operation": event.operation,
        "kind": event.kind.as_str(),
        "message": event.message,
        "records": event.records.iter().map(record_to_json).collect::<Vec<_>>(),
    })
}

/// The dead-letter message for one failed call: the failure document as
/// payload, and its facts as user properties (MQTT user properties, Kafka
/// headers) so consumers can route on them without parsing the payload.
pub fn dead_letter(event: &ErrorEvent) -> Record {
    let doc = failure_document(event);
    let time = event.records.first().map(|r| r.time.clone()).unwrap_or_else(|| Hlc::new(0, 0, ""));
    let topic = event.records.iter().find_map(|r| match &r.data {
        wasmgraph_types::DataModel::Message(m) => Some(m.topic.clone()),
        _ => None,
    });
    let message = Message {
        topic: topic.unwrap_or_default(),
        content_type: Some("application/json".into()),
        payload: Bytes::from(doc.to_string().into_bytes()),
        user_properties: vec![
            (OPERATION_PROPERTY.into(), event.operation.clone()),
            (FAILURE_KIND_PROPERTY.into(), event.kind.as_str().into()),
            (ERROR_PROPERTY.into(), event.message.chars().take(1024).collect()),
        ],
        ..Message::default()
    };
    Record::message(time, 0, message)
}

/// Where dead letters go.
pub enum DeadLetters {
    /// A message sink: one dead-letter message per failure.
    Messages(Box<dyn Sink>),
    /// A file: one failure document per line, created on the first failure
    /// (so a run without failures leaves no file).
    Lines {
        /// The file.
        path: PathBuf,
        /// Open once something failed.
        file: Option<FileSink>,
    },
}

impl DeadLetters {
    fn write(&mut self, event: &ErrorEvent) -> Result<(), ConnectorError> {
        match self {
            DeadLetters::Messages(sink) => sink.write(&dead_letter(event)).and_then(|_| sink.flush()),
            DeadLetters::Lines { path, file } => {
                if file.is_none() {
                    *file = Some(FileSink::create(path.clone())?);
                }
                let Some(out) = file.as_mut() else { return Ok(()) };
                out.write_line(&failure_document(event).to_string())?;
                out.flush()
            }
        }
    }

    /// Where they go, for messages.
    pub fn describe(&self) -> String {
        match self {
            DeadLetters::Messages(sink) => sink.describe(),
            DeadLetters::Lines { path, .. } => format!("file {}", path.display()),
        }
    }

    /// The file written, if dead letters go to a file and something failed.
    pub fn written_file(&self) -> Option<&std::path::Path> {
        match self {
            DeadLetters::Lines { path, file: Some(_) } => Some(path),
            _ => None,
        }
    }
}

/// A handler writing to `dead_letters` (which stay readable through the
/// returned handle): it writes the dead letter and makes it durable before
/// returning, so it is durable before the frontier passes the record's time
/// and the source message is acknowledged.
pub fn handler(dead_letters: DeadLetters) -> (ErrorHandler, Arc<Mutex<DeadLetters>>) {
    let shared = Arc::new(Mutex::new(dead_letters));
    let out = shared.clone();
    let handler = Arc::new(move |event: &ErrorEvent| {
        let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.write(event) {
            tracing::error!("cannot write a failed record to the dead letters ({}): {e}", out.describe());
        }
    });
    (handler, shared)
}

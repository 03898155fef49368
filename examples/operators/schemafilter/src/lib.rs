//! Filter that keeps the messages whose JSON payload is valid against a JSON
//! schema, the way AIO's schema registry sample does: the schema comes to
//! `init` as a `module-schema` (on AIO's local host and on wasmgraph, from the
//! file `TK_SCHEMA_CONFIG_PATH` names in the application folder's
//! `hostapp.env.list`; or from a `schemaName` on the connection into the
//! filter in the graph definition). Without a schema `init` fails, so a
//! missing schema is noticed at start, not by dropping every message.
//!
//! A payload that is not JSON or breaks the schema is dropped (`false`), each
//! reason logged at `warn`; the counter `schema_checks` counts messages by
//! `result` (`valid`, `invalid`). Validation is this crate's own
//! ([`validate`]), on `serde_json` alone: no threads, no regex engine.

pub mod validate;

use std::cell::RefCell;

use serde_json::Value;
use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::filter_operator;
use wasm_graph_sdk::metrics::{self, CounterValue, Label};

const CONTEXT: &str = "module-schemafilter/filter";

thread_local! {
    // A module instance runs on one thread; per-thread state also keeps native
    // unit tests, which run in parallel threads, apart.
    static SCHEMA: RefCell<Option<Value>> = const { RefCell::new(None) };
}

/// The first schema of `schemas` that is a JSON schema (an object or a
/// boolean), with its name.
fn pick_schema(schemas: &[ModuleSchema]) -> Result<(String, Value), String> {
    if schemas.is_empty() {
        return Err("init received no schema: set TK_SCHEMA_CONFIG_PATH in the application folder's \
                    hostapp.env.list, or name a schema on the connection into this filter"
            .to_owned());
    }
    let mut problems = Vec::new();
    for schema in schemas {
        match serde_json::from_str::<Value>(&schema.content) {
            Ok(value @ (Value::Object(_) | Value::Bool(_))) => return Ok((schema.name.clone(), value)),
            Ok(other) => problems.push(format!("'{}' is JSON but not a schema: {other}", schema.name)),
            Err(err) => problems.push(format!("'{}' ({}) is not JSON: {err}", schema.name, schema.content_type)),
        }
    }
    Err(format!("no usable schema: {}", problems.join("; ")))
}

fn schema_filter_init(configuration: ModuleConfiguration) -> bool {
    match pick_schema(&configuration.module_schemas) {
        Ok((name, schema)) => {
            if configuration.module_schemas.len() > 1 {
                logger::log(Level::Warn, CONTEXT, &format!("several schemas received; validating against '{name}'"));
            }
            logger::log(Level::Info, CONTEXT, &format!("validating payloads against '{name}'"));
            SCHEMA.with(|slot| *slot.borrow_mut() = Some(schema));
            true
        }
        Err(problem) => {
            logger::log(Level::Error, CONTEXT, &problem);
            false
        }
    }
}

fn count(result: &str) {
    let labels = vec![Label { key: "result".to_owned(), value: result.to_owned() }];
    let _ = metrics::add_to_counter("schema_checks", CounterValue::U64(1), Some(&labels));
}

#[filter_operator(init = "schema_filter_init")]
fn schema_filter(input: DataModel) -> Result<bool, Error> {
    let DataModel::Message(message) = input else {
        return Err(Error { message: "expected a message".to_owned() });
    };
    let problems = match serde_json::from_slice::<Value>(&message.payload.read()) {
        Err(err) => vec![format!("the payload is not JSON: {err}")],
        Ok(payload) => SCHEMA.with(|slot| match &*slot.borrow() {
            Some(schema) => validate::violations(schema, &payload),
            None => vec!["no schema (init did not run)".to_owned()],
        }),
    };
    for problem in &problems {
        logger::log(Level::Warn, CONTEXT, &format!("dropped: {problem}"));
    }
    count(if problems.is_empty() { "valid" } else { "invalid" });
    Ok(problems.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    const SCHEMA_TEXT: &str =
        r#"{"type":"object","required":["temperature"],"properties":{"temperature":{"type":"number"}}}"#;

    fn with_schemas(schemas: &[(&str, &str)]) -> ModuleConfiguration {
        let mut configuration = testing::configuration(&[]);
        configuration.module_schemas = schemas
            .iter()
            .map(|(name, content)| ModuleSchema {
                name: (*name).to_owned(),
                content_type: "application/schema+json".to_owned(),
                content: (*content).to_owned(),
            })
            .collect();
        configuration
    }

    #[test]
    fn keeps_valid_payloads_and_drops_the_rest_with_reasons() {
        testing::reset();
        assert!(schema_filter_init(with_schemas(&[("reading.json", SCHEMA_TEXT)])));
        assert!(schema_filter(testing::data(br#"{"temperature": 21.5}"#.to_vec())).unwrap());
        assert!(!schema_filter(testing::data(br#"{"temperature": "warm"}"#.to_vec())).unwrap());
        assert!(!schema_filter(testing::data(b"not json".to_vec())).unwrap());
        let warnings: Vec<String> =
            testing::logs().into_iter().filter(|l| l.level == Level::Warn).map(|l| l.message).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("/temperature: expected number"), "{warnings:?}");
        assert!(warnings[1].contains("not JSON"), "{warnings:?}");
        assert_eq!(testing::counter("schema_checks"), 3);
    }

    #[test]
    fn init_fails_without_a_usable_schema() {
        testing::reset();
        assert!(!schema_filter_init(with_schemas(&[])));
        assert!(testing::logs().iter().any(|l| l.level == Level::Error && l.message.contains("TK_SCHEMA_CONFIG_PATH")));
        assert!(!schema_filter_init(with_schemas(&[("a", "{oops"), ("b", "[1]")])));
        // The first usable one wins.
        assert!(schema_filter_init(with_schemas(&[("a", "{oops"), ("b", SCHEMA_TEXT), ("c", "true")])));
        assert!(!schema_filter(testing::data(b"{}".to_vec())).unwrap());
    }
}

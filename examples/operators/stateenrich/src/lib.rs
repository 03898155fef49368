//! Map that enriches each message from the state store, as AIO's state store
//! sample does: for every key of the `enrichKeys` parameter (comma separated,
//! default `factoryId,machineId`) it reads the key from the state store and
//! adds it to the message's user properties (`factoryId: factoryA`), replacing
//! a property of that name. A key the store does not have is logged and
//! skipped. The state store is seeded from the application folder's
//! `statestore.json`; `TK_CONFIGURATION_PARAMETERS` in its `hostapp.env.list`
//! can choose other keys.
//!
//! It also numbers the messages it enriched, in the user property `sequence`,
//! keeping the count in the state store under `stateenrich/count`: the count
//! goes on across restarts for as long as the store keeps its keys.

use std::cell::RefCell;

use wasm_graph_sdk::logger::{self, Level};
use wasm_graph_sdk::macros::map_operator;
use wasm_graph_sdk::state_store::{self, SetOptions};

const CONTEXT: &str = "module-stateenrich/map";
const DEFAULT_KEYS: &str = "factoryId,machineId";
const COUNT_KEY: &[u8] = b"stateenrich/count";

thread_local! {
    // A module instance runs on one thread; per-thread state also keeps native
    // unit tests, which run in parallel threads, apart.
    static KEYS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The keys of an `enrichKeys` value: trimmed, empty entries skipped.
fn parse_keys(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
}

fn enrich_init(configuration: ModuleConfiguration) -> bool {
    let text = configuration
        .properties
        .iter()
        .find(|(key, _)| key == "enrichKeys")
        .map_or(DEFAULT_KEYS, |(_, value)| value.as_str());
    let keys = parse_keys(text);
    if keys.is_empty() {
        logger::log(Level::Error, CONTEXT, "enrichKeys names no key; give a comma separated list of state store keys");
        return false;
    }
    logger::log(Level::Info, CONTEXT, &format!("adding state store keys {keys:?} as user properties"));
    KEYS.with(|slot| *slot.borrow_mut() = keys);
    true
}

/// The value of `key` in the state store, as text; `None` (logged) when the
/// store does not have it or cannot be read.
fn lookup(key: &str) -> Option<String> {
    match state_store::get(key.as_bytes(), None) {
        Ok(got) => {
            let value = got.response.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            if value.is_none() {
                logger::log(Level::Warn, CONTEXT, &format!("the state store has no '{key}'; not added"));
            }
            value
        }
        Err(err) => {
            logger::log(Level::Error, CONTEXT, &format!("cannot read '{key}': {err}"));
            None
        }
    }
}

/// One more than the stored count, stored.
fn next_sequence() -> Result<u64, Error> {
    let failed = |err: &dyn std::fmt::Display| Error { message: format!("state store count: {err}") };
    let stored = state_store::get(COUNT_KEY, None).map_err(|e| failed(&e))?.response;
    let count = stored.and_then(|bytes| String::from_utf8(bytes).ok()?.parse::<u64>().ok()).unwrap_or(0) + 1;
    state_store::set(COUNT_KEY, count.to_string().as_bytes(), None, None, SetOptions::default())
        .map_err(|e| failed(&e))?;
    Ok(count)
}

/// Set the user property `key` to `value`, replacing any of that name.
fn set_property(message: &mut Message, key: &str, value: String) {
    let properties = &mut message.properties.user_properties;
    properties.retain(|(k, _)| !matches!(k, BufferOrString::String(name) if name == key));
    properties.push((BufferOrString::String(key.to_owned()), BufferOrString::String(value)));
}

#[map_operator(init = "enrich_init")]
fn enrich(input: DataModel) -> Result<DataModel, Error> {
    let DataModel::Message(mut message) = input else {
        return Err(Error { message: "expected a message".to_owned() });
    };
    let keys = KEYS.with(|slot| slot.borrow().clone());
    let keys = if keys.is_empty() { parse_keys(DEFAULT_KEYS) } else { keys };
    for key in &keys {
        if let Some(value) = lookup(key) {
            set_property(&mut message, key, value);
        }
    }
    let sequence = next_sequence()?;
    set_property(&mut message, "sequence", sequence.to_string());
    Ok(DataModel::Message(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_graph_sdk::testing;

    fn properties(out: &DataModel) -> Vec<(String, String)> {
        let DataModel::Message(m) = out else { panic!("not a message") };
        let text = |v: &BufferOrString| match v {
            BufferOrString::String(s) => s.clone(),
            BufferOrString::Buffer(b) => String::from_utf8(b.read()).unwrap(),
        };
        m.properties.user_properties.iter().map(|(k, v)| (text(k), text(v))).collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn adds_the_configured_keys_and_numbers_the_messages() {
        testing::reset();
        testing::seed_state_json(r#"[{"factoryId":"factoryA"},{"machineId":"machineA"},{"lineId":"line7"}]"#).unwrap();
        assert!(enrich_init(testing::configuration(&[("enrichKeys", " factoryId, lineId ,")])));
        let first = enrich(testing::data(b"{}".to_vec())).unwrap();
        assert_eq!(properties(&first), pairs(&[("factoryId", "factoryA"), ("lineId", "line7"), ("sequence", "1")]));
        let second = enrich(first).unwrap();
        assert_eq!(properties(&second), pairs(&[("factoryId", "factoryA"), ("lineId", "line7"), ("sequence", "2")]));
        assert_eq!(testing::state("stateenrich/count").as_deref(), Some(&b"2"[..]));
    }

    #[test]
    fn missing_keys_are_skipped_and_defaults_apply() {
        testing::reset();
        testing::seed_state("factoryId", "factoryB");
        assert!(enrich_init(testing::configuration(&[])));
        let out = enrich(testing::data(b"x".to_vec())).unwrap();
        assert_eq!(properties(&out), pairs(&[("factoryId", "factoryB"), ("sequence", "1")]));
        assert!(testing::logs().iter().any(|l| l.level == Level::Warn && l.message.contains("'machineId'")));
        assert!(!enrich_init(testing::configuration(&[("enrichKeys", " , ")])));
    }
}

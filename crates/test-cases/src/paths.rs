//! Dotted paths into output records.

use serde_json::{Map, Value};

/// Parse a string `payload` that holds JSON into that JSON, so paths can reach
/// into it and comparison ignores formatting.
pub fn normalize(record: &Value) -> Value {
    let mut record = record.clone();
    if let Some(payload) = record.get_mut("payload") {
        if let Value::String(text) = payload {
            if let Ok(parsed) = serde_json::from_str::<Value>(text) {
                *payload = parsed;
            }
        }
    }
    record
}

/// Keep only `select` (all when empty), then drop `ignores`.
pub fn select_paths(record: &Value, select: &[String], ignores: &[String]) -> Value {
    let mut out = if select.is_empty() {
        record.clone()
    } else {
        let mut kept = Value::Object(Map::new());
        for path in select {
            if let Some((keys, value)) = lookup(record, path) {
                insert(&mut kept, &keys, value.clone());
            }
        }
        kept
    };
    for path in ignores {
        remove(&mut out, path);
    }
    out
}

/// Whether `path` names something in at least one of `records` (already
/// [`normalize`]d): a `select` or `ignores` path that names nothing on either
/// side is a typo that would make the case unable to fail.
pub fn names_something(records: &[Value], path: &str) -> bool {
    records.iter().any(|r| lookup(r, path).is_some())
}

/// Resolve a dotted path. Keys may themselves contain dots (`otel.factory`):
/// at each level the longest run of segments naming an existing key wins.
fn lookup<'v>(value: &'v Value, path: &str) -> Option<(Vec<String>, &'v Value)> {
    let segments: Vec<&str> = path.split('.').collect();
    let mut keys = Vec::new();
    let mut current = value;
    let mut i = 0;
    while i < segments.len() {
        let Value::Object(map) = current else { return None };
        let (key, next, used) = (i + 1..=segments.len()).rev().find_map(|end| {
            let key = segments[i..end].join(".");
            map.get(&key).map(|v| (key, v, end))
        })?;
        keys.push(key);
        current = next;
        i = used;
    }
    Some((keys, current))
}

fn insert(target: &mut Value, keys: &[String], value: Value) {
    let mut current = target;
    for (n, key) in keys.iter().enumerate() {
        let Value::Object(map) = current else { return };
        if n + 1 == keys.len() {
            map.insert(key.clone(), value);
            return;
        }
        current = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
}

fn remove(target: &mut Value, path: &str) {
    let Some((keys, _)) = lookup(target, path) else { return };
    let mut current = target;
    for (n, key) in keys.iter().enumerate() {
        let Value::Object(map) = current else { return };
        if n + 1 == keys.len() {
            map.remove(key);
            return;
        }
        let Some(next) = map.get_mut(key) else { return };
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn select_reaches_into_properties_and_payload() {
        let rec = normalize(&json!({
            "topic": "t",
            "payload": "{\"temperature\":{\"value\":1},\"humidity\":2}",
            "properties": {"user-properties": {"otel/factoryId": "A", "other": "x"}}
        }));
        let kept = select_paths(
            &rec,
            &["payload".into(), "properties.user-properties.otel/factoryId".into()],
            &["payload.humidity".into()],
        );
        assert_eq!(
            kept,
            json!({"payload": {"temperature": {"value": 1}}, "properties": {"user-properties": {"otel/factoryId": "A"}}})
        );
    }

    #[test]
    fn keys_with_dots_resolve() {
        let rec = json!({"a": {"b.c": 1, "b": {"c": 2}}});
        assert_eq!(select_paths(&rec, &["a.b.c".into()], &[]), json!({"a": {"b.c": 1}}));
    }

    #[test]
    fn missing_paths_are_simply_absent() {
        let rec = json!({"payload": "not json"});
        assert_eq!(select_paths(&normalize(&rec), &["payload.x".into(), "topic".into()], &[]), json!({}));
    }
}

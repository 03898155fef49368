//! A JSON Schema (draft-07) validator for the keywords payload schemas use,
//! on `serde_json` alone, so the module needs no threads or regex engine.
//!
//! Checked: `type` (one or a list; `integer` is a number without fraction),
//! `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`,
//! `exclusiveMaximum`, `multipleOf`, `minLength`, `maxLength`, `required`,
//! `properties`, `additionalProperties`, `minProperties`, `maxProperties`,
//! `items` (one schema or a list), `minItems`, `maxItems`, `uniqueItems`,
//! `allOf`, `anyOf`, `oneOf`, `not`, and `true`/`false` schemas. Other
//! keywords (`pattern`, `format`, `$ref`, ...) are ignored, as AIO's local
//! host says its validator may ignore less common ones.

use serde_json::{Map, Value};

/// Every way `instance` breaks `schema`, each as `<JSON pointer>: what is
/// wrong` (`(root)` for the whole payload); empty when valid.
pub fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    violations_at(schema, instance, "")
        .into_iter()
        .map(|v| if v.starts_with(':') { format!("(root){v}") } else { v })
        .collect()
}

fn check(schema: &Value, instance: &Value, at: &str, out: &mut Vec<String>) {
    let rules = match schema {
        Value::Object(rules) => rules,
        Value::Bool(false) => return out.push(format!("{at}: no value is allowed here")),
        _ => return,
    };
    check_type(rules, instance, at, out);
    check_values(rules, instance, at, out);
    match instance {
        Value::Number(n) => check_number(rules, n.as_f64().unwrap_or(f64::NAN), at, out),
        Value::String(s) => check_string(rules, s, at, out),
        Value::Object(members) => check_object(rules, members, at, out),
        Value::Array(items) => check_array(rules, items, at, out),
        Value::Null | Value::Bool(_) => {}
    }
    check_combinators(rules, instance, at, out);
}

/// The JSON type names `value` has (`integer` numbers are `number`s too).
fn is_type(value: &Value, name: &str) -> bool {
    match (name, value) {
        ("null", Value::Null) | ("boolean", Value::Bool(_)) | ("string", Value::String(_)) => true,
        ("array", Value::Array(_)) | ("object", Value::Object(_)) | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_type(rules: &Map<String, Value>, instance: &Value, at: &str, out: &mut Vec<String>) {
    let names: Vec<&str> = match rules.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    if !names.iter().any(|name| is_type(instance, name)) {
        out.push(format!("{at}: expected {}, found {} ({instance})", names.join(" or "), type_name(instance)));
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn check_values(rules: &Map<String, Value>, instance: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(Value::Array(allowed)) = rules.get("enum") {
        if !allowed.iter().any(|v| same(v, instance)) {
            out.push(format!("{at}: {instance} is not one of {}", Value::Array(allowed.clone())));
        }
    }
    if let Some(wanted) = rules.get("const") {
        if !same(wanted, instance) {
            out.push(format!("{at}: expected {wanted}, found {instance}"));
        }
    }
}

fn check_number(rules: &Map<String, Value>, n: f64, at: &str, out: &mut Vec<String>) {
    let limit = |key: &str| rules.get(key).and_then(Value::as_f64);
    let broken = [
        limit("minimum").filter(|&m| n < m).map(|m| format!("{n} is below the minimum {m}")),
        limit("maximum").filter(|&m| n > m).map(|m| format!("{n} is above the maximum {m}")),
        limit("exclusiveMinimum").filter(|&m| n <= m).map(|m| format!("{n} is not above {m}")),
        limit("exclusiveMaximum").filter(|&m| n >= m).map(|m| format!("{n} is not below {m}")),
        limit("multipleOf")
            .filter(|&m| m > 0.0 && ((n / m) - (n / m).round()).abs() > 1e-9)
            .map(|m| format!("{n} is not a multiple of {m}")),
    ];
    out.extend(broken.into_iter().flatten().map(|what| format!("{at}: {what}")));
}

fn check_string(rules: &Map<String, Value>, s: &str, at: &str, out: &mut Vec<String>) {
    let length = s.chars().count() as u64;
    if let Some(min) = rules.get("minLength").and_then(Value::as_u64).filter(|&m| length < m) {
        out.push(format!("{at}: {length} character(s), fewer than {min}"));
    }
    if let Some(max) = rules.get("maxLength").and_then(Value::as_u64).filter(|&m| length > m) {
        out.push(format!("{at}: {length} character(s), more than {max}"));
    }
}

/// `at` extended by one member name or index, as a JSON pointer.
fn child(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn check_object(rules: &Map<String, Value>, members: &Map<String, Value>, at: &str, out: &mut Vec<String>) {
    for name in rules.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !members.contains_key(name) {
            out.push(format!("{at}: the required member '{name}' is missing"));
        }
    }
    let properties = rules.get("properties").and_then(Value::as_object);
    for (name, value) in members {
        match properties.and_then(|p| p.get(name)) {
            Some(schema) => check(schema, value, &child(at, name), out),
            None => match rules.get("additionalProperties") {
                Some(Value::Bool(false)) => out.push(format!("{at}: the member '{name}' is not allowed")),
                Some(schema) => check(schema, value, &child(at, name), out),
                None => {}
            },
        }
    }
    let count = members.len() as u64;
    if let Some(min) = rules.get("minProperties").and_then(Value::as_u64).filter(|&m| count < m) {
        out.push(format!("{at}: {count} member(s), fewer than {min}"));
    }
    if let Some(max) = rules.get("maxProperties").and_then(Value::as_u64).filter(|&m| count > m) {
        out.push(format!("{at}: {count} member(s), more than {max}"));
    }
}

fn check_array(rules: &Map<String, Value>, items: &[Value], at: &str, out: &mut Vec<String>) {
    match rules.get("items") {
        Some(Value::Array(schemas)) => {
            for (i, (schema, item)) in schemas.iter().zip(items).enumerate() {
                check(schema, item, &child(at, &i.to_string()), out);
            }
        }
        Some(schema) => {
            for (i, item) in items.iter().enumerate() {
                check(schema, item, &child(at, &i.to_string()), out);
            }
        }
        None => {}
    }
    let count = items.len() as u64;
    if let Some(min) = rules.get("minItems").and_then(Value::as_u64).filter(|&m| count < m) {
        out.push(format!("{at}: {count} item(s), fewer than {min}"));
    }
    if let Some(max) = rules.get("maxItems").and_then(Value::as_u64).filter(|&m| count > m) {
        out.push(format!("{at}: {count} item(s), more than {max}"));
    }
    let unique = rules.get("uniqueItems").and_then(Value::as_bool) == Some(true);
    if unique && items.iter().enumerate().any(|(i, a)| items[i + 1..].iter().any(|b| same(a, b))) {
        out.push(format!("{at}: the items are not unique"));
    }
}

fn check_combinators(rules: &Map<String, Value>, instance: &Value, at: &str, out: &mut Vec<String>) {
    let schemas = |key: &str| rules.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let valid = |schema: &Value| violations_at(schema, instance, at).is_empty();
    for schema in schemas("allOf") {
        check(schema, instance, at, out);
    }
    let any = schemas("anyOf");
    if !any.is_empty() && !any.iter().any(valid) {
        out.push(format!("{at}: matches none of the anyOf schemas"));
    }
    let one = schemas("oneOf");
    let matching = one.iter().filter(|s| valid(s)).count();
    if !one.is_empty() && matching != 1 {
        out.push(format!("{at}: matches {matching} of the oneOf schemas, not exactly one"));
    }
    if rules.get("not").is_some_and(valid) {
        out.push(format!("{at}: matches the schema under 'not'"));
    }
}

fn violations_at(schema: &Value, instance: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, instance, at, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reading_schema() -> Value {
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "required": ["temperature", "humidity"],
            "properties": {
                "temperature": {"type": "number", "minimum": -273.15},
                "humidity": {"type": "integer", "minimum": 0, "maximum": 100},
                "unit": {"enum": ["C", "F"]},
                "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": true}
            }
        })
    }

    #[test]
    fn a_valid_reading_has_no_violations() {
        let ok = json!({"temperature": 21.5, "humidity": 40, "unit": "C", "tags": ["a", "b"], "extra": null});
        assert_eq!(violations(&reading_schema(), &ok), Vec::<String>::new());
        assert!(violations(&reading_schema(), &json!({"temperature": 1, "humidity": 40.0})).is_empty());
    }

    #[test]
    fn each_broken_rule_is_named_with_its_place() {
        let bad = json!({"temperature": "hot", "humidity": 45.5, "unit": "K", "tags": ["", "x", "x"]});
        let mut found = violations(&reading_schema(), &bad);
        found.sort();
        assert_eq!(
            found,
            vec![
                "/humidity: expected integer, found a number (45.5)",
                "/tags/0: 0 character(s), fewer than 1",
                "/tags: the items are not unique",
                "/temperature: expected number, found a string (\"hot\")",
                "/unit: \"K\" is not one of [\"C\",\"F\"]",
            ]
        );
        assert_eq!(
            violations(&reading_schema(), &json!({"humidity": 101})),
            vec!["(root): the required member 'temperature' is missing", "/humidity: 101 is above the maximum 100"]
        );
        assert_eq!(violations(&reading_schema(), &json!([1])), vec!["(root): expected object, found an array ([1])"]);
    }

    #[test]
    fn combinators_and_boolean_schemas() {
        let schema = json!({
            "anyOf": [{"type": "string"}, {"type": "integer"}],
            "oneOf": [{"minimum": 0}, {"maximum": 10}],
            "not": {"const": 5},
            "additionalProperties": false
        });
        assert!(violations(&schema, &json!(20)).is_empty());
        assert_eq!(violations(&schema, &json!(5)).len(), 2, "{:?}", violations(&schema, &json!(5)));
        assert_eq!(violations(&schema, &json!(1.5)).len(), 2);
        assert!(violations(&json!(true), &json!({"x": 1})).is_empty());
        assert_eq!(
            violations(&json!({"properties": {"x": false}}), &json!({"x": 1})),
            vec!["/x: no value is allowed here"]
        );
        assert_eq!(
            violations(&json!({"additionalProperties": false, "properties": {"a": {}}}), &json!({"a": 1, "b": 2})),
            vec!["(root): the member 'b' is not allowed"]
        );
    }
}

//! Comparison of expected and actual output with a list of differences.

use std::fmt;

use serde_json::Value;

/// One difference between expected and actual output.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Where (`[2].payload.temperature.count`), empty for the whole output.
    pub path: String,
    /// What was expected there.
    pub expected: Value,
    /// What was there, or `None` when nothing was.
    pub actual: Option<Value>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() { "output".to_string() } else { self.path.clone() };
        match &self.actual {
            None => write!(f, "{at}: expected {}, but there was nothing", self.expected),
            Some(actual) if self.expected.is_null() && !actual.is_null() => {
                write!(f, "{at}: unexpected {actual}")
            }
            Some(actual) => write!(f, "{at}: expected {}, got {actual}", self.expected),
        }
    }
}

/// `Ok(())` when equal (numbers by value), else every difference.
pub fn compare(expected: &Value, actual: &Value) -> Result<(), Vec<Mismatch>> {
    let mut out = Vec::new();
    diff("", expected, actual, &mut out);
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<Mismatch>) {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => {
            let same = match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => x == y,
                _ => a.as_f64() == b.as_f64(),
            };
            if !same {
                out.push(Mismatch { path: path.into(), expected: expected.clone(), actual: Some(actual.clone()) });
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let at = join(path, key);
                match b.get(key) {
                    Some(other) => diff(&at, value, other, out),
                    None => out.push(Mismatch { path: at, expected: value.clone(), actual: None }),
                }
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    out.push(Mismatch { path: join(path, key), expected: Value::Null, actual: Some(value.clone()) });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, value) in a.iter().enumerate() {
                let at = format!("{path}[{i}]");
                match b.get(i) {
                    Some(other) => diff(&at, value, other, out),
                    None => out.push(Mismatch { path: at, expected: value.clone(), actual: None }),
                }
            }
            for (i, value) in b.iter().enumerate().skip(a.len()) {
                out.push(Mismatch { path: format!("{path}[{i}]"), expected: Value::Null, actual: Some(value.clone()) });
            }
        }
        _ if expected == actual => {}
        _ => out.push(Mismatch { path: path.into(), expected: expected.clone(), actual: Some(actual.clone()) }),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(compare(&json!({"a": 0.0}), &json!({"a": 0})).is_ok());
        assert!(compare(&json!({"a": 1.5}), &json!({"a": 1.25})).is_err());
    }

    #[test]
    fn differences_name_their_paths() {
        let err = compare(&json!([{"p": {"x": 1, "y": 2}}]), &json!([{"p": {"x": 1, "z": 3}}, {}])).unwrap_err();
        let text: Vec<String> = err.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            text,
            ["[0].p.y: expected 2, but there was nothing", "[0].p.z: unexpected 3", "[1]: unexpected {}",]
        );
    }
}

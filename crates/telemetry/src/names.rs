//! Metric and label names made valid for Prometheus and OpenTelemetry.
//! Modules name their metrics freely (`temp.°C`, `2xx`); exposition formats
//! do not allow that, and an invalid name would make the whole scrape fail.

/// `name` with every character Prometheus does not allow in a metric name
/// replaced by `_` (and a leading `_` before a digit). A counter's trailing
/// `_total` is dropped: the exposition adds it back.
pub fn metric_name(name: &str, counter: bool) -> String {
    let mut out = sanitize(name, |c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if counter {
        if let Some(stem) = out.strip_suffix("_total").filter(|s| !s.is_empty()) {
            out = stem.to_string();
        }
    }
    out
}

/// `key` as a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`, never starting with
/// `__` (reserved for Prometheus's own labels).
pub fn label_name(key: &str) -> String {
    let out = sanitize(key, |c| c.is_ascii_alphanumeric() || c == '_');
    if out.starts_with("__") {
        format!("x{out}")
    } else {
        out
    }
}

#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
/// `name` as a valid OpenTelemetry instrument name:
/// `[A-Za-z][A-Za-z0-9_./-]{0,254}`.
pub fn instrument_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-') { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 'm');
    }
    out.truncate(255);
    out
}

fn sanitize(name: &str, allowed: impl Fn(char) -> bool) -> String {
    let mut out: String = name.chars().map(|c| if allowed(c) { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// `labels` with keys made valid and each key kept once (the first), then
/// `graph` added unless the module set a label of that name itself.
pub fn module_labels<'a>(graph: &'a str, labels: &'a [(String, String)]) -> Vec<(String, &'a str)> {
    let mut out: Vec<(String, &str)> = Vec::with_capacity(labels.len() + 1);
    for (k, v) in labels {
        let key = label_name(k);
        if !out.iter().any(|(seen, _)| *seen == key) {
            out.push((key, v.as_str()));
        }
    }
    if !out.iter().any(|(k, _)| k == "graph") {
        out.insert(0, ("graph".to_string(), graph));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_valid() {
        assert_eq!(metric_name("requests", true), "requests");
        assert_eq!(metric_name("requests_total", true), "requests");
        assert_eq!(metric_name("_total", true), "_total");
        assert_eq!(metric_name("temp.°C", false), "temp__C");
        assert_eq!(metric_name("2xx", false), "_2xx");
        assert_eq!(metric_name("", false), "_");
        assert_eq!(label_name("__name__"), "x__name__");
        assert_eq!(label_name("host-name"), "host_name");
        assert_eq!(instrument_name("temp °C"), "temp__C");
        assert_eq!(instrument_name("_x"), "m_x");
    }

    #[test]
    fn module_labels_keep_the_first_of_each_key_and_add_the_graph() {
        let labels = vec![("a-b".to_string(), "1".to_string()), ("a_b".to_string(), "2".to_string())];
        assert_eq!(module_labels("g", &labels), vec![("graph".to_string(), "g"), ("a_b".to_string(), "1")]);
        let own = vec![("graph".to_string(), "mine".to_string())];
        assert_eq!(module_labels("g", &own), vec![("graph".to_string(), "mine")]);
    }
}

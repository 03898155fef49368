//! A byte budget on YAML alias expansion, checked before deserializing.
//!
//! serde-saphyr bounds how many events aliases replay, not how many bytes:
//! a 1 MB file of aliases to one 1 MB string would become gigabytes of
//! strings in the deployment (issue 18). This pass walks the parser's events
//! once, sizing every anchored node, and refuses a file whose scalar text with
//! every alias expanded is larger than [`MAX_EXPANDED_BYTES`].

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// The most scalar text a deployment file may hold once every alias is
/// expanded; deployment files are a few kilobytes.
pub(crate) const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// `Err` (naming the line of the alias that crosses the budget) when the
/// text, aliases expanded, is larger than [`MAX_EXPANDED_BYTES`]. Syntax
/// errors are left to the deserializer, which reports them with more context.
pub(crate) fn check(text: &str) -> Result<(), String> {
    // Open collections: (anchor id, expanded bytes so far).
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut anchors: HashMap<usize, usize> = HashMap::new();
    let mut total = 0usize;
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else { return Ok(()) };
        // A completed node: (its anchor, its expanded bytes, whether those
        // bytes are new text rather than a closing collection's sum).
        let (anchor, bytes, leaf) = match event {
            Event::Scalar(value, _, anchor, _) => (anchor, value.len(), true),
            Event::Alias(id) => (0, anchors.get(&id).copied().unwrap_or(0), true),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, 0));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some((anchor, bytes)) => (anchor, bytes, false),
                None => continue,
            },
            _ => continue,
        };
        if anchor != 0 {
            anchors.insert(anchor, bytes);
        }
        if let Some(parent) = open.last_mut() {
            parent.1 = parent.1.saturating_add(bytes);
        }
        if leaf {
            total = total.saturating_add(bytes);
            if total > MAX_EXPANDED_BYTES {
                return Err(format!(
                    "line {}: with every alias expanded this file holds more than {} MiB of text; \
                     write the values out or use fewer aliases",
                    span.start.line(),
                    MAX_EXPANDED_BYTES >> 20
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18: a 1 MB string and a 1 MB file of aliases to it.
    #[test]
    fn aliases_to_a_large_string_are_refused_by_bytes() {
        let mut text = format!("kind: Deployment\nname: &big \"{}\"\nconfiguration:\n  x: [", "x".repeat(1 << 20));
        while text.len() < 2 << 20 {
            text.push_str("*big, ");
        }
        text.push_str("*big]\n");
        let err = check(&text).unwrap_err();
        assert!(err.starts_with("line 4: ") && err.contains("more than 16 MiB"), "{err}");
    }

    #[test]
    fn nested_anchors_are_sized_in_full_and_small_files_pass() {
        assert_eq!(check("a: &a [x, y]\nb: [*a, *a]\n"), Ok(()));
        let text = format!("a: &a ['{}']\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]\n", "x".repeat(1 << 20));
        assert!(check(&text).unwrap_err().starts_with("line 3: "), "20 copies of 1 MiB through a nested anchor");
    }
}

//! How the persistent backends write versions and times as text: fixed-width
//! decimal so that text order is time order (the Redis scripts compare them
//! digit-group by digit-group), full nanosecond precision (the `__ts` wire form
//! keeps only milliseconds), and the node id after them.

use wasmgraph_types::Hlc;

/// `<nanos, 20 digits>:<counter, 20 digits>:<node id>`.
pub(crate) fn version_text(version: &Hlc) -> String {
    format!("{:020}:{:020}:{}", version.nanos, version.counter, version.node_id)
}

/// The version [`version_text`] wrote, or `None` for anything else.
pub(crate) fn parse_version(text: &str) -> Option<Hlc> {
    let mut parts = text.splitn(3, ':');
    let nanos = parts.next().filter(|p| p.len() == 20)?.parse().ok()?;
    let counter = parts.next().filter(|p| p.len() == 20)?.parse().ok()?;
    let node = parts.next()?;
    Some(Hlc::new(nanos, counter, node))
}

/// A Unix time in nanoseconds as 20 digits.
pub(crate) fn nanos_text(nanos: u64) -> String {
    format!("{nanos:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_round_trip_and_sort_as_text() {
        let a = Hlc::new(1_700_000_000_123_456_789, 7, "node:1");
        let text = version_text(&a);
        assert_eq!(text, "01700000000123456789:00000000000000000007:node:1");
        let back = parse_version(&text).unwrap();
        assert_eq!((back.nanos, back.counter, &*back.node_id), (a.nanos, 7, "node:1"));
        let b = Hlc::new(u64::MAX, u64::MAX, "");
        assert_eq!(parse_version(&version_text(&b)).unwrap(), b);
        let mut texts = [version_text(&b), version_text(&Hlc::new(9, 0, "z")), version_text(&Hlc::new(8, 99, "a"))];
        texts.sort();
        assert!(texts[0].starts_with("00000000000000000008:"));
        assert_eq!(nanos_text(42), "00000000000000000042");
        for bad in ["", "12:3:x", "0170000000012345678x:00000000000000000007:n", "01700000000123456789"] {
            assert!(parse_version(bad).is_none(), "{bad}");
        }
    }
}

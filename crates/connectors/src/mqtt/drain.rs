//! Draining a broker that acknowledges on receipt (the embedded one) before
//! the source ends, so that nothing its publishers were told is delivered
//! is lost on a clean stop.
//!
//! The embedded broker PUBACKs a publish as soon as it holds it in memory. A
//! source that just stopped reading on SIGTERM would leave those publishes
//! behind, to vanish with the process. Instead the source, asked to stop:
//! 1. has the broker *freeze*: it refuses further publishes (their clients are
//!    disconnected and publish them again elsewhere or later) and waits until
//!    every publish it took so far is in its logs;
//! 2. has it publish one *marker* per subscribed filter, on a topic that
//!    filter matches, behind everything it holds;
//! 3. reads on, handing messages to the engine as usual, until every marker
//!    came back through every filter that matches it. Only then does it end,
//!    and the engine finishes and acknowledges what it read.
//!
//! A broker keeps each filter's messages in order, so a marker's arrival
//! means the filter delivered all it had before it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::matches;

/// How long a drain may take before the source ends anyway (with a warning
/// naming what may be lost).
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What every marker payload starts with, followed by the drain's token and
/// the marker's number.
const MARKER_PREFIX: &[u8] = b"wasmgraph-drain ";

/// The level a marker topic puts where its filter has a wildcard.
const MARKER_LEVEL: &str = "wasmgraph-drain";

/// A broker that can stop taking publishes and then queue markers behind
/// what it holds (the embedded broker implements it).
pub(crate) trait Freeze: Send + Sync + std::fmt::Debug {
    /// Refuse publishes from now on, wait until every publish accepted so far
    /// is in the broker's logs, then publish `markers` (topic, payload) at
    /// QoS 0. Returns at once; the waiting happens elsewhere.
    fn freeze_then_mark(&self, markers: Vec<(String, Bytes)>);
}

/// A shared handle to a [`Freeze`], kept in the connection settings.
pub(crate) type FreezeHandle = Arc<dyn Freeze>;

/// A topic `filter` matches, for its marker: wildcards become
/// `wasmgraph-drain`, a shared subscription's `$share/<group>/` is dropped.
pub(crate) fn marker_topic(filter: &str) -> String {
    sample_topic(filter, MARKER_LEVEL)
}

/// A topic `filter` matches: each wildcard becomes `level`, a shared
/// subscription's `$share/<group>/` is dropped.
pub(crate) fn sample_topic(filter: &str, level: &str) -> String {
    strip_share(filter).split('/').map(|l| if l == "+" || l == "#" { level } else { l }).collect::<Vec<_>>().join("/")
}

/// Whether a payload could be a marker (a cheap test on every message).
pub(crate) fn may_be_marker(payload: &[u8]) -> bool {
    payload.starts_with(MARKER_PREFIX)
}

/// One drain of one source: its markers and which came back.
#[derive(Debug)]
pub(crate) struct Drain {
    /// `wasmgraph-drain <token> `: markers of this drain start with it.
    prefix: Vec<u8>,
    /// Per marker: the copies still to come (one per matching filter).
    missing: Vec<usize>,
    /// When the source ends even if markers are missing.
    deadline: Instant,
}

impl Drain {
    /// Freeze `broker` and queue one marker per filter of `filters`.
    pub(crate) fn start(broker: &dyn Freeze, filters: &[String]) -> Self {
        // A fresh `RandomState` is seeded randomly: its hash of nothing is a random number.
        let token = format!("{:016x}", RandomState::new().build_hasher().finish());
        let mut prefix = MARKER_PREFIX.to_vec();
        prefix.extend_from_slice(token.as_bytes());
        prefix.push(b' ');
        let topics: Vec<String> = filters.iter().map(|f| marker_topic(f)).collect();
        let missing = topics.iter().map(|t| reading(filters, t).count()).collect();
        let markers = topics
            .into_iter()
            .enumerate()
            .map(|(i, topic)| {
                let mut payload = prefix.clone();
                payload.extend_from_slice(i.to_string().as_bytes());
                (topic, Bytes::from(payload))
            })
            .collect();
        broker.freeze_then_mark(markers);
        Drain { prefix, missing, deadline: Instant::now() + DRAIN_TIMEOUT }
    }

    /// The marker number when `payload` is one of this drain's markers.
    pub(crate) fn marker(&self, payload: &[u8]) -> Option<usize> {
        let rest = payload.strip_prefix(self.prefix.as_slice())?;
        std::str::from_utf8(rest).ok()?.parse().ok().filter(|&i| i < self.missing.len())
    }

    /// A copy of marker `i` arrived.
    pub(crate) fn arrived(&mut self, i: usize) {
        if let Some(m) = self.missing.get_mut(i) {
            *m = m.saturating_sub(1);
        }
    }

    /// Every marker came back through every filter.
    pub(crate) fn complete(&self) -> bool {
        self.missing.iter().all(|&m| m == 0)
    }

    /// The time to give up is past.
    pub(crate) fn overdue(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// How many marker copies never came.
    pub(crate) fn missing(&self) -> usize {
        self.missing.iter().sum()
    }
}

/// The filters of `filters` that read `topic`.
pub(crate) fn reading<'f>(filters: &'f [String], topic: &'f str) -> impl Iterator<Item = &'f String> + 'f {
    filters.iter().filter(move |f| matches(topic, strip_share(f)))
}

/// `$share/<group>/<filter>` → `<filter>`.
fn strip_share(filter: &str) -> &str {
    match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, f)| f),
        None => filter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<(String, Bytes)>>);

    impl Freeze for Recorder {
        fn freeze_then_mark(&self, markers: Vec<(String, Bytes)>) {
            self.0.lock().unwrap().extend(markers);
        }
    }

    #[test]
    fn marker_topics_match_their_filters() {
        for filter in ["sensors/#", "a/+/c", "plain/topic", "#", "+", "$share/g/x/+/y"] {
            let topic = marker_topic(filter);
            assert!(matches(&topic, strip_share(filter)), "{topic} does not match {filter}");
            assert!(!topic.contains(['+', '#']), "{topic}");
        }
        assert_eq!(marker_topic("$share/group/a/#"), "a/wasmgraph-drain");
    }

    #[test]
    fn a_drain_completes_when_every_copy_of_every_marker_came() {
        let broker = Recorder::default();
        // `a/#` also matches the marker of `a/+/c`: that one comes twice.
        let mut drain = Drain::start(&broker, &["a/#".into(), "a/+/c".into(), "b".into()]);
        let markers = broker.0.lock().unwrap().clone();
        assert_eq!(markers.len(), 3);
        assert_eq!(drain.missing(), 4);
        let numbers: Vec<usize> = markers.iter().map(|(_, p)| drain.marker(p).unwrap()).collect();
        assert_eq!(numbers, [0, 1, 2]);
        for i in [0, 1, 2] {
            drain.arrived(i);
        }
        assert!(!drain.complete(), "a/+/c's marker has a second copy to come");
        drain.arrived(1);
        assert!(drain.complete());
        assert!(!drain.overdue());
    }

    #[test]
    fn other_payloads_are_not_markers() {
        let broker = Recorder::default();
        let drain = Drain::start(&broker, &["t".into()]);
        assert_eq!(drain.marker(b"wasmgraph-drain 0000000000000000 0"), None, "another drain's token");
        assert_eq!(drain.marker(b"{\"temperature\": 1}"), None);
        let (_, payload) = broker.0.lock().unwrap()[0].clone();
        let mut wrong = payload.to_vec();
        *wrong.last_mut().unwrap() = b'7';
        assert_eq!(drain.marker(&wrong), None, "a number past the markers");
    }
}

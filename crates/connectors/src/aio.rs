//! The user properties Azure IoT Operations stamps on every message its data
//! flows publish, besides the time (`__ts`), so that consumers written for AIO
//! find them on ours too.
//!
//! AIO's documentation shows them on the output of a data flow graph run by its
//! local development host (`"__ts": "…", "__protVer": "1.0", "__srcId":
//! "mqtt-source"`): `__protVer` is the version of the message protocol, `1.0`;
//! `__srcId` names where the message was published from. AIO writes the name
//! of the data flow's source there; wasmgraph writes the pipeline's name (the
//! deployment's `metadata.name` or `name`, or the graph file's stem for
//! `wasmgraph run GRAPH`), the one name a sink knows.
//!
//! They describe the hop that published a message, not its data: sources take
//! incoming ones out (as they take `__ts` out), and sinks replace any that an
//! operator left in, so a message that passes through several graphs carries
//! one of each, never a pile.

/// The user property naming the protocol version of a published message.
pub const PROTOCOL_VERSION: &str = "__protVer";
/// The protocol version wasmgraph's sinks write, AIO's documented value.
pub const PROTOCOL_VERSION_VALUE: &str = "1.0";
/// The user property naming who published a message.
pub const SOURCE_ID: &str = "__srcId";

/// True for the properties a sink stamps itself (and a source takes out).
pub fn is_stamped(name: &str) -> bool {
    name == PROTOCOL_VERSION || name == SOURCE_ID
}

/// The properties a sink adds after `__ts`: `__protVer`, then `__srcId` when
/// the sink knows its pipeline's name.
pub fn stamp(source_id: Option<&str>) -> impl Iterator<Item = (&'static str, &str)> {
    std::iter::once((PROTOCOL_VERSION, PROTOCOL_VERSION_VALUE)).chain(source_id.map(|id| (SOURCE_ID, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_names_the_version_then_the_source() {
        let with: Vec<_> = stamp(Some("plant-graph")).collect();
        assert_eq!(with, vec![("__protVer", "1.0"), ("__srcId", "plant-graph")]);
        let without: Vec<_> = stamp(None).collect();
        assert_eq!(without, vec![("__protVer", "1.0")]);
        assert!(is_stamped("__srcId") && is_stamped("__protVer") && !is_stamped("__ts"));
    }
}

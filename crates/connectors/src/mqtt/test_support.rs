//! What the MQTT tests share.

use wasmgraph_types::DataModel;

use crate::Incoming;

/// Append the payloads of a polled batch to `got`, as text; the batch's
/// acknowledgement tokens, in order.
pub(crate) fn take_payloads(items: Vec<Incoming>, got: &mut Vec<String>) -> Vec<u64> {
    let tokens = items.iter().filter_map(|i| i.ack).collect();
    for item in items {
        let DataModel::Message(m) = item.data else { panic!("not a message") };
        got.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    tokens
}

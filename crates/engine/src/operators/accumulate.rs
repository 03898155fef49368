//! accumulate: all records of one record time are folded, in source order,
//! into one record that is emitted once, at that time, when the frontier
//! passes it. Records are grouped by their own time, never by the capability
//! they travel under (one capability carries a whole source poll).
//!
//! A keyed accumulate (see [`crate::PartitionKey`]) folds each (time, key)
//! group instead: one result per key and time, its records met on the worker
//! the key's hash picks.

use std::ops::Range;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator as _;
use wasmgraph_types::{DataModel, Hlc, Record};

use super::pending::Pending;
use super::{record_at, time_hash, Instance, NodeCtx, Records};
use crate::PartitionKey;

/// Records handed to the module per call; a time with more records takes
/// several calls, each continuing from the previous staged value.
pub(crate) const BATCH: usize = 1024;

/// `sequential`: the module shares state across calls (the state store), so
/// every time is folded on worker 0, one after another in time order (with a
/// `key`: each key's times on the worker of its key, in time order).
pub(crate) fn wasm_accumulate<'s>(
    stream: Records<'s>,
    ctx: NodeCtx,
    mut op: Instance,
    sequential: bool,
    key: Option<PartitionKey>,
) -> Records<'s> {
    let name = format!("WasmAccumulate({})", ctx.name);
    // Every record of a group (a time, or a time and key) meets on one
    // worker, so there is one result per group.
    let route = key.clone();
    let pact = Exchange::new(move |r: &Record| match &route {
        Some(key) => key.hash(r),
        None if sequential => 0,
        None => time_hash(r.time.as_time()),
    });
    stream.unary_frontier(pact, &name, move |_cap, _info| {
        let mut pending = Pending::default();
        move |(input, frontier), output| {
            let port = output.output_index();
            input.for_each(|cap, data| {
                ctx.received(data.len());
                pending.hold(&cap, port, data);
            });
            if let Some((cap, records)) = pending.take_ready(frontier) {
                // One result per group, each at its time; `cap` is at or
                // before the earliest of them, so all go out under it.
                let (records, groups) = groups(key.as_ref(), records);
                let mut session = output.session(&cap);
                let mut passed = 0;
                for group in groups {
                    if let Some(result) = fold(&mut op, &ctx, &records[group]) {
                        passed += 1;
                        session.give(result);
                    }
                }
                ctx.passed(passed);
            }
        }
    })
}

/// The groups of `records` (in record order) to fold: each time's records,
/// or with a key each (time, key)'s, as ranges of the returned records (which
/// keep record order within a group, so the fold does not depend on workers).
fn groups(key: Option<&PartitionKey>, records: Vec<Record>) -> (Vec<Record>, Vec<Range<usize>>) {
    let same_time = |a: &Record, b: &Record| a.time.as_time() == b.time.as_time();
    let Some(key) = key else {
        let ranges = ranges(&records, same_time);
        return (records, ranges);
    };
    let mut keyed: Vec<(Option<String>, Record)> =
        records.into_iter().map(|r| (key.of(&r).map(|k| k.into_owned()), r)).collect();
    // A stable sort: records of one group stay in record order.
    keyed.sort_by(|(ka, a), (kb, b)| a.time.as_time().cmp(&b.time.as_time()).then_with(|| ka.cmp(kb)));
    let (keys, records): (Vec<Option<String>>, Vec<Record>) = keyed.into_iter().unzip();
    let mut ranges = Vec::new();
    let mut start = 0;
    for i in 1..=records.len() {
        if i == records.len() || !same_time(&records[i - 1], &records[i]) || keys[i - 1] != keys[i] {
            ranges.push(start..i);
            start = i;
        }
    }
    (records, ranges)
}

/// Ranges of consecutive records for which `same` holds pairwise.
fn ranges(records: &[Record], same: impl Fn(&Record, &Record) -> bool) -> Vec<Range<usize>> {
    let mut start = 0;
    records
        .chunk_by(|a, b| same(a, b))
        .map(|chunk| {
            let range = start..start + chunk.len();
            start = range.end;
            range
        })
        .collect()
}

/// Fold one group's records. A failed call skips its batch (reported as failed)
/// and the fold continues from the last good staged value; with no good call at
/// all there is nothing to emit.
fn fold(op: &mut Instance, ctx: &NodeCtx, records: &[Record]) -> Option<Record> {
    let first = records.first()?;
    let time: Hlc = first.time.clone();
    let seq = first.seq;
    let mut staged = DataModel::empty_message(time.clone());
    let mut any = false;
    for batch in records.chunks(BATCH) {
        match op.accumulate(staged.clone(), batch) {
            Ok(next) => {
                staged = next;
                any = true;
            }
            Err(failure) => ctx.failed(failure, batch),
        }
    }
    if !any {
        return None;
    }
    Some(record_at(time, seq, staged))
}

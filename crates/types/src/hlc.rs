//! Hybrid logical clock times.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A hybrid logical clock reading: physical time since the Unix epoch in
/// nanoseconds, a counter that orders readings with the same physical time, and
/// the node that made it.
///
/// Ordering looks at (`nanos`, `counter`) only; the node id says where a time came
/// from but never changes which of two times is earlier. [`Hlc::as_time`] packs
/// the ordered part into the `u128` that the engine uses as its timely timestamp.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hlc {
    /// Nanoseconds since the Unix epoch.
    pub nanos: u64,
    /// Orders readings that share `nanos`.
    pub counter: u64,
    /// The node that made the reading.
    pub node_id: Arc<str>,
}

impl Hlc {
    /// A reading from its parts.
    pub fn new(nanos: u64, counter: u64, node_id: impl Into<Arc<str>>) -> Self {
        Hlc { nanos, counter, node_id: node_id.into() }
    }

    /// The totally ordered engine time of this reading: physical time in the
    /// high 64 bits, counter in the low 64.
    pub fn as_time(&self) -> u128 {
        ((self.nanos as u128) << 64) | self.counter as u128
    }

    /// The reading for an engine time, with the given node id.
    pub fn from_time(time: u128, node_id: impl Into<Arc<str>>) -> Self {
        Hlc { nanos: (time >> 64) as u64, counter: time as u64, node_id: node_id.into() }
    }

    /// Seconds and nanoseconds since the epoch, as the WIT `timespec` holds them.
    pub fn secs_nanos(&self) -> (u64, u32) {
        (self.nanos / 1_000_000_000, (self.nanos % 1_000_000_000) as u32)
    }

    /// The reading for a WIT `timespec` plus counter. Seconds past what fits in
    /// `u64` nanoseconds (year 2554) saturate.
    pub fn from_secs_nanos(secs: u64, nanos: u32, counter: u64, node_id: impl Into<Arc<str>>) -> Self {
        let total = secs.saturating_mul(1_000_000_000).saturating_add(nanos as u64);
        Hlc { nanos: total, counter, node_id: node_id.into() }
    }

    /// Parse the `__ts` wire form `<milliseconds since epoch>:<counter>:<node id>`.
    pub fn parse_wire(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let millis: u64 = parts.next()?.trim().parse().ok()?;
        let counter: u64 = parts.next()?.trim().parse().ok()?;
        let node = parts.next().unwrap_or("");
        Some(Hlc { nanos: millis.checked_mul(1_000_000)?, counter, node_id: node.into() })
    }

    /// The `__ts` wire form `<milliseconds since epoch>:<counter>:<node id>`.
    pub fn to_wire(&self) -> String {
        format!("{}:{}:{}", self.nanos / 1_000_000, self.counter, self.node_id)
    }

    /// RFC 3339 text of the physical part, in UTC with nanoseconds.
    pub fn to_rfc3339(&self) -> String {
        let secs = (self.nanos / 1_000_000_000) as i64;
        let sub = self.nanos % 1_000_000_000;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{sub:09}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
    }
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's civil-from-days algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl PartialEq for Hlc {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos && self.counter == other.counter
    }
}
impl Eq for Hlc {}
impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.nanos, self.counter).cmp(&(other.nanos, other.counter))
    }
}

/// A clock that hands out hybrid logical clock readings which never go backwards,
/// even when the wall clock does, and which move past every time it has observed
/// from elsewhere (a message's own `__ts`).
#[derive(Debug)]
pub struct HlcClock {
    node_id: Arc<str>,
    last_nanos: u64,
    last_counter: u64,
}

impl HlcClock {
    /// A clock for `node_id`.
    pub fn new(node_id: impl Into<Arc<str>>) -> Self {
        HlcClock { node_id: node_id.into(), last_nanos: 0, last_counter: 0 }
    }

    /// The node id this clock stamps.
    pub fn node_id(&self) -> &Arc<str> {
        &self.node_id
    }

    /// A fresh reading from the wall clock, later than every earlier reading.
    pub fn now(&mut self) -> Hlc {
        self.tick(wall_nanos())
    }

    /// A reading at physical time `nanos`, later than every earlier reading.
    /// A counter at its maximum (a message's `__ts` may carry any counter)
    /// carries into the next nanosecond instead of wrapping back in time.
    pub fn tick(&mut self, nanos: u64) -> Hlc {
        if nanos > self.last_nanos {
            self.last_nanos = nanos;
            self.last_counter = 0;
        } else if let Some(next) = self.last_counter.checked_add(1) {
            self.last_counter = next;
        } else {
            self.last_nanos = self.last_nanos.saturating_add(1);
            self.last_counter = 0;
        }
        Hlc { nanos: self.last_nanos, counter: self.last_counter, node_id: self.node_id.clone() }
    }

    /// Take `seen` as a record's time when it is later than anything handed out
    /// so far (keeping its node id), else a fresh reading just after the last one.
    pub fn observe(&mut self, seen: &Hlc) -> Hlc {
        if (seen.nanos, seen.counter) > (self.last_nanos, self.last_counter) {
            self.last_nanos = seen.nanos;
            self.last_counter = seen.counter;
            seen.clone()
        } else {
            self.tick(self.last_nanos)
        }
    }

    /// The latest reading handed out.
    pub fn last(&self) -> Hlc {
        Hlc { nanos: self.last_nanos, counter: self.last_counter, node_id: self.node_id.clone() }
    }
}

/// Nanoseconds since the Unix epoch by the wall clock (0 if the clock is before it).
pub fn wall_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_time_orders_like_the_clock() {
        let a = Hlc::new(5, 9, "a");
        let b = Hlc::new(6, 0, "b");
        assert!(a.as_time() < b.as_time());
        assert_eq!(Hlc::from_time(a.as_time(), "a"), a);
    }

    #[test]
    fn wire_form_round_trips() {
        let h = Hlc::parse_wire("1700000000123:7:node-1").unwrap();
        assert_eq!(h.nanos, 1_700_000_000_123_000_000);
        assert_eq!(h.counter, 7);
        assert_eq!(&*h.node_id, "node-1");
        assert_eq!(h.to_wire(), "1700000000123:7:node-1");
        assert!(Hlc::parse_wire("nope").is_none());
        assert!(Hlc::parse_wire("12:x:n").is_none());
    }

    #[test]
    fn clock_never_goes_backwards() {
        let mut c = HlcClock::new("n");
        let a = c.tick(100);
        let b = c.tick(50);
        assert!(b > a);
        let seen = c.observe(&Hlc::new(10, 0, "x"));
        assert!(seen > b);
        let ahead = c.observe(&Hlc::new(1000, 3, "x"));
        assert_eq!((ahead.nanos, ahead.counter), (1000, 3));
    }

    #[test]
    fn a_counter_at_its_maximum_carries_instead_of_wrapping() {
        let mut c = HlcClock::new("n");
        let seen = c.observe(&Hlc::new(1000, u64::MAX, "x"));
        let next = c.tick(5);
        assert!(next > seen, "{next:?} after {seen:?}");
        assert_eq!((next.nanos, next.counter), (1001, 0));
    }

    #[test]
    fn rfc3339() {
        assert_eq!(Hlc::new(0, 0, "").to_rfc3339(), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(Hlc::new(1_700_000_000_500_000_000, 0, "").to_rfc3339(), "2023-11-14T22:13:20.500000000Z");
    }
}

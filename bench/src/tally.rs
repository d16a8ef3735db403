//! What one generator thread saw: the latency histogram, errors, departures, other lines.
//! Each thread keeps its own, without locks; the conductor merges them at the end.

use std::collections::BTreeMap;
use std::fmt::Display;

use hdrhistogram::Histogram;

/// The largest latency the histogram tells apart, in microseconds (one hour); longer ones
/// are recorded as this.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Distinct error texts kept; further kinds are counted under one "other errors" entry.
const MAX_ERROR_KINDS: usize = 32;

/// One thread's observations.
#[derive(Debug, Clone)]
pub struct Tally {
    /// End-to-end latency of every measured delivery, in microseconds, three significant digits.
    pub latency: Histogram<u64>,
    /// Of those, the deliveries of the shared room's messages (`--shared-room`).
    pub shared_latency: Histogram<u64>,
    /// Errors by description, with how often each happened.
    pub errors: BTreeMap<String, u64>,
    /// Who the server announced as gone during the run (`QUIT`, or `LEAVE` of a room),
    /// and why and when.
    pub departures: BTreeMap<String, Departure>,
    /// Lines that were neither deliveries, joins, leaves nor pings.
    pub other_lines: u64,
    /// `PING`s answered.
    pub pongs: u64,
}

/// One departure the server announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    /// The reason given.
    pub reason: String,
    /// When it was first heard, in microseconds since the epoch.
    pub at_us: u64,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally {
            latency: histogram(),
            shared_latency: histogram(),
            errors: BTreeMap::new(),
            departures: BTreeMap::new(),
            other_lines: 0,
            pongs: 0,
        }
    }

    /// Counts one error under its description.
    pub fn error(&mut self, what: impl Display) {
        let what = what.to_string();
        let key = if self.errors.len() < MAX_ERROR_KINDS || self.errors.contains_key(&what) {
            what
        } else {
            "other errors".to_string()
        };
        *self.errors.entry(key).or_insert(0) += 1;
    }

    /// Adds another thread's observations to these.
    pub fn merge(&mut self, other: Tally) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.shared_latency.add(&other.shared_latency);
        for (what, count) in other.errors {
            *self.errors.entry(what).or_insert(0) += count;
        }
        for (nick, departure) in other.departures {
            let earliest = self.departures.entry(nick).or_insert_with(|| departure.clone());
            if departure.at_us < earliest.at_us {
                *earliest = departure;
            }
        }
        self.other_lines += other.other_lines;
        self.pongs += other.pongs;
    }
}

/// An empty latency histogram: microseconds, three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant histogram bounds are valid")
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_everything() {
        let mut a = Tally::new();
        let mut b = Tally::new();
        a.latency.saturating_record(100);
        b.latency.saturating_record(300);
        b.error("boom");
        let reason = "send queue full".to_string();
        b.departures.insert("b1".into(), Departure { reason, at_us: 5 });
        a.merge(b);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.errors.get("boom"), Some(&1));
        assert_eq!(a.departures.len(), 1);
    }

    #[test]
    fn error_kinds_are_capped() {
        let mut tally = Tally::new();
        for i in 0..MAX_ERROR_KINDS + 5 {
            tally.error(i);
        }
        assert_eq!(tally.errors.len(), MAX_ERROR_KINDS + 1);
        assert_eq!(tally.errors.get("other errors"), Some(&5));
    }
}

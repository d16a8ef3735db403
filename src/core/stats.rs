//! What the core counts as it runs: its rooms, their members, and the batches rooms hand
//! to their members. Plain relaxed atomics, so the core depends on no metrics library and
//! a flush pays three adds; whoever reports on them reads them when asked.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The upper bounds of the batch-size buckets, in events: powers of two up to 4096. A
/// last bucket, past them, takes the rest.
pub const BATCH_BOUNDS: [u64; 13] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/// How many buckets batch sizes fall into: one per bound, and one for bigger batches.
const BUCKETS: usize = BATCH_BOUNDS.len() + 1;

/// The core's counters, shared by the chat and every room in it.
#[derive(Debug, Default)]
pub struct Stats {
    /// Rooms that exist now.
    rooms: AtomicUsize,
    /// Memberships now: each person counts once per room they are in.
    members: AtomicUsize,
    /// Events handed to members' queues, each counted once per member it reached.
    deliveries: AtomicU64,
    /// Events in all the batches flushed so far, for the mean batch size.
    batched: AtomicU64,
    /// Batches flushed so far, by size: bucket `i` holds those of at most
    /// `BATCH_BOUNDS[i]` events and more than the bound before.
    batches: [AtomicU64; BUCKETS],
}

/// Batch sizes as they stood when read, for a histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSizes {
    /// Batches in each bucket (not cumulative): one per bound of [`BATCH_BOUNDS`], then
    /// those bigger than the last.
    pub buckets: [u64; BUCKETS],
    /// Events in all of them.
    pub events: u64,
}

impl BatchSizes {
    /// How many batches were flushed.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

impl Stats {
    /// How many rooms exist.
    pub fn rooms(&self) -> usize {
        self.rooms.load(Ordering::Relaxed)
    }

    /// How many memberships there are: people in rooms, each once per room.
    pub fn members(&self) -> usize {
        self.members.load(Ordering::Relaxed)
    }

    /// How many events rooms have handed to their members' queues, once per member.
    pub fn deliveries(&self) -> u64 {
        self.deliveries.load(Ordering::Relaxed)
    }

    /// The sizes of the batches flushed so far.
    pub fn batch_sizes(&self) -> BatchSizes {
        let buckets = std::array::from_fn(|i| self.batches[i].load(Ordering::Relaxed));
        BatchSizes { buckets, events: self.batched.load(Ordering::Relaxed) }
    }

    /// A room was made.
    pub(super) fn room_made(&self) {
        self.rooms.fetch_add(1, Ordering::Relaxed);
    }

    /// A room was removed (emptied, or closed at shutdown).
    pub(super) fn room_gone(&self) {
        self.rooms.fetch_sub(1, Ordering::Relaxed);
    }

    /// `count` memberships began.
    pub(super) fn joined(&self, count: usize) {
        self.members.fetch_add(count, Ordering::Relaxed);
    }

    /// `count` memberships ended.
    pub(super) fn left(&self, count: usize) {
        self.members.fetch_sub(count, Ordering::Relaxed);
    }

    /// A room flushed a batch of `events`, which reached its members `delivered` times in
    /// all.
    pub(super) fn flushed(&self, events: usize, delivered: usize) {
        self.batches[bucket(events)].fetch_add(1, Ordering::Relaxed);
        self.batched.fetch_add(events as u64, Ordering::Relaxed);
        self.delivered(delivered);
    }

    /// Events reached members `count` times outside a batch (the tail a leaving member
    /// is owed).
    pub(super) fn delivered(&self, count: usize) {
        if count > 0 {
            self.deliveries.fetch_add(count as u64, Ordering::Relaxed);
        }
    }
}

/// The bucket a batch of `events` falls into: the first bound at or above it.
fn bucket(events: usize) -> usize {
    // The bounds are the powers of two, so the bucket is the bit length of `events - 1`.
    let bits = (usize::BITS - events.saturating_sub(1).leading_zeros()) as usize;
    bits.min(BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_falls_in_the_first_bucket_whose_bound_holds_it() {
        for events in 0..=5000usize {
            let expected = BATCH_BOUNDS
                .iter()
                .position(|&bound| events as u64 <= bound)
                .unwrap_or(BATCH_BOUNDS.len());
            assert_eq!(bucket(events), expected, "{events} events");
        }
    }

    #[test]
    fn flushes_count_batches_events_and_deliveries() {
        let stats = Stats::default();
        stats.flushed(1, 3);
        stats.flushed(3, 0);
        stats.flushed(10_000, 20_000);
        stats.delivered(2);
        let sizes = stats.batch_sizes();
        assert_eq!(sizes.count(), 3);
        assert_eq!(sizes.events, 10_004);
        assert_eq!((sizes.buckets[0], sizes.buckets[2], sizes.buckets[BUCKETS - 1]), (1, 1, 1));
        assert_eq!(stats.deliveries(), 20_005);
    }
}

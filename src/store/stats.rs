//! What the store has done, counted in plain atomics that the writer thread adds to and
//! anyone (the benchmark, `/metrics`) reads without a lock.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tracing::warn;

/// How often at most a full queue is logged, in milliseconds, so that an overload does not
/// also flood the log.
const WARN_EVERY_MS: u64 = 1_000;

/// A snapshot of the store's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Transactions committed.
    pub commits: u64,
    /// Changes committed: things said, accounts and rooms.
    pub changes: u64,
    /// History records committed (things said).
    pub history_written: u64,
    /// Changes dropped because the queue to the writer was full (or it had stopped).
    pub dropped: u64,
    /// The size of the store's file, in bytes.
    pub file_bytes: u64,
    /// How long the last commit took, its fsync included.
    pub last_commit: Duration,
}

/// The counters behind [`StoreStats`], shared by the store and its writer thread.
#[derive(Debug)]
pub(super) struct Counters {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Changes committed.
    pub changes: AtomicU64,
    /// History records committed.
    pub history: AtomicU64,
    /// Changes dropped.
    pub dropped: AtomicU64,
    /// The last commit's duration, in microseconds.
    pub last_commit_micros: AtomicU64,
    /// Changes handed over and not yet taken by the writer.
    queued: AtomicUsize,
    /// When the next dropped change may be logged, in milliseconds after `started`.
    next_warning: AtomicU64,
    /// What `next_warning` counts from.
    started: Instant,
}

impl Counters {
    /// All zero.
    pub fn new() -> Counters {
        Counters {
            commits: AtomicU64::new(0),
            changes: AtomicU64::new(0),
            history: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last_commit_micros: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            next_warning: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Counts a committed transaction of `changes` changes, `history` of them things said.
    pub fn committed(&self, changes: u64, history: u64, took: Duration) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.changes.fetch_add(changes, Ordering::Relaxed);
        self.history.fetch_add(history, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_commit_micros.store(micros, Ordering::Relaxed);
    }

    /// Counts a change into the queue, unless `max` are waiting already.
    pub fn queue(&self, max: usize) -> bool {
        if self.queued.fetch_add(1, Ordering::Relaxed) < max {
            return true;
        }
        self.unqueued();
        false
    }

    /// Counts a change out of the queue.
    pub fn unqueued(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a change that was not taken, and says so at most once per [`WARN_EVERY_MS`].
    pub fn dropped(&self, queue_full: bool) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = self.next_warning.load(Ordering::Relaxed);
        let next = now.saturating_add(WARN_EVERY_MS);
        // Only the one caller that moves the deadline on logs.
        if now < due
            || self
                .next_warning
                .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if queue_full {
            warn!(dropped, "the store's queue is full: changes are not being kept");
        } else {
            warn!(dropped, "the store has stopped: changes are not being kept");
        }
    }

    /// Changes dropped so far.
    pub fn dropped_so_far(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// A snapshot, with the file's size as given.
    pub fn snapshot(&self, file_bytes: u64) -> StoreStats {
        StoreStats {
            commits: self.commits.load(Ordering::Relaxed),
            changes: self.changes.load(Ordering::Relaxed),
            history_written: self.history.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            file_bytes,
            last_commit: Duration::from_micros(self.last_commit_micros.load(Ordering::Relaxed)),
        }
    }
}

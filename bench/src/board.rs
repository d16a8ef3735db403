//! The scoreboard every generator thread writes and the conductor reads: counts and the
//! measured window, all atomics, touched once per read chunk or send batch, never per line.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counters shared by the generator threads and the conductor.
#[derive(Debug)]
pub struct Board {
    /// Time zero of every stamp.
    pub epoch: Instant,
    /// Clients in the room.
    pub welcomed: AtomicUsize,
    /// Clients in the room that read (not `--no-read`): the fan-out of each message.
    pub welcomed_readers: AtomicUsize,
    /// Clients that failed to join.
    pub failed: AtomicUsize,
    /// Every message delivery seen, warmup included: the timeline and progress bar.
    pub delivered: AtomicU64,
    /// `JOIN` announcements received by all clients together.
    pub joins: AtomicU64,
    /// Deliveries of messages sent inside the measured window.
    pub received: AtomicU64,
    /// Messages sent inside the measured window.
    pub sent: AtomicU64,
    /// Deliveries owed for the messages sent inside the window: `sent` times the readers.
    pub expected: AtomicU64,
    /// Set when the run is over: the clients' own departures are not the server's doing.
    pub over: AtomicBool,
    /// Senders still sending; the counts are final only once this is back to zero.
    pub sending: AtomicUsize,
    /// When sending started (the go signal), in microseconds since `epoch`.
    go_us: AtomicU64,
    /// Start of the measured window, in microseconds since `epoch`.
    window_start_us: AtomicU64,
    /// End of the measured window (exclusive); nothing is sent from then on.
    window_end_us: AtomicU64,
}

impl Board {
    /// A fresh board; the window is closed (empty) until [`Board::open_window`].
    pub fn new() -> Board {
        Board {
            epoch: Instant::now(),
            welcomed: AtomicUsize::new(0),
            welcomed_readers: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            delivered: AtomicU64::new(0),
            joins: AtomicU64::new(0),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            sending: AtomicUsize::new(0),
            over: AtomicBool::new(false),
            go_us: AtomicU64::new(0),
            window_start_us: AtomicU64::new(u64::MAX),
            window_end_us: AtomicU64::new(0),
        }
    }

    /// Microseconds since the epoch, now.
    pub fn now_us(&self) -> u64 {
        micros(self.epoch.elapsed())
    }

    /// The instant `us` microseconds after the epoch.
    pub fn instant_at(&self, us: u64) -> Instant {
        self.epoch + Duration::from_micros(us)
    }

    /// Sets the measured window: from `warmup` after now, for `duration`.
    pub fn open_window(&self, warmup: Duration, duration: Duration) {
        let go = self.now_us();
        self.go_us.store(go, Ordering::Release);
        let start = go.saturating_add(micros(warmup));
        self.window_start_us.store(start, Ordering::Release);
        self.window_end_us.store(start.saturating_add(micros(duration)), Ordering::Release);
    }

    /// The measured window, `[start, end)` in microseconds since the epoch.
    pub fn window(&self) -> (u64, u64) {
        (self.window_start_us.load(Ordering::Acquire), self.window_end_us.load(Ordering::Acquire))
    }

    /// When sending started, in microseconds since the epoch.
    pub fn go_us(&self) -> u64 {
        self.go_us.load(Ordering::Acquire)
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl Default for Board {
    fn default() -> Board {
        Board::new()
    }
}

/// A duration in whole microseconds, saturating.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

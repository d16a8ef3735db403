//! The scoreboard every generator thread writes and the conductor reads: counts and the
//! measured window, all atomics, touched once per read chunk or send batch, never per line.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::rooms::Venue;

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
    /// Deliveries owed for the messages sent inside the window: each message times the
    /// readers of the room it was said in.
    pub expected: AtomicU64,
    /// Clients that joined each of the rooms `#r0..` (with `--rooms`).
    pub room_members: Vec<AtomicUsize>,
    /// Of those, the ones that read: the fan-out of a message in that room.
    pub room_readers: Vec<AtomicUsize>,
    /// Of `sent`, the messages said in the shared room (`--shared-room`).
    pub shared_sent: AtomicU64,
    /// Of `expected`, the deliveries owed for those.
    pub shared_expected: AtomicU64,
    /// Of `received`, the deliveries of those.
    pub shared_received: AtomicU64,
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
    /// A fresh board for a run with `rooms` rooms (0 when everyone stays in the default
    /// room); the window is closed (empty) until [`Board::open_window`].
    pub fn new(rooms: usize) -> Board {
        let counters = || (0..rooms).map(|_| AtomicUsize::new(0)).collect();
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
            room_members: counters(),
            room_readers: counters(),
            shared_sent: AtomicU64::new(0),
            shared_expected: AtomicU64::new(0),
            shared_received: AtomicU64::new(0),
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

    /// Counts a client in: into the run, into room `room` if it has one, and as a reader
    /// unless it is silent. `joins` are the announcements it heard while entering its rooms.
    pub fn welcome(&self, room: Option<usize>, reads: bool, joins: u64) {
        let count_in = |counters: &[AtomicUsize]| {
            if let Some(counter) = room.and_then(|room| counters.get(room)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        };
        self.welcomed.fetch_add(1, Ordering::Relaxed);
        count_in(&self.room_members);
        if reads {
            self.welcomed_readers.fetch_add(1, Ordering::Relaxed);
            count_in(&self.room_readers);
        }
        Board::add(&self.joins, joins);
    }

    /// How many readers are at `venue`, the sender among them: everyone in the default or
    /// the shared room, the room's own readers in a room. A message said there is owed to
    /// all of them where the server echoes, and to all but its sender where it does not.
    pub fn readers_at(&self, venue: Venue) -> u64 {
        let readers = match venue {
            Venue::Default | Venue::Shared => &self.welcomed_readers,
            Venue::Room(n) => match self.room_readers.get(n) {
                Some(readers) => readers,
                None => return 0,
            },
        };
        readers.load(Ordering::Relaxed) as u64
    }

    /// Clients that joined each room, as counted so far.
    pub fn room_members(&self) -> Vec<usize> {
        self.room_members.iter().map(|members| members.load(Ordering::Relaxed)).collect()
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
        Board::new(0)
    }
}

/// A duration in whole microseconds, saturating.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_owed_to_the_readers_of_its_room() {
        let board = Board::new(2);
        board.welcome(Some(0), true, 0);
        board.welcome(Some(1), true, 3);
        board.welcome(Some(0), true, 1);
        board.welcome(Some(0), false, 0);
        assert_eq!(board.readers_at(Venue::Room(0)), 2);
        assert_eq!(board.readers_at(Venue::Room(1)), 1);
        assert_eq!(board.readers_at(Venue::Room(7)), 0);
        assert_eq!(board.readers_at(Venue::Shared), 3);
        assert_eq!(board.room_members(), [3, 1]);
        assert_eq!(Board::get(&board.joins), 4);
    }

    #[test]
    fn without_rooms_everyone_reads_the_default_room() {
        let board = Board::default();
        board.welcome(None, true, 0);
        board.welcome(None, false, 0);
        assert_eq!(board.readers_at(Venue::Default), 1);
        assert!(board.room_members().is_empty());
    }
}

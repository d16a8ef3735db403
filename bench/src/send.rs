//! One sender: waits for the go signal, then writes stamped messages at the planned rate, or
//! as fast as its window of unseen messages allows, until the measured window ends. In the
//! chat protocol's default room a message is plain text; in a run with rooms it is
//! `/msg #room text`, so it goes to the sender's room whichever room is current. Over IRC it
//! is `PRIVMSG #channel :text`.

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_lock::Mutex;
use smol::Timer;

use super::board::Board;
use super::connection::Connection;
use super::message::{encode_text, Stamp};
use super::rooms::Venue;
use super::shard::Shard;

/// Spaces one sender's messages `1 / rate` apart, senders staggered within the interval.
struct Pacer {
    /// When the next message is due.
    next: Instant,
    /// The time between two messages.
    interval: Duration,
}

impl Pacer {
    fn new(rate: f64, sender: u32, senders: usize) -> Pacer {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let phase = interval.mul_f64(f64::from(sender) / senders.max(1) as f64);
        Pacer { next: Instant::now() + phase, interval }
    }

    /// Waits until the next message is due. Open loop: a late tick does not push later
    /// ones back, so a slow server gets the same offered load.
    async fn tick(&mut self) {
        Timer::at(self.next).await;
        self.next += self.interval;
    }
}

/// Counts a sender as sending while it lives, however its loop ends.
struct Sending<'a>(&'a Board);

impl<'a> Sending<'a> {
    fn start(board: &'a Board) -> Sending<'a> {
        board.sending.fetch_add(1, Ordering::Relaxed);
        Sending(board)
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.0.sending.fetch_sub(1, Ordering::Release);
    }
}

/// Sends until the measured window ends, writing under `writing`, the socket's one writer
/// at a time. Returns early, without error, if the credits channel closes: the witness's
/// receive side has ended and reports why.
pub async fn send(
    shard: &Shard,
    stream: &Connection,
    writing: &Mutex<()>,
    sender: u32,
    credits: Option<async_channel::Receiver<()>>,
) -> io::Result<()> {
    let _ = shard.signals.go.recv().await;
    let plan = &shard.plan;
    let board = &shard.board;
    let _sending = Sending::start(board);
    let (start, end) = board.window();
    let venue = plan.venue_of(sender as usize);
    // The sender reads too, but a server that does not echo never sends it its own.
    let readers = board.readers_at(venue).saturating_sub(u64::from(!plan.protocol.echoes()));
    let (prefix, line_end) = plan.protocol.framing(venue);
    let mut pacer = plan.rate.map(|rate| Pacer::new(rate, sender, plan.talkers()));
    // Paced senders send one message per tick; the others all their window allows.
    let most_at_once = if pacer.is_some() { 1 } else { plan.window.unwrap_or(1) };
    let mut seq = 0;
    let mut batch = Vec::new();
    loop {
        if let Some(pacer) = &mut pacer {
            pacer.tick().await;
        }
        let count = match &credits {
            Some(credits) => match take_credits(credits, most_at_once).await {
                Some(count) => count,
                None => return Ok(()),
            },
            None => 1,
        };
        let sent_us = board.now_us();
        if sent_us >= end {
            return Ok(());
        }
        batch.clear();
        for _ in 0..count {
            batch.extend_from_slice(&prefix);
            encode_text(&mut batch, Stamp { sender, seq, sent_us }, plan.size);
            batch.extend_from_slice(line_end);
            seq += 1;
        }
        let writer = writing.lock().await;
        stream.write_all(&batch).await?;
        drop(writer);
        if sent_us >= start {
            count_sent(board, venue, u64::from(count), readers);
        }
    }
}

/// Counts `count` messages sent inside the window, each owed to `readers`.
fn count_sent(board: &Board, venue: Venue, count: u64, readers: u64) {
    Board::add(&board.sent, count);
    Board::add(&board.expected, count * readers);
    if venue == Venue::Shared {
        Board::add(&board.shared_sent, count);
        Board::add(&board.shared_expected, count * readers);
    }
}

/// Waits for one credit, then takes what else is there, up to `most`; `None` once the
/// channel is closed.
async fn take_credits(credits: &async_channel::Receiver<()>, most: u32) -> Option<u32> {
    credits.recv().await.ok()?;
    let mut count = 1;
    while count < most && credits.try_recv().is_ok() {
        count += 1;
    }
    Some(count)
}

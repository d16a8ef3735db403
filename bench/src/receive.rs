//! The hot receive path: read a socket in large chunks into the thread's one buffer
//! (decrypted first over TLS, unframed over WebSocket), find lines with `memchr`, and count
//! each delivery and its latency. No allocation per line, one clock read and one atomic
//! update per chunk.

use std::fmt;
use std::io;
use std::mem;
use std::sync::atomic::Ordering;

use async_lock::Mutex;
use futures_lite::future;

use super::board::Board;
use super::connection::{Connection, Got};
use super::message::Line;
use super::protocol::Protocol;
use super::shard::Shard;
use super::tally::{Departure, Tally};
use super::window::Witness;

/// Reads of one socket before giving the other clients on the thread a turn.
const READS_PER_TURN: usize = 4;

/// The longest line kept while waiting for its end; the server's are far shorter.
const MAX_LINE: usize = 1 << 20;

/// Who is reading, as far as the receive path cares.
#[derive(Debug)]
pub struct Me {
    /// The senders whose messages this reader returns credits for (the `--inflight`
    /// window): a sender itself where the server echoes, another reader over IRC.
    pub witnessing: Vec<Witness>,
    /// Whether to answer the server's `PING` (a client that never sends would be dropped).
    pub answers_pings: bool,
}

/// Why a receive loop ended before the stop signal.
#[derive(Debug)]
pub enum Ended {
    /// The server closed the connection.
    Closed,
    /// Reading or answering failed.
    Failed(io::Error),
    /// A line grew past [`MAX_LINE`] without ending.
    LineTooLong,
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Closed => write!(f, "disconnected by the server"),
            Ended::Failed(error) => write!(f, "receive failed: {error}"),
            Ended::LineTooLong => write!(f, "server line longer than {MAX_LINE} bytes"),
        }
    }
}

/// What one client's reading keeps between chunks.
struct Inbox {
    /// Who is reading.
    me: Me,
    /// The start of a line whose end has not arrived yet.
    carry: Vec<u8>,
    /// `PING` tokens to answer once the buffer is released.
    pings: Vec<Vec<u8>>,
}

/// What happened in one turn of reading.
enum Turn {
    /// The socket has nothing more for now.
    Drained,
    /// The turn's reads are used up; there may be more.
    Busy,
    /// The connection ended.
    Ended(Ended),
}

/// One chunk's context and sums, published to the board once per chunk.
struct Chunk<'a> {
    /// Where the sums go.
    board: &'a Board,
    /// When the chunk arrived, in microseconds since the epoch.
    now_us: u64,
    /// The measured window, `[start, end)`.
    window: (u64, u64),
    /// Message deliveries in the chunk.
    delivered: u64,
    /// Of those, the ones sent inside the measured window.
    received: u64,
    /// The shared room's sender, whose deliveries are also counted apart.
    shared: Option<u32>,
    /// Of `received`, the shared room's.
    shared_received: u64,
    /// `JOIN` announcements in the chunk.
    joins: u64,
    /// How to read the lines.
    protocol: Protocol,
}

/// Reads the room's traffic for one client until the connection ends. Answers to pings
/// are written under `writing`, the socket's one writer at a time.
pub async fn receive(
    shard: &Shard,
    stream: &Connection,
    writing: &Mutex<()>,
    leftover: Vec<u8>,
    me: Me,
) -> Ended {
    let mut inbox = Inbox { me, carry: Vec::new(), pings: Vec::new() };
    if let Err(ended) = take_chunk(shard, &mut inbox, &leftover) {
        return ended;
    }
    loop {
        let turn = read_turn(shard, stream, &mut inbox);
        for token in mem::take(&mut inbox.pings) {
            let answer = shard.plan.protocol.pong(&token);
            let _writer = writing.lock().await;
            if let Err(error) = stream.write_all(&answer).await {
                return Ended::Failed(error);
            }
        }
        // Below the lines, a WebSocket's pongs and its reply to a close.
        if stream.owes_answers() {
            let _writer = writing.lock().await;
            if let Err(error) = stream.answer().await {
                return Ended::Failed(error);
            }
        }
        match turn {
            Turn::Busy => future::yield_now().await,
            Turn::Drained => {
                if let Err(error) = stream.readable().await {
                    return Ended::Failed(error);
                }
            }
            Turn::Ended(ended) => return ended,
        }
    }
}

/// Reads and digests up to [`READS_PER_TURN`] chunks without waiting.
fn read_turn(shard: &Shard, stream: &Connection, inbox: &mut Inbox) -> Turn {
    let mut scratch = shard.scratch.borrow_mut();
    for _ in 0..READS_PER_TURN {
        let (n, drained) = match stream.try_read(&mut scratch) {
            Ok(Got::Bytes { len, drained }) => (len, drained),
            Ok(Got::Nothing) => return Turn::Drained,
            Ok(Got::Closed) => return Turn::Ended(Ended::Closed),
            Err(error) => return Turn::Ended(Ended::Failed(error)),
        };
        if let Err(ended) = take_chunk(shard, inbox, &scratch.plain[..n]) {
            return Turn::Ended(ended);
        }
        // A short read emptied the socket: skip the read that would only say WouldBlock.
        // Nothing is missed: waiting re-arms the level-triggered poller, which reports
        // bytes that arrived in between at once (and over TLS nothing decrypted is left
        // behind in rustls).
        if drained {
            return Turn::Drained;
        }
    }
    Turn::Busy
}

/// Digests one chunk: finishes the carried line, takes every whole line, carries the rest.
fn take_chunk(shard: &Shard, inbox: &mut Inbox, chunk: &[u8]) -> Result<(), Ended> {
    let board = &shard.board;
    let mut chunk_sums = Chunk {
        board,
        now_us: board.now_us(),
        window: board.window(),
        delivered: 0,
        received: 0,
        shared: shard.plan.shared_sender().and_then(|s| u32::try_from(s).ok()),
        shared_received: 0,
        joins: 0,
        protocol: shard.plan.protocol,
    };
    let mut tally = shard.tally.borrow_mut();
    let mut rest = chunk;
    if !inbox.carry.is_empty() {
        let Some(end) = memchr::memchr(b'\n', rest) else {
            return carry(inbox, rest);
        };
        let mut line = mem::take(&mut inbox.carry);
        line.extend_from_slice(&rest[..end]);
        take_line(&line, &mut chunk_sums, inbox, &mut tally);
        line.clear();
        inbox.carry = line;
        rest = &rest[end + 1..];
    }
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', rest) {
        take_line(&rest[start..end], &mut chunk_sums, inbox, &mut tally);
        start = end + 1;
    }
    publish(&chunk_sums, inbox);
    carry(inbox, &rest[start..])
}

/// Keeps the start of an unfinished line.
fn carry(inbox: &mut Inbox, partial: &[u8]) -> Result<(), Ended> {
    if inbox.carry.len() + partial.len() > MAX_LINE {
        return Err(Ended::LineTooLong);
    }
    inbox.carry.extend_from_slice(partial);
    Ok(())
}

/// Accounts for one line.
fn take_line(line: &[u8], chunk: &mut Chunk<'_>, inbox: &mut Inbox, tally: &mut Tally) {
    match chunk.protocol.classify(line) {
        Line::Delivery(stamp) => {
            chunk.delivered += 1;
            let (start, end) = chunk.window;
            if (start..end).contains(&stamp.sent_us) {
                let latency = chunk.now_us.saturating_sub(stamp.sent_us);
                chunk.received += 1;
                tally.latency.saturating_record(latency);
                if chunk.shared == Some(stamp.sender) {
                    chunk.shared_received += 1;
                    tally.shared_latency.saturating_record(latency);
                }
            }
            if let Some(witness) = inbox.me.witnessing.iter_mut().find(|w| w.sender == stamp.sender)
            {
                witness.seen += 1;
            }
        }
        Line::Join { .. } => chunk.joins += 1,
        // Once the run is over, clients leave because the bench closes them.
        Line::Leave { .. } | Line::Part { .. } if chunk.board.over.load(Ordering::Relaxed) => {}
        Line::Leave { nick, reason } => {
            let reason = String::from_utf8_lossy(reason).into_owned();
            depart(tally, nick, reason, chunk.now_us);
        }
        // No bench client parts once the run has started; one that does is news.
        Line::Part { room, nick, reason } => {
            let reason = format!(
                "{} from {}",
                String::from_utf8_lossy(reason),
                String::from_utf8_lossy(room)
            );
            depart(tally, nick, reason, chunk.now_us);
        }
        Line::Ping { token } if inbox.me.answers_pings => {
            tally.pongs += 1;
            inbox.pings.push(token.to_vec());
        }
        Line::Ping { .. } | Line::Other => tally.other_lines += 1,
    }
}

/// Notes that the server announced `nick` as gone, the first time only.
fn depart(tally: &mut Tally, nick: &[u8], reason: String, at_us: u64) {
    let nick = String::from_utf8_lossy(nick).into_owned();
    tally.departures.entry(nick).or_insert(Departure { reason, at_us });
}

/// Publishes a chunk's counts and returns the witnessed senders' credits.
fn publish(chunk: &Chunk<'_>, inbox: &mut Inbox) {
    Board::add(&chunk.board.delivered, chunk.delivered);
    Board::add(&chunk.board.received, chunk.received);
    Board::add(&chunk.board.shared_received, chunk.shared_received);
    Board::add(&chunk.board.joins, chunk.joins);
    for witness in &mut inbox.me.witnessing {
        witness.return_credits();
    }
}

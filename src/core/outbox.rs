//! One client's outgoing queue: encoded chunks, bounded by entries and by bytes. The core
//! pushes and never waits; whoever holds the queue's turn writes it (see `writing.rs`).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_channel::{Receiver, Sender, TrySendError};
use atomic_waker::AtomicWaker;

use super::writing::{Delivery, Queue};

/// Encoded lines shared by every recipient of a broadcast.
///
/// One pointer wide, so that the slots of a client's queue stay small.
/// A room batch is allocated once and handed to every member; someone who joined while the
/// batch was filling gets a [`Lines::Tail`] of it that starts at the first line after its
/// join.
#[derive(Debug, Clone)]
pub struct Chunk(Arc<Lines>);

/// What a [`Chunk`] points to.
#[derive(Debug)]
enum Lines {
    /// One or more whole lines.
    Whole(Box<[u8]>),
    /// The lines of another chunk from this offset on.
    Tail(Chunk, usize),
}

impl Chunk {
    /// Shares `batch` from offset `from` on (clamped to the end): the batch itself when
    /// `from` is 0, else a small allocation that points into it.
    pub fn new(batch: Chunk, from: usize) -> Chunk {
        if from == 0 {
            batch
        } else {
            let from = from.min(batch.len());
            Chunk(Arc::new(Lines::Tail(batch, from)))
        }
    }

    /// How many bytes there are to write.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes to write.
    pub fn as_slice(&self) -> &[u8] {
        match &*self.0 {
            Lines::Whole(bytes) => bytes,
            Lines::Tail(chunk, from) => &chunk.as_slice()[*from..],
        }
    }
}

impl From<&[u8]> for Chunk {
    fn from(bytes: &[u8]) -> Chunk {
        Chunk(Arc::new(Lines::Whole(bytes.into())))
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(bytes: Vec<u8>) -> Chunk {
        Chunk(Arc::new(Lines::Whole(bytes.into_boxed_slice())))
    }
}

/// Why a chunk could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue was at its entry or byte limit: the client is not reading, and has been
    /// cut off.
    Full,
    /// The writer is gone (the connection is closing).
    Closed,
}

/// Cuts a connection off at once, for a client that stopped reading: the writer stuck in
/// a write and the reader waiting for input both wake and end. Each transport says how.
pub trait Cut: Send + Sync {
    /// Shuts the connection down both ways.
    fn cut(&self);

    /// Stops reading from the connection, so that its reader wakes and ends, while the
    /// writer may still finish. Transports that cannot stop one way cut both.
    fn stop_reading(&self) {
        self.cut();
    }
}

/// Writes to a connection without waiting, so that a flush can write a client's lines on
/// its own thread when nobody else is writing them. Only a transport whose bytes go out as
/// they are (plain TCP) has it; one that must encode them (TLS, WebSocket) leaves all the
/// writing to the client's writer task.
pub trait TryWrite: Send + Sync {
    /// Writes what the connection takes now, [`io::ErrorKind::WouldBlock`] if nothing.
    fn try_write(&self, bytes: &[u8]) -> io::Result<usize>;
}

/// The sending side of a client's queue. Every room the client is in holds one, so it is
/// kept to one pointer.
pub struct Outbox {
    /// What the writers share with every holder of the queue.
    state: Arc<State>,
}

/// The part of a client's queue that is not its sending side: shared by the senders,
/// the writer task and any flush writing the client's lines.
pub(super) struct State {
    /// The chunks, in order; only the holder of the turn takes them out to write them (an
    /// overflow's farewell drops them).
    waiting: Mutex<Waiting>,
    /// How many chunks may wait at once.
    max_len: usize,
    /// Bytes queued and not yet taken by a writer.
    queued: AtomicUsize,
    /// The byte limit of the queue.
    max_bytes: usize,
    /// How many [`Outbox`]es there are: the queue closes when the last one goes.
    senders: AtomicUsize,
    /// Set when a push found the queue full: the session ends with "send queue full".
    overflowed: AtomicBool,
    /// How to cut the connection off.
    cut: Arc<dyn Cut>,
    /// The last line for a client whose queue overflows, if its protocol has one.
    farewell: Option<&'static [u8]>,
    /// Held by whoever is writing the client's lines, so that they leave in their order:
    /// the writer task, or a flush writing them straight to the connection.
    turn: AtomicBool,
    /// The writer task, waiting for lines to write or for the queue to close.
    writer: AtomicWaker,
    /// How to write without waiting, for transports that can.
    direct: Option<Arc<dyn TryWrite>>,
}

/// What waits to be written, in the order it goes out: `rest`, `front`, then `behind`.
///
/// A client that keeps up has one chunk waiting at a time, which `front` holds; the
/// bounded channel is made only when a second one must wait behind it, and let go once
/// a writer has emptied it. An idle client holds no channel (1.2 kB with its slots).
#[derive(Default)]
struct Waiting {
    /// The unwritten end of a chunk whose write stopped short: written before anything
    /// queued, and no longer counted in the queue's entries or bytes.
    rest: Option<Chunk>,
    /// The oldest chunk queued. Empty only when nothing is queued: taking it moves the next
    /// one up from `behind`, so that `behind` never holds more than `max_len - 1`.
    front: Option<Chunk>,
    /// The chunks queued after `front`, while there are any.
    behind: Option<(Sender<Chunk>, Receiver<Chunk>)>,
    /// Set once the queue is closed: nothing more is queued.
    closed: bool,
}

impl Waiting {
    /// True when nothing is queued (a short write's rest aside).
    fn is_empty(&self) -> bool {
        self.front.is_none()
    }

    /// Queues `chunk` behind whatever waits, within `max_len` entries.
    fn push(&mut self, chunk: Chunk, max_len: usize) -> Result<(), PushError> {
        if self.closed {
            return Err(PushError::Closed);
        }
        if self.is_empty() {
            self.front = Some(chunk);
            return Ok(());
        }
        // `front` holds one entry; the channel the others.
        let Some(capacity) = max_len.checked_sub(1).filter(|&capacity| capacity > 0) else {
            return Err(PushError::Full);
        };
        let (tx, _) = self.behind.get_or_insert_with(|| async_channel::bounded(capacity));
        tx.try_send(chunk).map_err(|error| match error {
            TrySendError::Full(_) => PushError::Full,
            TrySendError::Closed(_) => PushError::Closed,
        })
    }

    /// Takes the oldest chunk queued, moves the next one up, and lets the channel go once
    /// it is empty.
    fn pop(&mut self) -> Option<Chunk> {
        let chunk = self.front.take()?;
        if let Some((_, rx)) = &self.behind {
            self.front = rx.try_recv().ok();
            if rx.is_empty() {
                self.behind = None;
            }
        }
        Some(chunk)
    }

    /// How many chunks are queued.
    fn len(&self) -> usize {
        usize::from(self.front.is_some()) + self.behind.as_ref().map_or(0, |(_, rx)| rx.len())
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queued = self.state.queued.load(Ordering::Relaxed);
        let entries = self.state.waiting().len();
        f.debug_struct("Outbox").field("entries", &entries).field("bytes", &queued).finish()
    }
}

impl Outbox {
    /// A queue of at most `max_len` chunks and `max_bytes` bytes, for a connection that
    /// `cut` shuts down and, if it can, `direct` writes without waiting; the [`Queue`] is
    /// for its writer task.
    pub fn new(
        max_len: usize,
        max_bytes: usize,
        cut: Arc<dyn Cut>,
        direct: Option<Arc<dyn TryWrite>>,
    ) -> (Outbox, Queue) {
        Outbox::build(max_len, max_bytes, cut, direct, None)
    }

    /// Like [`Outbox::new`], but a client whose queue overflows is sent `farewell` instead
    /// of being cut off at once: what is queued is dropped, the line takes its place, and
    /// the connection stops reading, so that its session ends while the writer finishes
    /// the line it was writing and then the farewell, for a client that reads again (its
    /// session's close bounds how long that may take).
    pub fn with_farewell(
        max_len: usize,
        max_bytes: usize,
        cut: Arc<dyn Cut>,
        direct: Option<Arc<dyn TryWrite>>,
        farewell: &'static [u8],
    ) -> (Outbox, Queue) {
        Outbox::build(max_len, max_bytes, cut, direct, Some(farewell))
    }

    fn build(
        max_len: usize,
        max_bytes: usize,
        cut: Arc<dyn Cut>,
        direct: Option<Arc<dyn TryWrite>>,
        farewell: Option<&'static [u8]>,
    ) -> (Outbox, Queue) {
        let state = Arc::new(State {
            waiting: Mutex::new(Waiting::default()),
            max_len: max_len.max(1),
            queued: AtomicUsize::new(0),
            max_bytes,
            senders: AtomicUsize::new(1),
            overflowed: AtomicBool::new(false),
            cut,
            farewell,
            turn: AtomicBool::new(false),
            writer: AtomicWaker::new(),
            direct,
        });
        (Outbox { state: state.clone() }, Queue::new(state))
    }

    /// Queues `chunk` without waiting and wakes the writer task: a broadcast never awaits
    /// a client. A full queue means the client is not reading: it is cut off.
    pub fn push(&self, chunk: Chunk) -> Result<(), PushError> {
        self.enqueue(chunk, Bound::Strict)?;
        self.state.writer.wake();
        Ok(())
    }

    /// Queues `chunk` like [`Outbox::push`] but leaves it to the caller to write it, on
    /// its own thread, or, by dropping the [`Delivery`], to the writer task.
    pub fn push_later(&self, chunk: Chunk) -> Result<Delivery, PushError> {
        self.enqueue(chunk, Bound::Strict)?;
        Ok(Delivery::new(self.state.clone()))
    }

    /// Queues an answer to this client's own request (`/names`, an error, an echo). One
    /// answer may take the queue past its byte limit (a `NAMES` list of a big room may alone
    /// exceed it), but not one that is already past it: the client asked for it, and flood
    /// control bounds how often it can ask.
    pub fn push_reply(&self, chunk: Chunk) -> Result<(), PushError> {
        self.enqueue(chunk, Bound::Reply)?;
        self.state.writer.wake();
        Ok(())
    }

    fn enqueue(&self, chunk: Chunk, bound: Bound) -> Result<(), PushError> {
        let queued = &self.state.queued;
        let len = chunk.len();
        let before = queued.fetch_add(len, Ordering::Relaxed);
        let max = self.state.max_bytes;
        // One chunk is always let through an empty queue, however long, so that a limit
        // below the line length cannot lock a client out entirely.
        let over = before > 0
            && match bound {
                Bound::Strict => before + len > max,
                Bound::Reply => before >= max,
            };
        let pushed = if over {
            Err(PushError::Full)
        } else {
            self.state.waiting().push(chunk, self.state.max_len)
        };
        if pushed.is_err() {
            queued.fetch_sub(len, Ordering::Relaxed);
        }
        // Only the first overflow acts: two rooms' flushers may find the queue full at
        // once, and the second must not take the first one's farewell out again.
        if pushed == Err(PushError::Full) && !self.state.overflowed.swap(true, Ordering::Relaxed) {
            match self.state.farewell {
                Some(line) => self.say_farewell(Chunk::from(line)),
                None => self.abort(),
            }
        }
        pushed
    }

    /// Replaces what is queued with `line`, closes the queue and stops reading.
    fn say_farewell(&self, line: Chunk) {
        let pushed = {
            let mut waiting = self.state.waiting();
            while let Some(dropped) = waiting.pop() {
                self.state.taken(&dropped);
            }
            self.state.queued.fetch_add(line.len(), Ordering::Relaxed);
            let pushed = waiting.push(line, self.state.max_len);
            // Closed under the same lock, so that no other room's line follows the farewell.
            waiting.closed = true;
            pushed
        };
        if pushed.is_err() {
            self.abort();
            return;
        }
        self.hang_up();
    }

    /// True when the queue has room for the answers to one more of the client's own
    /// commands: at most half its entries and half its bytes wait (the other half is for
    /// what the rooms send meanwhile), or it is closed and there is nothing to wait for.
    pub fn has_room(&self) -> bool {
        let waiting = self.state.waiting();
        waiting.closed
            || (waiting.len() <= self.state.max_len / 2
                && self.state.queued.load(Ordering::Relaxed) <= self.state.max_bytes / 2)
    }

    /// True once a push found the queue full and the client was cut off.
    pub fn overflowed(&self) -> bool {
        self.state.overflowed.load(Ordering::Relaxed)
    }

    /// Closes the queue gently: the writer sends what is queued, then ends.
    pub fn finish(&self) {
        self.state.close();
        self.state.writer.wake();
    }

    /// Closes at once, dropping what is queued, and cuts the connection.
    pub fn abort(&self) {
        self.state.abort();
    }

    /// Ends the connection after what is queued: the queue takes nothing more, and the
    /// connection stops reading, so that its session ends while the writer finishes.
    pub fn hang_up(&self) {
        self.state.close();
        self.state.cut.stop_reading();
        self.state.writer.wake();
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Outbox {
        self.state.senders.fetch_add(1, Ordering::Relaxed);
        Outbox { state: self.state.clone() }
    }
}

/// The last sender gone closes the queue: its writer writes what is queued, then ends.
impl Drop for Outbox {
    fn drop(&mut self) {
        if self.state.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish();
        }
    }
}

/// What a writer finds when it looks at the queue, under one lock.
pub(super) struct Outlook {
    /// Something waits to be written: a short write's rest, or a chunk queued.
    pub work: bool,
    /// The queue is closed: nothing more will be queued.
    pub closed: bool,
}

/// Which limit a push is held to.
#[derive(Debug, Clone, Copy)]
enum Bound {
    /// A room's lines: never past the byte limit (but one chunk through an empty queue).
    Strict,
    /// An answer the client asked for: only refused when the queue is already over it.
    Reply,
}

impl State {
    /// Takes the turn to write, if nobody holds it.
    pub(super) fn take_turn(&self) -> bool {
        self.turn.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    /// Gives the turn back, and wakes the writer task if there is something left to
    /// write (queued while the turn was held) or the queue has closed, since only the
    /// writer task ends the connection.
    pub(super) fn give_turn(&self) {
        self.turn.store(false, Ordering::SeqCst);
        let outlook = self.outlook();
        if outlook.work || outlook.closed {
            self.writer.wake();
        }
    }

    /// Whether there is something to write, and whether the queue is closed, seen at once.
    pub(super) fn outlook(&self) -> Outlook {
        let waiting = self.waiting();
        Outlook { work: waiting.rest.is_some() || !waiting.is_empty(), closed: waiting.closed }
    }

    /// The next thing to write, for the holder of the turn: the rest of a write that
    /// stopped short, else the next chunk queued.
    pub(super) fn next_chunk(&self) -> Option<Chunk> {
        let mut waiting = self.waiting();
        if let Some(rest) = waiting.rest.take() {
            return Some(rest);
        }
        let chunk = waiting.pop()?;
        self.taken(&chunk);
        Some(chunk)
    }

    /// Keeps what a write left unwritten, for the next holder of the turn.
    pub(super) fn keep_rest(&self, rest: Chunk) {
        self.waiting().rest = Some(rest);
    }

    /// How to write without waiting, if the transport can.
    pub(super) fn direct(&self) -> Option<&dyn TryWrite> {
        self.direct.as_deref()
    }

    /// The writer task's waker slot.
    pub(super) fn writer(&self) -> &AtomicWaker {
        &self.writer
    }

    /// True when nothing is queued.
    pub(super) fn is_empty(&self) -> bool {
        self.waiting().is_empty()
    }

    /// Closes the queue: nothing more is taken.
    pub(super) fn close(&self) {
        self.waiting().closed = true;
    }

    /// Closes the queue at once, dropping what is queued, and cuts the connection.
    pub(super) fn abort(&self) {
        self.close();
        self.cut.cut();
        self.writer.wake();
    }

    fn taken(&self, chunk: &Chunk) {
        self.queued.fetch_sub(chunk.len(), Ordering::Relaxed);
    }

    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use futures_lite::future;

    use super::*;

    #[test]
    fn a_chunk_is_one_pointer_so_queue_slots_stay_small() {
        assert_eq!(std::mem::size_of::<Chunk>(), std::mem::size_of::<usize>());
    }

    /// Counts cuts instead of shutting a socket down.
    #[derive(Default)]
    struct Cuts(AtomicUsize);

    impl Cut for Cuts {
        fn cut(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn chunk(len: usize) -> Chunk {
        Chunk::from(vec![b'x'; len])
    }

    /// Everything the writer task would write now, in order.
    fn drain(queue: &Queue) -> Vec<Vec<u8>> {
        let Some(turn) = future::block_on(future::poll_once(queue.turn())).flatten() else {
            return Vec::new();
        };
        std::iter::from_fn(|| turn.next()).map(|chunk| chunk.as_slice().to_vec()).collect()
    }

    #[test]
    fn a_full_queue_cuts_the_client_off_once_it_overflows() {
        let cuts = Arc::new(Cuts::default());
        let (outbox, queue) = Outbox::new(2, 100, cuts.clone(), None);
        assert_eq!(outbox.push(chunk(10)), Ok(()));
        assert_eq!(outbox.push(chunk(10)), Ok(()));
        assert!(!outbox.overflowed());
        assert_eq!(outbox.push(chunk(10)), Err(PushError::Full));
        assert!(outbox.overflowed());
        assert_eq!(cuts.0.load(Ordering::Relaxed), 1);
        assert_eq!(outbox.push(chunk(1)), Err(PushError::Closed));
        drop(queue);
    }

    #[test]
    fn an_overflow_with_a_farewell_leaves_only_the_farewell_and_stops_reading() {
        let cuts = Arc::new(Cuts::default());
        let (outbox, queue) = Outbox::with_farewell(2, 100, cuts.clone(), None, b"ERROR bye\r\n");
        assert_eq!(outbox.push(chunk(10)), Ok(()));
        assert_eq!(outbox.push(chunk(10)), Ok(()));
        assert_eq!(outbox.push(chunk(10)), Err(PushError::Full));
        assert!(outbox.overflowed());
        assert_eq!(cuts.0.load(Ordering::Relaxed), 1, "stopped reading, by the default cut");
        assert_eq!(outbox.push(chunk(1)), Err(PushError::Closed));
        assert_eq!(drain(&queue), vec![b"ERROR bye\r\n".to_vec()]);
        assert!(future::block_on(queue.turn()).is_none(), "the queue is closed after it");
    }

    #[test]
    fn bytes_bound_room_lines_strictly_and_answers_only_once_over() {
        let (outbox, queue) = Outbox::new(16, 100, Arc::new(Cuts::default()), None);
        // One chunk always fits an empty queue.
        assert_eq!(outbox.push(chunk(500)), Ok(()));
        assert_eq!(drain(&queue).len(), 1);
        assert_eq!(outbox.push(chunk(60)), Ok(()));
        // An answer may go past the limit ...
        assert_eq!(outbox.push_reply(chunk(60)), Ok(()));
        // ... but not once the queue is over it.
        assert_eq!(outbox.push_reply(chunk(1)), Err(PushError::Full));
    }

    #[test]
    fn room_for_more_answers_is_half_the_queue_and_comes_back_as_it_drains() {
        let (outbox, queue) = Outbox::new(4, 1000, Arc::new(Cuts::default()), None);
        (0..3).for_each(|_| assert_eq!(outbox.push(chunk(1)), Ok(())));
        assert!(!outbox.has_room(), "3 of 4 entries wait");
        let turn = future::block_on(queue.turn()).expect("a turn");
        assert!(turn.next().is_some());
        assert!(outbox.has_room(), "2 of 4 entries wait");
        drop(turn);
        assert_eq!(outbox.push_reply(chunk(600)), Ok(()));
        assert!(!outbox.has_room(), "over half the bytes wait");
    }

    fn holds_a_channel(outbox: &Outbox) -> bool {
        outbox.state.waiting().behind.is_some()
    }

    #[test]
    fn the_channel_is_made_for_a_second_chunk_and_let_go_once_emptied() {
        let (outbox, queue) = Outbox::new(16, 1000, Arc::new(Cuts::default()), None);
        assert_eq!(outbox.push(chunk(1)), Ok(()));
        assert!(!holds_a_channel(&outbox), "one chunk waits in front, without a channel");
        assert_eq!(drain(&queue).len(), 1);
        for len in 1..=3 {
            assert_eq!(outbox.push(chunk(len)), Ok(()));
        }
        assert!(holds_a_channel(&outbox));
        assert_eq!(drain(&queue), vec![vec![b'x'; 1], vec![b'x'; 2], vec![b'x'; 3]]);
        assert!(!holds_a_channel(&outbox), "an idle client holds no channel");
    }

    #[test]
    fn chunks_leave_in_order_however_pushes_and_takes_interleave() {
        let (outbox, queue) = Outbox::new(16, 1000, Arc::new(Cuts::default()), None);
        let mut taken = Vec::new();
        for len in 1..=40 {
            assert_eq!(outbox.push(chunk(len)), Ok(()));
            // Take one now and then, so that pushes find the front empty with chunks
            // still behind it.
            if len % 3 == 0 {
                let turn = future::block_on(queue.turn()).expect("a turn");
                taken.extend(turn.next().map(|chunk| chunk.len()));
                taken.extend(turn.next().map(|chunk| chunk.len()));
            }
        }
        taken.extend(drain(&queue).iter().map(Vec::len));
        assert_eq!(taken, (1..=40).collect::<Vec<_>>());
    }

    #[test]
    fn the_entry_limit_counts_the_front() {
        for max_len in [1, 2, 5] {
            let (outbox, _queue) = Outbox::new(max_len, 1000, Arc::new(Cuts::default()), None);
            for _ in 0..max_len {
                assert_eq!(outbox.push(chunk(1)), Ok(()), "{max_len} fit");
            }
            assert_eq!(outbox.push(chunk(1)), Err(PushError::Full), "one more than {max_len}");
        }
    }

    #[test]
    fn a_queue_taken_from_while_full_takes_as_many_again() {
        let (outbox, queue) = Outbox::new(4, 1000, Arc::new(Cuts::default()), None);
        (0..4).for_each(|_| assert_eq!(outbox.push(chunk(1)), Ok(())));
        let turn = future::block_on(queue.turn()).expect("a turn");
        assert!(turn.next().is_some());
        assert_eq!(outbox.push(chunk(1)), Ok(()), "4 entries again, one taken");
        assert_eq!(outbox.push(chunk(1)), Err(PushError::Full), "a fifth");
    }

    #[test]
    fn the_last_outbox_gone_closes_the_queue_after_what_is_queued() {
        let (outbox, queue) = Outbox::new(16, 1000, Arc::new(Cuts::default()), None);
        let other = outbox.clone();
        assert_eq!(outbox.push(chunk(1)), Ok(()));
        drop(outbox);
        assert_eq!(other.push(chunk(2)), Ok(()), "one sender left keeps it open");
        drop(other);
        assert_eq!(drain(&queue).len(), 2);
        assert!(future::block_on(queue.turn()).is_none());
    }

    #[test]
    fn a_tail_shares_the_batch_from_its_offset() {
        let batch = Chunk::from(&b"JOIN a\nJOIN b\n"[..]);
        assert_eq!(Chunk::new(batch.clone(), 0).as_slice(), b"JOIN a\nJOIN b\n");
        assert_eq!(Chunk::new(batch.clone(), 7).as_slice(), b"JOIN b\n");
        assert!(Chunk::new(batch, 99).is_empty());
    }
}

//! Writing a client's queue: by its writer task, which waits for lines and may wait for the
//! connection, or straight from a flush, on the flush's own thread, when nobody else is
//! writing and the connection takes the bytes at once.
//!
//! Whoever writes holds the queue's turn, and takes chunks out only while holding it, so
//! the lines leave in the order they were queued whoever writes them. A write that stops
//! short keeps its unwritten end for the next holder, who writes it first.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use futures_lite::future;

use super::outbox::{Chunk, Outlook, State, TryWrite};

/// At most this much is gathered into one write, so one wake-up is one syscall.
pub const MAX_BATCH: usize = 64 * 1024;

/// How many writes a flush makes for one client before it leaves the rest (lines queued
/// meanwhile) to the writer task.
const DIRECT_WRITES: usize = 4;

/// The receiving side of a client's queue, which its writer task drains.
pub struct Queue {
    /// Shared with the client's [`super::Outbox`]es.
    state: Arc<State>,
}

/// The turn to write a client's queue, held by the writer task; given back when dropped.
pub struct Turn<'a> {
    /// The queue whose turn it is.
    state: &'a State,
}

impl Queue {
    /// The writer task's side of the queue `state` belongs to.
    pub(super) fn new(state: Arc<State>) -> Queue {
        Queue { state }
    }

    /// Waits until there is something to write and nobody else is writing it, and takes
    /// the turn; `None` once the queue is closed and everything in it has been written.
    pub async fn turn(&self) -> Option<Turn<'_>> {
        let state = &*self.state;
        future::poll_fn(|cx| {
            state.writer().register(cx.waker());
            // Whoever holds the turn wakes this task when it gives the turn back with
            // something left, or after the queue has closed.
            if !state.take_turn() {
                return Poll::Pending;
            }
            // Seen at once: nothing is queued after the close, so a queue closed and empty
            // is done.
            let Outlook { work, closed } = state.outlook();
            if work {
                return Poll::Ready(Some(Turn { state }));
            }
            if closed {
                // The turn is kept: nothing is written after the close.
                return Poll::Ready(None);
            }
            state.give_turn();
            Poll::Pending
        })
        .await
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// Closes the queue and cuts the connection, after a failed write.
    pub fn abort(&self) {
        self.state.abort();
    }
}

/// A writer that is gone takes nothing more: pushes then fail as `Closed`.
impl Drop for Queue {
    fn drop(&mut self) {
        self.state.close();
    }
}

impl Turn<'_> {
    /// The next thing to write: what a write left unwritten, else the next chunk queued.
    pub fn next(&self) -> Option<Chunk> {
        self.state.next_chunk()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.state.give_turn();
    }
}

/// A chunk queued for a client by a flush, which the flush may write itself with
/// [`Delivery::write_now`]. One that is dropped unwritten wakes the client's writer task.
pub struct Delivery {
    /// The client's queue.
    state: Arc<State>,
    /// Set once written or left to whoever holds the turn.
    handled: AtomicBool,
}

impl Delivery {
    /// A chunk just queued in `state`'s queue, not yet written.
    pub(super) fn new(state: Arc<State>) -> Delivery {
        Delivery { state, handled: AtomicBool::new(false) }
    }

    /// Whether [`Delivery::write_now`] can write it: only a plain connection can be
    /// written from any thread; an encoded one (TLS, WebSocket) is its writer task's.
    pub fn can_write_now(&self) -> bool {
        self.state.direct().is_some()
    }

    /// Writes what is queued for the client straight to its connection, on this thread,
    /// if nobody else is writing it and the connection takes the bytes now; otherwise
    /// leaves it to the writer task, or to whoever is writing, who writes it after what
    /// it has. `buf` gathers several chunks into one write.
    pub fn write_now(&self, buf: &mut Vec<u8>) {
        let state = &*self.state;
        let Some(direct) = state.direct() else {
            // Only the writer task writes this connection (its bytes are encoded): wake it
            // now, not when the last holder of this delivery lets it go, which may be a
            // fan-out thread busy with another room.
            if !self.handled.swap(true, Ordering::Relaxed) {
                state.writer().wake();
            }
            return;
        };
        if self.handled.swap(true, Ordering::Relaxed) || !state.take_turn() {
            return;
        }
        match write_queued(state, direct, buf) {
            Ok(Some(rest)) => state.keep_rest(rest),
            Ok(None) => {}
            Err(_) => state.abort(),
        }
        // Wakes the writer task if anything is left: the rest, or lines queued meanwhile.
        state.give_turn();
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.handled.load(Ordering::Relaxed) {
            self.state.writer().wake();
        }
    }
}

/// Writes what is queued without waiting, for the holder of the turn, and returns what the
/// connection did not take. Stops after a few writes: a client whose lines keep coming is
/// the writer task's to serve.
fn write_queued(
    state: &State,
    direct: &dyn TryWrite,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Chunk>> {
    for _ in 0..DIRECT_WRITES {
        let Some(first) = state.next_chunk() else { return Ok(None) };
        buf.clear();
        let gathered = match state.next_chunk() {
            Some(second) => {
                gather(buf, &first, second, || state.next_chunk());
                true
            }
            None => false,
        };
        let bytes = if gathered { &buf[..] } else { first.as_slice() };
        let written = match direct.try_write(bytes) {
            Ok(written) => written,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
            Err(error) => return Err(error),
        };
        if written < bytes.len() {
            let rest =
                if gathered { Chunk::from(&buf[written..]) } else { Chunk::new(first, written) };
            return Ok(Some(rest));
        }
    }
    Ok(None)
}

/// Copies `first`, `second` and whatever `next` gives (up to [`MAX_BATCH`]) into `batch`.
pub fn gather(
    batch: &mut Vec<u8>,
    first: &Chunk,
    second: Chunk,
    mut next: impl FnMut() -> Option<Chunk>,
) {
    batch.extend_from_slice(first.as_slice());
    batch.extend_from_slice(second.as_slice());
    while batch.len() < MAX_BATCH {
        match next() {
            Some(chunk) => batch.extend_from_slice(chunk.as_slice()),
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;
    use std::task::Context;

    use futures_lite::{AsyncWrite, AsyncWriteExt};

    use super::*;
    use crate::core::outbox::{Cut, Outbox};

    /// A connection that records what it is sent, and takes at most `limit` bytes of each
    /// write made without waiting (none at all when it is zero).
    struct Wire {
        sent: Mutex<Vec<u8>>,
        limit: AtomicUsize,
    }

    impl Wire {
        fn new(limit: usize) -> Arc<Wire> {
            Arc::new(Wire { sent: Mutex::new(Vec::new()), limit: AtomicUsize::new(limit) })
        }

        fn sent(&self) -> Vec<u8> {
            self.sent.lock().expect("unpoisoned").clone()
        }
    }

    impl Cut for Wire {
        fn cut(&self) {}
    }

    impl TryWrite for Wire {
        fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
            let limit = self.limit.load(Ordering::SeqCst);
            if limit == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let taken = bytes.len().min(limit);
            self.sent.lock().expect("unpoisoned").extend_from_slice(&bytes[..taken]);
            Ok(taken)
        }
    }

    /// The writer task's side of the same connection: it always takes everything.
    struct Waiting(Arc<Wire>);

    impl AsyncWrite for Waiting {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.sent.lock().expect("unpoisoned").extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn outbox(wire: &Arc<Wire>) -> (Outbox, Queue) {
        Outbox::new(64, 1 << 20, wire.clone(), Some(wire.clone()))
    }

    /// Writes everything the writer task would write now.
    fn run_writer(queue: &Queue, wire: &Arc<Wire>) {
        let mut out = Waiting(wire.clone());
        while let Some(Some(turn)) = future::block_on(future::poll_once(queue.turn())) {
            while let Some(chunk) = turn.next() {
                future::block_on(out.write_all(chunk.as_slice())).expect("written");
            }
        }
    }

    #[test]
    fn a_flush_writes_to_an_idle_connection_itself() {
        let wire = Wire::new(usize::MAX);
        let (outbox, queue) = outbox(&wire);
        let delivery = outbox.push_later(Chunk::from(&b"MSG #a b hi\n"[..])).expect("queued");
        delivery.write_now(&mut Vec::new());
        assert_eq!(wire.sent(), b"MSG #a b hi\n");
        assert!(queue.is_empty());
    }

    #[test]
    fn the_rest_of_a_short_write_goes_out_before_what_was_queued_after_it() {
        let wire = Wire::new(4);
        let (outbox, queue) = outbox(&wire);
        outbox.push_later(Chunk::from(&b"first\n"[..])).expect("queued").write_now(&mut Vec::new());
        assert_eq!(wire.sent(), b"firs");
        outbox.push(Chunk::from(&b"second\n"[..])).expect("queued");
        run_writer(&queue, &wire);
        assert_eq!(wire.sent(), b"first\nsecond\n");
    }

    #[test]
    fn a_flush_leaves_its_chunk_to_the_writer_holding_the_turn() {
        let wire = Wire::new(usize::MAX);
        let (outbox, queue) = outbox(&wire);
        outbox.push(Chunk::from(&b"one\n"[..])).expect("queued");
        let turn = future::block_on(queue.turn()).expect("a turn");
        let first = turn.next().expect("one");
        let delivery = outbox.push_later(Chunk::from(&b"two\n"[..])).expect("queued");
        delivery.write_now(&mut Vec::new());
        assert!(wire.sent().is_empty(), "nothing overtakes the line the writer holds");
        let mut out = Waiting(wire.clone());
        future::block_on(out.write_all(first.as_slice())).expect("written");
        while let Some(chunk) = turn.next() {
            future::block_on(out.write_all(chunk.as_slice())).expect("written");
        }
        drop(turn);
        assert_eq!(wire.sent(), b"one\ntwo\n");
    }

    #[test]
    fn a_delivery_dropped_unwritten_wakes_the_writer() {
        let wire = Wire::new(usize::MAX);
        let (outbox, queue) = outbox(&wire);
        let mut turn = Box::pin(queue.turn());
        assert!(future::block_on(future::poll_once(&mut turn)).is_none(), "nothing to write");
        drop(outbox.push_later(Chunk::from(&b"hi\n"[..])).expect("queued"));
        let turn = future::block_on(turn).expect("woken with a turn");
        assert_eq!(turn.next().expect("the line").as_slice(), b"hi\n");
    }

    #[test]
    fn a_flush_wakes_the_writer_of_a_connection_it_cannot_write_at_once() {
        /// A waker that notes that it was woken.
        struct Noted(AtomicBool);
        impl std::task::Wake for Noted {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let wire = Wire::new(usize::MAX);
        let (outbox, queue) = Outbox::new(64, 1 << 20, wire.clone(), None);
        let noted = Arc::new(Noted(AtomicBool::new(false)));
        let waker = std::task::Waker::from(noted.clone());
        let mut turn = Box::pin(queue.turn());
        let first = std::future::Future::poll(turn.as_mut(), &mut Context::from_waker(&waker));
        assert!(first.is_pending(), "nothing to write yet");
        let delivery = outbox.push_later(Chunk::from(&b"hi\n"[..])).expect("queued");
        delivery.write_now(&mut Vec::new());
        assert!(noted.0.load(Ordering::SeqCst), "the writer is woken while the delivery lives");
        drop(delivery);
    }

    /// Two flushers and the writer task write one client at once, through a connection
    /// that takes a random part of each write: every line arrives once, in queue order.
    #[test]
    fn lines_keep_their_order_whoever_writes_them() {
        let wire = Wire::new(usize::MAX);
        let (outbox, queue) = Outbox::new(100_000, usize::MAX, wire.clone(), Some(wire.clone()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let flushers: Vec<_> = (0..2)
            .map(|who| {
                let (outbox, wire, order) = (outbox.clone(), wire.clone(), order.clone());
                std::thread::spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(who);
                    let mut buf = Vec::new();
                    for n in 0..3_000 {
                        wire.limit.store(rng.usize(0..24), Ordering::SeqCst);
                        let line = format!("{who}:{n}\n");
                        // Queued and noted under one lock, so `order` is the queue's order.
                        let delivery = {
                            let mut order = order.lock().expect("unpoisoned");
                            order.push(line.clone());
                            outbox.push_later(Chunk::from(line.into_bytes())).expect("room")
                        };
                        delivery.write_now(&mut buf);
                    }
                })
            })
            .collect();
        let writer = smol::spawn(write_all(queue, wire.clone()));
        flushers.into_iter().for_each(|flusher| flusher.join().expect("flushed"));
        outbox.finish();
        drop(outbox);
        future::block_on(writer);
        let expected: String = order.lock().expect("unpoisoned").concat();
        assert_eq!(String::from_utf8(wire.sent()).expect("text"), expected);
    }

    /// The writer task's loop, reduced to what the test needs.
    async fn write_all(queue: Queue, wire: Arc<Wire>) {
        let mut out = Waiting(wire);
        while let Some(turn) = queue.turn().await {
            while let Some(chunk) = turn.next() {
                out.write_all(chunk.as_slice()).await.expect("written");
            }
        }
    }
}

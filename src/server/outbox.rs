//! One client's outgoing queue, and the writer task that is the only one to write its socket.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_channel::{Receiver, Sender, TrySendError};
use futures_lite::AsyncWriteExt;
use smol::{Async, Task};

/// Encoded lines shared by every recipient of a broadcast.
///
/// One pointer wide, so that the slots of a client's queue, allocated up front, stay small.
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

/// The writer gathers at most this much before writing, so one wake-up is one syscall.
const MAX_BATCH: usize = 64 * 1024;

/// A batch buffer bigger than this is given back after use even while lines keep coming.
const IDLE_BATCH: usize = 4 * 1024;

/// Why a line could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue is at its line or byte limit: the client is not keeping up.
    Full,
    /// The writer is gone (the connection is closing).
    Closed,
}

/// The sending side of a client's queue. The room holds one per member, so it is kept to
/// two pointers.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// Bounded by line count; the byte count is checked beside it.
    tx: Sender<Chunk>,
    /// What the writer task shares with every holder of the queue.
    state: Arc<State>,
}

/// The part of a client's queue that is not the channel.
#[derive(Debug)]
struct State {
    /// Bytes queued and not yet taken by the writer.
    queued: AtomicUsize,
    /// The byte limit of the queue.
    max_bytes: usize,
    /// The socket: the writer writes it, and [`Outbox::abort`] cuts a writer stuck in a write.
    stream: Arc<Async<TcpStream>>,
}

impl Outbox {
    /// Creates the queue for `stream` (at most `max_len` chunks and `max_bytes` bytes
    /// waiting) and spawns its writer task.
    pub fn spawn(
        stream: Arc<Async<TcpStream>>,
        max_len: usize,
        max_bytes: usize,
    ) -> (Outbox, Task<()>) {
        let (tx, rx) = async_channel::bounded(max_len.max(1));
        let state = Arc::new(State { queued: AtomicUsize::new(0), max_bytes, stream });
        let writer = smol::spawn(write_loop(rx, state.clone()));
        (Outbox { tx, state }, writer)
    }

    /// Queues `chunk` without waiting: a broadcast never awaits a client.
    pub fn push(&self, chunk: Chunk) -> Result<(), PushError> {
        self.enqueue(chunk, true)
    }

    /// Queues an answer to this client's own request (`/who`, an error, an echo). Only the
    /// entry count bounds it, not the byte limit: the client asked for it, flood control
    /// bounds how often, and a `WHO` list of a big room may alone exceed the byte limit.
    pub fn push_reply(&self, chunk: Chunk) -> Result<(), PushError> {
        self.enqueue(chunk, false)
    }

    fn enqueue(&self, chunk: Chunk, bound_bytes: bool) -> Result<(), PushError> {
        let queued = &self.state.queued;
        let len = chunk.len();
        let before = queued.fetch_add(len, Ordering::Relaxed);
        // One line is always let through an empty queue, however long, so that a
        // limit below the line length cannot lock a client out entirely.
        if bound_bytes && before > 0 && before + len > self.state.max_bytes {
            queued.fetch_sub(len, Ordering::Relaxed);
            return Err(PushError::Full);
        }
        self.tx.try_send(chunk).map_err(|e| {
            queued.fetch_sub(len, Ordering::Relaxed);
            match e {
                TrySendError::Full(_) => PushError::Full,
                TrySendError::Closed(_) => PushError::Closed,
            }
        })
    }

    /// Closes the queue gently: the writer sends what is queued, then closes the socket.
    pub fn finish(&self) {
        self.tx.close();
    }

    /// Closes at once, dropping what is queued: for a client that stopped reading.
    pub fn abort(&self) {
        self.tx.close();
        let _ = self.state.stream.get_ref().shutdown(Shutdown::Both);
    }
}

/// Drains the queue onto the socket, every waiting line in one write, until the queue is
/// closed and empty or the peer goes away. At a clean end it only half-closes (FIN after
/// the last line) so the reader can still drain the peer's input; after a failed write it
/// closes both ways, which wakes the reader so the connection leaves the room.
///
/// Idle, this future holds only its two handles and the wait on the queue: the socket is
/// written through `&Async`, which keeps no readiness future of its own, and the gathering
/// buffer is given back whenever the queue runs dry.
async fn write_loop(rx: Receiver<Chunk>, state: Arc<State>) {
    let mut stream = &*state.stream;
    let queued = &state.queued;
    let mut batch: Vec<u8> = Vec::new();
    while let Ok(first) = rx.recv().await {
        let written = match rx.try_recv() {
            // A lone chunk (one room batch, usually) is written straight from the shared
            // allocation, with no copy.
            Err(_) => {
                queued.fetch_sub(first.as_slice().len(), Ordering::Relaxed);
                stream.write_all(first.as_slice()).await
            }
            Ok(second) => {
                take(&mut batch, &first, queued);
                take(&mut batch, &second, queued);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(chunk) => take(&mut batch, &chunk, queued),
                        Err(_) => break,
                    }
                }
                stream.write_all(&batch).await
            }
        };
        if written.is_err() {
            let _ = stream.get_ref().shutdown(Shutdown::Both);
            return;
        }
        batch.clear();
        if rx.is_empty() || batch.capacity() > IDLE_BATCH {
            batch = Vec::new();
        }
    }
    let _ = stream.flush().await;
    let _ = stream.get_ref().shutdown(Shutdown::Write);
}

fn take(batch: &mut Vec<u8>, chunk: &Chunk, queued: &AtomicUsize) {
    let bytes = chunk.as_slice();
    batch.extend_from_slice(bytes);
    queued.fetch_sub(bytes.len(), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_is_one_pointer_so_queue_slots_stay_small() {
        assert_eq!(std::mem::size_of::<Chunk>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn a_tail_shares_the_batch_from_its_offset() {
        let batch = Chunk::from(&b"JOIN a\nJOIN b\n"[..]);
        assert_eq!(Chunk::new(batch.clone(), 0).as_slice(), b"JOIN a\nJOIN b\n");
        assert_eq!(Chunk::new(batch.clone(), 7).as_slice(), b"JOIN b\n");
        assert!(Chunk::new(batch, 99).is_empty());
    }
}

//! One client's outgoing queue, and the writer task that is the only one to write its socket.

use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_channel::{Receiver, Sender, TrySendError};
use async_net::TcpStream;
use futures_lite::AsyncWriteExt;
use smol::Task;

/// Encoded lines shared by every recipient of a broadcast: the bytes from `from` on.
///
/// A room batch is allocated once and handed to every member; someone who joined while the
/// batch was filling gets the same allocation starting at the first line after its join.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// One or more whole lines.
    bytes: Arc<[u8]>,
    /// Where this recipient's part begins.
    from: usize,
}

impl Chunk {
    /// Shares `bytes` from offset `from` (clamped to the end).
    pub fn new(bytes: Arc<[u8]>, from: usize) -> Chunk {
        let from = from.min(bytes.len());
        Chunk { bytes, from }
    }

    /// The bytes to write.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[self.from..]
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(bytes: Vec<u8>) -> Chunk {
        Chunk { bytes: bytes.into(), from: 0 }
    }
}

/// The writer gathers at most this much before writing, so one wake-up is one syscall.
const MAX_BATCH: usize = 64 * 1024;

/// A batch buffer bigger than this is given back after use: idle clients stay small.
const IDLE_BATCH: usize = 4 * 1024;

/// Why a line could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue is at its line or byte limit: the client is not keeping up.
    Full,
    /// The writer is gone (the connection is closing).
    Closed,
}

/// The sending side of a client's queue. The room holds one per member.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// Bounded by line count; the byte count is checked beside it.
    tx: Sender<Chunk>,
    /// Bytes queued and not yet taken by the writer.
    queued: Arc<AtomicUsize>,
    /// The byte limit of the queue.
    max_bytes: usize,
    /// The socket, kept so that [`Outbox::abort`] can cut a writer stuck in a write.
    stream: TcpStream,
}

impl Outbox {
    /// Creates the queue for `stream` (at most `max_len` chunks and `max_bytes` bytes
    /// waiting) and spawns its writer task.
    pub fn spawn(stream: TcpStream, max_len: usize, max_bytes: usize) -> (Outbox, Task<()>) {
        let (tx, rx) = async_channel::bounded(max_len.max(1));
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = smol::spawn(write_loop(rx, queued.clone(), stream.clone()));
        (Outbox { tx, queued, max_bytes, stream }, writer)
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
        let len = chunk.as_slice().len();
        let before = self.queued.fetch_add(len, Ordering::Relaxed);
        // One line is always let through an empty queue, however long, so that a
        // limit below the line length cannot lock a client out entirely.
        if bound_bytes && before > 0 && before + len > self.max_bytes {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            return Err(PushError::Full);
        }
        self.tx.try_send(chunk).map_err(|e| {
            self.queued.fetch_sub(len, Ordering::Relaxed);
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
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Drains the queue onto the socket, every waiting line in one write, until the queue is
/// closed and empty or the peer goes away. At a clean end it only half-closes (FIN after
/// the last line) so the reader can still drain the peer's input; after a failed write it
/// closes both ways, which wakes the reader so the connection leaves the room.
async fn write_loop(rx: Receiver<Chunk>, queued: Arc<AtomicUsize>, mut stream: TcpStream) {
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
                take(&mut batch, &first, &queued);
                take(&mut batch, &second, &queued);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(chunk) => take(&mut batch, &chunk, &queued),
                        Err(_) => break,
                    }
                }
                stream.write_all(&batch).await
            }
        };
        if written.is_err() {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        batch.clear();
        if batch.capacity() > IDLE_BATCH {
            batch = Vec::new();
        }
    }
    let _ = stream.flush().await;
    let _ = stream.shutdown(Shutdown::Write);
}

fn take(batch: &mut Vec<u8>, chunk: &Chunk, queued: &AtomicUsize) {
    let bytes = chunk.as_slice();
    batch.extend_from_slice(bytes);
    queued.fetch_sub(bytes.len(), Ordering::Relaxed);
}

//! The writer task: the only task that writes a client's connection, draining its queue.

use futures_lite::{AsyncWrite, AsyncWriteExt};

use crate::core::{Chunk, Queue};

/// The writer gathers at most this much before writing, so one wake-up is one syscall.
const MAX_BATCH: usize = 64 * 1024;

/// A batch buffer bigger than this is given back after use even while lines keep coming.
const IDLE_BATCH: usize = 4 * 1024;

/// Drains `queue` onto `out`, every waiting chunk in one write, until the queue is closed
/// and empty or the peer goes away. At a clean end it closes `out` (for TCP a half-close:
/// FIN after the last line), so the reader can still drain the peer's input; after a
/// failed write it cuts the connection, which wakes the reader so the client leaves.
///
/// Idle, this future holds only its two handles and the wait on the queue: the gathering
/// buffer is given back whenever the queue runs dry.
pub async fn write_loop<W: AsyncWrite + Unpin>(queue: Queue, mut out: W) {
    let mut batch: Vec<u8> = Vec::new();
    while let Some(first) = queue.next().await {
        let written = match queue.try_next() {
            // A lone chunk (one room batch, usually) is written straight from the shared
            // allocation, with no copy.
            None => out.write_all(first.as_slice()).await,
            Some(second) => {
                gather(&mut batch, &first, &second, &queue);
                out.write_all(&batch).await
            }
        };
        // A TLS stream may keep encrypted bytes back until flushed; TCP's flush is free.
        let written = match written {
            Ok(()) => out.flush().await,
            failed => failed,
        };
        if written.is_err() {
            queue.abort();
            return;
        }
        batch.clear();
        if queue.is_empty() || batch.capacity() > IDLE_BATCH {
            batch = Vec::new();
        }
    }
    let _ = out.flush().await;
    let _ = out.close().await;
}

/// Copies `first`, `second` and whatever else is waiting (up to [`MAX_BATCH`]) into `batch`.
fn gather(batch: &mut Vec<u8>, first: &Chunk, second: &Chunk, queue: &Queue) {
    batch.extend_from_slice(first.as_slice());
    batch.extend_from_slice(second.as_slice());
    while batch.len() < MAX_BATCH {
        match queue.try_next() {
            Some(chunk) => batch.extend_from_slice(chunk.as_slice()),
            None => break,
        }
    }
}

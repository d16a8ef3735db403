//! The writer task: the client's writer of last resort, which waits for its lines and for
//! the connection to take them. A flush writes lines itself when the connection takes
//! them at once (`core::writing`); what it cannot write, and everything on connections
//! that must encode their bytes (TLS, WebSocket), is written here.

use std::io;

use futures_lite::{AsyncWrite, AsyncWriteExt};

use crate::core::{gather, Queue, Turn};

/// A batch buffer bigger than this is given back after use even while lines keep coming.
const IDLE_BATCH: usize = 4 * 1024;

/// Drains `queue` onto `out`, every waiting chunk in one write, until the queue is closed
/// and empty or the peer goes away. At a clean end it closes `out` (for TCP a half-close:
/// FIN after the last line), so the reader can still drain the peer's input; after a
/// failed write it cuts the connection, which wakes the reader so the client leaves.
///
/// Idle, this future holds only its two handles and its place in the queue's waker slot:
/// the gathering buffer is given back whenever the queue runs dry.
pub async fn write_loop<W: AsyncWrite + Unpin>(queue: Queue, mut out: W) {
    let mut batch: Vec<u8> = Vec::new();
    while let Some(turn) = queue.turn().await {
        // Boxed: the writing's state (its chunks, a write in flight) lives only while there
        // is something to write, rather than sizing the task for its whole idle life.
        if Box::pin(write_turn(&turn, &mut out, &mut batch)).await.is_err() {
            // Cut while still holding the turn, so nobody writes after a half-written line.
            queue.abort();
            return;
        }
        drop(turn);
        if queue.is_empty() || batch.capacity() > IDLE_BATCH {
            batch = Vec::new();
        }
    }
    let _ = out.flush().await;
    let _ = out.close().await;
}

/// Writes everything there is while holding the turn: each time, whatever is waiting in
/// one write.
async fn write_turn<W: AsyncWrite + Unpin>(
    turn: &Turn<'_>,
    out: &mut W,
    batch: &mut Vec<u8>,
) -> io::Result<()> {
    while let Some(first) = turn.next() {
        match turn.next() {
            // A lone chunk (one room batch, usually) is written straight from the shared
            // allocation, with no copy.
            None => out.write_all(first.as_slice()).await?,
            Some(second) => {
                batch.clear();
                gather(batch, &first, second, || turn.next());
                out.write_all(batch).await?;
            }
        }
        // A TLS stream may keep encrypted bytes back until flushed; TCP's flush is free.
        out.flush().await?;
    }
    Ok(())
}

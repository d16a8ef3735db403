//! Reading lines from an async byte stream, with the protocol's line limit; both sides use it.

use std::io;
use std::time::Instant;

use futures_lite::{future, AsyncRead, AsyncReadExt};

use crate::protocol::{Frame, LineFramer};

/// A line that was longer than the limit; its bytes were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

/// Reads `\n`-terminated lines of bounded length from `R`.
#[derive(Debug)]
pub struct LineReader<R> {
    /// Where the bytes come from.
    inner: R,
    /// What turns them into lines without ever holding more than the limit.
    framer: LineFramer,
    /// When the unfinished line now buffered began to arrive, for the slowloris timeout.
    partial_since: Option<Instant>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Reads lines of at most `max_line` bytes from `inner`.
    pub fn new(inner: R, max_line: usize) -> LineReader<R> {
        LineReader { inner, framer: LineFramer::new(max_line), partial_since: None }
    }

    /// The next line without its `\n` (a trailing `\r` is left for the text check to
    /// drop), `Err(LineTooLong)` for an over-long one, or `None` at end of stream. A
    /// partial line cut off by the end of the stream is dropped.
    ///
    /// Cancel-safe: dropping the future loses no bytes already received.
    pub async fn next_line(&mut self) -> io::Result<Option<Result<&[u8], LineTooLong>>> {
        let frame = loop {
            if let Some(frame) = self.framer.next_frame() {
                // Whatever is left over is the start of the next line, as of now.
                self.partial_since = self.framer.mid_line().then(Instant::now);
                break frame;
            }
            let n = self.inner.read(self.framer.spare()).await?;
            if n == 0 {
                return Ok(None);
            }
            self.framer.commit(n);
            if self.partial_since.is_none() && self.framer.mid_line() {
                self.partial_since = Some(Instant::now());
            }
            // A peer that keeps the socket full without ever ending a line would otherwise
            // keep this loop, and the thread under it, busy forever.
            future::yield_now().await;
        };
        Ok(Some(match frame {
            Frame::Line(range) => Ok(&self.framer.bytes()[range]),
            Frame::TooLong => Err(LineTooLong),
        }))
    }

    /// When the unfinished line held now started to arrive; `None` between lines.
    pub fn partial_since(&self) -> Option<Instant> {
        self.partial_since
    }

    /// The stream being read.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

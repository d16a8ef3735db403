//! Reading lines from an async byte stream, with the protocol's line limit; both sides use it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::{future, AsyncRead};

use crate::proto::chat::{Frame, LineFramer};

/// A line that was longer than the limit; its bytes were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

/// What reading a line gives: the line (or [`LineTooLong`]), `None` at end of stream, or
/// the stream's error.
pub type NextLine<'a> = io::Result<Option<Result<&'a [u8], LineTooLong>>>;

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
    pub async fn next_line(&mut self) -> NextLine<'_> {
        let frame = future::poll_fn(|cx| self.poll_frame(cx)).await?;
        Ok(frame.map(|frame| self.line(frame)))
    }

    /// [`next_line`](Self::next_line) as a poll, for a caller that waits on other things
    /// too without a future of its own.
    pub fn poll_next_line(&mut self, cx: &mut Context<'_>) -> Poll<NextLine<'_>> {
        match self.poll_frame(cx) {
            Poll::Ready(Ok(frame)) => Poll::Ready(Ok(frame.map(|frame| self.line(frame)))),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn line(&self, frame: Frame) -> Result<&[u8], LineTooLong> {
        match frame {
            Frame::Line(range) => Ok(&self.framer.bytes()[range]),
            Frame::TooLong => Err(LineTooLong),
        }
    }

    /// Takes the next frame, reading as needed. When the stream has nothing more to read
    /// and no unfinished line is held, the read buffer is given back, so an idle reader
    /// holds none; a busy one, whose reads keep succeeding, keeps it.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Frame>>> {
        let skipping = self.framer.skipping();
        if let Some(frame) = self.framer.next_frame() {
            // Whatever is left over is the start of the next line, as of now.
            self.partial_since = self.framer.mid_line().then(Instant::now);
            return Poll::Ready(Ok(Some(frame)));
        }
        if skipping && !self.framer.skipping() {
            // The over-long line ended, with no frame of its own (it was reported when it
            // grew too long): its timer stops, and whatever follows it is a new line.
            self.partial_since = self.framer.mid_line().then(Instant::now);
        }
        let n = match Pin::new(&mut self.inner).poll_read(cx, self.framer.spare()) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => {
                self.framer.release_if_empty();
                return Poll::Pending;
            }
        };
        if n == 0 {
            return Poll::Ready(Ok(None));
        }
        self.framer.commit(n);
        if self.partial_since.is_none() && self.framer.mid_line() {
            self.partial_since = Some(Instant::now());
        }
        // Come back after the other tasks have had a turn: a peer that keeps the socket
        // full without ever ending a line would otherwise keep this reader, and the thread
        // under it, busy forever.
        cx.waker().wake_by_ref();
        Poll::Pending
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

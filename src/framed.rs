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
        let before = self.framer.bytes().len();
        self.framer.commit(n);
        if memchr::memchr(b'\n', &self.framer.bytes()[before..]).is_some() {
            // The line being timed has ended, though its frame is taken only on the next
            // poll: a reader that comes back late to a line long finished must not see it
            // as stalled in the meantime.
            self.partial_since = None;
        } else if self.partial_since.is_none() && self.framer.mid_line() {
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::task::Waker;

    use super::*;

    /// Gives its chunks one read each, then nothing yet.
    struct Chunks(VecDeque<&'static [u8]>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            match self.0.pop_front() {
                Some(chunk) => {
                    buf[..chunk.len()].copy_from_slice(chunk);
                    Poll::Ready(Ok(chunk.len()))
                }
                None => Poll::Pending,
            }
        }
    }

    #[test]
    fn a_line_that_ends_is_no_longer_timed_even_before_it_is_taken() {
        let mut reader = LineReader::new(Chunks(VecDeque::from([&b"hal"[..], b"f\nne"])), 64);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(reader.poll_next_line(&mut cx).is_pending());
        assert!(reader.partial_since().is_some(), "half a line is timed");
        // The rest arrives; the reader gives other tasks a turn before taking the line.
        assert!(reader.poll_next_line(&mut cx).is_pending());
        assert_eq!(reader.partial_since(), None, "the line has ended");
        match reader.poll_next_line(&mut cx) {
            Poll::Ready(Ok(Some(Ok(line)))) => assert_eq!(line, b"half"),
            other => panic!("not the line: {other:?}"),
        }
        assert!(reader.partial_since().is_some(), "the next one is timed from now");
    }
}

//! Splitting a byte stream into lines, never holding more than the line limit.
//!
//! Pure and I/O-free so it can be fuzzed: the caller reads into [`LineFramer::spare`],
//! reports how much arrived with [`LineFramer::commit`], then takes frames out.

use std::ops::Range;

/// The longest line accepted unless configured otherwise, in bytes, without the `\n`.
pub const DEFAULT_MAX_LINE: usize = 4096;

/// The most bytes asked of the socket in one read.
const READ_CHUNK: usize = 4096;

/// The fewest: what a reader asks for first, since most lines are short.
const MIN_READ: usize = 256;

/// Buffers kept above this size after a long line are shrunk back, so a busy reader that
/// once received a long line does not keep its memory (an idle one gives its buffer back).
const IDLE_CAPACITY: usize = READ_CHUNK;

/// One unit taken out of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line (without `\n`); the bytes are at this range of [`LineFramer::bytes`].
    Line(Range<usize>),
    /// A line longer than the limit; its bytes were discarded, up to and including its `\n`.
    TooLong,
}

/// Turns received bytes into lines of at most `max` bytes (a trailing `\r` not counted).
#[derive(Debug)]
pub struct LineFramer {
    /// Received bytes; `buf[start..]` is not yet framed.
    buf: Vec<u8>,
    /// Where the unframed bytes begin.
    start: usize,
    /// How much of `buf` holds received bytes; past it lies the area handed out by `spare`.
    filled: usize,
    /// Where the search for `\n` resumes, so a line trickling in is not rescanned.
    scanned: usize,
    /// The line limit in bytes.
    max: usize,
    /// True while skipping the rest of an over-long line.
    discarding: bool,
    /// How much to ask for next: doubles while reads fill it, halves while they do not,
    /// so a busy sender gets large reads and a client that sends now and then small ones.
    read_size: usize,
}

impl LineFramer {
    /// A framer for lines of at most `max` bytes. Allocates nothing until data arrives.
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            buf: Vec::new(),
            start: 0,
            filled: 0,
            scanned: 0,
            max,
            discarding: false,
            read_size: MIN_READ,
        }
    }

    /// The unframed bytes can hold `max + 2` at most (the line, a `\r`, and one byte
    /// that proves it too long), so that is where reading stops.
    fn limit(&self) -> usize {
        self.max.saturating_add(2)
    }

    /// Space to read into. Never empty; the buffer never grows past the line limit.
    pub fn spare(&mut self) -> &mut [u8] {
        self.compact();
        let pending = self.buf.len();
        let room = self.limit().saturating_sub(pending).clamp(1, self.read_size);
        self.buf.resize(pending + room, 0);
        self.filled = pending;
        &mut self.buf[pending..]
    }

    /// Records that the first `n` bytes of the last [`spare`](Self::spare) were filled.
    pub fn commit(&mut self, n: usize) {
        let offered = self.buf.len() - self.filled;
        if n >= offered {
            self.read_size = (self.read_size * 2).min(READ_CHUNK);
        } else if n < self.read_size / 4 {
            self.read_size = (self.read_size / 2).max(MIN_READ);
        }
        let end = self.filled.saturating_add(n).min(self.buf.len());
        self.buf.truncate(end);
        self.filled = end;
    }

    /// The bytes a [`Frame::Line`] range points into; valid until the next `spare`.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Takes the next frame, if a whole one has arrived.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let from = self.scanned.max(self.start);
            let found = memchr::memchr(b'\n', &self.buf[from..self.filled]).map(|i| from + i);
            let Some(end) = found else {
                return self.check_unfinished();
            };
            let line = self.start..end;
            self.start = end + 1;
            self.scanned = self.start;
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            let len = line.len() - usize::from(self.buf[..end].ends_with(b"\r"));
            return Some(if len > self.max { Frame::TooLong } else { Frame::Line(line) });
        }
    }

    /// No `\n` yet: an unfinished line that already exceeds the limit is reported once and
    /// then skipped as it keeps arriving.
    fn check_unfinished(&mut self) -> Option<Frame> {
        self.scanned = self.filled;
        let pending = self.filled - self.start;
        if self.discarding {
            self.start = self.filled;
            return None;
        }
        if pending >= self.limit() {
            self.discarding = true;
            self.start = self.filled;
            return Some(Frame::TooLong);
        }
        None
    }

    /// Moves unframed bytes to the front and gives back memory after a long line.
    fn compact(&mut self) {
        self.buf.truncate(self.filled);
        self.buf.drain(..self.start);
        self.filled -= self.start;
        self.scanned -= self.start.min(self.scanned);
        self.start = 0;
        if self.buf.is_empty() && self.buf.capacity() > IDLE_CAPACITY {
            self.buf = Vec::new();
        }
    }

    /// Gives the buffer back if it holds no unframed bytes, so that a reader waiting for
    /// input holds no memory for it; the next [`spare`](Self::spare) allocates again.
    pub fn release_if_empty(&mut self) {
        if self.pending() == 0 {
            self.buf = Vec::new();
            self.start = 0;
            self.filled = 0;
            self.scanned = 0;
        }
    }

    /// True when a line has started to arrive and not yet ended (held or being skipped).
    pub fn mid_line(&self) -> bool {
        self.discarding || self.pending() > 0
    }

    /// True while the rest of an over-long line, already reported, is being skipped.
    pub fn skipping(&self) -> bool {
        self.discarding
    }

    /// How many unframed bytes are held; never more than the limit plus two.
    pub fn pending(&self) -> usize {
        self.filled - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes and collects what comes out.
    fn frames(max: usize, input: &[u8], step: usize) -> Vec<Option<Vec<u8>>> {
        let mut framer = LineFramer::new(max);
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            let mut piece = piece;
            while !piece.is_empty() {
                let spare = framer.spare();
                let n = spare.len().min(piece.len());
                spare[..n].copy_from_slice(&piece[..n]);
                framer.commit(n);
                piece = &piece[n..];
                while let Some(frame) = framer.next_frame() {
                    out.push(match frame {
                        Frame::Line(r) => Some(framer.bytes()[r].to_vec()),
                        Frame::TooLong => None,
                    });
                }
                assert!(framer.pending() <= max + 2);
            }
        }
        out
    }

    #[test]
    fn splits_lines_whatever_the_chunking() {
        let input = b"one\ntwo\r\n\nthree\n";
        for step in 1..input.len() {
            let got = frames(100, input, step);
            let want = vec![
                Some(b"one".to_vec()),
                Some(b"two\r".to_vec()),
                Some(vec![]),
                Some(b"three".to_vec()),
            ];
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn limit_is_exact() {
        let at = [b"a".repeat(8), b"\n".to_vec()].concat();
        assert_eq!(frames(8, &at, 3), vec![Some(b"a".repeat(8))]);
        let at_crlf = [b"a".repeat(8), b"\r\n".to_vec()].concat();
        assert_eq!(frames(8, &at_crlf, 1), vec![Some([b"a".repeat(8), b"\r".to_vec()].concat())]);
        let over = [b"a".repeat(9), b"\n".to_vec()].concat();
        assert_eq!(frames(8, &over, 1), vec![None]);
    }

    #[test]
    fn a_long_line_is_reported_once_and_the_next_line_survives() {
        let input = [b"x".repeat(10_000), b"\nok\n".to_vec()].concat();
        for step in [1, 7, 4096, 20_000] {
            assert_eq!(frames(16, &input, step), vec![None, Some(b"ok".to_vec())], "step {step}");
        }
    }

    #[test]
    fn memory_is_released_after_a_long_line() {
        let mut framer = LineFramer::new(100_000);
        let spare = framer.spare();
        let n = spare.len();
        spare.fill(b'y');
        framer.commit(n);
        assert_eq!(framer.next_frame(), None);
        let spare = framer.spare();
        spare[0] = b'\n';
        framer.commit(1);
        assert!(matches!(framer.next_frame(), Some(Frame::Line(_))));
        framer.spare();
        assert!(framer.buf.capacity() <= READ_CHUNK);
    }

    #[test]
    fn an_idle_framer_gives_its_buffer_back_but_keeps_a_partial_line() {
        let mut framer = LineFramer::new(100);
        framer.spare()[..4].copy_from_slice(b"ab\nc");
        framer.commit(4);
        assert_eq!(framer.next_frame(), Some(Frame::Line(0..2)));
        assert_eq!(framer.next_frame(), None);
        framer.spare();
        framer.release_if_empty();
        assert!(framer.buf.capacity() > 0, "the partial line `c` is kept");
        framer.spare()[0] = b'\n';
        framer.commit(1);
        assert!(
            matches!(framer.next_frame(), Some(Frame::Line(r)) if framer.bytes()[r.clone()] == *b"c")
        );
        framer.spare();
        framer.release_if_empty();
        assert_eq!(framer.buf.capacity(), 0);
        framer.spare()[..3].copy_from_slice(b"ok\n");
        framer.commit(3);
        assert!(
            matches!(framer.next_frame(), Some(Frame::Line(r)) if framer.bytes()[r.clone()] == *b"ok")
        );
    }
}

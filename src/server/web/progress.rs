//! Following a WebSocket's frames as their bytes arrive, so that a message that has begun
//! and not ended (a frame cut short, or a message sent in fragments) is timed out as an
//! unfinished line is over TCP. The WebSocket library assembles messages out of sight of
//! the line reader, which sees each one only once it is whole.
//!
//! It also gives other tasks a turn after each read, as the line reader over TCP does: the
//! library reads frame after frame until a message is whole, so a client that keeps the
//! socket full of frames that never end a message (empty continuations) would otherwise
//! keep it, and the thread under it, busy for as long as it sends, and the line timer
//! that should close it would never run.

use std::io::{self, Cursor};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_tungstenite::tungstenite::protocol::frame::coding::OpCode;
use async_tungstenite::tungstenite::protocol::frame::FrameHeader;
use futures_lite::{AsyncRead, AsyncWrite};

use crate::server::transport::Held;

/// The longest frame header: two bytes, a 64-bit length, a mask.
const MAX_HEADER: usize = 14;

/// Where the incoming frames stand, as far as their bytes have arrived.
#[derive(Debug, Default)]
struct Progress {
    /// The first bytes of a frame header that has begun to arrive.
    header: [u8; MAX_HEADER],
    /// How many of them have.
    header_len: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: u64,
    /// A data frame without FIN came last: the message goes on in later frames.
    fragmented: bool,
    /// The frames stopped making sense; the library refuses them, and nothing more is
    /// followed.
    lost: bool,
    /// When the unfinished message (or frame) began to arrive; `None` between them.
    since: Option<Instant>,
}

impl Progress {
    /// Follows `bytes`, the next ones read from the client.
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.lost {
            self.since.get_or_insert_with(Instant::now);
            if self.payload_left > 0 {
                let skipped =
                    bytes.len().min(usize::try_from(self.payload_left).unwrap_or(usize::MAX));
                self.payload_left -= skipped as u64;
                bytes = &bytes[skipped..];
            } else {
                self.header[self.header_len] = bytes[0];
                self.header_len += 1;
                bytes = &bytes[1..];
                self.parse_header();
            }
            if self.between_messages() {
                self.since = None;
            }
        }
    }

    /// Takes the header gathered so far if it is whole.
    fn parse_header(&mut self) {
        let mut cursor = Cursor::new(&self.header[..self.header_len]);
        match FrameHeader::parse(&mut cursor) {
            Ok(Some((header, length))) => {
                self.header_len = 0;
                self.payload_left = length;
                if let OpCode::Data(_) = header.opcode {
                    self.fragmented = !header.is_final;
                }
            }
            Ok(None) if self.header_len < MAX_HEADER => {}
            // Not a header the library could take either: it ends the connection.
            Ok(None) | Err(_) => self.lose(),
        }
    }

    /// Stops following: the library ends the connection over what came.
    fn lose(&mut self) {
        self.lost = true;
        self.since = None;
    }

    /// No frame is part-way in, and no message waits for more frames.
    fn between_messages(&self) -> bool {
        self.header_len == 0 && self.payload_left == 0 && !self.fragmented
    }
}

/// A stream whose incoming bytes are followed as frames; when a message began and is
/// not yet whole is told to the session's line timer through [`Held`].
pub struct Watched<S> {
    /// The stream.
    inner: S,
    /// What its bytes so far say.
    progress: Progress,
    /// Where the session's timer reads it.
    held: Arc<Held>,
    /// The last read returned bytes: the next one gives other tasks a turn first.
    turn_owed: bool,
}

impl<S> Watched<S> {
    /// Follows what is read from `inner`, which has not yet read any frame; the [`Held`]
    /// says when the message now arriving began.
    pub fn new(inner: S) -> (Watched<S>, Arc<Held>) {
        let held = Arc::new(Held::default());
        let progress = Progress::default();
        (Watched { inner, progress, held: held.clone(), turn_owed: false }, held)
    }

    /// Follows `bytes`, read from the client (before the stream was watched, or since).
    pub fn feed(&mut self, bytes: &[u8]) {
        let before = self.progress.since;
        self.progress.feed(bytes);
        if self.progress.since != before {
            self.held.set(self.progress.since);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // The turn is given before reading, not after: bytes read are the library's.
        if std::mem::take(&mut this.turn_owed) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = read {
            this.feed(&buf[..n]);
            this.turn_owed = n > 0;
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked frame from a client: FIN or not, `opcode`, and `payload` (under 126 bytes).
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![u8::from(fin) << 7 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        bytes.extend_from_slice(payload);
        bytes
    }

    fn begun(progress: &Progress) -> bool {
        progress.since.is_some()
    }

    #[test]
    fn a_whole_message_leaves_nothing_begun_however_its_bytes_are_cut() {
        let bytes = [frame(true, 1, b"hello"), frame(true, 9, b"ping")].concat();
        for cut in 0..bytes.len() {
            let mut progress = Progress::default();
            progress.feed(&bytes[..cut]);
            assert_eq!(begun(&progress), cut != 0 && cut != 11, "cut at {cut}");
            progress.feed(&bytes[cut..]);
            assert!(!begun(&progress), "cut at {cut}");
        }
    }

    #[test]
    fn a_message_in_fragments_is_begun_until_its_last_one_even_across_pings() {
        let mut progress = Progress::default();
        progress.feed(&frame(false, 1, b"hel"));
        assert!(begun(&progress));
        let since = progress.since;
        progress.feed(&frame(true, 9, b"ping"));
        progress.feed(&frame(false, 0, b"l"));
        assert!(begun(&progress));
        assert_eq!(progress.since, since, "timed from the message's first byte");
        progress.feed(&frame(true, 0, b"o"));
        assert!(!begun(&progress));
    }

    #[test]
    fn long_lengths_are_followed_to_the_end_of_their_payload() {
        let payload = vec![b'x'; 70_000];
        let mut bytes = vec![0x81, 0x80 | 127];
        bytes.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&payload);
        let mut progress = Progress::default();
        progress.feed(&bytes[..bytes.len() - 1]);
        assert!(begun(&progress));
        progress.feed(&bytes[bytes.len() - 1..]);
        assert!(!begun(&progress));
    }
}

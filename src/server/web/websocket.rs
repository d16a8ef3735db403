//! A WebSocket as a connection's halves, so that the chat session serves it as it serves
//! TCP: each text message the browser sends is read as a line, and each line the session
//! writes goes out as one text message.
//!
//! A text message is the bytes of a line and nothing else; the reader adds the `\n`. A
//! message that holds `\n` is read as several lines, as the same bytes would be over TCP
//! (and `\r\n` ends a line as over TCP). Binary messages are refused: the connection is
//! closed with 1003. A message over the line limit (plus [`MESSAGE_SLACK`]) is refused from
//! its frame's header, before its payload is read, and closed with 1009.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use async_tungstenite::tungstenite::error::ProtocolError;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use async_tungstenite::WebSocketStream;
use futures_lite::{AsyncRead, AsyncWrite, Stream};
use futures_util::Sink;

use super::progress::Watched;
use crate::core::Cut;
use crate::server::transport::Halves;

/// How far past the line limit a message may go and still be read: enough for a `\r`
/// and for a line just over the limit to get `ERROR line-too-long` like over TCP rather
/// than the end of the connection.
pub const MESSAGE_SLACK: usize = 1024;

/// The buffer frames are read into, allocated for the whole connection: a line or two.
/// It grows for a longer frame (up to the message limit).
const READ_BUFFER: usize = 4 * 1024;

/// Outgoing messages gather up to this much before being written; a flush writes them
/// whatever their size, and the session flushes after every batch of lines.
const WRITE_BUFFER: usize = 8 * 1024;

/// The most the outgoing buffer may hold for messages of up to `max_message` bytes: a full
/// buffer, one more message, and the control frames. The session waits for the client
/// before writing past [`WRITE_BUFFER`], but pongs to a client's pings are queued while
/// reading: without a cap a client that pings and never reads would make it grow without
/// end. At the cap the library keeps one pong waiting instead.
fn max_write_buffer(max_message: usize) -> usize {
    WRITE_BUFFER.saturating_add(max_message.saturating_mul(2))
}

/// The WebSocket of one connection, shared by its halves. The lock is held only while
/// one half polls it, never across an await, as `futures_lite::io::split` does.
type Shared<S> = Arc<Mutex<WebSocketStream<S>>>;

/// The reading half: text messages as lines.
pub struct MessageReader<S> {
    /// The WebSocket.
    ws: Shared<S>,
    /// The message being read, and how much of it has been.
    pending: Option<(Utf8Bytes, usize)>,
    /// Where the reading stands.
    state: ReadState,
}

/// Where the reading half stands.
enum ReadState {
    /// Reading messages.
    Open,
    /// The client sent what we refuse: say why with this close frame, then end.
    Refusing(CloseFrame),
    /// The close frame is queued: send it, then end.
    Flushing,
    /// Nothing more will be read.
    Ended,
}

/// The writing half: lines as text messages.
pub struct MessageWriter<S> {
    /// The WebSocket.
    ws: Shared<S>,
    /// The beginning of a line whose end has not been written yet.
    partial: Vec<u8>,
    /// The close frame has been queued; closing now only flushes it.
    closing: bool,
}

/// The halves of a connection `stream` whose client has been told `101`, `rest` being
/// what it sent after its request; cutting them cuts `cut`. Messages are held to
/// `max_line` (plus [`MESSAGE_SLACK`]). A message begun and not finished counts as a line
/// begun ([`Halves::held`]).
pub async fn halves<S>(
    stream: S,
    rest: Vec<u8>,
    cut: Arc<dyn Cut>,
    max_line: usize,
) -> Halves<MessageReader<Watched<S>>, MessageWriter<Watched<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max_message = max_line.saturating_add(MESSAGE_SLACK);
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(max_write_buffer(max_message))
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let (mut stream, held) = Watched::new(stream);
    stream.feed(&rest);
    let ws = WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(config)).await;
    let ws = Arc::new(Mutex::new(ws));
    let reader = MessageReader { ws: ws.clone(), pending: None, state: ReadState::Open };
    Halves {
        reader,
        writer: MessageWriter { ws, partial: Vec::new(), closing: false },
        cut,
        direct: None,
        held: Some(held),
    }
}

/// Locks the WebSocket; a panic in the other half cannot make it unusable.
fn lock<S>(ws: &Shared<S>) -> MutexGuard<'_, WebSocketStream<S>> {
    ws.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A WebSocket error as an I/O error, for the session's reads and writes.
fn io_error(error: WsError) -> io::Error {
    match error {
        WsError::Io(error) => error,
        other => io::Error::other(other),
    }
}

/// The close frame that tells the client why its input ended the connection, if it is
/// still there to be told.
fn close_for(error: &WsError) -> Option<CloseFrame> {
    let (code, reason) = match error {
        WsError::Capacity(_) => (CloseCode::Size, "message too long"),
        WsError::Utf8(_) => (CloseCode::Invalid, "text is not UTF-8"),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => return None,
        WsError::Protocol(_) => (CloseCode::Protocol, "protocol error"),
        _ => return None,
    };
    Some(CloseFrame { code, reason: reason.into() })
}

impl<S: AsyncRead + AsyncWrite + Unpin> MessageReader<S> {
    /// Copies what `buf` can take of the pending line (its text, then its `\n`).
    fn take(&mut self, buf: &mut [u8]) -> Option<usize> {
        let (text, taken) = self.pending.as_mut()?;
        let rest = &text.as_bytes()[*taken..];
        if rest.is_empty() {
            buf[0] = b'\n';
            self.pending = None;
            return Some(1);
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        *taken += n;
        Some(n)
    }

    /// Waits for the next message and decides what it is to the session.
    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let next = ready!(Pin::new(&mut *lock(&self.ws)).poll_next(cx));
        match next {
            Some(Ok(Message::Text(text))) => self.pending = Some((text, 0)),
            Some(Ok(Message::Binary(_))) => {
                let reason = "text only: one line per text message".into();
                self.state =
                    ReadState::Refusing(CloseFrame { code: CloseCode::Unsupported, reason });
            }
            // Pings are answered by the library; pongs answer nothing we sent. Neither
            // reaches the line reader, which gives other tasks a turn after each read, so
            // a turn is given here: a client sending nothing but pings would otherwise
            // hold this thread for as long as it keeps the socket full.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Some(Ok(Message::Close(_))) | None => self.state = ReadState::Ended,
            Some(Err(error)) => {
                self.state = match close_for(&error) {
                    Some(frame) => ReadState::Refusing(frame),
                    None => ReadState::Ended,
                };
            }
        }
        Poll::Ready(())
    }

    /// Sends the refusal's close frame; the reading ends whether or not it could be.
    fn poll_refuse(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut ws = lock(&self.ws);
        let mut ws = Pin::new(&mut *ws);
        let state = std::mem::replace(&mut self.state, ReadState::Ended);
        match state {
            ReadState::Refusing(frame) => match ws.as_mut().poll_ready(cx) {
                Poll::Pending => {
                    self.state = ReadState::Refusing(frame);
                    return Poll::Pending;
                }
                Poll::Ready(Ok(()))
                    if ws.as_mut().start_send(Message::Close(Some(frame))).is_ok() =>
                {
                    self.state = ReadState::Flushing;
                }
                Poll::Ready(_) => {}
            },
            ReadState::Flushing => {
                if ws.as_mut().poll_flush(cx).is_pending() {
                    self.state = ReadState::Flushing;
                    return Poll::Pending;
                }
            }
            other => self.state = other,
        }
        Poll::Ready(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MessageReader<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if let Some(n) = this.take(buf) {
                return Poll::Ready(Ok(n));
            }
            match this.state {
                ReadState::Open => ready!(this.poll_message(cx)),
                ReadState::Refusing(_) | ReadState::Flushing => ready!(this.poll_refuse(cx)),
                ReadState::Ended => return Poll::Ready(Ok(0)),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> MessageWriter<S> {
    /// The text of a line whose last bytes are `end`: the partial line kept so far and
    /// `end`. The session writes only text; anything else is made text rather than lost.
    fn line(&mut self, end: &[u8]) -> Message {
        let bytes = if self.partial.is_empty() {
            end.to_vec()
        } else {
            self.partial.extend_from_slice(end);
            std::mem::take(&mut self.partial)
        };
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
        Message::Text(text.into())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MessageWriter<S> {
    /// Sends each whole line of `buf` as a text message (without its `\n`), keeping an
    /// unfinished one for the next write; says how much it took.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let ws = this.ws.clone();
        let mut ws = lock(&ws);
        let mut ws = Pin::new(&mut *ws);
        let mut written = 0;
        while let Some(end) = memchr::memchr(b'\n', &buf[written..]) {
            match ws.as_mut().poll_ready(cx) {
                Poll::Pending if written == 0 => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Ok(written)),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(io_error(error))),
                Poll::Ready(Ok(())) => {}
            }
            let message = this.line(&buf[written..written + end]);
            ws.as_mut().start_send(message).map_err(io_error)?;
            written += end + 1;
        }
        this.partial.extend_from_slice(&buf[written..]);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.ws)).poll_flush(cx).map_err(io_error)
    }

    /// Sends the close frame (1000) after what was written, and flushes it.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut ws = lock(&this.ws);
        let mut ws = Pin::new(&mut *ws);
        if !this.closing {
            // The library's own close sends no code, which a browser reports as 1005. If
            // the frame cannot be queued (the client closed first, and was answered), the
            // library's close below says whether that matters.
            if ready!(ws.as_mut().poll_ready(cx)).is_ok() {
                let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                let _ = ws.as_mut().start_send(Message::Close(Some(frame)));
            }
            this.closing = true;
        }
        ws.poll_close(cx).map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use futures_lite::future;

    use super::*;

    /// A client's bytes, read once, and a socket that takes writes only once `open`.
    struct Wire {
        input: Vec<u8>,
        read: usize,
        output: Arc<Mutex<Vec<u8>>>,
        open: Arc<AtomicBool>,
    }

    impl AsyncRead for Wire {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let rest = &self.input[self.read..];
            if rest.is_empty() {
                return Poll::Pending;
            }
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.read += n;
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Wire {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if !self.open.load(Ordering::Relaxed) {
                return Poll::Pending;
            }
            self.output.lock().expect("output").extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    struct NoCut;

    impl Cut for NoCut {
        fn cut(&self) {}
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `count` masked pings from a client, each with `payload` bytes (at most 125).
    fn pings(count: usize, payload: usize) -> Vec<u8> {
        let mut frame = vec![0x89, 0x80 | payload as u8, 0, 0, 0, 0];
        frame.resize(frame.len() + payload, b'p');
        frame.repeat(count)
    }

    const MAX_LINE: usize = 512;

    /// The halves of a WebSocket over a wire, with what the wire was given to write and
    /// its switch to writable.
    struct Test {
        halves: Halves<MessageReader<Watched<Wire>>, MessageWriter<Watched<Wire>>>,
        output: Arc<Mutex<Vec<u8>>>,
        open: Arc<AtomicBool>,
    }

    /// A WebSocket over a wire holding `input`, not yet writable.
    fn over(input: Vec<u8>) -> Test {
        let output = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(AtomicBool::new(false));
        let wire = Wire { input, read: 0, output: output.clone(), open: open.clone() };
        let halves = future::block_on(halves(wire, Vec::new(), Arc::new(NoCut), MAX_LINE));
        Test { halves, output, open }
    }

    /// Polls the reader until it waits without having woken itself; returns how many
    /// polls gave a turn away.
    fn read_all(reader: &mut MessageReader<Watched<Wire>>) -> usize {
        let wakes = Arc::new(Wakes::default());
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut buf = [0; 64];
        let mut turns = 0;
        loop {
            let before = wakes.0.load(Ordering::Relaxed);
            match Pin::new(&mut *reader).poll_read(&mut cx, &mut buf) {
                Poll::Pending if wakes.0.load(Ordering::Relaxed) > before => turns += 1,
                Poll::Pending => return turns,
                Poll::Ready(other) => panic!("pings are not lines: {other:?}"),
            }
        }
    }

    #[test]
    fn each_ping_gives_other_tasks_a_turn() {
        let mut test = over(pings(100, 4));
        // One per ping, and one for each read of the socket (the first, here: they all
        // arrive at once).
        assert_eq!(read_all(&mut test.halves.reader), 100 + 1);
    }

    #[test]
    fn pongs_to_a_client_that_does_not_read_stay_within_the_write_buffer() {
        let Test { mut halves, output, open } = over(pings(10_000, 125));
        read_all(&mut halves.reader);
        open.store(true, Ordering::Relaxed);
        let flushed =
            future::block_on(future::poll_fn(|cx| Pin::new(&mut halves.writer).poll_flush(cx)));
        assert!(flushed.is_ok(), "{flushed:?}");
        let sent = output.lock().expect("output").len();
        let bound = max_write_buffer(MAX_LINE + MESSAGE_SLACK) + 2 + 125;
        assert!(sent <= bound, "{sent} bytes of pongs, over {bound}");
        assert!(sent > 0, "the pongs that fit are sent");
    }
}

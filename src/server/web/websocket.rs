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
}

/// The halves of a connection `stream` whose client has been told `101`, `rest` being
/// what it sent after its request; cutting them cuts `cut`. Messages are held to
/// `max_line` (plus [`MESSAGE_SLACK`]).
pub async fn halves<S>(
    stream: S,
    rest: Vec<u8>,
    cut: Arc<dyn Cut>,
    max_line: usize,
) -> Halves<MessageReader<S>, MessageWriter<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max_message = max_line.saturating_add(MESSAGE_SLACK);
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let ws = WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(config)).await;
    let ws = Arc::new(Mutex::new(ws));
    let reader = MessageReader { ws: ws.clone(), pending: None, state: ReadState::Open };
    Halves { reader, writer: MessageWriter { ws, partial: Vec::new() }, cut, direct: None }
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
            // Pings are answered by the library; pongs answer nothing we sent.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
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
        Pin::new(&mut *lock(&self.ws)).poll_close(cx).map_err(io_error)
    }
}

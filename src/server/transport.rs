//! Transports as read and write halves: sessions read lines from any `AsyncRead` and their
//! writer tasks write any `AsyncWrite`, so TLS or WebSocket streams can stand in for TCP.
//! Halves can be joined again into one stream for a library that wants one (WebSocket).

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::server::TlsStream;
use smol::Async;

use crate::core::{Cut, TryWrite};

/// A connection taken apart: what sessions read, what the writer task writes, and how to
/// cut it off when the client stops reading.
pub struct Halves<R, W> {
    /// The incoming bytes.
    pub reader: R,
    /// The outgoing bytes, which the writer task writes (and, over plain TCP, a flush
    /// through `direct`, taking turns with it).
    pub writer: W,
    /// Shuts the connection down both ways, waking both halves.
    pub cut: Arc<dyn Cut>,
    /// Writes without waiting, when the writer's bytes go out as they are (plain TCP):
    /// a flush then writes them itself. `None` where the writer encodes (TLS, WebSocket).
    pub direct: Option<Arc<dyn TryWrite>>,
    /// Says when input the reader has not passed on yet began to arrive, where a
    /// transport holds input back until it is whole (WebSocket); `None` elsewhere.
    pub held: Option<Arc<Held>>,
}

/// When input that a transport holds back from its reader until it is whole (a WebSocket
/// message arriving in fragments) began to arrive: set by the transport as its bytes come,
/// read by the session's line timer, which counts it as a line begun.
#[derive(Debug, Default)]
pub struct Held(Mutex<Option<Instant>>);

impl Held {
    /// When the input held now began to arrive; `None` when nothing is held.
    pub fn since(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes when the input held now began to arrive (`None`: nothing is held).
    pub fn set(&self, since: Option<Instant>) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = since;
    }
}

/// A connection's two halves as one stream: reads go to the reader, writes to the writer.
pub struct Joined<R, W> {
    /// Where reads go.
    reader: R,
    /// Where writes go.
    writer: W,
}

impl<R, W> Halves<R, W> {
    /// Joins the halves into one stream, and returns it with the way to cut it.
    ///
    /// Whatever wraps the stream encodes its bytes, so nothing may write past it.
    pub fn join(self) -> (Joined<R, W>, Arc<dyn Cut>) {
        (Joined { reader: self.reader, writer: self.writer }, self.cut)
    }
}

impl<R: AsyncRead + Unpin, W: Unpin> AsyncRead for Joined<R, W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl<R: Unpin, W: AsyncWrite + Unpin> AsyncWrite for Joined<R, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_close(cx)
    }
}

/// A plain TCP connection, shared by its two halves.
///
/// Each half reads or writes through `&Async`, which waits in the reactor's own waker slot,
/// where `async_net::TcpStream` would keep a readiness future (and a waker list entry) for
/// every idle connection.
#[derive(Clone)]
pub struct Tcp(Arc<Async<TcpStream>>);

/// A TLS connection's halves: both take turns on the one encrypted stream, which is
/// locked only while a read or a write is polled.
pub type TlsHalves = Halves<ReadHalf<TlsStream<Tcp>>, WriteHalf<TlsStream<Tcp>>>;

impl Tcp {
    /// Takes an accepted stream.
    pub fn new(stream: async_net::TcpStream) -> Tcp {
        Tcp(stream.into())
    }

    /// Splits a plain connection into its halves.
    pub fn halves(self) -> Halves<Tcp, Tcp> {
        // The cut and the direct writer share the socket's allocation rather than each
        // wrapping a handle in one of their own.
        let (cut, direct) = (self.0.clone(), self.0.clone());
        Halves { reader: self.clone(), writer: self, cut, direct: Some(direct), held: None }
    }

    /// Splits an encrypted connection over `tcp` into its halves; cutting it cuts `tcp`.
    pub fn tls_halves(stream: TlsStream<Tcp>, tcp: Tcp) -> TlsHalves {
        let (reader, writer) = futures_lite::io::split(stream);
        Halves { reader, writer, cut: tcp.0, direct: None, held: None }
    }

    /// Reads the first bytes without taking them.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.peek(buf).await
    }

    /// Shuts the connection down both ways.
    pub fn close_both(&self) {
        self.0.cut();
    }
}

impl Cut for Tcp {
    fn cut(&self) {
        self.0.cut();
    }

    fn stop_reading(&self) {
        self.0.stop_reading();
    }
}

impl Cut for Async<TcpStream> {
    fn cut(&self) {
        let _ = self.get_ref().shutdown(Shutdown::Both);
    }

    fn stop_reading(&self) {
        let _ = self.get_ref().shutdown(Shutdown::Read);
    }
}

impl TryWrite for Async<TcpStream> {
    fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        // The socket is non-blocking (async-io made it so): this never waits.
        let mut stream: &TcpStream = self.get_ref();
        stream.write(bytes)
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    /// A half-close: FIN after the last line, so the reader can still drain the peer.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.get_ref().shutdown(Shutdown::Write))
    }
}

//! Transports as read and write halves: sessions read lines from any `AsyncRead` and their
//! writer tasks write any `AsyncWrite`, so TLS or WebSocket streams can stand in for TCP.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};
use smol::Async;

use crate::core::Cut;

/// A connection taken apart: what sessions read, what the writer task writes, and how to
/// cut it off when the client stops reading.
pub struct Halves<R, W> {
    /// The incoming bytes.
    pub reader: R,
    /// The outgoing bytes; only the writer task writes them.
    pub writer: W,
    /// Shuts the connection down both ways, waking both halves.
    pub cut: Arc<dyn Cut>,
}

/// A plain TCP connection, shared by its two halves.
///
/// Each half reads or writes through `&Async`, which waits in the reactor's own waker slot,
/// where `async_net::TcpStream` would keep a readiness future (and a waker list entry) for
/// every idle connection.
#[derive(Clone)]
pub struct Tcp(Arc<Async<TcpStream>>);

impl Tcp {
    /// Splits an accepted stream into its halves.
    pub fn halves(stream: async_net::TcpStream) -> Halves<Tcp, Tcp> {
        let tcp = Tcp(stream.into());
        Halves { reader: tcp.clone(), writer: tcp.clone(), cut: Arc::new(tcp) }
    }
}

impl Cut for Tcp {
    fn cut(&self) {
        let _ = self.0.get_ref().shutdown(Shutdown::Both);
    }

    fn stop_reading(&self) {
        let _ = self.0.get_ref().shutdown(Shutdown::Read);
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

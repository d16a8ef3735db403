//! A bench client's WebSocket, after the upgrade: one large read of the server's frames,
//! unframed into the lines the receive path parses, and each line written as a masked
//! frame of its own.

use std::cell::RefCell;
use std::io;
use std::net::TcpStream;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use smol::Async;

use super::connection::{read_socket, Got, Scratch};
use super::websocket::{self, Deframer, WebSocketError};

/// The most bytes of the server's HTTP answer to the upgrade read before its blank line.
const MAX_UPGRADE_ANSWER: usize = 16 * 1024;

/// A WebSocket over a socket, after the upgrade.
#[derive(Debug)]
pub struct Framed {
    /// The socket, non-blocking and registered with the reactor.
    pub(crate) tcp: Async<TcpStream>,
    /// The server's frames so far: a header split across reads, the answers owed.
    pub(crate) deframer: RefCell<Deframer>,
    /// Lines unframed but not yet handed out: what came after the server's answer to the
    /// upgrade in the same read, and during the handshake what a read did not take.
    early: RefCell<Vec<u8>>,
    /// The buffer a write's lines are framed into, kept from one write to the next. Taken
    /// out for the write's await: writes are one at a time anyway.
    outgoing: RefCell<Vec<u8>>,
}

impl Framed {
    /// Upgrades `tcp` to a WebSocket: asks for `/ws` on `host` and checks the answer.
    pub async fn upgrade(tcp: Async<TcpStream>, host: &str) -> Result<Framed, WebSocketError> {
        (&tcp).write_all(websocket::request(host).as_bytes()).await?;
        let mut answer = Vec::with_capacity(512);
        let end = loop {
            if let Some(end) = memchr::memmem::find(&answer, b"\r\n\r\n") {
                break end + 4;
            }
            if answer.len() > MAX_UPGRADE_ANSWER {
                return Err(WebSocketError::AnswerTooLong(MAX_UPGRADE_ANSWER));
            }
            let mut chunk = [0u8; 1024];
            let n = (&tcp).read(&mut chunk).await?;
            if n == 0 {
                return Err(WebSocketError::Closed);
            }
            answer.extend_from_slice(&chunk[..n]);
            if let Some(error) = websocket::not_http(&answer) {
                return Err(error);
            }
        };
        websocket::check_answer(&answer[..end])?;
        let framed = Framed {
            tcp,
            deframer: RefCell::new(Deframer::default()),
            early: RefCell::new(Vec::new()),
            outgoing: RefCell::new(Vec::new()),
        };
        // The server may have framed its first lines right behind its answer.
        framed.unframe_early(&answer[end..])?;
        Ok(framed)
    }

    /// Unframes `bytes` onto the end of `early`, for reads that take lines from there.
    fn unframe_early(&self, bytes: &[u8]) -> io::Result<()> {
        let mut early = self.early.borrow_mut();
        let start = early.len();
        early.resize(start + websocket::unframed_bound(bytes.len()), 0);
        match self.deframer.borrow_mut().unframe(bytes, &mut early[start..]) {
            Ok(n) => {
                early.truncate(start + n);
                Ok(())
            }
            Err(error) => {
                early.truncate(start);
                Err(error.into())
            }
        }
    }

    /// The handshake's read: lines from `early`, reading and unframing more if there are
    /// none, answering a ping at once (nobody else writes during the handshake).
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut early = self.early.borrow_mut();
                if !early.is_empty() {
                    let n = early.len().min(buf.len());
                    buf[..n].copy_from_slice(&early[..n]);
                    early.drain(..n);
                    return Ok(n);
                }
            }
            if self.deframer.borrow().closed {
                return Ok(0);
            }
            let mut chunk = [0u8; 1024];
            let n = (&self.tcp).read(&mut chunk).await?;
            if n == 0 {
                return Ok(0);
            }
            self.unframe_early(&chunk[..n])?;
            self.answer().await?;
        }
    }

    /// Frames `lines` into the kept buffer and writes it.
    pub(crate) async fn write_lines(&self, lines: &[u8]) -> io::Result<()> {
        let mut out = self.outgoing.take();
        out.clear();
        websocket::put_lines(&mut out, lines);
        let written = (&self.tcp).write_all(&out).await;
        self.outgoing.replace(out);
        written
    }

    /// Writes the control frames owed to the server.
    pub(crate) async fn answer(&self) -> io::Result<()> {
        let owed = std::mem::take(&mut self.deframer.borrow_mut().owed);
        if owed.is_empty() {
            return Ok(());
        }
        (&self.tcp).write_all(&owed).await
    }

    /// One read of the socket's frames, unframed into `scratch.plain` (after any lines
    /// the handshake left unframed, which come first and alone).
    pub(crate) fn try_read(&self, scratch: &mut Scratch) -> io::Result<Got> {
        let Scratch { plain, wire } = scratch;
        {
            let mut early = self.early.borrow_mut();
            if !early.is_empty() {
                let len = early.len().min(plain.len());
                plain[..len].copy_from_slice(&early[..len]);
                early.drain(..len);
                return Ok(Got::Bytes { len, drained: false });
            }
        }
        let mut deframer = self.deframer.borrow_mut();
        if deframer.closed {
            return Ok(Got::Closed);
        }
        let n = match read_socket(&self.tcp, wire)? {
            None => return Ok(Got::Nothing),
            Some(0) => return Ok(Got::Closed),
            Some(n) => n,
        };
        let len = deframer.unframe(&wire[..n], plain)?;
        if len == 0 && deframer.closed {
            return Ok(Got::Closed);
        }
        // After a close, the next read says so without waiting for the socket.
        Ok(Got::Bytes { len, drained: n < wire.len() && !deframer.closed })
    }
}

//! A bench client's connection: plain TCP, TLS over it (`--tls`), or WebSocket frames
//! over it (`--websocket`).
//!
//! The plain case is the socket itself, read and written exactly as before TLS existed. The
//! TLS case keeps rustls' client state beside the socket and encrypts and decrypts on the
//! generator's own thread with no lock: every client lives on one single-threaded
//! executor, and the state is borrowed only between two awaits, never across one. Reads
//! take the socket's ciphertext in one large chunk, as the plain path does, rather than
//! the 4 KiB at a time rustls would read by itself, so that TLS adds decryption to the
//! generator's cost per delivery but no system calls. The WebSocket case reads the same
//! way: one large read of frames, unframed into the lines the receive path parses.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::TcpStream;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use futures_rustls::rustls::ClientConnection;
use smol::Async;

use super::tls::TlsClient;
use super::websocket::{self, Deframer, WebSocketError};

/// How much smaller a thread's wire buffer is than its plaintext buffer. Over TLS: room
/// for the plaintext rustls may still hold from before a read (one record) and for the
/// record a read completes (another), so that one read's plaintext always fits. Over
/// WebSocket one byte would do ([`websocket::unframed_bound`]).
const WIRE_SLACK: usize = 64 * 1024;

/// The most bytes of the server's HTTP answer to the upgrade read before its blank line.
const MAX_UPGRADE_ANSWER: usize = 16 * 1024;

/// How a client's bytes travel over its TCP connection.
#[derive(Debug, Clone)]
pub enum Transport {
    /// As they are.
    Plain,
    /// Inside TLS, opened with this client.
    Tls(TlsClient),
    /// In WebSocket frames, after an upgrade that names this `HOST:PORT` as the `Host`
    /// and the `Origin`.
    WebSocket(String),
}

impl Transport {
    /// Whether the socket's bytes must be unwrapped (decrypted, unframed) into the lines.
    pub fn is_wrapped(&self) -> bool {
        !matches!(self, Transport::Plain)
    }
}

/// The buffers one generator thread's reads go through.
#[derive(Debug)]
pub struct Scratch {
    /// What the clients read: the stream's bytes, decrypted or unframed if need be.
    pub plain: Vec<u8>,
    /// Over TLS or WebSocket, the bytes one read takes from the socket (ciphertext,
    /// frames); empty for plain TCP.
    wire: Vec<u8>,
}

impl Scratch {
    /// Buffers for reads of up to `bytes`, with a wire buffer if the stream is `wrapped`.
    pub fn new(bytes: usize, wrapped: bool) -> Scratch {
        let wire =
            if wrapped { vec![0; bytes.saturating_sub(WIRE_SLACK).max(1)] } else { Vec::new() };
        Scratch { plain: vec![0; bytes], wire }
    }
}

/// What one read without waiting found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    /// Bytes of the stream, at the start of the scratch's `plain`.
    Bytes {
        /// How many.
        len: usize,
        /// The socket had no more, so the next read would only say so.
        drained: bool,
    },
    /// Nothing yet: wait for [`Connection::readable`].
    Nothing,
    /// The server closed the connection.
    Closed,
}

/// A client's connection to the server.
#[derive(Debug)]
pub enum Connection {
    /// Plain TCP: the socket, non-blocking and registered with the reactor.
    Plain(Async<TcpStream>),
    /// TLS; boxed, so that a plain connection stays the size of its socket.
    Tls(Box<Encrypted>),
    /// WebSocket, after the upgrade; boxed for the same reason.
    WebSocket(Box<Framed>),
}

/// A TLS session over a socket, after its handshake.
#[derive(Debug)]
pub struct Encrypted {
    /// The socket, non-blocking and registered with the reactor.
    tcp: Async<TcpStream>,
    /// rustls' side of the session: what it has decrypted and not yet handed out, and
    /// what it has encrypted and not yet written.
    session: RefCell<ClientConnection>,
    /// Set when the server's `close_notify` came: nothing more will.
    closed: Cell<bool>,
}

/// A WebSocket over a socket, after the upgrade.
#[derive(Debug)]
pub struct Framed {
    /// The socket, non-blocking and registered with the reactor.
    tcp: Async<TcpStream>,
    /// The server's frames so far: a header split across reads, the answers owed.
    deframer: RefCell<Deframer>,
    /// Lines unframed but not yet handed out: what came after the server's answer to the
    /// upgrade in the same read, and during the handshake what a read did not take.
    early: RefCell<Vec<u8>>,
    /// The buffer a write's lines are framed into, kept from one write to the next. Taken
    /// out for the write's await: writes are one at a time anyway.
    outgoing: RefCell<Vec<u8>>,
}

impl Connection {
    /// Runs the TLS handshake over `tcp`.
    pub async fn tls(tcp: Async<TcpStream>, tls: &TlsClient) -> io::Result<Connection> {
        let stream = tls.connector.connect(tls.name.clone(), tcp).await?;
        // futures-rustls did the handshake; from here on the bench drives rustls itself.
        let (tcp, session) = stream.into_inner();
        let session = RefCell::new(session);
        Ok(Connection::Tls(Box::new(Encrypted { tcp, session, closed: Cell::new(false) })))
    }

    /// Upgrades `tcp` to a WebSocket: asks for `/ws` on `host` and checks the answer.
    pub async fn websocket(
        tcp: Async<TcpStream>,
        host: &str,
    ) -> Result<Connection, WebSocketError> {
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
        Ok(Connection::WebSocket(Box::new(framed)))
    }

    /// Reads at least a byte, waiting if need be; 0 when the server has closed. For the
    /// handshake's few lines: the hot path uses [`Connection::try_read`].
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Connection::Plain(tcp) => (&*tcp).read(buf).await,
            Connection::Tls(tls) => loop {
                if let Some(n) = tls.read_some(buf)? {
                    return Ok(n);
                }
                tls.tcp.readable().await?;
            },
            Connection::WebSocket(framed) => framed.read(buf).await,
        }
    }

    /// Writes all of `data`, waiting if need be: over WebSocket, each line as a frame of
    /// its own, all in one write.
    pub async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        match self {
            Connection::Plain(tcp) => (&*tcp).write_all(data).await,
            Connection::Tls(tls) => {
                let mut rest = data;
                while !tls.push(&mut rest)? {
                    tls.tcp.writable().await?;
                }
                Ok(())
            }
            Connection::WebSocket(framed) => framed.write_lines(data).await,
        }
    }

    /// Whether reads left answers owed to the server below the lines (a WebSocket's
    /// pongs, its reply to a close), for [`Connection::answer`].
    pub fn owes_answers(&self) -> bool {
        match self {
            Connection::Plain(_) | Connection::Tls(_) => false,
            Connection::WebSocket(framed) => !framed.deframer.borrow().owed.is_empty(),
        }
    }

    /// Writes the answers owed; the caller is the socket's one writer meanwhile.
    pub async fn answer(&self) -> io::Result<()> {
        match self {
            Connection::Plain(_) | Connection::Tls(_) => Ok(()),
            Connection::WebSocket(framed) => framed.answer().await,
        }
    }

    /// Reads what has arrived into `scratch.plain`, without waiting.
    pub fn try_read(&self, scratch: &mut Scratch) -> io::Result<Got> {
        match self {
            Connection::Plain(tcp) => {
                let n = match read_socket(tcp, &mut scratch.plain)? {
                    None => return Ok(Got::Nothing),
                    Some(0) => return Ok(Got::Closed),
                    Some(n) => n,
                };
                Ok(Got::Bytes { len: n, drained: n < scratch.plain.len() })
            }
            Connection::Tls(tls) => tls.try_read(scratch),
            Connection::WebSocket(framed) => framed.try_read(scratch),
        }
    }

    /// Waits until the socket has something to read.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Connection::Plain(tcp) => tcp.readable().await,
            Connection::Tls(tls) => tls.tcp.readable().await,
            Connection::WebSocket(framed) => framed.tcp.readable().await,
        }
    }
}

impl Framed {
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
    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
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
    async fn write_lines(&self, lines: &[u8]) -> io::Result<()> {
        let mut out = self.outgoing.take();
        out.clear();
        websocket::put_lines(&mut out, lines);
        let written = (&self.tcp).write_all(&out).await;
        self.outgoing.replace(out);
        written
    }

    /// Writes the control frames owed to the server.
    async fn answer(&self) -> io::Result<()> {
        let owed = std::mem::take(&mut self.deframer.borrow_mut().owed);
        if owed.is_empty() {
            return Ok(());
        }
        (&self.tcp).write_all(&owed).await
    }

    /// One read of the socket's frames, unframed into `scratch.plain` (after any lines
    /// the handshake left unframed, which come first and alone).
    fn try_read(&self, scratch: &mut Scratch) -> io::Result<Got> {
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

impl Encrypted {
    /// Hands out decrypted bytes, reading and decrypting more if none are waiting;
    /// `None` when the socket has nothing yet.
    fn read_some(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut session = self.session.borrow_mut();
        let mut socket = self.tcp.get_ref();
        loop {
            match session.reader().read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(Some(0)),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
            // At the socket's end, rustls notes it and the reader above says so next.
            match session.read_tls(&mut socket) {
                Ok(_) => {
                    session.process_new_packets().map_err(invalid_data)?;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Encrypts what rustls takes of `rest` and writes what the socket takes; true once
    /// everything is out.
    fn push(&self, rest: &mut &[u8]) -> io::Result<bool> {
        let mut session = self.session.borrow_mut();
        if !rest.is_empty() {
            let taken = session.writer().write(rest)?;
            *rest = &rest[taken..];
        }
        let mut socket = self.tcp.get_ref();
        while session.wants_write() {
            match session.write_tls(&mut socket) {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(rest.is_empty())
    }

    /// One read of the socket's ciphertext, decrypted into `scratch.plain` after any
    /// plaintext rustls still held.
    fn try_read(&self, scratch: &mut Scratch) -> io::Result<Got> {
        if self.closed.get() {
            return Ok(Got::Closed);
        }
        let Scratch { plain, wire: cipher } = scratch;
        let mut session = self.session.borrow_mut();
        // What the handshake's reads left decrypted comes first.
        let mut len = take_plaintext(&mut session, plain)?;
        let read = read_socket(&self.tcp, cipher)?;
        let n = match read {
            Some(n) if n > 0 => n,
            // The socket is empty (or at its end): hand out what there is first.
            _ if len > 0 => return Ok(Got::Bytes { len, drained: true }),
            None => return Ok(Got::Nothing),
            Some(_) => return Ok(Got::Closed),
        };
        let mut input = &cipher[..n];
        while !input.is_empty() {
            // After the server's close_notify rustls takes nothing more.
            if session.read_tls(&mut input)? == 0 {
                break;
            }
            let state = session.process_new_packets().map_err(invalid_data)?;
            len += take_plaintext(&mut session, &mut plain[len..])?;
            if state.peer_has_closed() {
                self.closed.set(true);
                break;
            }
        }
        if len == 0 {
            let ended = self.closed.get();
            return Ok(if ended { Got::Closed } else { Got::Nothing });
        }
        Ok(Got::Bytes { len, drained: n < cipher.len() || self.closed.get() })
    }
}

/// One non-blocking read of the socket; `None` when it has nothing.
fn read_socket(tcp: &Async<TcpStream>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let mut socket = tcp.get_ref();
    loop {
        match socket.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Moves the plaintext rustls holds into `out`; the scratch's sizes guarantee it fits.
fn take_plaintext(session: &mut ClientConnection, out: &mut [u8]) -> io::Result<usize> {
    match session.reader().read(out) {
        Ok(n) => Ok(n),
        // Nothing decrypted yet, or the stream's end, which the socket and `closed` tell.
        Err(error)
            if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof) =>
        {
            Ok(0)
        }
        Err(error) => Err(error),
    }
}

/// A TLS error (a bad record, an alert) as an I/O error.
fn invalid_data(error: futures_rustls::rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

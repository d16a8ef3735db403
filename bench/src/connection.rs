//! A bench client's connection: plain TCP, TLS over it (`--tls`, in `encrypted`), or
//! WebSocket frames over it (`--websocket`, in `framed`).
//!
//! The plain case is the socket itself, read and written exactly as before TLS existed.
//! The other two read the same way, one large read of the socket into the thread's wire
//! buffer, and hand the receive path the lines inside it (decrypted, or unframed).

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use smol::Async;

use super::encrypted::Encrypted;
use super::framed::Framed;
use super::tls::TlsClient;
use super::websocket::WebSocketError;

/// How much smaller a thread's wire buffer is than its plaintext buffer. Over TLS: room
/// for the plaintext rustls may still hold from before a read (one record) and for the
/// record a read completes (another), so that one read's plaintext always fits. Over
/// WebSocket one byte would do ([`websocket::unframed_bound`]).
const WIRE_SLACK: usize = 64 * 1024;

/// One server the clients connect to, and how their bytes travel there. A run has one
/// per `--addr` entry, each client using the one [`Plan::server_of`] names.
///
/// [`Plan::server_of`]: super::config::Plan::server_of
#[derive(Debug, Clone)]
pub struct Destination {
    /// The server's address, resolved once for every client.
    pub addr: SocketAddr,
    /// How the bytes travel: per server, as TLS checks and WebSocket names its own host.
    pub transport: Transport,
}

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
    pub(crate) wire: Vec<u8>,
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

impl Connection {
    /// Runs the TLS handshake over `tcp`.
    pub async fn tls(tcp: Async<TcpStream>, tls: &TlsClient) -> io::Result<Connection> {
        Ok(Connection::Tls(Box::new(Encrypted::handshake(tcp, tls).await?)))
    }

    /// Upgrades `tcp` to a WebSocket: asks for `/ws` on `host` and checks the answer.
    pub async fn websocket(
        tcp: Async<TcpStream>,
        host: &str,
    ) -> Result<Connection, WebSocketError> {
        Ok(Connection::WebSocket(Box::new(Framed::upgrade(tcp, host).await?)))
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

/// One non-blocking read of the socket; `None` when it has nothing.
pub(crate) fn read_socket(tcp: &Async<TcpStream>, buf: &mut [u8]) -> io::Result<Option<usize>> {
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

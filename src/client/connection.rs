//! One connection to a server, split into a receiving half and a sending half.

use std::fmt;
use std::io;
use std::sync::Arc;

use async_lock::Mutex;
use async_net::{AsyncToSocketAddrs, TcpStream};
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use futures_rustls::rustls::pki_types::ServerName;
use futures_rustls::TlsConnector;
use thiserror::Error;

use crate::framed::{LineReader, LineTooLong};
use crate::proto::chat::{Command, ErrorCode, Line, LineError};

/// Where the server listens unless told otherwise: the original tutorial's address.
pub const DEFAULT_SERVER: &str = "127.0.0.1:55555";

/// The longest server line the client accepts. Server lines are longer than client lines:
/// a room's `NAMES` is one line, and a full room on a server of the default limits (20,000
/// people with nicknames of 32 four-byte characters) makes one of 2.6 MB. The buffer only
/// grows as far as a line actually needs.
pub const MAX_SERVER_LINE: usize = 4 << 20;

/// What can go wrong talking to a server.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The socket failed (connection refused, reset, ...).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server said goodbye, with its reason.
    #[error("the server closed the connection: {0}")]
    Bye(String),
    /// The server refused the nickname (taken, invalid, too long).
    #[error("{text}")]
    Refused {
        /// The stable error code.
        code: ErrorCode,
        /// The server's explanation.
        text: String,
    },
    /// The server sent something that is not the protocol.
    #[error("the server sent an unreadable line: {0}")]
    Protocol(String),
}

/// What the server said when it accepted the nickname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The nickname granted.
    pub nick: String,
    /// How many people are online, you included.
    pub online: usize,
    /// The protocol version the server speaks.
    pub protocol: u32,
}

impl Welcome {
    /// The `WELCOME` line it came from, for showing it.
    pub fn line(&self) -> Line {
        Line::Welcome { nick: self.nick.clone(), online: self.online, protocol: self.protocol }
    }
}

/// A connected client; [`Client::split`] separates receiving from sending.
#[derive(Debug)]
pub struct Client {
    /// The receiving half.
    pub events: Events,
    /// The sending half.
    pub sender: Sender,
    /// True while the server waits for its password (see [`Client::password`]).
    pub asks_password: bool,
}

/// What the client reads from: a TCP stream or the reading half of a TLS one.
type Incoming = Box<dyn AsyncRead + Send + Sync + Unpin>;

/// What the client writes to.
type Outgoing = Box<dyn AsyncWrite + Send + Sync + Unpin>;

/// The receiving half: typed events from the server, with `PING` answered automatically.
pub struct Events {
    lines: LineReader<Incoming>,
    /// Used only to answer `PING`.
    sender: Sender,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

/// The sending half; cheap to clone, and every line is written whole.
#[derive(Clone)]
pub struct Sender {
    /// Shared with the receiving half's automatic `/pong`, so lines never interleave.
    stream: Arc<Mutex<Outgoing>>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl Client {
    /// Connects over plain TCP and waits for the server's `NICK` request.
    pub async fn connect(addr: impl AsyncToSocketAddrs) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        Client::over(Box::new(stream.clone()), Box::new(stream)).await
    }

    /// Connects over TLS to `addr`, checking that the certificate is for `host` as
    /// `connector` is set up to, and waits for the server's `NICK` request.
    pub async fn connect_tls(
        addr: impl AsyncToSocketAddrs,
        host: &str,
        connector: &TlsConnector,
    ) -> Result<Client, ClientError> {
        let name = ServerName::try_from(host.to_string()).map_err(|error| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{host:?}: {error}"))
        })?;
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let tls = connector.connect(name, stream).await?;
        let (reader, writer) = futures_lite::io::split(tls);
        Client::over(Box::new(reader), Box::new(writer)).await
    }

    /// Speaks the protocol over `reader` and `writer` until the server asks for a
    /// nickname, or for its password first.
    async fn over(reader: Incoming, writer: Outgoing) -> Result<Client, ClientError> {
        let sender = Sender { stream: Arc::new(Mutex::new(writer)) };
        let mut events =
            Events { lines: LineReader::new(reader, MAX_SERVER_LINE), sender: sender.clone() };
        let asks_password = loop {
            match events.next().await? {
                Line::NickRequest => break false,
                Line::PassRequest => break true,
                Line::Error { code, text } => return Err(ClientError::Refused { code, text }),
                _ => {}
            }
        };
        Ok(Client { events, sender, asks_password })
    }

    /// Answers the server's `PASS`. Right, the server asks for a nickname next; wrong, it
    /// is [`ClientError::Refused`] with `bad-password`, and the server asks again (or with
    /// `too-many-passwords`, and closes).
    pub async fn password(&mut self, password: &str) -> Result<(), ClientError> {
        self.sender.send_line(password).await?;
        let mut refusal = None;
        loop {
            let line = match (self.events.next().await, refusal.take()) {
                (Ok(line), kept) => {
                    refusal = kept;
                    line
                }
                // Refused for good: the reason, not the close that followed it.
                (Err(ClientError::Closed), Some(refused)) => return Err(refused),
                (Err(error), _) => return Err(error),
            };
            match line {
                Line::NickRequest => {
                    self.asks_password = false;
                    return Ok(());
                }
                Line::Error { code, text } => refusal = Some(ClientError::Refused { code, text }),
                Line::PassRequest => {
                    return Err(refusal.unwrap_or_else(|| {
                        ClientError::Protocol("PASS asked again without a reason".into())
                    }))
                }
                _ => {}
            }
        }
    }

    /// Connects and registers `nick` in one step.
    pub async fn join(
        addr: impl AsyncToSocketAddrs,
        nick: &str,
    ) -> Result<(Client, Welcome), ClientError> {
        let mut client = Client::connect(addr).await?;
        let welcome = client.register(nick).await?;
        Ok((client, welcome))
    }

    /// Offers a nickname. On refusal the server has asked again, so `register` may simply
    /// be called again with another one.
    pub async fn register(&mut self, nick: &str) -> Result<Welcome, ClientError> {
        self.sender.send_line(nick).await?;
        let mut refusal = None;
        loop {
            match self.events.next().await? {
                Line::Welcome { nick, online, protocol } => {
                    return Ok(Welcome { nick, online, protocol })
                }
                Line::Error { code, text } => refusal = Some(ClientError::Refused { code, text }),
                Line::NickRequest => {
                    return Err(refusal.unwrap_or_else(|| {
                        ClientError::Protocol("NICK asked again without a reason".into())
                    }))
                }
                _ => {}
            }
        }
    }

    /// The next event from the server (see [`Events::next`]).
    pub async fn next(&mut self) -> Result<Line, ClientError> {
        self.events.next().await
    }

    /// Sends one command (see [`Sender::send`]).
    pub async fn send(&self, command: &Command) -> io::Result<()> {
        self.sender.send(command).await
    }

    /// Sends a message to the room.
    pub async fn say(&self, text: &str) -> io::Result<()> {
        self.sender.send(&Command::Say(text.to_string())).await
    }

    /// Separates the halves so one task can read while another writes.
    pub fn split(self) -> (Events, Sender) {
        (self.events, self.sender)
    }
}

impl Events {
    /// The next event. `PING` is answered here and never returned; `BYE` is returned
    /// (so the reason can be shown), after which the stream ends with [`ClientError::Closed`].
    pub async fn next(&mut self) -> Result<Line, ClientError> {
        loop {
            let line = match self.lines.next_line().await? {
                None => return Err(ClientError::Closed),
                Some(Err(LineTooLong)) => {
                    return Err(ClientError::Protocol("line too long".into()))
                }
                Some(Ok(bytes)) => bytes,
            };
            // A broken byte (a server relaying another protocol's Latin-1, say) spoils one
            // character, not the connection: it shows as U+FFFD.
            let line = String::from_utf8_lossy(line);
            let event = match Line::parse(&line) {
                Ok(event) => event,
                // A kind from a newer server: skipped, as docs/PROTOCOL.md asks.
                Err(LineError::UnknownKind(_)) => continue,
                Err(error) => return Err(ClientError::Protocol(error.to_string())),
            };
            if let Line::Ping { token } = &event {
                self.sender.send(&Command::Pong(token.clone())).await?;
                continue;
            }
            return Ok(event);
        }
    }
}

impl Sender {
    /// Sends one command as a line.
    pub async fn send(&self, command: &Command) -> io::Result<()> {
        self.send_line(&command.to_line()).await
    }

    /// Sends `text` followed by `\n`, exactly as given (for a nickname, or raw tests).
    pub async fn send_line(&self, text: &str) -> io::Result<()> {
        let mut line = Vec::with_capacity(text.len() + 1);
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        self.send_bytes(&line).await
    }

    /// Sends raw bytes, whatever they are: tests use it to misbehave on purpose.
    pub async fn send_bytes(&self, bytes: &[u8]) -> io::Result<()> {
        let mut stream = self.stream.lock().await;
        stream.write_all(bytes).await?;
        stream.flush().await
    }

    /// Sends `/quit` (with an optional reason) and closes the sending side.
    pub async fn quit(&self, reason: Option<&str>) -> io::Result<()> {
        self.send(&Command::Quit(reason.map(String::from))).await?;
        // For TCP a half-close; TLS says close_notify first.
        self.stream.lock().await.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::DEFAULT_MAX_NICK;
    use async_net::TcpListener;

    #[test]
    fn the_names_of_a_full_room_of_the_longest_nicknames_are_read() {
        smol::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
            let addr = listener.local_addr().expect("its address");
            let nick = "\u{1D51E}".repeat(DEFAULT_MAX_NICK);
            let names = format!("NAMES #full{}\n", format!(" {nick}").repeat(20_000));
            let server = smol::spawn(async move {
                let (mut stream, _) = listener.accept().await.expect("a client");
                stream.write_all(b"NICK choose a nickname\n").await.expect("written");
                stream.write_all(names.as_bytes()).await.expect("written");
                stream
            });
            let mut client = Client::connect(addr).await.expect("connected");
            match client.next().await {
                Ok(Line::Names { nicks, .. }) => assert_eq!(nicks.len(), 20_000),
                other => panic!("not the names: {other:?}"),
            }
            drop(server.await);
        });
    }
}

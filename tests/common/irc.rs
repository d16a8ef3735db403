//! A raw IRC client for tests: one socket, lines out as written, lines in taken apart, every
//! read under the harness's timeout, and the steps of registration as IRC clients take them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use async_net::TcpStream;
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt};
use futures_rustls::rustls::pki_types::ServerName;
use smolchat::client::Trust;
use smolchat::server::Config;

use super::{quick, within, TestServer};

/// The server name the IRC tests configure: the source of every numeric.
pub const SERVER: &str = "irc.test";

/// The network name the IRC tests configure: `NETWORK` in `005`.
pub const NETWORK: &str = "TestNet";

/// The harness's quick configuration with a known server and network name.
pub fn irc_config() -> Config {
    Config { server_name: SERVER.into(), network_name: NETWORK.into(), ..quick() }
}

/// One line from the server, taken apart as RFC 1459 lays it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The line as it came, without `\r\n`.
    pub raw: String,
    /// The tags, without the `@`.
    pub tags: Option<String>,
    /// The source, without the `:`.
    pub source: Option<String>,
    /// The command or numeric.
    pub command: String,
    /// The parameters, the trailing one last without its colon.
    pub params: Vec<String>,
}

impl Msg {
    /// Takes one line (without `\r\n`) apart.
    pub fn parse(line: &str) -> Msg {
        let mut rest = line;
        let tags = take_prefixed(&mut rest, '@');
        let source = take_prefixed(&mut rest, ':');
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut params = Vec::new();
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_string());
                break;
            }
            let (param, after) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param.to_string());
            rest = after;
        }
        Msg { raw: line.to_string(), tags, source, command: command.to_string(), params }
    }

    /// Parameter `index`, failing the test if it is missing.
    pub fn param(&self, index: usize) -> &str {
        self.params.get(index).unwrap_or_else(|| panic!("no parameter {index} in {:?}", self.raw))
    }

    /// The last parameter (the trailing one, usually the text).
    pub fn last(&self) -> &str {
        self.params.last().map_or("", String::as_str)
    }

    /// The value of the tag `key` (`time`, `batch`), if the line has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        let tags = self.tags.as_deref()?.split(';');
        tags.filter_map(|tag| tag.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The nick of the source (`nick!user@host`), or the whole source of a server.
    pub fn nick(&self) -> &str {
        let source = self.source.as_deref().unwrap_or("");
        source.split('!').next().unwrap_or(source)
    }

    /// Whether this is `command` (a word or a numeric).
    pub fn is(&self, command: &str) -> bool {
        self.command == command
    }

    /// Whether this is numeric `code` from the test server.
    pub fn is_numeric(&self, code: &str) -> bool {
        self.command == code && self.source.as_deref() == Some(SERVER)
    }

    /// Fails the test unless this is `command` from the person `nick`, with exactly
    /// `params`.
    pub fn assert_from(&self, nick: &str, command: &str, params: &[&str]) {
        let want = source(nick);
        let same = self.source.as_deref() == Some(want.as_str())
            && self.command == command
            && self.params == params;
        assert!(same, "expected :{want} {command} {params:?}, got {:?}", self.raw);
    }
}

/// Takes a leading `@tags` or `:source` word off `rest`.
fn take_prefixed(rest: &mut &str, mark: char) -> Option<String> {
    let word = rest.strip_prefix(mark)?;
    let (word, after) = word.split_once(' ').unwrap_or((word, ""));
    *rest = after;
    Some(word.to_string())
}

/// Tokens for `PING`s that mark a point in the conversation, unique across tests.
static MARKS: AtomicU64 = AtomicU64::new(0);

/// A raw IRC connection.
pub struct Irc {
    /// The server's lines, buffered.
    reader: BufReader<Box<dyn AsyncRead + Send + Unpin>>,
    /// The same connection, for writing.
    writer: Box<dyn AsyncWrite + Send + Unpin>,
    /// The nickname it registered (or last asked for).
    pub nick: String,
}

impl Irc {
    /// Connects to an IRC listener.
    pub async fn connect(addr: SocketAddr) -> Irc {
        let stream = within("irc connect", TcpStream::connect(addr)).await.expect("connect");
        Irc::over(stream)
    }

    /// Connects to an `ircs://` listener whose certificate for 127.0.0.1 the authority
    /// in `ca_file` signed.
    pub async fn connect_tls(addr: SocketAddr, ca_file: &Path) -> Irc {
        let trust = Trust::CaFile(ca_file.to_path_buf());
        let connector = trust.connector().expect("a TLS connector");
        let tcp = within("irc connect", TcpStream::connect(addr)).await.expect("connect");
        let name = ServerName::try_from("127.0.0.1").expect("a server name");
        let tls = within("TLS handshake", connector.connect(name, tcp)).await.expect("TLS");
        let (reader, writer) = futures_lite::io::split(tls);
        Irc::over_halves(Box::new(reader), Box::new(writer))
    }

    /// A client over a socket the test connected itself.
    pub fn over(stream: TcpStream) -> Irc {
        Irc::over_halves(Box::new(stream.clone()), Box::new(stream))
    }

    /// A client over any connection's halves (a TLS one, say).
    pub fn over_halves(
        reader: Box<dyn AsyncRead + Send + Unpin>,
        writer: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Irc {
        Irc { reader: BufReader::new(reader), writer, nick: "*".into() }
    }

    /// Connects and registers as `nick` with `NICK` and `USER`, without `CAP`; returns the
    /// client and the lines up to the end of the message of the day.
    pub async fn register(addr: SocketAddr, nick: &str) -> (Irc, Vec<Msg>) {
        let mut irc = Irc::connect(addr).await;
        let burst = irc.register_as(nick).await;
        (irc, burst)
    }

    /// [`Irc::register`] when only the client is wanted.
    pub async fn online(addr: SocketAddr, nick: &str) -> Irc {
        Irc::register(addr, nick).await.0
    }

    /// Registers with `CAP LS 302`, `NICK`, `USER`, `CAP REQ :caps`, `CAP END`, as modern
    /// clients do, and reads up to the end of the message of the day.
    pub async fn online_with(addr: SocketAddr, nick: &str, caps: &str) -> Irc {
        let mut irc = Irc::connect(addr).await;
        irc.send("CAP LS 302").await;
        irc.send(&format!("NICK {nick}")).await;
        irc.send(&format!("USER {nick} 0 * :Test {nick}")).await;
        irc.wait_line("CAP LS", |m| m.is("CAP") && m.params.get(1).is_some_and(|p| p == "LS"))
            .await;
        let answer = irc.cap_req(caps).await;
        assert_eq!(answer.param(1), "ACK", "{answer:?}");
        irc.send("CAP END").await;
        irc.nick = nick.to_string();
        irc.until_motd_end().await;
        irc
    }

    /// Sends `NICK` and `USER` and reads up to the end of the message of the day.
    pub async fn register_as(&mut self, nick: &str) -> Vec<Msg> {
        self.send(&format!("NICK {nick}")).await;
        self.send(&format!("USER {nick} 0 * :Test {nick}")).await;
        self.nick = nick.to_string();
        self.until_motd_end().await
    }

    /// Reads up to and including `376` (or `422`, no MOTD).
    pub async fn until_motd_end(&mut self) -> Vec<Msg> {
        self.lines_until("end of MOTD", |m| m.is_numeric("376") || m.is_numeric("422")).await
    }

    /// Sends `CAP REQ :caps` and returns the `ACK` or `NAK` that answers it.
    pub async fn cap_req(&mut self, caps: &str) -> Msg {
        self.send(&format!("CAP REQ :{caps}")).await;
        self.wait_line("CAP ACK or NAK", |m| {
            m.is("CAP") && m.params.get(1).is_some_and(|p| p == "ACK" || p == "NAK")
        })
        .await
    }

    /// Sends one line; `\r\n` is added.
    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        within("irc send", self.writer.write_all(bytes)).await.expect("send");
        // Over TLS the bytes may wait to be encrypted until flushed.
        within("irc flush", self.writer.flush()).await.expect("flush");
    }

    /// The next line, or `None` at the end of the connection.
    pub async fn next_or_end(&mut self) -> Option<Msg> {
        let mut bytes = Vec::new();
        let read = within("irc line", self.reader.read_until(b'\n', &mut bytes)).await;
        // A reset after the server's last line is an end like any other.
        if read.unwrap_or(0) == 0 {
            return None;
        }
        let line = String::from_utf8(bytes).expect("the server sends UTF-8");
        let body = line.strip_suffix("\r\n");
        let body = body.unwrap_or_else(|| panic!("a server line without CRLF: {line:?}"));
        Some(Msg::parse(body))
    }

    /// The next line; the connection must not end first.
    pub async fn next(&mut self) -> Msg {
        let nick = self.nick.clone();
        let msg = self.next_or_end().await;
        msg.unwrap_or_else(|| panic!("{nick}: the connection ended"))
    }

    /// Skips lines until one matches `pred`, and returns it.
    pub async fn wait_line(&mut self, what: &str, pred: impl Fn(&Msg) -> bool) -> Msg {
        loop {
            let msg = self.next_or_end().await;
            match msg {
                Some(msg) if pred(&msg) => return msg,
                Some(_) => {}
                None => panic!("{}: the connection ended waiting for {what}", self.nick),
            }
        }
    }

    /// Collects lines up to and including the first that matches `pred`.
    pub async fn lines_until(&mut self, what: &str, pred: impl Fn(&Msg) -> bool) -> Vec<Msg> {
        let mut seen = Vec::new();
        loop {
            let Some(msg) = self.next_or_end().await else {
                panic!("{}: the connection ended waiting for {what}: {seen:#?}", self.nick);
            };
            let done = pred(&msg);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }

    /// Skips lines until numeric `code` from the server.
    pub async fn wait_numeric(&mut self, code: &str) -> Msg {
        self.wait_line(&format!("numeric {code}"), |m| m.is_numeric(code)).await
    }

    /// The next line, which must be numeric `code` from the server, addressed to this
    /// client.
    pub async fn expect_numeric(&mut self, code: &str) -> Msg {
        let msg = self.next().await;
        assert!(msg.is_numeric(code), "expected {code} from {SERVER}, got {:?}", msg.raw);
        assert_eq!(msg.param(0), self.nick, "{:?}", msg.raw);
        msg
    }

    /// The next line, which must be `command` from the person `nick`, with exactly
    /// `params`.
    pub async fn expect_from(&mut self, nick: &str, command: &str, params: &[&str]) -> Msg {
        let msg = self.next().await;
        msg.assert_from(nick, command, params);
        msg
    }

    /// Sends a `PING` with a fresh token and returns every line before its `PONG`: what
    /// the server had queued for this client before it read the `PING`.
    pub async fn sync(&mut self) -> Vec<Msg> {
        let token = format!("mark{}", MARKS.fetch_add(1, Ordering::Relaxed));
        self.send(&format!("PING {token}")).await;
        let mut seen = self.lines_until("PONG", |m| m.is("PONG") && m.last() == token).await;
        seen.pop();
        seen
    }

    /// Sends `JOIN room` and returns the lines up to its `366`.
    pub async fn join(&mut self, room: &str) -> Vec<Msg> {
        self.send(&format!("JOIN {room}")).await;
        let end = |m: &Msg| m.is_numeric("366") && m.param(1).eq_ignore_ascii_case(room);
        self.lines_until(&format!("end of NAMES {room}"), end).await
    }

    /// Reads until the server closes the connection; returns every line.
    pub async fn until_closed(&mut self) -> Vec<Msg> {
        let mut seen = Vec::new();
        while let Some(msg) = self.next_or_end().await {
            seen.push(msg);
        }
        seen
    }
}

/// `alice` and `bob` registered and in `room`, alice having seen bob come in.
pub async fn pair(server: &TestServer, room: &str) -> (Irc, Irc) {
    let mut alice = Irc::online(server.irc, "alice").await;
    alice.join(room).await;
    let mut bob = Irc::online(server.irc, "bob").await;
    bob.join(room).await;
    alice.wait_line("bob's JOIN", |m| m.is("JOIN") && m.nick() == "bob").await;
    (alice, bob)
}

/// The commands (or numerics) of `msgs`, in order.
pub fn commands(msgs: &[Msg]) -> Vec<&str> {
    msgs.iter().map(|m| m.command.as_str()).collect()
}

/// `nick!chat@smolchat`, the source every person has in IRC lines.
pub fn source(nick: &str) -> String {
    format!("{nick}!chat@smolchat")
}

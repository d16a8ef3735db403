//! Getting in the cheap way: connect, answer `NICK`, wait for the `ROOM` line that ends
//! registration and, with rooms to go to (`--rooms`), leave the room registration put the
//! client in, join each of its rooms and wait until the server has confirmed every step.
//! The connection, with any bytes that arrived after the last confirmation, goes on to the
//! receive path. Over IRC the steps are IRC's ([`super::join_irc`]); with `--tls` the TLS
//! handshake comes first, with `--websocket` the upgrade to a WebSocket.

use std::io;
use std::net::{SocketAddr, TcpStream};

use smol::Async;
use smolchat::client::describe_tls;
use thiserror::Error;

use super::connection::{Connection, Transport};
use super::join_irc;
use super::message::{classify, Line};
use super::protocol::Protocol;
use super::websocket::WebSocketError;

/// The most handshake bytes accepted without a line end; the real lines are far shorter.
const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;

/// A client in its room or rooms, its connection ready for raw reads.
#[derive(Debug)]
pub struct Joined {
    /// The connection, non-blocking and registered with the reactor.
    pub stream: Connection,
    /// Bytes that followed the last line of the handshake in the same read: the start of
    /// the rooms' traffic.
    pub leftover: Vec<u8>,
    /// Other members' `JOIN`s heard while entering the rooms, which the receive path did
    /// not see: announcements, counted like the ones that come later.
    pub joins: u64,
}

/// Why a client did not get into its rooms.
#[derive(Debug, Error)]
pub enum JoinError {
    /// The TCP connection could not be made.
    #[error("connect failed: {0}")]
    Connect(io::Error),
    /// The TLS handshake failed (the certificate was not trusted, or the port is not TLS).
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The upgrade to a WebSocket failed (the server refused it, or the port is not an
    /// http:// listener).
    #[error("WebSocket upgrade failed: {0}")]
    WebSocket(WebSocketError),
    /// The connection failed during the handshake.
    #[error("handshake failed: {0}")]
    Io(io::Error),
    /// The server sent `ERROR code text` instead of a welcome or a confirmation.
    #[error("refused: {0}")]
    Refused(String),
    /// The server closed the connection before the handshake was over.
    #[error("closed before the welcome")]
    Closed,
    /// The server sent a line longer than a handshake's lines can be.
    #[error("no line end in {MAX_HANDSHAKE_BYTES} bytes of handshake")]
    Protocol,
    /// The handshake took longer than the bench allows.
    #[error("handshake timed out")]
    TimedOut,
}

/// What one handshake line means to the client waiting for a particular one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Nothing to do; read on.
    Nothing,
    /// The line awaited.
    Done,
    /// A line the server wants answered (a `PING`): write this, then read on.
    Answer(Vec<u8>),
    /// The server said no, for this reason.
    Refused(String),
}

/// Connects to `addr` (over TLS or WebSocket as `transport` says), registers `nick`
/// speaking `protocol` and, unless `rooms` is empty, moves into exactly those rooms.
pub async fn join(
    addr: SocketAddr,
    transport: &Transport,
    protocol: Protocol,
    nick: &str,
    rooms: &[String],
) -> Result<Joined, JoinError> {
    let tcp = Async::<TcpStream>::connect(addr).await.map_err(JoinError::Connect)?;
    // Like the real client: a small line goes out at once, not after a delayed ACK.
    let _ = tcp.get_ref().set_nodelay(true);
    let stream = match transport {
        Transport::Plain => Connection::Plain(tcp),
        Transport::Tls(tls) => Connection::tls(tcp, tls).await.map_err(|error| {
            JoinError::Tls(describe_tls(&error).unwrap_or_else(|| error.to_string()))
        })?,
        Transport::WebSocket(host) => {
            Connection::websocket(tcp, host).await.map_err(JoinError::WebSocket)?
        }
    };
    match protocol {
        Protocol::Chat => join_chat(stream, nick, rooms).await,
        Protocol::Irc => join_irc::join(stream, nick, rooms).await,
    }
}

/// The chat protocol's way in.
async fn join_chat(stream: Connection, nick: &str, rooms: &[String]) -> Result<Joined, JoinError> {
    let mut pending = Vec::with_capacity(256);
    read_until(&stream, &mut pending, awaiting(|line| starts_with_word(line, b"NICK"))).await?;
    let answer = format!("{nick}\n");
    stream.write_all(answer.as_bytes()).await.map_err(JoinError::Io)?;
    // `WELCOME`, our own `JOIN` of the default room if there is one, then `ROOM`.
    let room_line = awaiting(|line| starts_with_word(line, b"ROOM"));
    let landed = read_until(&stream, &mut pending, room_line).await?;
    if rooms.is_empty() {
        return Ok(Joined { stream, leftover: pending, joins: 0 });
    }
    let mut entry = Entry::new(nick, room_of_room_line(&landed), rooms);
    if !entry.settled() {
        stream.write_all(&entry.commands()).await.map_err(JoinError::Io)?;
        read_until(&stream, &mut pending, awaiting(|line| entry.take(line))).await?;
    }
    Ok(Joined { stream, leftover: pending, joins: entry.joins })
}

/// A chat handshake step: `done` says which line is awaited, and an `ERROR` line is a
/// refusal.
fn awaiting(mut done: impl FnMut(&[u8]) -> bool) -> impl FnMut(&[u8]) -> Heard {
    move |line| match line.strip_prefix(b"ERROR ") {
        Some(text) => Heard::Refused(String::from_utf8_lossy(text).into_owned()),
        None if done(line) => Heard::Done,
        None => Heard::Nothing,
    }
}

/// Reads lines (without their `\n`) until `hear` says one is the line awaited, and
/// returns it; every line before it is consumed, answered if `hear` says so, and `pending`
/// keeps whatever follows it.
pub async fn read_until(
    stream: &Connection,
    pending: &mut Vec<u8>,
    mut hear: impl FnMut(&[u8]) -> Heard,
) -> Result<Vec<u8>, JoinError> {
    loop {
        while let Some(end) = memchr::memchr(b'\n', pending) {
            let line: Vec<u8> = pending.drain(..=end).take(end).collect();
            match hear(&line) {
                Heard::Nothing => {}
                Heard::Done => return Ok(line),
                Heard::Answer(answer) => {
                    stream.write_all(&answer).await.map_err(JoinError::Io)?;
                }
                Heard::Refused(why) => return Err(JoinError::Refused(why)),
            }
        }
        if pending.len() > MAX_HANDSHAKE_BYTES {
            return Err(JoinError::Protocol);
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.map_err(JoinError::Io)?;
        if n == 0 {
            return Err(JoinError::Closed);
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// Whether `line`'s first word is `keyword`.
fn starts_with_word(line: &[u8], keyword: &[u8]) -> bool {
    line.split(|&b| b == b' ').next() == Some(keyword)
}

/// The room a `ROOM #room` line names; `None` for `ROOM` alone (in no room).
fn room_of_room_line(line: &[u8]) -> Option<&[u8]> {
    line.strip_prefix(b"ROOM ").filter(|room| !room.is_empty())
}

/// One client's way from the room registration put it in to exactly the rooms it should
/// be in, fed the server's lines one at a time. Pure, so it is tested without a server.
#[derive(Debug)]
struct Entry<'a> {
    /// Our nickname, to tell our own confirmations from other members' arrivals.
    nick: &'a [u8],
    /// The room registration put us in, until our own `LEAVE` of it arrives.
    leaving: Option<Vec<u8>>,
    /// Rooms joined but not yet confirmed by our own `JOIN`, in the order joined.
    unconfirmed: Vec<&'a [u8]>,
    /// Rooms we are in: other members' `JOIN`s in them are announcements to count.
    entered: Vec<&'a [u8]>,
    /// Those announcements so far.
    joins: u64,
}

impl<'a> Entry<'a> {
    /// The way from `landed` (where registration put us, if anywhere) to `rooms`.
    fn new(nick: &'a str, landed: Option<&[u8]>, rooms: &'a [String]) -> Entry<'a> {
        let is_landed = |room: &&[u8]| landed.is_some_and(|l| l.eq_ignore_ascii_case(room));
        let (entered, unconfirmed): (Vec<&[u8]>, Vec<&[u8]>) =
            rooms.iter().map(String::as_bytes).partition(is_landed);
        let leaving = landed.filter(|_| entered.is_empty()).map(<[u8]>::to_vec);
        Entry { nick: nick.as_bytes(), leaving, unconfirmed, entered, joins: 0 }
    }

    /// The lines to send, in one write: leave the room we landed in first, so that it
    /// holds us as briefly as possible, then join the others.
    fn commands(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(room) = &self.leaving {
            out.extend_from_slice(b"/part ");
            out.extend_from_slice(room);
            out.push(b'\n');
        }
        for room in &self.unconfirmed {
            out.extend_from_slice(b"/join ");
            out.extend_from_slice(room);
            out.push(b'\n');
        }
        out
    }

    /// Takes one server line; true once it is the `ROOM` line that follows the last
    /// confirmation. The server answers one client's commands in order, so by then every
    /// step is done.
    fn take(&mut self, line: &[u8]) -> bool {
        match classify(line) {
            Line::Join { room, nick } if nick == self.nick => {
                if let Some(i) = self.unconfirmed.iter().position(|r| r.eq_ignore_ascii_case(room))
                {
                    let room = self.unconfirmed.remove(i);
                    self.entered.push(room);
                }
            }
            Line::Join { room, .. } => {
                if self.entered.iter().any(|r| r.eq_ignore_ascii_case(room)) {
                    self.joins += 1;
                }
            }
            Line::Part { room, nick, .. } if nick == self.nick => {
                if self.leaving.as_deref().is_some_and(|l| l.eq_ignore_ascii_case(room)) {
                    self.leaving = None;
                }
            }
            _ => return starts_with_word(line, b"ROOM") && self.settled(),
        }
        false
    }

    /// Whether every step is confirmed.
    fn settled(&self) -> bool {
        self.leaving.is_none() && self.unconfirmed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    /// Feeds `lines` and returns at which one (if any) the entry was settled.
    fn feed(entry: &mut Entry<'_>, lines: &[&str]) -> Option<usize> {
        lines.iter().position(|line| entry.take(line.as_bytes()))
    }

    #[test]
    fn the_default_room_is_left_then_each_room_joined_and_confirmed() {
        let wanted = rooms(&["#r1", "#all"]);
        let mut entry = Entry::new("b4", Some(b"#lobby"), &wanted);
        assert_eq!(entry.commands(), b"/part #lobby\n/join #r1\n/join #all\n");
        let lines = [
            "JOIN #lobby b5",
            "LEAVE #lobby b4 part",
            "ROOM",
            "JOIN #r1 b4",
            "ROOM #r1",
            "JOIN #r1 b7",
            "JOIN #all b4",
            "JOIN #r1 b10",
            "ROOM #all",
        ];
        assert_eq!(feed(&mut entry, &lines), Some(8));
        // Only the arrivals in our own rooms after our own count; the lobby's do not.
        assert_eq!(entry.joins, 2);
    }

    #[test]
    fn without_a_default_room_the_rooms_are_only_joined() {
        let wanted = rooms(&["#r0"]);
        let mut entry = Entry::new("b0", None, &wanted);
        assert_eq!(entry.commands(), b"/join #r0\n");
        assert_eq!(feed(&mut entry, &["ROOM", "JOIN #r0 b0", "ROOM #r0"]), Some(2));
    }

    #[test]
    fn a_default_room_that_is_one_of_the_rooms_is_kept() {
        let wanted = rooms(&["#r0", "#all"]);
        let mut entry = Entry::new("b0", Some(b"#ALL"), &wanted);
        assert_eq!(entry.commands(), b"/join #r0\n");
        assert_eq!(feed(&mut entry, &["JOIN #all b3", "JOIN #r0 b0", "ROOM #r0"]), Some(2));
        assert_eq!(entry.joins, 1);
        let only = rooms(&["#lobby"]);
        assert!(Entry::new("b0", Some(b"#lobby"), &only).settled());
    }

    #[test]
    fn a_room_line_before_the_last_confirmation_is_not_the_end() {
        let wanted = rooms(&["#r0", "#all"]);
        let mut entry = Entry::new("b0", None, &wanted);
        assert_eq!(feed(&mut entry, &["JOIN #r0 b0", "ROOM #r0", "TOPIC #all b1 hi"]), None);
        assert_eq!(feed(&mut entry, &["JOIN #all b0", "ROOM #all"]), Some(1));
    }

    #[test]
    fn room_lines_name_their_room() {
        assert_eq!(room_of_room_line(b"ROOM #lobby"), Some(&b"#lobby"[..]));
        assert_eq!(room_of_room_line(b"ROOM"), None);
    }
}

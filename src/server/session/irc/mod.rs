//! The IRC session: registration (`CAP`, `PASS`, `NICK`, `USER`, SASL), then the loop
//! that turns an IRC client's messages into calls on the core, until it leaves. Replies
//! are the RFCs' numerics; what happens in rooms reaches the client through the IRC
//! encoder, and what happened before through the history it is given.

mod accounts;
mod channels;
mod dispatch;
mod history;
mod queries;
mod registration;
mod sasl;
mod talk;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures_lite::{future, AsyncRead, AsyncWrite};
use tracing::{debug, info};

use super::link::{Alarm, Framing, Input, Link, Refusal};
use super::Ending;
use crate::core::{Departure, Outbox, Person};
use crate::proto::irc::{self, numeric::*, quit_reason, Caps, Message, MessageError, Replies};
use crate::server::admission::{Full, Shared, Ticket};
use crate::server::flood::Verdict;
use crate::server::metrics::{Dialect, Disconnect};
use crate::server::transport::Halves;
use crate::server::writer::write_loop;

/// The longest line an IRC client may send: 4096 bytes of tags and 512 of message, the
/// line's ending included.
const MAX_IRC_LINE: usize = irc::MAX_TAGS + irc::MAX_LINE;

/// What a client over its send queue is told, should it ever read again. The same for
/// everyone (without the address other `ERROR` lines give), so that it costs an idle
/// connection nothing.
const SENDQ_EXCEEDED: &[u8] = b"ERROR :Closing Link: (SendQ exceeded)\r\n";

/// One IRC client, from `CAP LS` or `NICK` to `QUIT`.
struct Session<R> {
    /// The connection.
    link: Link<R>,
    /// The capabilities it enabled.
    caps: Caps,
    /// Whether the connection is encrypted (`ircs://`): SASL `PLAIN` is offered only then.
    tls: bool,
    /// Batches of history sent so far, for each one's reference tag.
    batches: u64,
}

/// Sets up one IRC client over a connection that is encrypted (`tls`) or not, accepted at
/// `accepted`, and returns the task that serves it.
pub fn serve<R, W>(
    halves: Halves<R, W>,
    ticket: Ticket,
    tls: bool,
    accepted: Instant,
) -> impl Future<Output = ()> + Send
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let config = &ticket.shared.config;
    let (outbox, queue) = Outbox::with_farewell(
        config.queue_len,
        config.queue_bytes,
        halves.cut,
        halves.direct,
        SENDQ_EXCEEDED,
    );
    let writer = smol::spawn(write_loop(queue, halves.writer));
    debug!(peer = %ticket.peer, "irc connected");
    let framing =
        Framing { dialect: Dialect::Irc, max_line: MAX_IRC_LINE, decode: irc::decode_line };
    let link = Link::new(ticket, halves.reader, outbox, framing, accepted);
    let mut session = Session { link, caps: Caps::default(), tls, batches: 0 };
    async move {
        session.run().await;
        Box::pin(session.link.close(writer)).await;
    }
}

/// The line, in plain text, that tells a client speaking plain text to an `ircs://`
/// listener where it is.
pub fn tls_required(peer: SocketAddr) -> Vec<u8> {
    error_line(peer, "this port speaks TLS")
}

/// The line that tells an IRC connection it is not admitted.
pub fn refusal(full: Full, peer: SocketAddr) -> Vec<u8> {
    let reason = match full {
        Full::Server { .. } => "Server is full",
        Full::Address { .. } => "Too many connections from your address",
    };
    error_line(peer, reason)
}

/// The error numerics (`4xx`, `5xx`) among the server's own `lines`: those that begin
/// `:server CODE `.
fn error_numerics<'a>(server: &'a str, lines: &'a [u8]) -> impl Iterator<Item = &'a str> + 'a {
    lines.split(|&byte| byte == b'\n').filter_map(move |line| {
        let rest = line.strip_prefix(b":")?.strip_prefix(server.as_bytes())?;
        let code = rest.strip_prefix(b" ")?.get(..4)?;
        let is_error = matches!(code, [b'4' | b'5', b'0'..=b'9', b'0'..=b'9', b' ']);
        is_error.then(|| std::str::from_utf8(&code[..3]).ok()).flatten()
    })
}

/// `ERROR :Closing Link: ADDRESS (reason)`, the last line a client is sent, within 512
/// bytes (a client's quit words are in the reason).
fn error_line(peer: SocketAddr, reason: &str) -> Vec<u8> {
    let mut line = format!("ERROR :Closing Link: {} ({reason})", peer.ip()).into_bytes();
    irc::end_line(&mut line, 0);
    line
}

impl<R: AsyncRead + Unpin> Session<R> {
    async fn run(&mut self) {
        let Some(person) = Box::pin(self.register()).await else { return };
        let ending = self.chat(&person).await;
        self.link.ending(ending.disconnect());
        let Some(why) = ending.departure(self.link.outbox.overflowed()) else {
            return self.close_link("Server shutting down");
        };
        Box::pin(self.link.ticket.shared.chat.quit(&person, why.clone())).await;
        // Last, after what the rooms had for it; nothing for a connection that is gone.
        if !matches!(why, Departure::Closed | Departure::QueueFull) {
            self.close_link(&quit_reason(&why));
        }
    }

    /// Reads the client's messages and acts on them until it leaves.
    async fn chat(&mut self, person: &Arc<Person>) -> Ending {
        loop {
            let ending = match self.link.next().await {
                Input::Line(line) => Box::pin(self.admit(person, &line)).await,
                Input::Refused(refusal) => self.refused(refusal, person.nick().as_ref()),
                Input::Closed => Some(Ending::Closed),
                Input::Stopped => Some(Ending::Stopped),
                Input::Alarm(alarm) => self.alarm(alarm),
            };
            if let Some(ending) = ending {
                return ending;
            }
            // A burst of buffered lines would otherwise be broadcast before any writer ran.
            future::yield_now().await;
        }
    }

    /// Passes a message through flood control, then acts on it. Answers to our pings
    /// never count against the client.
    async fn admit(&mut self, person: &Arc<Person>, line: &str) -> Option<Ending> {
        let message = match Message::parse(line) {
            Ok(message) => message,
            Err(MessageError::Empty) => return None,
            Err(MessageError::TooLong) => {
                return self.refused(Refusal::TooLong, person.nick().as_ref())
            }
        };
        if message.command == "PONG" {
            return None;
        }
        match self.flood_check(person.nick().as_ref()) {
            Verdict::Accept => self.handle(person, &message).await,
            Verdict::Drop { .. } => None,
            Verdict::Disconnect => Some(Ending::Flood),
        }
    }

    /// Tells the client its line was dropped; refused lines count against flood control.
    fn refused(&mut self, refusal: Refusal, nick: &str) -> Option<Ending> {
        match self.flood_check(nick) {
            Verdict::Accept => {}
            Verdict::Drop { .. } => return None,
            Verdict::Disconnect => return Some(Ending::Flood),
        }
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, nick);
        match refusal {
            Refusal::TooLong => {
                replies.numeric(ERR_INPUTTOOLONG, &[], Some("Input line was too long"))
            }
            Refusal::Text(error) => replies.notice(&format!("{error}; the line was dropped")),
        };
        self.send(replies);
        None
    }

    /// Acts on a connection timer that went off.
    fn alarm(&mut self, alarm: Alarm) -> Option<Ending> {
        match alarm {
            Alarm::Deadline => None,
            Alarm::LineTimeout => {
                info!(peer = %self.link.ticket.peer, "irc disconnected: line not finished in time");
                Some(Ending::LineTimeout)
            }
            Alarm::PingTimeout => {
                info!(peer = %self.link.ticket.peer, "irc disconnected: no answer to PING");
                Some(Ending::PingTimeout)
            }
            Alarm::PingDue(token) => {
                self.link.reply(format!("PING :{token}\r\n").into_bytes());
                None
            }
        }
    }

    /// Runs flood control for one line of the client known as `me` (`*` before it has a
    /// nickname), warning it as it decides; whoever ends the session on `Disconnect` says
    /// why, after the rooms have heard.
    fn flood_check(&mut self, me: &str) -> Verdict {
        let verdict = self.link.flood_check();
        match verdict {
            Verdict::Accept | Verdict::Drop { warn: false } => {}
            Verdict::Drop { warn: true } => {
                let rate = self.shared().config.flood_rate;
                let text =
                    format!("*** Slow down: over {rate} lines per second; lines are being dropped");
                let shared = self.shared();
                let mut replies = Replies::new(&shared.config.server_name, me);
                replies.notice(&text);
                self.send(replies);
            }
            Verdict::Disconnect => {
                info!(peer = %self.link.ticket.peer, "irc disconnected: flooding");
                self.link.ending(Disconnect::Flood);
            }
        }
        verdict
    }

    /// The last line: `ERROR :Closing Link: ADDRESS (reason)`.
    pub(super) fn close_link(&self, reason: &str) {
        self.link.reply(error_line(self.link.ticket.peer, reason));
    }

    /// The server state this session shares.
    fn shared(&self) -> Arc<Shared> {
        self.link.ticket.shared.clone()
    }

    /// Queues one numeric for the client known as `me`, alone.
    fn numeric(&self, me: &str, code: &str, middle: &[&str], trailing: Option<&str>) {
        let mut replies = Replies::new(&self.link.ticket.shared.config.server_name, me);
        replies.numeric(code, middle, trailing);
        self.send(replies);
    }

    /// Queues replies for this client alone, in one piece, counting the error numerics
    /// among them: every handler's replies pass here, so none can forget to count.
    fn send(&self, replies: Replies<'_>) {
        if replies.is_empty() {
            return;
        }
        let bytes = replies.into_bytes();
        let metrics = &self.link.ticket.shared.metrics;
        error_numerics(&self.link.ticket.shared.config.server_name, &bytes)
            .for_each(|code| metrics.refused(code));
        self.link.reply(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::error_numerics;

    #[test]
    fn only_the_servers_own_error_numerics_are_counted() {
        let lines = concat!(
            ":irc.test 433 * ann :Nickname is already in use\r\n",
            ":irc.test 001 cy :Welcome\r\n",
            ":irc.test 502 cy :Cant change mode for other users\r\n",
            ":irc.test.evil 461 cy :spoof\r\n",
            ":irc.test!u@h 404 cy :a person named like the server\r\n",
            ":ann!chat@smolchat PRIVMSG #m :433 4000\r\n",
            "ERROR :Closing Link: 127.0.0.1 (Bad password)\r\n",
        );
        let codes: Vec<&str> = error_numerics("irc.test", lines.as_bytes()).collect();
        assert_eq!(codes, ["433", "502"]);
    }
}

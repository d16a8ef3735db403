//! The chat protocol's session: the handshake (the server password if there is one, then
//! the nickname), then the loop that turns a client's lines into calls on the core, until
//! it leaves.

mod accounts;
mod commands;
mod handshake;
mod history;
mod password;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures_lite::{future, AsyncRead, AsyncWrite};
use tracing::{debug, info};

use super::link::{Alarm, Framing, Input, Link, Refusal};
use super::Ending;
use crate::core::{Encode as _, Landing, Outbox, Person, Room};
use crate::proto::chat::{decode_line, ErrorCode, Line, TextError, CHAT};
use crate::server::admission::{Full, Ticket};
use crate::server::flood::Verdict;
use crate::server::metrics::{Dialect, Disconnect};
use crate::server::transport::Halves;
use crate::server::writer::write_loop;

/// One chat client, from its first line to its last.
struct Session<R> {
    /// The connection.
    link: Link<R>,
    /// Where plain text goes: the room last joined or switched to.
    current: Option<Arc<Room>>,
}

/// Sets up one chat client (its queue and writer task are started at once) and returns
/// the task that serves it from handshake to goodbye; it has until `--handshake-timeout`
/// after `accepted` to register. Everything the task keeps is built here, so its future
/// holds the [`Session`] once rather than also what it was made from.
pub fn serve<R, W>(
    halves: Halves<R, W>,
    ticket: Ticket,
    accepted: Instant,
) -> impl Future<Output = ()> + Send
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let config = &ticket.shared.config;
    let (outbox, queue) =
        Outbox::new(config.queue_len, config.queue_bytes, halves.cut, halves.direct);
    let writer = smol::spawn(write_loop(queue, halves.writer));
    debug!(peer = %ticket.peer, "connected");
    let framing =
        Framing { dialect: Dialect::Chat, max_line: config.max_line, decode: decode_line };
    let mut link = Link::new(ticket, halves.reader, outbox, framing, accepted);
    if let Some(held) = halves.held {
        link.time_held(held);
    }
    let mut session = Session { link, current: None };
    async move {
        session.run().await;
        // Boxed: it runs once, at the end, and would otherwise size the task for its life.
        Box::pin(session.link.close(writer)).await;
    }
}

/// Queues `lines` for one client as one entry of its queue (a failure cuts the client off,
/// which its session notices at its next wait).
fn reply_lines(outbox: &Outbox, lines: &[Line]) {
    let mut bytes = Vec::new();
    lines.iter().for_each(|line| line.encode_into(&mut bytes));
    let _ = outbox.push_reply(bytes.into());
}

/// What a client that entered a room is told: its own `JOIN`, the room's `TOPIC` if it has
/// one, what was said there lately (`HISTORY` lines and `HISTORYEND`, if anything was), and
/// `ROOM`, since the room it entered is now its current room.
fn write_landing(bytes: &mut Vec<u8>, landing: &Landing<'_>) {
    CHAT.encode(landing.join, bytes);
    if let Some(topic) = landing.topic {
        commands::topic_line(landing.room.name(), topic).encode_into(bytes);
    }
    history::write_history(bytes, landing.room.name().as_str(), landing.history());
    Line::Room { room: Some(landing.room.name().to_string()) }.encode_into(bytes);
}

/// The line, in plain text, that tells a client speaking plain text to a `chats://`
/// listener where it is.
pub fn tls_required() -> Vec<u8> {
    let text = "this port speaks TLS: connect with chats://".to_string();
    Line::Error { code: ErrorCode::TlsRequired, text }.encode()
}

/// The line that tells a connection it is not admitted.
pub fn refusal(full: Full) -> Vec<u8> {
    let (code, text) = match full {
        Full::Server { max } => {
            (ErrorCode::ServerFull, format!("server is full ({max} clients); try again later"))
        }
        Full::Address { max } => (
            ErrorCode::TooManyConnections,
            format!("too many connections from your address (at most {max})"),
        ),
    };
    Line::Error { code, text }.encode()
}

impl<R: AsyncRead + Unpin> Session<R> {
    async fn run(&mut self) {
        // Boxed, like the line handling below, so that the connection's task, which waits
        // for input most of its life, is only as large as that wait.
        let Some(person) = Box::pin(self.handshake()).await else { return };
        let ending = self.chat(&person).await;
        self.link.ending(ending.disconnect());
        let Some(why) = ending.departure(self.link.outbox.overflowed()) else {
            return self.bye();
        };
        // Boxed: it runs once, at the end, and its locks would otherwise size the task for
        // its whole life.
        Box::pin(self.link.ticket.shared.chat.quit(&person, why)).await;
    }

    /// Reads the member's lines and acts on them until it leaves.
    async fn chat(&mut self, person: &Arc<Person>) -> Ending {
        loop {
            let ending = match self.link.next().await {
                Input::Line(line) => Box::pin(self.admit(person, &line)).await,
                Input::Refused(refusal) => self.refused(refusal),
                Input::Closed => Some(Ending::Closed),
                Input::Stopped => Some(Ending::Stopped),
                Input::Alarm(alarm) => self.alarm(person, alarm),
            };
            if let Some(ending) = ending {
                return ending;
            }
            // A burst of lines already buffered would otherwise be broadcast without a
            // pause, filling every queue before any writer task got to run.
            future::yield_now().await;
        }
    }

    /// Passes a line through flood control, then acts on it. Empty lines are ignored, and
    /// answers to our own pings never count against the client.
    async fn admit(&mut self, person: &Arc<Person>, line: &str) -> Option<Ending> {
        let parsed = crate::proto::chat::Command::parse(line);
        if matches!(parsed, Ok(None) | Ok(Some(crate::proto::chat::Command::Pong(_)))) {
            return None;
        }
        match self.flood_check() {
            Verdict::Accept => self.handle(person, parsed).await,
            Verdict::Drop { .. } => None,
            Verdict::Disconnect => Some(Ending::Flood),
        }
    }

    /// Tells the client why its line was dropped. Refused lines count against flood
    /// control like any other, and one over the rate is not even answered: a flood of bad
    /// lines must end in `ERROR flood`, not in a queue full of refusals.
    fn refused(&mut self, refusal: Refusal) -> Option<Ending> {
        match self.flood_check() {
            Verdict::Accept => self.refuse(refusal),
            Verdict::Drop { .. } => {}
            Verdict::Disconnect => return Some(Ending::Flood),
        }
        None
    }

    fn refuse(&mut self, refusal: Refusal) {
        let (code, text) = match refusal {
            Refusal::TooLong => {
                let max = self.link.ticket.shared.config.max_line;
                (ErrorCode::LineTooLong, format!("line longer than {max} bytes was dropped"))
            }
            Refusal::Text(error) => {
                let code = match error {
                    TextError::InvalidUtf8 => ErrorCode::InvalidUtf8,
                    TextError::ControlChar(_) => ErrorCode::ControlChar,
                };
                (code, format!("{error}; the line was dropped"))
            }
        };
        self.error(code, text);
    }

    /// Acts on a connection timer that went off.
    fn alarm(&mut self, person: &Person, alarm: Alarm) -> Option<Ending> {
        match alarm {
            Alarm::Deadline => None,
            Alarm::LineTimeout => {
                info!(nick = %person.nick(), "disconnected: line not finished in time");
                self.error(ErrorCode::LineTimeout, "line not finished in time; goodbye".into());
                Some(Ending::LineTimeout)
            }
            Alarm::PingTimeout => {
                info!(nick = %person.nick(), "disconnected: no answer to PING");
                self.error(ErrorCode::PingTimeout, "no answer to PING; goodbye".into());
                Some(Ending::PingTimeout)
            }
            Alarm::PingDue(token) => {
                self.reply(&Line::Ping { token });
                None
            }
        }
    }

    /// Runs flood control for one line, warning the client as it decides.
    fn flood_check(&mut self) -> Verdict {
        let verdict = self.link.flood_check();
        match verdict {
            Verdict::Accept | Verdict::Drop { warn: false } => {}
            Verdict::Drop { warn: true } => {
                let rate = self.link.ticket.shared.config.flood_rate;
                let text =
                    format!("slow down: over {rate} lines per second; lines are being dropped");
                self.error(ErrorCode::RateLimited, text);
            }
            Verdict::Disconnect => {
                info!(peer = %self.link.ticket.peer, "disconnected: flooding");
                self.link.ending(Disconnect::Flood);
                self.error(ErrorCode::Flood, "disconnected for flooding".into());
            }
        }
        verdict
    }

    /// The goodbye at shutdown, after everything the rooms had for this client.
    fn bye(&mut self) {
        self.link.ending(Disconnect::Shutdown);
        self.reply(&Line::Bye { reason: "server shutting down".into() });
    }

    /// Queues a line for this client alone.
    fn reply(&self, line: &Line) {
        self.link.reply(line.encode());
    }

    /// Queues several lines for this client alone, as one entry of its queue.
    fn reply_all(&self, lines: &[Line]) {
        reply_lines(&self.link.outbox, lines);
    }

    /// Queues an `ERROR` line for this client alone, and counts it by its code.
    fn error(&self, code: ErrorCode, text: String) {
        self.link.ticket.shared.metrics.refused(code.as_str());
        self.reply(&Line::Error { code, text });
    }
}

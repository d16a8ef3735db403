//! Registration: the server asks for its password if it has one (`password`), then for a
//! nickname until a valid, free one is given, then welcomes the newcomer and puts it in
//! the default room.

use std::sync::Arc;
use std::time::Instant;

use futures_lite::{future, AsyncRead};
use tracing::info;

use super::super::link::Input;
use super::commands::join_refused;
use super::{write_landing, Session};
use crate::core::{Arrival, Nick, NickError, NickRefused, Person, Recipient};
use crate::proto::chat::{Command, ErrorCode, Line, CHAT, HELP, PROTOCOL_VERSION};
use crate::server::flood::Verdict;
use crate::server::metrics::{Dialect, Disconnect, Metrics};
use crate::server::Config;

/// A newcomer's first lines, in one piece: `WELCOME`, the `LIMITS` it is held to if there
/// are any (so that a bot can pace itself), then what it was told of the default room (or
/// why it could not enter it, counted in `metrics`), and always a `ROOM` line last.
fn arrival_lines(
    nick: &Nick,
    arrival: Arrival<'_>,
    limits: Option<Line>,
    metrics: &Metrics,
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(128);
    let nick = nick.to_string();
    Line::Welcome { nick, online: arrival.online, protocol: PROTOCOL_VERSION }
        .encode_into(&mut bytes);
    if let Some(limits) = limits {
        limits.encode_into(&mut bytes);
    }
    match arrival.landed {
        Some(Ok(landing)) => write_landing(&mut bytes, &landing),
        Some(Err(refused)) => {
            if let Some(line) = join_refused(&refused, metrics) {
                line.encode_into(&mut bytes);
            }
            Line::Room { room: None }.encode_into(&mut bytes);
        }
        None => Line::Room { room: None }.encode_into(&mut bytes),
    }
    bytes
}

/// The `LIMITS` line for a server with flood control; without it there is nothing to
/// announce, and a server that says nothing keeps the lines of a newcomer's landing as
/// they always were.
fn flood_limits(config: &Config) -> Option<Line> {
    let (flood_rate, flood_burst) = (config.flood_rate, config.flood_burst);
    (flood_rate > 0).then_some(Line::Limits { flood_rate, flood_burst })
}

/// What the client sent in answer to one of the handshake's requests.
pub(super) enum Answer {
    /// A line of text, to act on.
    Line(String),
    /// A refused line, answered: wait for the next.
    Again,
    /// The connection is going away (gone, too slow, flooding, or the server is stopping).
    GiveUp,
}

/// What one nickname attempt came to.
enum Attempt {
    /// Registered.
    Welcome(Arc<Person>),
    /// Refused; the client was told why and may try again.
    Again,
    /// The connection is going away (gone, or the server is stopping).
    GiveUp,
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// Asks for the server password, if there is one, then for a nickname until a valid,
    /// free one is given; `None` if the client never gets that far (it left, timed out,
    /// flooded, gave too many wrong passwords, or the server stopped).
    pub(super) async fn handshake(&mut self) -> Option<Arc<Person>> {
        // One deadline for the whole handshake, password and nickname, counted from the
        // accept: a TLS handshake has already spent part of it.
        let deadline = self.link.registration_deadline();
        if self.link.ticket.shared.password.is_some() && !self.password(deadline).await {
            return None;
        }
        let request = Line::NickRequest.encode();
        self.link.reply(request.clone());
        loop {
            let line = match self.answer(deadline, &request, "no nickname chosen in time").await {
                Answer::Line(line) => line,
                Answer::Again => continue,
                Answer::GiveUp => return None,
            };
            match self.attempt(&line).await {
                Attempt::Welcome(person) => return Some(person),
                Attempt::Again => {}
                Attempt::GiveUp => return None,
            }
            // Lines pipelined in one packet would otherwise all be answered before the
            // writer task got to send any of the answers.
            future::yield_now().await;
        }
    }

    /// Waits for the client's answer to `request` (a line's bytes) until `deadline`. A
    /// refused line counts against flood control and is answered, and the request is sent
    /// again; `late` says what was not done in time, should the deadline pass.
    pub(super) async fn answer(&mut self, deadline: Instant, request: &[u8], late: &str) -> Answer {
        match self.link.next_input(deadline).await {
            Input::Line(line) => Answer::Line(line),
            Input::Refused(refusal) => {
                match self.flood_check() {
                    Verdict::Accept => {
                        self.refuse(refusal);
                        self.link.reply(request.to_vec());
                    }
                    Verdict::Drop { .. } => {}
                    Verdict::Disconnect => return Answer::GiveUp,
                }
                future::yield_now().await;
                Answer::Again
            }
            Input::Alarm(_) => {
                self.too_slow(late);
                Answer::GiveUp
            }
            Input::Stopped => {
                self.bye();
                Answer::GiveUp
            }
            Input::Closed => Answer::GiveUp,
        }
    }

    /// Acts on one line of the handshake: a nickname, `/help` or `/quit`.
    async fn attempt(&mut self, line: &str) -> Attempt {
        let proposed = line.trim();
        // Blank lines are ignored, as everywhere in the protocol.
        if proposed.is_empty() {
            return Attempt::Again;
        }
        // Nickname attempts are lines too: a client cannot spin the server on them.
        match self.flood_check() {
            Verdict::Accept => {}
            Verdict::Drop { .. } => return Attempt::Again,
            Verdict::Disconnect => return Attempt::GiveUp,
        }
        match Command::parse(proposed) {
            Ok(Some(Command::Quit(_))) => {
                self.link.ending(Disconnect::Quit);
                return Attempt::GiveUp;
            }
            Ok(Some(Command::Help)) => {
                self.help();
                self.reply(&Line::NickRequest);
                return Attempt::Again;
            }
            _ => {}
        }
        let attempt = self.try_register(proposed).await;
        if matches!(attempt, Attempt::Again) {
            self.reply(&Line::NickRequest);
        }
        attempt
    }

    /// Validates and claims one proposed nickname, telling the client why if it fails.
    async fn try_register(&mut self, proposed: &str) -> Attempt {
        let max = self.link.ticket.shared.config.max_nick;
        let nick = match Nick::parse(proposed, max) {
            Ok(nick) => nick,
            Err(error) => {
                self.nick_error(&error);
                return Attempt::Again;
            }
        };
        let outbox = self.link.outbox.clone();
        let recipient = Recipient { outbox: outbox.clone(), encoder: &CHAT, echo: true };
        let shared = self.link.ticket.shared.clone();
        let room = shared.config.default_room.as_ref();
        let limits = flood_limits(&shared.config);
        let welcome = |arrival: Arrival<'_>| {
            let lines = arrival_lines(&nick, arrival, limits, &shared.metrics);
            let _ = outbox.push_reply(lines.into());
        };
        match shared.chat.register(recipient, nick.clone(), room, welcome).await {
            Ok(person) => {
                shared.metrics.registered(Dialect::Chat);
                self.current = person.rooms().pop();
                self.check_claim(&person);
                Attempt::Welcome(person)
            }
            Err(NickRefused::Closed) => {
                self.bye();
                Attempt::GiveUp
            }
            Err(refused @ NickRefused::Taken(_)) => {
                self.error(ErrorCode::NickTaken, refused.to_string());
                Attempt::Again
            }
            Err(refused @ NickRefused::Confusable { .. }) => {
                self.error(ErrorCode::NickConfusable, refused.to_string());
                Attempt::Again
            }
            Err(refused @ NickRefused::Unavailable(_)) => {
                self.error(ErrorCode::ClusterUnavailable, refused.to_string());
                Attempt::Again
            }
        }
    }

    /// The client took too long to finish the handshake; `late` says what it did not do.
    fn too_slow(&mut self, late: &str) {
        info!(peer = %self.link.ticket.peer, "disconnected: {late}");
        self.link.ending(Disconnect::HandshakeTimeout);
        self.error(ErrorCode::HandshakeTimeout, format!("{late}; goodbye"));
    }

    /// Tells the client why its nickname is not valid.
    pub(super) fn nick_error(&mut self, error: &NickError) {
        let code = match error {
            NickError::TooLong { .. } => ErrorCode::NickTooLong,
            NickError::Empty | NickError::Invalid { .. } => ErrorCode::NickInvalid,
        };
        self.error(code, error.to_string());
    }

    /// The server's commands, as one reply.
    pub(super) fn help(&mut self) {
        let lines: Vec<Line> =
            HELP.iter().map(|text| Line::Info { text: text.to_string() }).collect();
        self.reply_all(&lines);
    }
}

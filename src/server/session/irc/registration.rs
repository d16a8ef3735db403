//! Registration: capability negotiation (`CAP LS 302`, `CAP REQ`, `CAP END`), `PASS`,
//! `NICK`, `USER` and SASL (`AUTHENTICATE`, in `sasl.rs`), then the welcome burst: `001`
//! to `005`, the user counts and the message of the day. A server with a password
//! registers nobody whose last `PASS` was not it.

use std::sync::Arc;

use futures_lite::{future, AsyncRead};
use tracing::info;

use super::super::link::{Input, Refusal};
use super::queries::Counts;
use super::sasl::Sasl;
use super::Session;
use crate::core::{Arrival, Departure, Nick, NickError, NickRefused, Person, Recipient};
use crate::proto::irc::{
    numeric::*, plain, quit_reason, Cap, CapRequest, IrcEncoder, Message, MessageError, Replies,
    Service,
};
use crate::server::flood::Verdict;
use crate::server::metrics::{Dialect, Disconnect};
use crate::server::password::Charge;

/// What a client has said of itself before it is registered.
#[derive(Default)]
struct Pending {
    /// The nickname it asked for, valid but not yet claimed.
    nick: Option<Nick>,
    /// Whether `USER` was sent.
    user: bool,
    /// True from `CAP LS` or `CAP REQ` until `CAP END`: registration waits for it.
    negotiating: bool,
    /// Whether the last `PASS` was the server password (`None`: no `PASS` yet). Only
    /// the verdict is kept, never the attempt.
    pass: Option<bool>,
    /// The password was accepted at a registration attempt, so a nickname refused then
    /// does not cost the client another.
    admitted: bool,
    /// The SASL exchange, and the account it proved.
    sasl: Sasl,
}

/// What one message before registration came to.
enum Step {
    /// Go on reading.
    Continue,
    /// The client is registered.
    Registered(Arc<Person>),
    /// The connection is going away.
    GiveUp,
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// Reads messages until the client is registered; `None` if it never is (it left,
    /// timed out, flooded, or the server stopped).
    pub(super) async fn register(&mut self) -> Option<Arc<Person>> {
        // Counted from the accept: a TLS handshake has already spent part of it.
        let deadline = self.link.registration_deadline();
        let mut pending = Pending::default();
        loop {
            let line = match self.link.next_input(deadline).await {
                Input::Line(line) => line,
                Input::Refused(refusal) => {
                    if self.refused(refusal, "*").is_some() {
                        self.flooded();
                        return None;
                    }
                    continue;
                }
                Input::Alarm(_) => {
                    info!(peer = %self.link.ticket.peer, "irc disconnected: not registered in time");
                    self.link.ending(Disconnect::HandshakeTimeout);
                    self.close_link("Registration timed out");
                    return None;
                }
                Input::Stopped => {
                    self.link.ending(Disconnect::Shutdown);
                    self.close_link("Server shutting down");
                    return None;
                }
                Input::Closed => return None,
            };
            match self.step(&mut pending, &line).await {
                Step::Continue => {}
                Step::Registered(person) => return Some(person),
                Step::GiveUp => return None,
            }
            // Pipelined lines would otherwise all be answered before the writer ran.
            future::yield_now().await;
        }
    }

    /// Acts on one message before registration.
    async fn step(&mut self, pending: &mut Pending, line: &str) -> Step {
        let message = match Message::parse(line) {
            Ok(message) => message,
            Err(MessageError::Empty) => return Step::Continue,
            Err(MessageError::TooLong) => {
                if self.refused(Refusal::TooLong, "*").is_some() {
                    return self.flooded();
                }
                return Step::Continue;
            }
        };
        match self.flood_check("*") {
            Verdict::Accept => {}
            Verdict::Drop { .. } => return Step::Continue,
            Verdict::Disconnect => return self.flooded(),
        }
        match message.command.as_str() {
            "CAP" => self.cap(&message, pending, "*"),
            "PASS" => self.pass(&message, pending),
            "NICK" => self.propose_nick(&message, pending),
            "USER" => self.user(&message, pending),
            "PING" => self.ping(&message, "*"),
            "AUTHENTICATE" => {
                let nick = pending.nick.as_ref().map(Nick::to_string);
                self.authenticate(&message, &mut pending.sasl, nick.as_deref()).await;
            }
            "PONG" => {}
            "QUIT" => {
                let words = message.param(0).map(plain).filter(|words| !words.is_empty());
                self.link.ending(Disconnect::Quit);
                self.close_link(&quit_reason(&Departure::Quit(words)));
                return Step::GiveUp;
            }
            _ => {
                self.numeric("*", ERR_NOTREGISTERED, &[], Some("You have not registered"));
            }
        }
        if pending.nick.is_some() && pending.user && !pending.negotiating {
            if !self.admit_password(pending) {
                return Step::GiveUp;
            }
            self.abort_sasl(&mut pending.sasl);
            return self.claim(pending).await;
        }
        Step::Continue
    }

    /// Says goodbye to a client that flooded before registering.
    fn flooded(&self) -> Step {
        self.close_link(&quit_reason(&Departure::Flood));
        Step::GiveUp
    }

    /// `PASS password` before registration: with a server password, whether it matches
    /// is kept for registration (`461` without a password); without one, it is ignored.
    fn pass(&mut self, message: &Message<'_>, pending: &mut Pending) {
        let shared = self.shared();
        let Some(password) = &shared.password else { return };
        match message.param(0).filter(|attempt| !attempt.is_empty()) {
            Some(attempt) => pending.pass = Some(password.matches(attempt)),
            None => self.numeric("*", ERR_NEEDMOREPARAMS, &["PASS"], Some("Not enough parameters")),
        }
    }

    /// At registration, on a server with a password: true if the last `PASS` matched and
    /// the address may still try; else `464` and the closing `ERROR`. A wrong password
    /// counts against the address's budget; a missing one does not, since it guesses
    /// nothing (and a client left without the password, reconnecting, would otherwise
    /// lock out its neighbours).
    fn admit_password(&mut self, pending: &mut Pending) -> bool {
        let shared = self.shared();
        let Some(password) = &shared.password else { return true };
        if pending.admitted {
            return true;
        }
        let ip = self.link.ticket.peer.ip();
        let reason = match (password.spent(ip), pending.pass) {
            (Some(_), _) => TOO_MANY_PASSWORDS,
            (None, Some(true)) => {
                pending.admitted = true;
                return true;
            }
            (None, Some(false)) => match password.fail(ip) {
                Charge::Again => "Bad password",
                Charge::Spent { .. } => TOO_MANY_PASSWORDS,
            },
            (None, None) => "Bad password",
        };
        info!(peer = %self.link.ticket.peer, reason, "irc refused: password");
        self.link.ending(Disconnect::BadPassword);
        self.numeric("*", ERR_PASSWDMISMATCH, &[], Some("Password incorrect"));
        self.close_link(reason);
        false
    }

    /// `CAP LS|LIST|REQ|END`: before registration, `LS` and `REQ` hold registration
    /// until `END`. After it, a request that would change how this client's lines are
    /// encoded (`server-time`, `echo-message`) is refused: they are fixed at registration.
    pub(super) fn cap_command(&mut self, message: &Message<'_>, nick: &str) {
        let mut ignored = Pending::default();
        self.cap(message, &mut ignored, nick);
    }

    fn cap(&mut self, message: &Message<'_>, pending: &mut Pending, nick: &str) {
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, nick);
        let sub = message.param(0).unwrap_or("").to_ascii_uppercase();
        match sub.as_str() {
            "LS" => {
                pending.negotiating = true;
                let version = message.param(1).and_then(|v| v.parse::<u32>().ok());
                let offered = Cap::list(Cap::offered(self.tls), version >= Some(302));
                replies.command("CAP", &[nick, "LS"], Some(&offered));
            }
            "LIST" => {
                replies.command("CAP", &[nick, "LIST"], Some(&self.caps.names()));
            }
            "REQ" => {
                pending.negotiating = true;
                let list = message.param(1).unwrap_or("");
                if list.trim().is_empty() {
                    return;
                }
                let registered = nick != "*";
                match CapRequest::parse(list, Cap::offered(self.tls)) {
                    Some(request) if !(registered && self.changes_fixed(&request)) => {
                        self.caps = self.caps.with(&request);
                        replies.command("CAP", &[nick, "ACK"], Some(&request.list()));
                    }
                    _ => {
                        replies.command("CAP", &[nick, "NAK"], Some(list));
                    }
                }
            }
            "END" => pending.negotiating = false,
            _ => {
                let shown = if sub.is_empty() { "*" } else { sub.as_str() };
                replies.numeric(ERR_INVALIDCAPCMD, &[shown], Some("Invalid CAP command"));
            }
        }
        self.send(replies);
    }

    /// Whether `request` would turn on or off a capability fixed at registration.
    fn changes_fixed(&self, request: &CapRequest) -> bool {
        let fixed = &FIXED_AT_REGISTRATION;
        self.caps.only(fixed) != self.caps.with(request).only(fixed)
    }

    /// `NICK` before registration: a valid nickname is kept for when `USER` (and `CAP
    /// END`) arrive; whether it is free is known only then.
    fn propose_nick(&mut self, message: &Message<'_>, pending: &mut Pending) {
        match self.parse_nick(message, "*") {
            Some(nick) => pending.nick = Some(nick),
            None => pending.nick = None,
        }
    }

    /// The nickname in a `NICK` message, or `None` after telling the client why not
    /// (`431`, `432`).
    pub(super) fn parse_nick(&mut self, message: &Message<'_>, me: &str) -> Option<Nick> {
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, me);
        let Some(proposed) = message.param(0).filter(|nick| !nick.is_empty()) else {
            replies.numeric(ERR_NONICKNAMEGIVEN, &[], Some("No nickname given"));
            self.send(replies);
            return None;
        };
        match Nick::parse(proposed, shared.config.max_nick) {
            Ok(nick) if is_service(&nick) => {
                let text = "Erroneous nickname: reserved for the server's services";
                replies.numeric(ERR_ERRONEUSNICKNAME, &[proposed], Some(text));
                self.send(replies);
                None
            }
            Ok(nick) => Some(nick),
            Err(error) => {
                let text = match error {
                    NickError::Empty => "Erroneous nickname".to_string(),
                    other => format!("Erroneous nickname: {other}"),
                };
                replies.numeric(ERR_ERRONEUSNICKNAME, &[proposed], Some(&text));
                self.send(replies);
                None
            }
        }
    }

    /// `USER name mode unused :realname`: only its presence matters, since every person's
    /// user and host are the same non-revealing pair.
    fn user(&mut self, message: &Message<'_>, pending: &mut Pending) {
        let empty = |index| message.param(index).is_none_or(str::is_empty);
        if message.params.len() < 4 || empty(0) || empty(3) {
            self.numeric("*", ERR_NEEDMOREPARAMS, &["USER"], Some("Not enough parameters"));
            return;
        }
        pending.user = true;
    }

    /// `PING token`, answered with `PONG server :token`.
    pub(super) fn ping(&mut self, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let server = shared.config.server_name.as_str();
        let mut replies = Replies::new(server, me);
        match message.param(0) {
            Some(token) => replies.command("PONG", &[server], Some(token)),
            None => replies.numeric(ERR_NOORIGIN, &[], Some("No origin specified")),
        };
        self.send(replies);
    }

    /// Claims the pending nickname in the core; on success the welcome burst is queued
    /// under the directory's lock, before anything anyone else can send the newcomer.
    async fn claim(&mut self, pending: &mut Pending) -> Step {
        let Some(nick) = pending.nick.take() else { return Step::Continue };
        let shared = self.shared();
        let outbox = self.link.outbox.clone();
        let server_time = self.caps.has(Cap::ServerTime);
        let echo = self.caps.has(Cap::EchoMessage);
        let encoder = IrcEncoder::for_client(server_time, self.caps.has(Cap::AwayNotify));
        let recipient = Recipient { outbox: outbox.clone(), encoder, echo };
        let (rooms, hidden) = (shared.chat.room_count().await, shared.chat.hidden_count().await);
        // Logged in with SASL as the nickname's account: its owner takes it back from
        // whoever holds it without having identified.
        if let Some(account) = &pending.sasl.account {
            shared.chat.reclaim_for(account, &nick).await;
        }
        let welcome = |arrival: Arrival<'_>| {
            let mut replies = Replies::new(&shared.config.server_name, nick.as_str());
            let peak = shared.chat.peak();
            let counts = Counts { online: arrival.online, hidden, peak, rooms };
            super::queries::welcome_burst(&mut replies, &shared.config, counts);
            let _ = outbox.push_reply(replies.into_bytes().into());
        };
        match shared.chat.register(recipient, nick.clone(), None, welcome).await {
            Ok(person) => {
                info!(nick = %nick, "irc registered");
                shared.metrics.registered(Dialect::Irc);
                if let Some(account) = pending.sasl.account.take() {
                    self.sign_in_after_sasl(&person, account).await;
                }
                self.watch_claim(&person);
                Step::Registered(person)
            }
            Err(NickRefused::Closed) => {
                self.link.ending(Disconnect::Shutdown);
                self.close_link("Server shutting down");
                Step::GiveUp
            }
            Err(refused) => {
                self.nick_refused(&nick, &refused, "*");
                Step::Continue
            }
        }
    }

    /// `433` for a nickname taken, or one that looks like one taken.
    pub(super) fn nick_refused(&mut self, nick: &Nick, refused: &NickRefused, me: &str) {
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, me);
        let text = match refused {
            NickRefused::Unavailable(error) => {
                let text = format!("Nick/channel is temporarily unavailable: {error}");
                replies.numeric(ERR_UNAVAILRESOURCE, &[nick.as_str()], Some(&text));
                self.send(replies);
                return;
            }
            NickRefused::Taken(_) => "Nickname is already in use".to_string(),
            other => format!("Nickname is already in use: {other}"),
        };
        replies.numeric(ERR_NICKNAMEINUSE, &[nick.as_str()], Some(&text));
        self.send(replies);
    }
}

/// Whether `nick` is, or looks like, a service's (`NickServ`, `ChanServ`): nobody may take
/// those.
fn is_service(nick: &Nick) -> bool {
    let skeleton = nick.key().skeleton;
    Service::ALL.into_iter().any(|service| {
        Nick::parse(service.nick(), usize::MAX).is_ok_and(|name| name.key().skeleton == skeleton)
    })
}

/// Why a client is closed whose address has given too many wrong passwords.
const TOO_MANY_PASSWORDS: &str = "Too many failed passwords";

/// The capabilities that decide how a client's lines are encoded, chosen once, at
/// registration.
const FIXED_AT_REGISTRATION: [Cap; 3] = [Cap::ServerTime, Cap::EchoMessage, Cap::AwayNotify];

//! Saying things: `PRIVMSG` and `NOTICE` to rooms and people (CTCP `ACTION` is `/me`;
//! `PRIVMSG NickServ` goes to the services), `NICK` changes and `AWAY`.

use std::sync::Arc;

use futures_lite::AsyncRead;
use tracing::debug;

use super::Session;
use crate::core::{Chat, Person, RoomError, Speech, WhisperError};
use crate::proto::irc::{numeric::*, plain, Ctcp, Message, Replies, Service};

/// At most this many targets in one `PRIVMSG` or `NOTICE` (`TARGMAX`).
const MAX_TARGETS: usize = 4;

/// The longest away message, in characters (`AWAYLEN`): longer ones are cut to it, so
/// that an `AWAY` or a `301` always fits in an IRC line.
pub(super) const MAX_AWAY: usize = 200;

impl<R: AsyncRead + Unpin> Session<R> {
    /// `PRIVMSG` or `NOTICE` `target[,target] :text`. A notice is never answered with an
    /// error, as the RFC asks, so that two automatic clients cannot loop.
    pub(super) async fn talk(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let notice = message.command == "NOTICE";
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, me);
        // `PRIVMSG , :hi` names no target, as much as `PRIVMSG` alone.
        let targets = message.param(0).filter(|targets| targets.split(',').any(|t| !t.is_empty()));
        let (Some(targets), Some(text)) = (targets, message.param(1)) else {
            if !notice {
                match targets {
                    None => {
                        replies.numeric(ERR_NORECIPIENT, &[], Some("No recipient given (PRIVMSG)"))
                    }
                    Some(_) => replies.numeric(ERR_NOTEXTTOSEND, &[], Some("No text to send")),
                };
            }
            return self.send(replies);
        };
        let raw = text;
        let (kind, text) = speech(notice, text);
        if text.is_empty() {
            if !notice {
                replies.numeric(ERR_NOTEXTTOSEND, &[], Some("No text to send"));
            }
            return self.send(replies);
        }
        for (index, target) in targets.split(',').filter(|t| !t.is_empty()).enumerate() {
            if index >= MAX_TARGETS {
                replies.numeric(ERR_TOOMANYTARGETS, &[target], Some("Too many targets"));
                continue;
            }
            // The services read the text as sent (a password may hold any character), and
            // never answer a notice.
            if let Some(service) = Service::named(target) {
                if !notice {
                    self.ask_service(person, service, raw, me).await;
                }
                continue;
            }
            self.talk_to(person, target, kind, &text, &mut replies).await;
        }
        if !notice {
            self.send(replies);
        }
    }

    /// Delivers one message to a room or a person, noting in `replies` what went wrong.
    async fn talk_to(
        &mut self,
        person: &Arc<Person>,
        target: &str,
        kind: Speech,
        text: &str,
        replies: &mut Replies<'_>,
    ) {
        let shared = self.shared();
        if !target.starts_with('#') {
            return whisper(&shared.chat, person, target, kind, text, replies).await;
        }
        debug!(nick = %person.nick(), room = target, "irc message");
        match say_in_room(&shared.chat, person, target, kind, text).await {
            Ok(()) | Err(RoomError::Closed) => {}
            Err(RoomError::NoSuchRoom(_)) => {
                replies.numeric(ERR_NOSUCHCHANNEL, &[target], Some("No such channel"));
            }
            Err(RoomError::Unavailable(error)) => {
                replies.notice(&error.to_string());
            }
            Err(_) => {
                replies.numeric(ERR_CANNOTSENDTOCHAN, &[target], Some("Cannot send to channel"));
            }
        }
    }

    /// `NICK new` once registered: the core renames and tells everyone who shares a room.
    /// A registered nickname taken without identifying starts its grace period.
    pub(super) async fn rename(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let Some(nick) = self.parse_nick(message, me) else { return };
        let before = person.folded();
        match self.shared().chat.rename(person, nick.clone()).await {
            // The same name in another case is not a new claim.
            Ok(()) if person.folded() != before => self.watch_claim(person),
            Ok(()) | Err(crate::core::NickRefused::Closed) => {}
            Err(refused) => self.nick_refused(&nick, &refused, me),
        }
    }

    /// `AWAY :message` marks the person away; `AWAY` alone, back.
    pub(super) async fn away(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let away = message.param(0).map(|text| plain(text).chars().take(MAX_AWAY).collect());
        let away = away.filter(|text: &String| !text.is_empty());
        let mut replies = Replies::new(&shared.config.server_name, me);
        match away {
            Some(_) => {
                replies.numeric(RPL_NOWAWAY, &[], Some("You have been marked as being away"))
            }
            None => {
                replies.numeric(RPL_UNAWAY, &[], Some("You are no longer marked as being away"))
            }
        };
        if let Err(error) = shared.chat.set_away(person, away).await {
            replies = Replies::new(&shared.config.server_name, me);
            replies.notice(&error.to_string());
        }
        self.send(replies);
    }
}

/// Says `text` in the room `name`, which `person` must be in.
async fn say_in_room(
    chat: &Chat,
    person: &Person,
    name: &str,
    kind: Speech,
    text: &str,
) -> Result<(), RoomError> {
    let room = super::channels::member_room(chat, person, name).await?;
    let text = text.to_string();
    match kind {
        Speech::Say => chat.say(person, &room, text).await,
        Speech::Act => chat.act(person, &room, text).await,
        Speech::Notice => chat.notice(person, &room, text).await,
        // Requests between client programs go to one person only.
        Speech::ClientQuery | Speech::ClientAnswer => Ok(()),
    }
}

/// Sends `text` to the person `to`, noting in `replies` that they are away or not there.
async fn whisper(
    chat: &Chat,
    person: &Arc<Person>,
    to: &str,
    kind: Speech,
    text: &str,
    replies: &mut Replies<'_>,
) {
    match chat.whisper(person, to, text.to_string(), kind).await {
        Ok(target) => {
            if let (Speech::Say, Some(away)) = (kind, target.away()) {
                replies.numeric(RPL_AWAY, &[target.nick().as_str()], Some(&away));
            }
        }
        Err(WhisperError::NoSuchNick(_)) => {
            replies.numeric(ERR_NOSUCHNICK, &[to], Some("No such nick/channel"));
        }
        Err(WhisperError::Closed) => {}
        Err(WhisperError::Unavailable(error)) => {
            replies.notice(&error.to_string());
        }
    }
}

/// What kind of speech `text` is, and its plain text: a CTCP `ACTION` is an action; any
/// other CTCP (`VERSION`, `PING`, `DCC`) is a request between client programs (an answer
/// when sent as a notice), which reaches IRC clients only.
fn speech(notice: bool, text: &str) -> (Speech, String) {
    match Ctcp::parse(text) {
        Some(ctcp) if !notice && ctcp.command.eq_ignore_ascii_case("ACTION") => {
            (Speech::Act, plain(ctcp.args))
        }
        Some(ctcp) => {
            let kind = if notice { Speech::ClientAnswer } else { Speech::ClientQuery };
            let request = plain(&format!("{} {}", ctcp.command, ctcp.args));
            (kind, request.trim_end().to_string())
        }
        None if notice => (Speech::Notice, plain(text)),
        None => (Speech::Say, plain(text)),
    }
}

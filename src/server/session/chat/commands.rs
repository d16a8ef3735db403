//! What a registered chat client's commands do: each one a call on the core, and the
//! answer in the chat protocol.

use std::sync::Arc;

use futures_lite::AsyncRead;
use tracing::debug;

use super::{reply_lines, write_landing, Ending, Session};
use crate::core::{
    Chat, JoinError, Joined, Landing, Nick, NickRefused, Person, Room, RoomError, RoomName,
    RoomNameError, Speech, Topic, Unavailable, WhisperError,
};
use crate::proto::chat::{is_room_name, Command, CommandError, ErrorCode, Line};
use crate::server::metrics::Metrics;
use crate::unicode;

/// Why a command could not be carried out.
pub(super) enum Refused {
    /// The error to answer with.
    Error(ErrorCode, String),
    /// The server is shutting down: nothing to say, the goodbye follows.
    Closed,
}

/// Whether a command needs the client in the room, or only the room to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// Talking, parting, setting a topic: only in a room you are in.
    Member,
    /// Looking (names, topic): any room that exists.
    Exists,
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// Acts on one parsed line from a member; `Some` when it ends the session.
    pub(super) async fn handle(
        &mut self,
        person: &Arc<Person>,
        parsed: Result<Option<Command>, CommandError>,
    ) -> Option<Ending> {
        let command = match parsed {
            Ok(Some(command)) => command,
            Ok(None) => return None,
            Err(error @ CommandError::Unknown(_)) => {
                self.error(ErrorCode::UnknownCommand, error.to_string());
                return None;
            }
            Err(error @ CommandError::Usage(_)) => {
                self.error(ErrorCode::Usage, error.to_string());
                return None;
            }
        };
        if let Command::Quit(words) = command {
            return Some(Ending::Quit(words));
        }
        self.check_current(person);
        match self.execute(person, command).await {
            Ok(()) | Err(Refused::Closed) => {}
            Err(Refused::Error(code, text)) => self.error(code, text),
        }
        None
    }

    async fn execute(&mut self, person: &Arc<Person>, command: Command) -> Result<(), Refused> {
        match command {
            Command::Say(text) => self.say(person, None, text).await,
            Command::Me(text) => {
                let room = self.room(person, None, Need::Member).await?;
                debug!(nick = %person.nick(), text = %text.escape_debug(), "action");
                self.core().act(person, &room, text).await.map_err(room_refused)
            }
            Command::Msg { to, text } if is_room_name(&to) => {
                self.say(person, Some(&to), text).await
            }
            Command::Msg { to, text } => self.whisper(person, &to, text).await,
            Command::Join(name) => {
                let name = RoomName::parse(&name).map_err(room_name_refused)?;
                self.join(person, &name).await;
                Ok(())
            }
            Command::Part { room, reason } => self.part(person, room.as_deref(), reason).await,
            Command::List => {
                self.list().await;
                Ok(())
            }
            Command::Topic { room, text } => self.topic(person, room.as_deref(), text).await,
            Command::Names(room) => self.names(person, room.as_deref()).await,
            Command::Ison(nicks) => {
                self.ison(&nicks).await;
                Ok(())
            }
            Command::Nick(new) => self.rename(person, &new).await,
            Command::Help => {
                self.help();
                Ok(())
            }
            Command::Register(password) => self.register(person, &password).await,
            Command::Identify { nick, password } => {
                self.identify(person, nick.as_deref(), &password).await
            }
            Command::Drop => self.drop_account(person).await,
            Command::RegisterRoom(room) => self.register_room(person, room.as_deref()).await,
            Command::DropRoom(room) => self.drop_room(person, room.as_deref()).await,
            Command::Kick { room, nick, reason } => {
                self.kick(person, room.as_deref(), &nick, reason).await
            }
            Command::History { of, count } => self.history(person, of.as_deref(), count).await,
            Command::Pong(_) | Command::Quit(_) => Ok(()),
        }
    }

    /// The chat core this server runs.
    pub(super) fn core(&self) -> &Chat {
        &self.link.ticket.shared.chat
    }

    /// Says `text` in the room named `to`, or in the current room.
    async fn say(
        &mut self,
        person: &Person,
        to: Option<&str>,
        text: String,
    ) -> Result<(), Refused> {
        let room = self.room(person, to, Need::Member).await?;
        debug!(nick = %person.nick(), room = %room.name(), text = %text.escape_debug(), "message");
        self.core().say(person, &room, text).await.map_err(room_refused)
    }

    async fn whisper(
        &mut self,
        person: &Arc<Person>,
        to: &str,
        text: String,
    ) -> Result<(), Refused> {
        let to = match self.core().whisper(person, to, text, Speech::Say).await {
            Ok(to) => to,
            // The goodbye has been said, or is being said: nothing may follow it.
            Err(WhisperError::Closed) => return Ok(()),
            Err(error @ WhisperError::NoSuchNick(_)) => {
                return Err(Refused::Error(ErrorCode::NoSuchNick, error.to_string()))
            }
            Err(WhisperError::Unavailable(error)) => return Err(unavailable(error)),
        };
        if let Some(away) = to.away() {
            self.reply(&Line::Info { text: format!("{} is away: {away}", to.nick()) });
        }
        Ok(())
    }

    /// Joins `name` (or switches to it, if already in it) and makes it the current room.
    pub(super) async fn join(&mut self, person: &Arc<Person>, name: &RoomName) {
        // Under the room's lock: the newcomer hears of its arrival, the topic and the switch
        // before any of the room's later lines, in one piece.
        let outbox = &self.link.outbox;
        let welcome = |landing: Landing<'_>| {
            let mut bytes = Vec::new();
            write_landing(&mut bytes, &landing);
            let _ = outbox.push_reply(bytes.into());
        };
        let joined = self.core().join(person, name, welcome).await;
        match joined {
            Ok(Joined::Entered(room)) => self.current = Some(room),
            Ok(Joined::AlreadyIn(room)) => {
                self.reply(&Line::Room { room: Some(room.name().to_string()) });
                self.current = Some(room);
            }
            Err(error) => {
                if let Some(line) = join_refused(&error, &self.link.ticket.shared.metrics) {
                    self.reply(&line);
                }
            }
        }
    }

    /// Leaves `room` (the current one by default). Leaving the current room makes the
    /// room joined most recently among the others current.
    async fn part(
        &mut self,
        person: &Arc<Person>,
        room: Option<&str>,
        words: Option<String>,
    ) -> Result<(), Refused> {
        let room = self.room(person, room, Need::Member).await?;
        self.core().part(person, &room, words).await.map_err(room_refused)?;
        if self.current.as_ref().is_some_and(|current| Arc::ptr_eq(current, &room)) {
            self.current = person.rooms().pop();
            let room = self.current.as_ref().map(|room| room.name().to_string());
            self.reply(&Line::Room { room });
        }
        Ok(())
    }

    /// Every room, its member count and topic, then the count: one reply.
    async fn list(&mut self) {
        let mut listing = self.core().listing().await;
        let mut listed = 0;
        loop {
            let page = listing.next_page(super::super::PAGE).await;
            if page.is_empty() {
                break;
            }
            listed += page.len();
            let lines: Vec<Line> = page
                .iter()
                .map(|room| Line::List {
                    room: room.name.to_string(),
                    members: room.members,
                    topic: room.topic.as_ref().map_or_else(String::new, |t| t.text.clone()),
                })
                .collect();
            self.reply_all(&lines);
            // The list goes out as fast as the client reads it: a client that asks for
            // it again and again and reads nothing waits here, and holds no more than its
            // queue, instead of a whole list per question. At the stop (its goodbye comes
            // next) or after a whole ping timeout unread, the rest is not sent, and the end
            // comes at once: the client can tell this list from the next.
            if !self.link.room().await {
                break;
            }
        }
        self.reply(&Line::ListEnd { rooms: listed });
    }

    /// Shows a room's topic, or sets it (`-` clears it).
    async fn topic(
        &mut self,
        person: &Person,
        room: Option<&str>,
        text: Option<String>,
    ) -> Result<(), Refused> {
        let Some(text) = text else {
            let room = self.room(person, room, Need::Exists).await?;
            let line = match self.core().topic(person, &room).await {
                Some(topic) => topic_line(room.name(), &topic),
                None => Line::Info { text: format!("{} has no topic", room.name()) },
            };
            self.reply(&line);
            return Ok(());
        };
        let room = self.room(person, room, Need::Member).await?;
        let text = if text == "-" { String::new() } else { text };
        self.core().set_topic(person, &room, text).await.map_err(room_refused)
    }

    /// Which of `nicks` are online anywhere on the server (on any server of a cluster),
    /// spelled as they are now.
    async fn ison(&mut self, nicks: &[String]) {
        let mut online = Vec::with_capacity(nicks.len());
        for nick in nicks {
            if let Some(found) = self.core().find(nick).await {
                online.push(found.nick().to_string());
            }
        }
        self.reply(&Line::Online { nicks: online });
    }

    /// Who is in a room (the current one by default).
    async fn names(&mut self, person: &Person, room: Option<&str>) -> Result<(), Refused> {
        let room = self.room(person, room, Need::Exists).await?;
        let outbox = &self.link.outbox;
        let reply = |nicks: &[Nick]| {
            let nicks = nicks.iter().map(Nick::to_string).collect();
            reply_lines(outbox, &[Line::Names { room: room.name().to_string(), nicks }]);
        };
        self.core().names(person, &room, reply).await;
        Ok(())
    }

    async fn rename(&mut self, person: &Arc<Person>, proposed: &str) -> Result<(), Refused> {
        let max = self.link.ticket.shared.config.max_nick;
        let new = match Nick::parse(proposed, max) {
            Ok(new) => new,
            Err(error) => {
                self.nick_error(&error);
                return Ok(());
            }
        };
        match self.core().rename(person, new).await {
            Ok(()) => {
                self.check_claim(person);
                Ok(())
            }
            Err(NickRefused::Closed) => Ok(()),
            Err(refused @ NickRefused::Taken(_)) => {
                Err(Refused::Error(ErrorCode::NickTaken, refused.to_string()))
            }
            Err(refused @ NickRefused::Confusable { .. }) => {
                Err(Refused::Error(ErrorCode::NickConfusable, refused.to_string()))
            }
            Err(NickRefused::Unavailable(error)) => Err(unavailable(error)),
        }
    }

    /// The room a command is about: the one named, or else the current one.
    pub(super) async fn room(
        &mut self,
        person: &Person,
        named: Option<&str>,
        need: Need,
    ) -> Result<Arc<Room>, Refused> {
        let Some(named) = named else {
            let text = "you are in no room; /join #room first".to_string();
            return self.current.clone().ok_or(Refused::Error(ErrorCode::NotInRoom, text));
        };
        // Talking in one's own rooms is the common case: a fold finds them, without the
        // checks and the look-alike key a name that is new to the server needs.
        if let Some(room) = person.room(&unicode::fold(named)) {
            return Ok(room);
        }
        let name = RoomName::parse(named).map_err(room_name_refused)?;
        match need {
            Need::Member => {
                Err(Refused::Error(ErrorCode::NotInRoom, format!("you are not in {name}")))
            }
            Need::Exists => self.core().find_room(name.as_str()).await.map_err(room_refused),
        }
    }
}

/// The `ERROR` line for a refused join, counted in `metrics`; `None` at shutdown, when the
/// goodbye says it all.
pub(super) fn join_refused(error: &JoinError, metrics: &Metrics) -> Option<Line> {
    let code = match error {
        JoinError::Confusable { .. } | JoinError::LooksRegistered { .. } => {
            ErrorCode::RoomConfusable
        }
        JoinError::TooManyRooms { .. } => ErrorCode::TooManyRooms,
        JoinError::ServerRoomsFull { .. } => ErrorCode::ServerRoomsFull,
        JoinError::Closed => return None,
        JoinError::Unavailable(_) => ErrorCode::ClusterUnavailable,
    };
    metrics.refused(code.as_str());
    Some(Line::Error { code, text: error.to_string() })
}

/// A `TOPIC` line for `room`.
pub(super) fn topic_line(room: &RoomName, topic: &Topic) -> Line {
    Line::Topic { room: room.to_string(), by: topic.by.to_string(), text: topic.text.clone() }
}

pub(super) fn room_refused(error: RoomError) -> Refused {
    let code = match error {
        RoomError::NotInRoom(_) => ErrorCode::NotInRoom,
        RoomError::NoSuchRoom(_) => ErrorCode::NoSuchRoom,
        RoomError::TopicTooLong { .. } => ErrorCode::TopicTooLong,
        RoomError::NotOwner { .. } | RoomError::Unowned(_) => ErrorCode::NotOwner,
        RoomError::NotMember { .. } => ErrorCode::NotMember,
        RoomError::Closed => return Refused::Closed,
        RoomError::Unavailable(error) => return unavailable(error),
    };
    Refused::Error(code, error.to_string())
}

/// The refusal of anything asked while the cluster cannot order it.
pub(super) fn unavailable(error: Unavailable) -> Refused {
    Refused::Error(ErrorCode::ClusterUnavailable, error.to_string())
}

pub(super) fn room_name_refused(error: RoomNameError) -> Refused {
    Refused::Error(ErrorCode::RoomInvalid, error.to_string())
}

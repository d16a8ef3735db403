//! Rooms as IRC channels: `JOIN` (with the room's recent history), `PART`, `TOPIC`,
//! `NAMES`, `LIST`, channel `MODE`, and `KICK` by a registered room's owner.

use std::sync::Arc;

use futures_lite::AsyncRead;

use super::Session;
use crate::core::{
    Chat, JoinError, Joined, Landing, Nick, Person, Room, RoomError, RoomName, Topic,
};
use crate::proto::irc::{numeric::*, pack, Message, Replies, MAX_LINE};

/// Channel mode letters IRC servers commonly have: asking to change one is refused as an
/// operator's privilege (`482`); any other letter is unknown (`472`).
const KNOWN_CHANNEL_MODES: &str = "beIiklmnopstv";

impl<R: AsyncRead + Unpin> Session<R> {
    /// `JOIN #a,#b` (keys are ignored: no room has one), or `JOIN 0` to leave every room.
    pub(super) async fn join(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let list = message.param(0).unwrap_or("");
        // Each channel's answers are one entry of the client's queue: before each, the
        // session waits for room, so that twenty channels at once cannot overflow it.
        if list == "0" {
            for room in person.rooms() {
                self.link.room().await;
                let _ = self.shared().chat.part(person, &room, None).await;
            }
            return;
        }
        for name in list.split(',').filter(|name| !name.is_empty()) {
            self.link.room().await;
            self.join_one(person, name, me).await;
        }
    }

    async fn join_one(&mut self, person: &Arc<Person>, name: &str, me: &str) {
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, me);
        let room = match RoomName::parse(name) {
            Ok(room) => room,
            Err(error) => {
                bad_name(&mut replies, name, &error.to_string());
                return self.send(replies);
            }
        };
        // Under the room's lock: the client's own JOIN, the topic, the names and the recent
        // history come before any of the room's later lines, and without a flush of the
        // room for each joiner.
        let style = self.replay_style();
        let outbox = &self.link.outbox;
        let encoder = person.recipient().encoder;
        let server = shared.config.server_name.as_str();
        let welcome = |landing: Landing<'_>| {
            let mut bytes = Vec::with_capacity(256);
            encoder.encode(landing.join, &mut bytes);
            let mut replies = Replies::new(server, me);
            replies.extend(&bytes);
            if let Some(topic) = landing.topic {
                topic_lines(&mut replies, landing.room.name(), topic);
            }
            names_lines(&mut replies, landing.room.name(), &landing.names());
            if landing.history().len() > 0 {
                bytes.clear();
                style.write(server, landing.room.name().as_str(), landing.history(), &mut bytes);
                replies.extend(&bytes);
            }
            let _ = outbox.push_reply(replies.into_bytes().into());
        };
        match shared.chat.join(person, &room, welcome).await {
            Ok(Joined::Entered(_) | Joined::AlreadyIn(_)) | Err(JoinError::Closed) => {}
            Err(error @ JoinError::Unavailable(_)) => {
                let text = format!("Nick/channel is temporarily unavailable: {error}");
                replies.numeric(ERR_UNAVAILRESOURCE, &[name], Some(&text));
                self.send(replies);
            }
            Err(error @ (JoinError::Confusable { .. } | JoinError::LooksRegistered { .. })) => {
                bad_name(&mut replies, name, &error.to_string());
                self.send(replies);
            }
            Err(error @ (JoinError::TooManyRooms { .. } | JoinError::ServerRoomsFull { .. })) => {
                let text = format!("Cannot join channel: {error}");
                replies.numeric(ERR_TOOMANYCHANNELS, &[name], Some(&text));
                self.send(replies);
            }
        }
    }

    /// `PART #a,#b [:words]`.
    pub(super) async fn part(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let words = message.param(1).map(crate::proto::irc::plain).filter(|w| !w.is_empty());
        for name in message.param(0).unwrap_or("").split(',').filter(|n| !n.is_empty()) {
            // Each channel's `PART` is an entry of its own in the client's queue.
            self.link.room().await;
            let parted = match member_room(&self.shared().chat, person, name).await {
                Ok(room) => self.shared().chat.part(person, &room, words.clone()).await,
                Err(error) => Err(error),
            };
            if let Err(error) = parted {
                self.room_error(&error, name, me);
            }
        }
    }

    /// `TOPIC #room` asks; `TOPIC #room :text` sets (an empty text clears). A topic over
    /// `TOPICLEN` is cut to it, as IRC servers do.
    pub(super) async fn topic(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let name = message.param(0).unwrap_or("");
        let room = match member_room(&self.shared().chat, person, name).await {
            Ok(room) => room,
            Err(error) => return self.room_error(&error, name, me),
        };
        let Some(text) = message.param(1) else {
            let topic = shared.chat.topic(person, &room).await;
            let mut replies = Replies::new(&shared.config.server_name, me);
            match topic {
                Some(topic) => topic_lines(&mut replies, room.name(), &topic),
                None => {
                    replies.numeric(RPL_NOTOPIC, &[room.name().as_str()], Some("No topic is set"));
                }
            }
            return self.send(replies);
        };
        let text: String =
            crate::proto::irc::plain(text).chars().take(shared.config.max_topic).collect();
        if let Err(error) = shared.chat.set_topic(person, &room, text).await {
            self.room_error(&error, name, me);
        }
    }

    /// `NAMES #a,#b`; `NAMES` alone only ends the list, as a server may.
    pub(super) async fn names(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let Some(list) = message.param(0) else {
            return self.numeric(me, RPL_ENDOFNAMES, &["*"], Some("End of /NAMES list"));
        };
        for name in list.split(',').filter(|name| !name.is_empty()) {
            self.link.room().await;
            match shared.chat.find_room(name).await {
                Ok(room) => self.names_of(person, &room, me).await,
                Err(_) => {
                    self.numeric(me, RPL_ENDOFNAMES, &[name], Some("End of /NAMES list"));
                }
            }
        }
    }

    /// `353`s and `366` for `room`.
    async fn names_of(&mut self, person: &Arc<Person>, room: &Room, me: &str) {
        let shared = self.shared();
        let server = shared.config.server_name.as_str();
        let outbox = &self.link.outbox;
        shared
            .chat
            .names(person, room, |nicks| {
                let mut replies = Replies::new(server, me);
                names_lines(&mut replies, room.name(), nicks);
                let _ = outbox.push_reply(replies.into_bytes().into());
            })
            .await;
    }

    /// `LIST [#a,#b]`: `321`, a `322` per room, `323`.
    pub(super) async fn list(&mut self, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        // Only room names select; conditions such as `>0` (ELIST, not offered) list all.
        let wanted: Option<Vec<String>> = message
            .param(0)
            .filter(|list| list.starts_with('#'))
            .map(|list| list.split(',').map(|n| crate::unicode::fold(n).into_owned()).collect());
        let mut listing = shared.chat.listing().await;
        let mut replies = Replies::new(&shared.config.server_name, me);
        replies.numeric(RPL_LISTSTART, &["Channel"], Some("Users  Name"));
        loop {
            let page = listing.next_page(super::super::PAGE).await;
            if page.is_empty() {
                break;
            }
            for room in page {
                let fold = crate::unicode::fold(room.name.as_str());
                if wanted.as_ref().is_some_and(|wanted| !wanted.iter().any(|w| **w == *fold)) {
                    continue;
                }
                let topic = room.topic.as_ref().map_or("", |topic| topic.text.as_str());
                let count = room.members.to_string();
                replies.numeric(RPL_LIST, &[room.name.as_str(), &count], Some(topic));
            }
            // As fast as the client reads, as over the chat protocol.
            self.send(replies);
            replies = Replies::new(&shared.config.server_name, me);
            if !self.link.room().await {
                // The end comes at once, so the client can tell this list from the next.
                break;
            }
        }
        replies.numeric(RPL_LISTEND, &[], Some("End of /LIST"));
        self.send(replies);
    }

    /// `MODE #room [changes]`: `324 +n` when asked; the ban list (always empty) when
    /// asked for it; any change refused, since nobody here is a channel operator.
    pub(super) async fn room_mode(&mut self, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let name = message.param(0).unwrap_or("");
        let mut replies = Replies::new(&shared.config.server_name, me);
        let Ok(room) = shared.chat.find_room(name).await else {
            replies.numeric(ERR_NOSUCHCHANNEL, &[name], Some("No such channel"));
            return self.send(replies);
        };
        let name = room.name().as_str();
        let changes = message.param(1).unwrap_or("");
        let letters: String = changes.chars().filter(|c| !matches!(c, '+' | '-')).collect();
        if changes.is_empty() {
            replies.numeric(RPL_CHANNELMODEIS, &[name, "+n"], None);
            let created = seconds(room.created()).to_string();
            replies.numeric(RPL_CREATIONTIME, &[name, &created], None);
        } else if letters == "b" && message.params.len() == 2 {
            replies.numeric(RPL_ENDOFBANLIST, &[name], Some("End of channel ban list"));
        } else if let Some(unknown) = letters.chars().find(|c| !KNOWN_CHANNEL_MODES.contains(*c)) {
            replies.numeric(
                ERR_UNKNOWNMODE,
                &[&unknown.to_string()],
                Some("is unknown mode char to me"),
            );
        } else {
            replies.numeric(ERR_CHANOPRIVSNEEDED, &[name], Some("You're not channel operator"));
        }
        self.send(replies);
    }

    /// `KICK #room nick [:reason]`: only the owner of a registered room may; anyone else
    /// gets `482`, after the checks that come first (`403`, `442`, `441`). Everyone in the
    /// room, the one removed included, hears the `KICK`.
    pub(super) async fn kick(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let (name, nick) = (message.param(0).unwrap_or(""), message.param(1).unwrap_or(""));
        let room = match member_room(&shared.chat, person, name).await {
            Ok(room) => room,
            Err(error) => return self.room_error(&error, name, me),
        };
        let target = shared.chat.find(nick).await;
        if target.is_none_or(|them| them.room(&room.key().fold).is_none()) {
            let error = RoomError::NotMember { room: room.name().clone(), nick: nick.to_string() };
            return self.room_error(&error, name, me);
        }
        let reason = message.param(2).map(crate::proto::irc::plain).filter(|r| !r.is_empty());
        if let Err(error) = shared.chat.kick(person, &room, nick, reason).await {
            self.room_error(&error, name, me);
        }
    }

    /// The numeric for what cannot be done in a room: `403` no such room, `442` not in it,
    /// `441` they are not in it, `482` only its owner may; a server notice otherwise.
    pub(super) fn room_error(&mut self, error: &RoomError, name: &str, me: &str) {
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, me);
        match error {
            RoomError::NoSuchRoom(_) => {
                replies.numeric(ERR_NOSUCHCHANNEL, &[name], Some("No such channel"))
            }
            RoomError::NotInRoom(_) => {
                replies.numeric(ERR_NOTONCHANNEL, &[name], Some("You're not on that channel"))
            }
            RoomError::NotMember { nick, .. } => replies.numeric(
                ERR_USERNOTINCHANNEL,
                &[nick, name],
                Some("They aren't on that channel"),
            ),
            RoomError::NotOwner { .. } | RoomError::Unowned(_) => {
                replies.numeric(ERR_CHANOPRIVSNEEDED, &[name], Some("You're not channel operator"))
            }
            other => replies.notice(&other.to_string()),
        };
        self.send(replies);
    }
}

/// Why `name` cannot be joined: `403` for what is no channel name at all (no `#`), `479`
/// for a bad or look-alike one.
fn bad_name(replies: &mut Replies<'_>, name: &str, why: &str) {
    if name.starts_with('#') {
        replies.numeric(ERR_BADCHANNAME, &[name], Some(&format!("Illegal channel name: {why}")));
    } else {
        replies.numeric(ERR_NOSUCHCHANNEL, &[name], Some("No such channel"));
    }
}

/// The room `name` that `person` is in, or why not.
pub(super) async fn member_room(
    chat: &Chat,
    person: &Person,
    name: &str,
) -> Result<Arc<Room>, RoomError> {
    let room = chat.find_room(name).await?;
    match person.room(&room.key().fold) {
        Some(room) => Ok(room),
        None => Err(RoomError::NotInRoom(room.name().clone())),
    }
}

/// `332` and `333`: a room's topic, who set it and when.
fn topic_lines(replies: &mut Replies<'_>, room: &RoomName, topic: &Topic) {
    replies.numeric(RPL_TOPIC, &[room.as_str()], Some(&topic.text));
    let at = seconds(topic.at).to_string();
    replies.numeric(RPL_TOPICWHOTIME, &[room.as_str(), topic.by.as_str(), &at], None);
}

/// `at` as seconds since 1970, as IRC writes times.
fn seconds(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

/// `353`s of as many names as fit in 512 bytes, then `366`.
fn names_lines(replies: &mut Replies<'_>, room: &RoomName, nicks: &[Nick]) {
    let fixed = replies.server().len() + replies.nick().len() + room.as_str().len() + 16;
    for run in pack(nicks.iter().map(Nick::as_str), MAX_LINE.saturating_sub(fixed)) {
        replies.numeric(RPL_NAMREPLY, &["=", room.as_str()], Some(&run));
    }
    replies.numeric(RPL_ENDOFNAMES, &[room.as_str()], Some("End of /NAMES list"));
}

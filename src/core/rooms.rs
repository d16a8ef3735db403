//! The rooms of the server and what people do in them: join, part, talk, set topics, and
//! ask who is where.

use std::collections::HashSet;
use std::sync::Arc;

use thiserror::Error;
use tracing::{debug, info};

use super::chronicle::{Chronicle, Kept};
use super::event::{Event, Speech, Stamped};
use super::fan_out;
use super::listing::Listing;
use super::memory::{Change, RoomRecord, Scope};
use super::name::{Key, Nick, RoomName};
use super::order::{Intent, Unavailable};
use super::person::Person;
use super::registry::{Lookup, Named, Registry};
use super::room::{Room, RoomState, Topic};
use super::writing::Delivery;
use super::Chat;

/// Why a room could not be joined.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JoinError {
    /// A room whose name looks like this one exists.
    #[error(
        "{wanted} looks too much like {existing}, which exists; join that or pick another name"
    )]
    Confusable {
        /// The name asked for.
        wanted: RoomName,
        /// The room it looks like.
        existing: RoomName,
    },
    /// A registered room (live or empty) has a name that looks like this one.
    #[error("{wanted} looks too much like {registered}, which is registered; join that or pick another name")]
    LooksRegistered {
        /// The name asked for.
        wanted: RoomName,
        /// The registered room it looks like.
        registered: RoomName,
    },
    /// The person is in as many rooms as one may be.
    #[error("you are in {max} rooms already; /part one first")]
    TooManyRooms {
        /// The limit.
        max: usize,
    },
    /// The server has as many rooms as it may have, and this would be a new one.
    #[error("the server has {max} rooms already; join one of them")]
    ServerRoomsFull {
        /// The limit.
        max: usize,
    },
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// The cluster's shared order is out of reach: nothing was done.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// Why something could not be done in a room.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoomError {
    /// The person is not in that room.
    #[error("you are not in {0}")]
    NotInRoom(RoomName),
    /// No room of that name exists.
    #[error("there is no room {0}")]
    NoSuchRoom(String),
    /// The topic is over the server's limit.
    #[error("a topic has at most {max} characters")]
    TopicTooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// The room is registered, and only its owner may do that.
    #[error("only {owner}, who registered {room}, may do that")]
    NotOwner {
        /// The room.
        room: RoomName,
        /// Its owner's nickname.
        owner: String,
    },
    /// Nobody registered the room, so nobody may do that in it.
    #[error("nobody owns {0}: only the owner of a registered room may do that (/register-room)")]
    Unowned(RoomName),
    /// Nobody of that name is in the room.
    #[error("{nick} is not in {room}")]
    NotMember {
        /// The room.
        room: RoomName,
        /// The nickname asked for.
        nick: String,
    },
    /// The server is shutting down and its rooms are closed.
    #[error("the server is shutting down")]
    Closed,
    /// The cluster's shared order is out of reach: nothing was done.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// How a join went.
#[derive(Debug, Clone)]
pub enum Joined {
    /// The person entered the room (made it, if it did not exist).
    Entered(Arc<Room>),
    /// The person was in it already; nothing happened.
    AlreadyIn(Arc<Room>),
}

/// What a person who enters a room is told, in their session's protocol, before any of the
/// room's later events: its own arrival, the room's topic, and (if its protocol says so)
/// who is in it, newcomer included.
#[derive(Clone, Copy)]
pub struct Landing<'a> {
    /// The room.
    pub room: &'a Room,
    /// Their own arrival, the event the room's members hear.
    pub join: &'a Stamped,
    /// The room's topic, if it has one.
    pub topic: Option<&'a Topic>,
    /// The room as the newcomer enters it, for [`Landing::names`].
    state: &'a RoomState,
}

impl Landing<'_> {
    /// What was said in the room lately, oldest first: a newcomer hears it before the
    /// room's later events.
    pub fn history(&self) -> impl ExactSizeIterator<Item = &Stamped> + '_ {
        self.state.chronicle.recent()
    }

    /// Who is in the room as the newcomer enters it, the newcomer included, sorted by
    /// their nicknames' folds: exactly the people the room's later events start from.
    /// Taken under the room's lock, without a flush, so a join storm does not cost each
    /// member a queue entry per newcomer.
    pub fn names(&self) -> Vec<Nick> {
        self.state.names(|_| true)
    }
}

impl std::fmt::Debug for Landing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Landing").field("room", self.room).field("join", self.join).finish()
    }
}

/// One line of a room list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    /// The room's name.
    pub name: RoomName,
    /// How many people are in it.
    pub members: usize,
    /// Its topic, if any.
    pub topic: Option<Topic>,
}

/// Every room, by name.
#[derive(Default)]
pub(super) struct Rooms {
    /// By name: the same name is the same room, and a new one may not look like it.
    by_name: Registry<Arc<Room>>,
    /// Set once at shutdown; no room is made afterwards.
    pub closed: bool,
}

impl Rooms {
    /// Every room.
    pub fn all(&self) -> Vec<Arc<Room>> {
        self.by_name.values().cloned().collect()
    }

    /// The live room whose name folds to `fold`.
    pub fn find(&self, fold: &str) -> Option<Arc<Room>> {
        self.by_name.find(fold).cloned()
    }

    /// Takes every room out, for the end.
    pub fn clear(&mut self) -> Vec<Arc<Room>> {
        self.by_name.drain().collect()
    }

    fn remove(&mut self, room: &Arc<Room>) {
        self.by_name.remove_if(room.key(), |kept| Arc::ptr_eq(kept, room));
    }
}

impl Chat {
    /// Puts `person` in the room `name`, making it if it does not exist. Under the room's
    /// lock, `welcome` is given their [`Landing`] to tell them of it, so that it reaches
    /// them before any of the room's later events; everyone else hears the `Join`.
    pub async fn join(
        &self,
        person: &Arc<Person>,
        name: &RoomName,
        welcome: impl FnOnce(Landing<'_>),
    ) -> Result<Joined, JoinError> {
        if let Some(room) = person.room(&name.key().fold) {
            return Ok(Joined::AlreadyIn(room));
        }
        let _turn = self.turn(person.id(), || Intent::Join { room: name.clone() }).await?;
        self.join_now(person, name, welcome).await
    }

    /// [`Chat::join`] in its turn.
    pub(crate) async fn join_now(
        &self,
        person: &Arc<Person>,
        name: &RoomName,
        welcome: impl FnOnce(Landing<'_>),
    ) -> Result<Joined, JoinError> {
        let key = name.key();
        if let Some(room) = person.room(&key.fold) {
            return Ok(Joined::AlreadyIn(room));
        }
        let max = self.limits.rooms_per_client;
        if person.room_count() >= max {
            return Err(JoinError::TooManyRooms { max });
        }
        loop {
            let room = self.find_or_make(&mut *self.rooms.lock().await, name, key.clone()).await?;
            // The map is not held while waiting for the room, which may be busy with a flush
            // to thousands; a room emptied and removed in between is dead: look again.
            let mut state = room.lock().await;
            if state.dead {
                continue;
            }
            state.chronicle.load().await;
            // In the person's list before their nick is read, both under the room's lock: a
            // rename or kick from another task either sees the room or is heard after.
            person.add_room(room.clone());
            let event = Stamped::now(Event::Join { room: name_of(&room), nick: person.nick() });
            let heard = !state.members.is_empty();
            if heard {
                state.announce(person.id(), event.event.clone(), None);
                // Whoever is told of away changes learns that the newcomer is away.
                if let Some(message) = person.away() {
                    let away = Event::Away { nick: person.nick(), message: Some(message) };
                    state.announce(person.id(), away, Some(HashSet::from([person.id()])));
                }
            }
            // Added after its own arrival, so that it hears the room from the next event on;
            // told of it under the same lock, so before any of them.
            state.add(person.clone(), heard);
            let topic = state.topic.as_ref();
            welcome(Landing { room: &room, join: &event, topic, state: &state });
            drop(state);
            debug!(room = %room.name(), nick = %person.nick(), "joined");
            return Ok(Joined::Entered(room));
        }
    }

    async fn find_or_make(
        &self,
        rooms: &mut Rooms,
        name: &RoomName,
        key: Key,
    ) -> Result<Arc<Room>, JoinError> {
        if rooms.closed {
            return Err(JoinError::Closed);
        }
        match rooms.by_name.look(&key) {
            Lookup::Same(room) => return Ok(room.clone()),
            Lookup::LooksLike(room) => {
                let existing = room.name().clone();
                return Err(JoinError::Confusable { wanted: name.clone(), existing });
            }
            Lookup::Free => {}
        }
        // An empty registered room is not live, but its look is still its owner's.
        if let Some(registered) = self.accounts.room_like(&key) {
            return Err(JoinError::LooksRegistered { wanted: name.clone(), registered });
        }
        let max = self.limits.rooms;
        if rooms.by_name.len() >= max {
            return Err(JoinError::ServerRoomsFull { max });
        }
        let room = Arc::new(self.make_room(name, key.clone()).await);
        smol::spawn(room.clone().run_flusher()).detach();
        rooms.by_name.insert(key, room.clone());
        self.stats.room_made();
        info!(room = %name, rooms = rooms.by_name.len(), "room made");
        Ok(room)
    }

    /// A new room, with the history and (if it is registered) the owner and topic it had
    /// before. Made under the room map's lock, so that its history is asked for after
    /// every line said in the room's last life and before any of its next; the answer is
    /// awaited by whoever enters it first, outside the map's lock.
    async fn make_room(&self, name: &RoomName, key: Key) -> Room {
        let scope = Scope::Room(key.fold.clone());
        let replay = self.limits.history_replay.min(self.limits.history_len);
        let kept = Kept { replay, age: self.limits.history_age };
        let chronicle = Chronicle::recalled(scope, kept, self.memory.clone());
        let record = self.accounts.room(&key.fold);
        let room = Room::new(name.clone(), key, self.stats.clone(), chronicle);
        if let Some(record) = record {
            let mut state = room.lock().await;
            state.owner = Some(record.owner);
            state.topic = record.topic;
        }
        room
    }

    /// Takes `person` out of `room`, with their parting `words`; everyone in it hears it,
    /// them included (after anything the room said that they had not heard yet).
    pub async fn part(
        &self,
        person: &Arc<Person>,
        room: &Arc<Room>,
        words: Option<String>,
    ) -> Result<(), RoomError> {
        let intent = || Intent::Part { room: room.name().clone(), words: words.clone() };
        let _turn = self.turn(person.id(), intent).await?;
        self.part_now(person, room, words).await
    }

    /// [`Chat::part`] in its turn.
    pub(crate) async fn part_now(
        &self,
        person: &Arc<Person>,
        room: &Arc<Room>,
        words: Option<String>,
    ) -> Result<(), RoomError> {
        let mut state = member_state(person, room).await?;
        state.remove(person.id(), true);
        person.remove_room(room);
        let event = Event::Part { room: name_of(room), nick: person.nick(), words };
        let _ = person.recipient().send(&Stamped::now(event.clone()));
        state.announce(person.id(), event, None);
        // Someone still in other rooms may rename or quit there next; the room hears them
        // leave first.
        if person.room_count() > 0 {
            state.flush();
        }
        let emptied = state.members.is_empty();
        drop(state);
        if emptied {
            self.remove_if_empty(room).await;
        }
        Ok(())
    }

    /// Removes `room` from the server if nobody is in it (anymore).
    pub(super) async fn remove_if_empty(&self, room: &Arc<Room>) {
        let mut rooms = self.rooms.lock().await;
        let mut state = room.lock().await;
        if state.members.is_empty() && !state.dead {
            state.kill();
            rooms.remove(room);
            self.stats.room_gone();
            info!(room = %room.name(), "room gone");
        }
    }

    /// Says `text` in `room` as `person`.
    pub async fn say(&self, person: &Person, room: &Room, text: String) -> Result<(), RoomError> {
        self.talk(person, room, Speech::Say, text).await
    }

    /// Describes an action of `person` in `room` (`/me`).
    pub async fn act(&self, person: &Person, room: &Room, text: String) -> Result<(), RoomError> {
        self.talk(person, room, Speech::Act, text).await
    }

    /// Sends a notice to `room` as `person`.
    pub async fn notice(
        &self,
        person: &Person,
        room: &Room,
        text: String,
    ) -> Result<(), RoomError> {
        self.talk(person, room, Speech::Notice, text).await
    }

    /// Says something in `room`, as `speech` tells how.
    async fn talk(
        &self,
        person: &Person,
        room: &Room,
        speech: Speech,
        text: String,
    ) -> Result<(), RoomError> {
        let intent = || Intent::Talk { room: room.name().clone(), speech, text: text.clone() };
        let deliveries = {
            let _turn = self.turn(person.id(), intent).await?;
            self.talk_now(person, room, speech, text).await?
        };
        // Written after the turn, which a cluster's log reader may be waiting on.
        fan_out::write(deliveries).await;
        Ok(())
    }

    /// [`Chat::say`], [`Chat::act`] or [`Chat::notice`] in its turn; it comes back to the
    /// speaker only if their protocol echoes. Speech that only passes between two people
    /// (a CTCP query or answer) is said as a message. In a quiet room the batch is handed
    /// out at once: the deliveries returned are the caller's to write (dropped, each
    /// member's writer task writes its own).
    pub(crate) async fn talk_now(
        &self,
        person: &Person,
        room: &Room,
        speech: Speech,
        text: String,
    ) -> Result<Vec<Delivery>, RoomError> {
        let event = |room, from| match speech {
            Speech::Act => Event::Action { room, from, text },
            Speech::Notice => Event::Notice { room, from, text },
            _ => Event::Message { room, from, text },
        };
        let mut state = member_state(person, room).await?;
        let skip = (!person.recipient().echo).then(|| HashSet::from([person.id()]));
        Ok(state.announce_talk(person.id(), event(name_of(room), person.nick()), skip))
    }

    /// Sets `room`'s topic to `text` (an empty text clears it) and tells its members.
    pub async fn set_topic(
        &self,
        person: &Person,
        room: &Room,
        text: String,
    ) -> Result<(), RoomError> {
        let max = self.limits.topic_len;
        if text.chars().count() > max {
            return Err(RoomError::TopicTooLong { max });
        }
        let intent = || Intent::Topic { room: room.name().clone(), text: text.clone() };
        let _turn = self.turn(person.id(), intent).await?;
        self.set_topic_now(person, room, text).await
    }

    /// [`Chat::set_topic`] in its turn.
    pub(crate) async fn set_topic_now(
        &self,
        person: &Person,
        room: &Room,
        text: String,
    ) -> Result<(), RoomError> {
        let max = self.limits.topic_len;
        if text.chars().count() > max {
            return Err(RoomError::TopicTooLong { max });
        }
        let mut state = member_state(person, room).await?;
        self.check_owner(person, room, &state)?;
        let by = person.nick();
        let topic = Topic { text: text.clone(), by: by.clone(), at: std::time::SystemTime::now() };
        state.topic = (!text.is_empty()).then_some(topic);
        if let Some(owner) = state.owner.clone() {
            let record =
                RoomRecord { name: room.name().clone(), owner, topic: state.topic.clone() };
            let fold = room.key().fold.clone();
            self.accounts.set_room(fold.clone(), record.clone());
            // Kept by the server of the person who set it, once, as what is said is: a
            // server replaying the log must not write back a room dropped since.
            if !person.is_ghost() {
                self.memory.keep(Change::Room { fold, record: Some(record) });
            }
        }
        state.announce(person.id(), Event::Topic { room: name_of(room), by, text }, None);
        Ok(())
    }

    /// Refuses someone other than the owner of a registered room.
    fn check_owner(
        &self,
        person: &Person,
        room: &Room,
        state: &RoomState,
    ) -> Result<(), RoomError> {
        match &state.owner {
            Some(owner) if self.identity(person).as_ref() != Some(owner) => {
                Err(RoomError::NotOwner { room: name_of(room), owner: self.account_nick(owner) })
            }
            _ => Ok(()),
        }
    }

    /// Removes the member `nick` from `room`, as its owner `person`, with a `reason`;
    /// everyone in it hears it, the one removed included. Only a registered room's owner
    /// may.
    pub async fn kick(
        &self,
        person: &Person,
        room: &Arc<Room>,
        nick: &str,
        reason: Option<String>,
    ) -> Result<(), RoomError> {
        let Ok(target) = Nick::parse(nick, usize::MAX) else {
            return Err(RoomError::NotMember { room: name_of(room), nick: nick.to_string() });
        };
        let intent =
            || Intent::Kick { room: room.name().clone(), nick: target, reason: reason.clone() };
        let _turn = self.turn(person.id(), intent).await?;
        self.kick_now(person, room, nick, reason).await
    }

    /// [`Chat::kick`] in its turn.
    pub(crate) async fn kick_now(
        &self,
        person: &Person,
        room: &Arc<Room>,
        nick: &str,
        reason: Option<String>,
    ) -> Result<(), RoomError> {
        let mut state = member_state(person, room).await?;
        if state.owner.is_none() {
            return Err(RoomError::Unowned(name_of(room)));
        }
        self.check_owner(person, room, &state)?;
        let fold = crate::unicode::fold(nick);
        let target = state.members.values().find(|m| *m.person.folded() == *fold);
        let Some(target) = target.map(|member| member.person.clone()) else {
            return Err(RoomError::NotMember { room: name_of(room), nick: nick.to_string() });
        };
        let event =
            Event::Kick { room: name_of(room), nick: target.nick(), by: person.nick(), reason };
        state.announce(person.id(), event, None);
        // The one removed reads the room up to its own removal, alone.
        state.remove(target.id(), true);
        target.remove_room(room);
        if target.room_count() > 0 {
            state.flush();
        }
        let emptied = state.members.is_empty();
        drop(state);
        info!(room = %room.name(), nick = %target.nick(), by = %person.nick(), "kicked");
        // An owner who kicked themselves out of a room of their own leaves it empty.
        if emptied {
            self.remove_if_empty(room).await;
        }
        Ok(())
    }

    /// The room whose name folds like `name`.
    pub async fn find_room(&self, name: &str) -> Result<Arc<Room>, RoomError> {
        let fold = crate::unicode::fold(name);
        let room = self.rooms.lock().await.by_name.find(&fold).cloned();
        room.ok_or_else(|| RoomError::NoSuchRoom(name.to_string()))
    }

    /// `room`'s topic, if it has one, as `person` asks for it. A member gets it after a
    /// flush, so never before the `Topic` event that set it.
    pub async fn topic(&self, person: &Person, room: &Room) -> Option<Topic> {
        let mut state = room.lock().await;
        if state.has(person.id()) {
            state.flush();
        }
        state.topic.clone()
    }

    /// Calls `reply` with who is in `room`, sorted by their nicknames' folds, under the
    /// room's lock. A member asking gets it after a flush: the room's joins and leaves it
    /// has heard before the answer are exactly the ones it reflects. (Someone else gets
    /// it as it stands: they hear none of the room's events, and flushing a big room for
    /// every passer-by would undo its pacing; nor do they see members who are hidden,
    /// unless they share another room.)
    pub async fn names(&self, person: &Person, room: &Room, reply: impl FnOnce(&[Nick])) {
        let mut state = room.lock().await;
        let member = state.has(person.id());
        if member {
            state.flush();
        }
        reply(&state.names(|them| member || them.seen_by(person)));
    }

    /// Who is in `room`, sorted by their nicknames' folds; a member asking gets it after a
    /// flush, and someone else without the hidden members, as with [`Chat::names`].
    pub async fn members(&self, person: &Person, room: &Room) -> Vec<Arc<Person>> {
        let mut state = room.lock().await;
        let member = state.has(person.id());
        if member {
            state.flush();
        }
        state.people(|them| member || them.seen_by(person))
    }

    /// How many rooms exist.
    pub async fn room_count(&self) -> usize {
        self.rooms.lock().await.by_name.len()
    }

    /// Every room, to be listed with its member count and topic a page at a time, in the
    /// order of the names' folds.
    pub async fn listing(&self) -> Listing {
        Listing::new(self.rooms.lock().await.all())
    }
}

impl Named for Arc<Room> {
    fn fold(&self) -> Arc<str> {
        self.key().fold.clone()
    }
}

/// The room's state, if `person` is in it.
async fn member_state<'a>(
    person: &Person,
    room: &'a Room,
) -> Result<async_lock::MutexGuard<'a, RoomState>, RoomError> {
    let state = room.lock().await;
    if state.dead {
        Err(RoomError::Closed)
    } else if state.has(person.id()) {
        Ok(state)
    } else {
        Err(RoomError::NotInRoom(room.name().clone()))
    }
}

fn name_of(room: &Room) -> RoomName {
    room.name().clone()
}

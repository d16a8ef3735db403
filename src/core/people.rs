//! The nick directory and what people do as people: register, rename, message each other
//! privately, and leave.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tracing::info;

use super::event::{Departure, Event, Speech, Stamped};
use super::name::{Key, Nick, RoomName};
use super::once::Locked;
use super::order::{Intent, Unavailable};
use super::person::{ClientId, Person, Recipient};
use super::registry::{Lookup, Registry};
use super::room::Room;
use super::rooms::{JoinError, Landing};
use super::Chat;
use crate::unicode;

/// Why a nickname could not be registered or taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NickRefused {
    /// Someone online has it (under case folding); the nickname as asked for.
    #[error("nickname {0} is taken")]
    Taken(Nick),
    /// Someone online has one that looks like it.
    #[error("nickname {wanted} looks too much like {taken}, who is online")]
    Confusable {
        /// The nickname asked for.
        wanted: Nick,
        /// The one online it looks like.
        taken: Nick,
    },
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// The cluster's shared order is out of reach: nothing was done.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// What a newcomer is told first: how many are online, and where it landed.
#[derive(Debug)]
pub struct Arrival<'a> {
    /// Everyone online, the newcomer included.
    pub online: usize,
    /// The room it was put in and what it is told of it, or why it could not be; `None`
    /// when no room was asked for.
    pub landed: Option<Result<Landing<'a>, JoinError>>,
}

/// Why a private message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WhisperError {
    /// Nobody of that name is online.
    #[error("{0} is not online")]
    NoSuchNick(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// The cluster's shared order is out of reach: nothing was done.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// Everyone online, by nickname.
#[derive(Default)]
pub(super) struct Directory {
    /// By nickname: a name in use is taken, and so is one that looks like it.
    by_nick: Registry<Arc<Person>>,
    /// Names freed by a quit whose announcement may still wait in a room's batch, by
    /// skeleton: whoever takes one of them next has those rooms flushed first, so nobody
    /// hears of the new holder before the old one's quit.
    departed: HashMap<Arc<str>, Departed>,
    /// How many `departed` entries the last pruning left.
    departed_kept: usize,
    /// How many of them are hidden from strangers.
    hidden: usize,
    /// Set once at shutdown; nobody registers afterwards.
    pub closed: bool,
}

/// The rooms a quit was announced in, and when.
struct Departed {
    /// The rooms.
    rooms: Vec<Arc<Room>>,
    /// When; past [`DEPARTED_FOR`], every room has flushed it.
    at: Instant,
}

/// The names of the server's own services, which IRC clients message to identify and to
/// register rooms: nobody may take them, nor names that look like them.
const SERVICES: &[&str] = &["NickServ", "ChanServ"];

/// Whether a folded name is a guest name (`guest` and digits, `_` among them), which only
/// the server gives, to someone who took a registered nickname without identifying: were
/// they free, a squatter could take them all beforehand and keep the nickname.
pub(crate) fn is_guest(fold: &str) -> bool {
    fold.strip_prefix("guest").is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '_')
    })
}

/// Refuses a service's name, or one that looks like it, as taken by the server.
fn reserved(nick: &Nick, key: &Key) -> Result<(), NickRefused> {
    for service in SERVICES {
        let fold = unicode::fold(service);
        if *key.fold == *fold {
            return Err(NickRefused::Taken(nick.clone()));
        }
        if *key.skeleton == *unicode::skeleton(&fold) {
            let taken =
                Nick::parse(service, usize::MAX).map_err(|_| NickRefused::Taken(nick.clone()))?;
            return Err(NickRefused::Confusable { wanted: nick.clone(), taken });
        }
    }
    Ok(())
}

/// Longer than any room holds a batch back (250 ms), with room to spare.
const DEPARTED_FOR: Duration = Duration::from_secs(1);

impl Directory {
    /// Whether `nick` (with `key`) is free for `asker` (`None` for a newcomer): taken if
    /// someone else has its fold, confusable if someone else has only its skeleton.
    fn check(&self, nick: &Nick, key: &Key, asker: Option<&Person>) -> Result<(), NickRefused> {
        reserved(nick, key)?;
        if is_guest(&key.fold) {
            return Err(NickRefused::Taken(nick.clone()));
        }
        self.check_free(nick, key, asker)
    }

    /// Whether `nick` is free for `asker`, by the directory alone (no reserved names).
    fn check_free(
        &self,
        nick: &Nick,
        key: &Key,
        asker: Option<&Person>,
    ) -> Result<(), NickRefused> {
        let someone_else = |found: &Arc<Person>| asker.is_none_or(|me| me.id() != found.id());
        match self.by_nick.look(key) {
            Lookup::Same(holder) if someone_else(holder) => Err(NickRefused::Taken(nick.clone())),
            Lookup::LooksLike(holder) if someone_else(holder) => {
                Err(NickRefused::Confusable { wanted: nick.clone(), taken: holder.nick() })
            }
            _ => Ok(()),
        }
    }

    /// Removes `person`'s entry under `key`, if it is still theirs.
    fn remove(&mut self, key: &Key, person: &Person) -> bool {
        self.by_nick.remove_if(key, |found| found.id() == person.id())
    }

    /// Whether `person` holds the nickname with `key`: they are still online.
    fn holds(&self, key: &Key, person: &Person) -> bool {
        matches!(self.by_nick.look(key), Lookup::Same(found) if found.id() == person.id())
    }

    /// Notes that the name with `skeleton` was freed by a quit announced in `rooms`.
    fn depart(&mut self, skeleton: Arc<str>, rooms: Vec<Arc<Room>>) {
        self.departed.insert(skeleton, Departed { rooms, at: Instant::now() });
        // Pruned when it has doubled since the last time, so a storm of quits costs
        // constant time per quit.
        if self.departed.len() > 64.max(2 * self.departed_kept) {
            self.departed.retain(|_, departed| departed.at.elapsed() < DEPARTED_FOR);
            self.departed_kept = self.departed.len();
        }
    }

    /// The rooms that may still hold the quit of whoever last had `skeleton`.
    fn departed_from(&mut self, skeleton: &str) -> Vec<Arc<Room>> {
        let departed = self.departed.remove(skeleton);
        departed.filter(|d| d.at.elapsed() < DEPARTED_FOR).map_or_else(Vec::new, |d| d.rooms)
    }

    /// How many people are online.
    pub fn len(&self) -> usize {
        self.by_nick.len()
    }

    /// Takes everyone out, for the end.
    pub fn clear(&mut self) -> Vec<Arc<Person>> {
        self.departed.clear();
        self.hidden = 0;
        self.by_nick.drain().collect()
    }
}

impl Chat {
    /// Registers `nick` for a connection reached through `recipient` and puts it in
    /// `room`, if one is given. All of it happens under the directory's lock, so nobody can
    /// write to the newcomer before `welcome` has been given its [`Arrival`] to queue its
    /// first lines (in one piece, so one write).
    pub async fn register(
        &self,
        recipient: Recipient,
        nick: Nick,
        room: Option<&RoomName>,
        welcome: impl FnOnce(Arrival<'_>),
    ) -> Result<Arc<Person>, NickRefused> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let echo = recipient.echo;
        let _turn = self
            .turn(id, || Intent::Register { nick: nick.clone(), room: room.cloned(), echo })
            .await?;
        self.register_now(id, recipient, nick, room, false, welcome).await
    }

    /// Registers someone connected to another server of the cluster, as it did: a ghost,
    /// who is told nothing (their own server tells them), and whose words are kept by
    /// their own server. Called in the order every server applies.
    pub async fn register_ghost(
        &self,
        nick: Nick,
        room: Option<&RoomName>,
        echo: bool,
    ) -> Result<Arc<Person>, NickRefused> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let recipient = Recipient::nowhere(echo);
        self.register_now(id, recipient, nick, room, true, |_| {}).await
    }

    /// [`Chat::register`] in its turn, as connection `id`; a `ghost` is of another server.
    async fn register_now(
        &self,
        id: ClientId,
        recipient: Recipient,
        nick: Nick,
        room: Option<&RoomName>,
        ghost: bool,
        welcome: impl FnOnce(Arrival<'_>),
    ) -> Result<Arc<Person>, NickRefused> {
        let key = nick.key();
        let mut people = self.people.lock().await;
        if people.closed {
            return Err(NickRefused::Closed);
        }
        people.check(&nick, &key, None)?;
        flush_each(people.departed_from(&key.skeleton)).await;
        let online = people.len() + 1;
        self.peak.fetch_max(online, Ordering::Relaxed);
        info!(nick = %nick, online, ghost, "registered");
        let person = Arc::new(Person::new(id, recipient, nick, key.clone(), ghost));
        people.by_nick.insert(key, person.clone());
        let Some(room) = room else {
            welcome(Arrival { online, landed: None });
            return Ok(person);
        };
        let mut welcome = Some(welcome);
        let greet = |landing: Landing<'_>| {
            if let Some(welcome) = welcome.take() {
                welcome(Arrival { online, landed: Some(Ok(landing)) });
            }
        };
        if let Err(refused) = self.join_now(&person, room, greet).await {
            if let Some(welcome) = welcome.take() {
                welcome(Arrival { online, landed: Some(Err(refused)) });
            }
        }
        drop(people);
        Ok(person)
    }

    /// Gives `person` the nickname `new` and tells everyone who shares a room with them
    /// once, them included. The same nickname again changes nothing; another spelling of
    /// it (`Alice` for `alice`) is a rename.
    pub async fn rename(&self, person: &Arc<Person>, new: Nick) -> Result<(), NickRefused> {
        // An owner taking their registered nickname back: whoever holds it without having
        // identified becomes a guest first.
        let fold = new.key().fold;
        if self.identity(person).is_some_and(|id| *super::accounts::fold_of(&id) == *fold) {
            self.reclaim(&fold).await;
        }
        self.rename_as(person, new, false).await
    }

    /// [`Chat::rename`], to a guest name too when the server gives it (`guest`).
    pub(super) async fn rename_as(
        &self,
        person: &Arc<Person>,
        new: Nick,
        guest: bool,
    ) -> Result<(), NickRefused> {
        let intent = || match guest {
            true => Intent::Guest { new: new.clone() },
            false => Intent::Rename { new: new.clone() },
        };
        let _turn = self.turn(person.id(), intent).await?;
        self.rename_now(person, new, guest).await
    }

    /// [`Chat::rename`] in its turn, to a guest name too when the server gives it
    /// (`guest`). The checks are made again here: what was free when asked may have been
    /// taken by a change ordered before it.
    pub(crate) async fn rename_now(
        &self,
        person: &Arc<Person>,
        new: Nick,
        guest: bool,
    ) -> Result<(), NickRefused> {
        let (old, old_key) = person.name();
        if new == old {
            return Ok(());
        }
        let key = new.key();
        // The directory stays locked until the rename is announced, so nobody hears from
        // the new name before they hear of it.
        let mut people = self.people.lock().await;
        if people.closed {
            return Err(NickRefused::Closed);
        }
        // Someone who quit meanwhile (a grace timer, another's /identify) stays gone.
        if !people.holds(&old_key, person) {
            return Err(NickRefused::Closed);
        }
        if guest {
            people.check_free(&new, &key, Some(person))?;
        } else {
            people.check(&new, &key, Some(person))?;
        }
        flush_each(people.departed_from(&key.skeleton)).await;
        people.remove(&old_key, person);
        people.by_nick.insert(key.clone(), person.clone());
        person.set_name(new.clone(), key);
        info!(old = %old, new = %new, "renamed");
        let event = Event::Rename { old, new };
        let rooms = person.rooms();
        if rooms.is_empty() {
            let _ = person.recipient().send(&Stamped::now(event));
            return Ok(());
        }
        let mut locked = Locked::all(&rooms).await;
        locked.flush_authored_by(person.id());
        locked.announce_once(person.id(), &event, true);
        // Out at once, not after a big room's pause: what they say next, in any of their
        // rooms, and whoever takes their old name, come after it for everyone.
        locked.flush_all();
        drop(locked);
        drop(people);
        Ok(())
    }

    /// Delivers a private message to `to`, and echoes it to a sender who wants echoes;
    /// nobody else sees it. What the sender said in its rooms before reaches everyone
    /// before it. Returns the recipient, whose away message a protocol may pass on.
    pub async fn whisper(
        &self,
        person: &Arc<Person>,
        to: &str,
        text: String,
        kind: Speech,
    ) -> Result<Arc<Person>, WhisperError> {
        let intent = || Intent::Whisper { to: to.to_string(), speech: kind, text: text.clone() };
        let _turn = self.turn(person.id(), intent).await?;
        self.whisper_now(person, to, text, kind).await
    }

    /// [`Chat::whisper`] in its turn.
    pub(crate) async fn whisper_now(
        &self,
        person: &Arc<Person>,
        to: &str,
        text: String,
        kind: Speech,
    ) -> Result<Arc<Person>, WhisperError> {
        let fold = unicode::fold(to);
        let target = {
            let people = self.people.lock().await;
            if people.closed {
                // The goodbye has been said, or is being said: nothing may follow it.
                return Err(WhisperError::Closed);
            }
            people.by_nick.find(&fold).cloned()
        };
        let target = target.ok_or_else(|| WhisperError::NoSuchNick(to.to_string()))?;
        let rooms = person.rooms();
        for room in &rooms {
            Locked::all(std::slice::from_ref(room)).await.flush_authored_by(person.id());
        }
        let (from, to) = (person.nick(), target.nick());
        let event = Stamped::now(Event::Private { from, to, text, kind });
        self.note_private(person, &target, &event);
        // A message to oneself is shown once; the echo is the sender's confirmation.
        if target.id() != person.id() || !person.recipient().echo {
            let _ = target.recipient().send(&event);
        }
        if person.recipient().echo {
            let _ = person.recipient().reply(&event);
        }
        Ok(target)
    }

    /// Marks `person` away with `message`, or back with `None`, and tells everyone who
    /// shares a room with them, once (protocols that do not show it write nothing).
    pub async fn set_away(
        &self,
        person: &Arc<Person>,
        message: Option<String>,
    ) -> Result<(), Unavailable> {
        if person.away() == message {
            return Ok(());
        }
        let _turn = self.turn(person.id(), || Intent::Away { message: message.clone() }).await?;
        self.set_away_now(person, message).await;
        Ok(())
    }

    /// [`Chat::set_away`] in its turn.
    pub(crate) async fn set_away_now(&self, person: &Arc<Person>, message: Option<String>) {
        if person.away() == message {
            return;
        }
        person.set_away(message.clone());
        let rooms = person.rooms();
        if rooms.is_empty() {
            return;
        }
        let mut locked = Locked::all(&rooms).await;
        let event = Event::Away { nick: person.nick(), message };
        locked.announce_once(person.id(), &event, false);
    }

    /// Hides `person` from strangers' lists (IRC's `+i`), or shows them again; nobody is
    /// told.
    pub async fn set_hidden(&self, person: &Arc<Person>, hidden: bool) -> Result<(), Unavailable> {
        if person.is_hidden() == hidden {
            return Ok(());
        }
        let _turn = self.turn(person.id(), || Intent::Hidden { hidden }).await?;
        self.set_hidden_now(person, hidden).await;
        Ok(())
    }

    /// [`Chat::set_hidden`] in its turn. Counted under the directory's lock, and only for
    /// someone still in it, so a quit counts them out exactly once.
    pub(crate) async fn set_hidden_now(&self, person: &Person, hidden: bool) {
        let mut people = self.people.lock().await;
        if person.is_hidden() == hidden || !people.holds(&person.name().1, person) {
            return;
        }
        person.set_hidden(hidden);
        people.hidden = if hidden { people.hidden + 1 } else { people.hidden.saturating_sub(1) };
    }

    /// How many people online are hidden from strangers.
    pub async fn hidden_count(&self) -> usize {
        self.people.lock().await.hidden
    }

    /// Whoever is online with a nickname whose skeleton is `skeleton`: the holder of that
    /// name, or of one that looks like it.
    pub async fn find_look(&self, skeleton: &str) -> Option<Arc<Person>> {
        self.people.lock().await.by_nick.by_skeleton(skeleton).cloned()
    }

    /// Tells everyone connected to this server (not the ghosts of other servers) `text`.
    pub async fn tell_everyone_here(&self, text: &str) {
        let event = Stamped::now(Event::Status { text: text.to_string() });
        for person in self.everyone_here().await {
            let _ = person.recipient().reply(&event);
        }
    }

    /// Tells everyone connected to this server `text`, ends their connections, and takes
    /// them off at once, leaving for `why`: their nicknames are free from here on, as on
    /// the cluster's other servers, which quit them at the same entry of the log. Their
    /// sessions' own quits, later in the log, find nobody.
    pub async fn quit_everyone_here(&self, text: &str, why: Departure) {
        let event = Stamped::now(Event::Status { text: text.to_string() });
        let here = self.everyone_here().await;
        // Told and hung up on first, so that the notice is the last they read.
        for person in &here {
            let _ = person.recipient().reply(&event);
            person.recipient().outbox.hang_up();
        }
        for person in &here {
            self.quit_now(person, why.clone()).await;
        }
    }

    /// Everyone connected to this server: not the ghosts of other servers.
    async fn everyone_here(&self) -> Vec<Arc<Person>> {
        let mut everyone = self.everyone().await;
        everyone.retain(|person| !person.is_ghost());
        everyone
    }

    /// Whoever is online here as the connection `id`; a search of everyone, for the rare
    /// change that names a connection rather than a nickname.
    pub async fn find_by_id(&self, id: ClientId) -> Option<Arc<Person>> {
        self.people.lock().await.by_nick.values().find(|person| person.id() == id).cloned()
    }

    /// Whoever is online as `nick` (under folding).
    pub async fn find(&self, nick: &str) -> Option<Arc<Person>> {
        let fold = unicode::fold(nick);
        self.people.lock().await.by_nick.find(&fold).cloned()
    }

    /// Everyone online, copied out of the directory so that whatever is done with the list
    /// does not hold it.
    pub async fn everyone(&self) -> Vec<Arc<Person>> {
        self.people.lock().await.by_nick.values().cloned().collect()
    }

    /// How many people are online.
    pub async fn online(&self) -> usize {
        self.people.lock().await.len()
    }

    /// Takes `person` off the server: their nickname is free at once, and everyone who
    /// shared a room with them hears why they left, once. Their rooms that are left empty
    /// disappear. Called as their connection ends, which it does whatever happens here.
    ///
    /// In a cluster whose log is out of reach, the order owes the departure to the log and
    /// appends it when Redis answers again; they stay in the directory and their rooms
    /// until that entry is read back, and leave at its place in the log, as on every other
    /// server (which hold them till then too). A server that shuts down first takes
    /// everyone off ([`Chat::close`]).
    pub async fn quit(&self, person: &Arc<Person>, why: Departure) {
        let turn = self.turn(person.id(), || Intent::Quit { why: why.clone() }).await;
        if let Ok(_turn) = turn {
            self.quit_now(person, why).await;
        }
    }

    /// [`Chat::quit`] in its turn.
    pub(crate) async fn quit_now(&self, person: &Arc<Person>, why: Departure) {
        // The nickname is freed and the quit announced under one directory lock; whoever
        // takes the name next has the rooms that may still hold the quit flushed first.
        let mut people = self.people.lock().await;
        // Read under the lock: a rename (a grace period's end) may have come first.
        let (nick, key) = person.name();
        if people.remove(&key, person) && person.is_hidden() {
            people.hidden = people.hidden.saturating_sub(1);
        }
        info!(nick = %nick, why = ?why, "left");
        // Someone who said goodbye still reads the room's last lines; a lost connection
        // is written nothing more.
        let tail = matches!(why, Departure::Quit(_));
        let rooms = person.take_rooms();
        let emptied = {
            let mut locked = Locked::all(&rooms).await;
            locked.flush_authored_by(person.id());
            for state in locked.states() {
                state.remove(person.id(), tail);
            }
            locked.announce_once(person.id(), &Event::Quit { nick, why }, true);
            locked.emptied()
        };
        if !rooms.is_empty() {
            people.depart(key.skeleton, rooms);
        }
        drop(people);
        for room in emptied {
            self.remove_if_empty(&room).await;
        }
    }
}

/// Flushes each of `rooms`, one at a time.
async fn flush_each(rooms: Vec<Arc<Room>>) {
    for room in &rooms {
        room.lock().await.flush();
    }
}

//! Someone online: how the core reaches them, and what it knows of them.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use smallvec::SmallVec;

use super::event::{Encode, Form, Stamped};
use super::name::{Key, Nick};
use super::outbox::{Chunk, Cut, Outbox, PushError};
use super::registry::Named;
use super::room::Room;

/// Identifies one registered connection for as long as it lasts; never reused.
pub type ClientId = u64;

/// Where a person's lines go and how they are written: their queue, and the encoder of
/// the protocol their session speaks.
#[derive(Clone)]
pub struct Recipient {
    /// The person's bounded queue; their writer task drains it.
    pub outbox: Outbox,
    /// How events are written for them; members sharing an encoder share a batch's bytes.
    pub encoder: &'static dyn Encode,
    /// Whether what they say comes back to them: the chat protocol always echoes, IRC
    /// only to clients that asked for `echo-message`.
    pub echo: bool,
}

impl Recipient {
    /// Where a ghost's lines go (someone of another server, whose own server writes to
    /// them): nowhere, at no cost. Its encoder writes nothing, so a room's batch is not
    /// even encoded for it.
    pub fn nowhere(echo: bool) -> Recipient {
        let (outbox, _queue) = Outbox::new(1, 0, Arc::new(Nowhere), None);
        Recipient { outbox, encoder: &NOWHERE, echo }
    }

    /// Encodes `event` for this recipient alone and queues it under the room lines' limit;
    /// an event its protocol does not show costs nothing.
    pub fn send(&self, event: &Stamped) -> Result<(), PushError> {
        self.encode(event).map_or(Ok(()), |chunk| self.outbox.push(chunk))
    }

    /// Encodes `event` and queues it as an answer to this recipient's own request.
    pub fn reply(&self, event: &Stamped) -> Result<(), PushError> {
        self.encode(event).map_or(Ok(()), |chunk| self.outbox.push_reply(chunk))
    }

    /// `event` as this recipient's protocol writes it; `None` when it writes nothing.
    fn encode(&self, event: &Stamped) -> Option<Chunk> {
        let mut bytes = Vec::with_capacity(64);
        self.encoder.encode(event, &mut bytes);
        (!bytes.is_empty()).then(|| bytes.into())
    }
}

/// The connection and the encoder of someone who is not connected here.
struct Nowhere;

/// The one encoder of every ghost.
static NOWHERE: Nowhere = Nowhere;

impl Cut for Nowhere {
    fn cut(&self) {}
}

impl Encode for Nowhere {
    fn encode(&self, _event: &Stamped, _out: &mut Vec<u8>) {}

    fn form(&self) -> Form {
        Form::of::<Nowhere>(0)
    }
}

/// A registered person. The directory and every room they are in share this record.
pub struct Person {
    /// Tells this connection from a later one with the same nickname.
    id: ClientId,
    /// How to reach them.
    recipient: Recipient,
    /// They are connected to another server of the cluster: that server tells them what
    /// happens and keeps what they say.
    ghost: bool,
    /// Which of their grace periods for a registered nickname is running: taking one
    /// again starts a new one, which ends the older. (It fits beside `ghost`, in what
    /// would be padding.)
    claim: AtomicU32,
    /// They asked not to be found by strangers (IRC's user mode `+i`): lists of everyone,
    /// and of rooms they are not in, leave them out. (Also in what would be padding.)
    hidden: AtomicBool,
    /// What changes while they are online: only ever locked for a copy or an update.
    state: Mutex<PersonState>,
}

/// The parts of a [`Person`] that change.
struct PersonState {
    /// Their nickname now.
    nick: Nick,
    /// Its fold and skeleton, for the directory and for sorting `NAMES`.
    key: Key,
    /// The rooms they are in, in the order they joined. Most people are in one room; it
    /// is kept inline, without an allocation of its own.
    rooms: SmallVec<[Arc<Room>; 1]>,
    /// Their away message, while they are away.
    away: Option<Box<str>>,
    /// The id of the account they identified as, if they did (its fold and when it was
    /// registered).
    account: Option<Arc<str>>,
}

impl Person {
    /// Someone who registered as `nick`.
    pub(super) fn new(
        id: ClientId,
        recipient: Recipient,
        nick: Nick,
        key: Key,
        ghost: bool,
    ) -> Person {
        let state = PersonState { nick, key, rooms: SmallVec::new(), away: None, account: None };
        let (claim, hidden) = (AtomicU32::new(0), AtomicBool::new(false));
        Person { id, recipient, ghost, claim, hidden, state: Mutex::new(state) }
    }

    /// Whether they asked not to be found by strangers.
    pub fn is_hidden(&self) -> bool {
        self.hidden.load(Ordering::Relaxed)
    }

    pub(super) fn set_hidden(&self, hidden: bool) {
        self.hidden.store(hidden, Ordering::Relaxed);
    }

    /// Whether `other` may find them in a list: they are not hidden, they are `other`,
    /// or they share a room with `other`.
    pub fn seen_by(&self, other: &Person) -> bool {
        if !self.is_hidden() || self.id == other.id {
            return true;
        }
        let theirs = other.rooms();
        self.lock().rooms.iter().any(|room| theirs.iter().any(|r| Arc::ptr_eq(r, room)))
    }

    /// Starts a new grace period for the registered nickname they hold: the number that
    /// tells it from the ones before.
    pub fn start_claim(&self) -> u32 {
        self.claim.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// Whether the grace period numbered `claim` is still the latest.
    pub fn claim_is_latest(&self, claim: u32) -> bool {
        self.claim.load(Ordering::Relaxed) == claim
    }

    /// Whether they are connected to another server of the cluster.
    pub fn is_ghost(&self) -> bool {
        self.ghost
    }

    /// Their connection's identity.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// How to reach them.
    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    /// Their nickname now.
    pub fn nick(&self) -> Nick {
        self.lock().nick.clone()
    }

    /// Their nickname and its key.
    pub(super) fn name(&self) -> (Nick, Key) {
        let state = self.lock();
        (state.nick.clone(), state.key.clone())
    }

    /// Their nickname folded, as names are compared.
    pub fn folded(&self) -> Arc<str> {
        self.lock().key.fold.clone()
    }

    /// The rooms they are in, in the order they joined them.
    pub fn rooms(&self) -> Vec<Arc<Room>> {
        self.lock().rooms.to_vec()
    }

    /// How many rooms they are in.
    pub fn room_count(&self) -> usize {
        self.lock().rooms.len()
    }

    /// The room they are in whose name folds to `fold`, if any.
    pub fn room(&self, fold: &str) -> Option<Arc<Room>> {
        self.lock().rooms.iter().find(|room| &*room.key().fold == fold).cloned()
    }

    /// Their away message, if they are away.
    pub fn away(&self) -> Option<String> {
        self.lock().away.as_deref().map(str::to_string)
    }

    /// Marks them away with `message`, or back with `None`.
    pub(super) fn set_away(&self, message: Option<String>) {
        self.lock().away = message.map(String::into_boxed_str);
    }

    /// The id of the account they identified as, if they did; [`Chat::identity`] says
    /// whether it still exists.
    ///
    /// [`Chat::identity`]: super::Chat
    pub(super) fn account(&self) -> Option<Arc<str>> {
        self.lock().account.clone()
    }

    pub(super) fn set_account(&self, account: Option<Arc<str>>) {
        self.lock().account = account;
    }

    pub(super) fn set_name(&self, nick: Nick, key: Key) {
        let mut state = self.lock();
        state.nick = nick;
        state.key = key;
    }

    pub(super) fn add_room(&self, room: Arc<Room>) {
        self.lock().rooms.push(room);
    }

    pub(super) fn remove_room(&self, room: &Arc<Room>) {
        self.lock().rooms.retain(|mine| !Arc::ptr_eq(mine, room));
    }

    pub(super) fn take_rooms(&self) -> Vec<Arc<Room>> {
        std::mem::take(&mut self.lock().rooms).into_vec()
    }

    /// The lock is held for a copy or an update only, never across an await, and a panic
    /// elsewhere cannot leave the record unusable.
    fn lock(&self) -> MutexGuard<'_, PersonState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Named for Arc<Person> {
    fn fold(&self) -> Arc<str> {
        self.lock().key.fold.clone()
    }
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person").field("id", &self.id).field("nick", &self.nick()).finish()
    }
}

#[cfg(test)]
mod tests {
    /// Everyone online has one, idle or not: a field that does not fit in what was padding
    /// costs every idle client (S3 in docs/BENCHMARKS.md).
    #[test]
    fn a_person_stays_160_bytes() {
        assert!(std::mem::size_of::<super::Person>() <= 160);
    }
}

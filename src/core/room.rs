//! One room: its members, its topic, and its events in one order for all of them.
//!
//! Every change to a room happens under its `async_lock` mutex, and its events are
//! appended, in that order, to one pending batch. A flush encodes the batch once per
//! encoder in use and `try_send`s the shared bytes into every member's queue, so the lock
//! is never held across a wait on a client, every member receives the room's events in one
//! and the same order, and a burst (a join storm, ten busy senders) costs one queue entry
//! per member per flush instead of one per line.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_channel::{Receiver, Sender};
use async_lock::{Mutex, MutexGuard};
use futures_lite::future;
use smol::Timer;

use super::batch::{Batch, Part, Pending};
use super::chronicle::Chronicle;
use super::event::{Departure, Encode, Event, Stamped};
use super::fan_out;
use super::name::{Key, Nick, RoomName};
use super::pace::{PRESENCE, TALK};
use super::person::{ClientId, Person};
use super::stats::Stats;
use super::writing::Delivery;

/// A batch about this large (in bytes of a line protocol) is flushed at once instead of
/// waiting for the flusher task, which bounds what a room holds back: some 2,800 joins, as
/// many as a join storm brings within one pause of a room of 10,000.
const FLUSH_AT: usize = 64 * 1024;

/// What an event's line costs besides the names and the text in it: a keyword and the
/// spaces and newline between its fields.
const LINE_OVERHEAD: usize = 12;

/// A room's topic and who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// The topic.
    pub text: String,
    /// Who set it.
    pub by: Nick,
    /// When.
    pub at: SystemTime,
}

/// A chat room. Made by the first person to join it, gone when the last one leaves.
pub struct Room {
    /// Its name, as the person who made it wrote it.
    name: RoomName,
    /// What makes it unique, and what looks like it.
    key: Key,
    /// When it was made.
    created: SystemTime,
    /// Members, topic and pending events.
    state: Mutex<RoomState>,
    /// Wakes [`Room::run_flusher`] when a batch starts and when its first talk arrives. A
    /// request is a hint: the batch it was sent for may already have gone out with a reply.
    flush_requests: Receiver<()>,
}

/// The part of a room that its lock guards.
pub(super) struct RoomState {
    /// Who is in it; changed only by `add`, `remove` and `clear`, which keep the chat's
    /// count of members.
    pub members: HashMap<ClientId, Member>,
    /// The topic, if one is set.
    pub topic: Option<Topic>,
    /// The fold of the account that registered the room, if one did: only it sets the
    /// topic and removes people.
    pub owner: Option<Arc<str>>,
    /// What was said in it lately, and the memory that keeps it.
    pub chronicle: Chronicle,
    /// Events not yet handed to the queues, in order.
    pending: Vec<Pending>,
    /// Roughly how many bytes `pending` will encode to, in the chat protocol.
    pending_size: usize,
    /// True once the pending batch holds talk, which is flushed on the shorter pace.
    talk_pending: bool,
    /// When the last batch was handed out; the paces count from it.
    flushed: Instant,
    /// Asks the flusher task for a flush; holds at most one request.
    wake: Sender<()>,
    /// Set when the room is emptied and removed, or the server closes: nobody joins it
    /// again and its flusher ends.
    pub dead: bool,
    /// The chat's counters: memberships, batches and deliveries.
    stats: Arc<Stats>,
}

/// One person in a room.
pub(super) struct Member {
    /// Who.
    pub person: Arc<Person>,
    /// Where in the pending batch this member's part begins, if it joined mid-batch.
    joined_at: Option<u32>,
    /// True when the pending batch holds an event this member caused, so that what they
    /// do next outside the room (a quit, a private message) comes after it.
    pub authored: bool,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room").field("name", &self.name).finish()
    }
}

impl Room {
    /// A room with no members yet, counted in `stats`; its batches are delivered by
    /// [`Room::run_flusher`], which whoever makes the room runs as a task.
    pub(super) fn new(name: RoomName, key: Key, stats: Arc<Stats>, chronicle: Chronicle) -> Room {
        let (wake, flush_requests) = async_channel::bounded(1);
        let state = RoomState {
            members: HashMap::new(),
            topic: None,
            owner: None,
            chronicle,
            pending: Vec::new(),
            pending_size: 0,
            talk_pending: false,
            flushed: Instant::now(),
            wake,
            dead: false,
            stats,
        };
        let created = SystemTime::now();
        Room { name, key, created, state: Mutex::new(state), flush_requests }
    }

    /// The room's name.
    pub fn name(&self) -> &RoomName {
        &self.name
    }

    /// When the room was made.
    pub fn created(&self) -> SystemTime {
        self.created
    }

    /// The room's key: its fold decides uniqueness, its skeleton look-alikes.
    pub fn key(&self) -> &Key {
        &self.key
    }

    pub(super) async fn lock(&self) -> MutexGuard<'_, RoomState> {
        self.state.lock().await
    }

    /// Delivers pending batches whenever asked, until the room dies. After a flush it
    /// waits in proportion to the room's size (about what writing to each member costs)
    /// before the next, so a quiet room gets every line at once and a busy or crowded one
    /// fewer, fuller batches instead of a write per member per line. A batch of joins,
    /// leaves and renames alone waits longer still, unless talk joins it: that is what
    /// keeps ten thousand arrivals from costing ten thousand writes each, while everyone
    /// still hears of every arrival.
    pub async fn run_flusher(self: Arc<Room>) {
        while self.flush_requests.recv().await.is_ok() {
            // The batch asked for may have gone out already, with a reply or its talk.
            let Some((talk, members, flushed)) = self.pending_kind().await else { continue };
            if talk {
                // Talk its speaker handed out at once (see `announce_talk`) keeps the pace.
                Timer::at(flushed + TALK.for_room(members)).await;
            } else {
                let due = flushed + PRESENCE.for_room(members);
                future::or(
                    async {
                        Timer::at(due).await;
                    },
                    self.talk_arrives(),
                )
                .await;
            }
            // Every reader with a line ready adds it to this batch first.
            future::yield_now().await;
            let (members, flushed, deliveries) = {
                let mut state = self.state.lock().await;
                let deliveries = state.take_batch();
                (state.members.len(), state.flushed, deliveries)
            };
            // Written outside the lock, on every thread, while the next batch gathers.
            fan_out::write(deliveries).await;
            let pace = TALK.for_room(members);
            if !pace.is_zero() {
                Timer::at(flushed + pace).await;
            }
        }
    }

    /// Whether the pending batch holds talk, how many members the room has, and when it
    /// last flushed; `None` when nothing is pending.
    async fn pending_kind(&self) -> Option<(bool, usize, Instant)> {
        let state = self.state.lock().await;
        let kind = (state.talk_pending, state.members.len(), state.flushed);
        (!state.pending.is_empty()).then_some(kind)
    }

    /// Returns once talk has joined the pending batch, or the room has died.
    async fn talk_arrives(&self) {
        while self.flush_requests.recv().await.is_ok() {
            if self.state.lock().await.talk_pending {
                return;
            }
        }
    }
}

impl RoomState {
    /// Whether `id` is a member (of a room still alive).
    pub fn has(&self, id: ClientId) -> bool {
        !self.dead && self.members.contains_key(&id)
    }

    /// Adds `person`, who hears the room's events from the next one on. `arrived` says
    /// whether the pending batch holds their own arrival, which what they do next outside
    /// the room must follow.
    pub fn add(&mut self, person: Arc<Person>, arrived: bool) {
        let joined_at = Some(u32::try_from(self.pending.len()).unwrap_or(u32::MAX));
        let member = Member { person, joined_at, authored: arrived };
        if self.members.insert(member.person.id(), member).is_none() {
            self.stats.joined(1);
        }
    }

    /// Removes member `id`. With `tail`, what the room said before it left that it has
    /// not received yet, its own last words included, still reaches it, alone; without,
    /// nothing more is written to a connection that is gone.
    pub fn remove(&mut self, id: ClientId, tail: bool) -> Option<Member> {
        let member = self.members.remove(&id)?;
        self.stats.left(1);
        let from = member.joined_at.map_or(0, |at| at as usize);
        if tail && from < self.pending.len() {
            let recipient = member.person.recipient();
            if let Some(part) = tail_for(&self.pending[from..], id, recipient.encoder) {
                if recipient.outbox.push(part.chunk).is_ok() {
                    self.stats.delivered(part.events);
                }
            }
        }
        Some(member)
    }

    /// Lets go of every member at once, for the end: nobody is written anything more.
    pub fn clear(&mut self) {
        self.stats.left(self.members.len());
        self.members.clear();
    }

    /// Appends an event to the pending batch, caused by `author`, for every member but
    /// those in `skip`; makes sure a flush will come: a request when the batch starts,
    /// and another when its first talk arrives, which cuts a presence batch's longer wait
    /// short.
    pub fn announce(&mut self, author: ClientId, event: Event, skip: Option<HashSet<ClientId>>) {
        let was_empty = self.pending.is_empty();
        let first_talk = event.is_talk() && !self.talk_pending;
        self.append(author, event, skip);
        if self.pending_size >= FLUSH_AT {
            self.flush();
        } else if was_empty || first_talk {
            // Full means a request is already waiting; the flusher checks what the batch
            // holds when it takes it, so this one is covered too.
            let _ = self.wake.try_send(());
        }
    }

    /// Appends talk as [`RoomState::announce`] does; but in a room whose pace since its
    /// last flush has passed (a quiet one), hands the batch out at once and returns it for
    /// the speaker to write, which saves it the wait for the flusher task.
    pub fn announce_talk(
        &mut self,
        author: ClientId,
        event: Event,
        skip: Option<HashSet<ClientId>>,
    ) -> Vec<Delivery> {
        if Instant::now() < self.flushed + TALK.for_room(self.members.len()) {
            self.announce(author, event, skip);
            return Vec::new();
        }
        self.append(author, event, skip);
        self.take_batch()
    }

    /// Appends an event to the pending batch and to the room's chronicle.
    fn append(&mut self, author: ClientId, event: Event, skip: Option<HashSet<ClientId>>) {
        // What a ghost says is kept by their own server, once for the whole cluster.
        let mut keep = true;
        if let Some(member) = self.members.get_mut(&author) {
            member.authored = true;
            keep = !member.person.is_ghost();
        }
        self.talk_pending |= event.is_talk();
        self.pending_size += line_size(&event);
        let event = Stamped::now(event);
        self.chronicle.note(&event, keep);
        self.pending.push(Pending { event, skip });
    }

    /// Hands the pending batch to every member's queue: encoded once per encoder, one
    /// shared chunk per member, each member's writer task woken to write it. A member whose
    /// queue is full is cut off by its queue and leaves when its session notices.
    pub fn flush(&mut self) {
        // Dropped unwritten, each delivery wakes its member's writer task.
        drop(self.take_batch());
    }

    /// Queues the pending batch for every member as [`RoomState::flush`] does, but returns
    /// the chunks queued for the caller to write (the flusher, on every thread) rather than
    /// waking each member's writer task.
    pub fn take_batch(&mut self) -> Vec<Delivery> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let mut batch = Batch::new(&self.pending);
        let mut deliveries = Vec::with_capacity(self.members.len());
        // Summed here and added once, so the counters cost a flush a few adds whatever
        // the room's size.
        let mut delivered = 0;
        for (&id, member) in &mut self.members {
            member.authored = false;
            let from = member.joined_at.take().map_or(0, |at| at as usize);
            let recipient = member.person.recipient();
            if let Some(part) = batch.part_for(id, recipient.encoder, from) {
                if let Ok(delivery) = recipient.outbox.push_later(part.chunk) {
                    delivered += part.events;
                    deliveries.push(delivery);
                }
            }
        }
        self.stats.flushed(self.pending.len(), delivered);
        self.pending.clear();
        self.pending_size = 0;
        self.talk_pending = false;
        self.flushed = Instant::now();
        deliveries
    }

    /// Ends the room: what is pending goes out, nobody joins again, the flusher stops.
    pub fn kill(&mut self) {
        self.flush();
        self.dead = true;
        self.wake.close();
    }

    /// The members `seen` lets through, sorted by their nicknames' folds.
    pub fn people(&self, seen: impl Fn(&Person) -> bool) -> Vec<Arc<Person>> {
        let mut people: Vec<(Arc<str>, Arc<Person>)> = self
            .shown(seen)
            .map(|member| (member.person.name().1.fold, member.person.clone()))
            .collect();
        people.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        people.into_iter().map(|(_, person)| person).collect()
    }

    /// The nicknames of the members `seen` lets through, sorted by their fold.
    pub fn names(&self, seen: impl Fn(&Person) -> bool) -> Vec<Nick> {
        let mut names: Vec<(Arc<str>, Nick)> = self
            .shown(seen)
            .map(|member| {
                let (nick, key) = member.person.name();
                (key.fold, nick)
            })
            .collect();
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        names.into_iter().map(|(_, nick)| nick).collect()
    }

    /// The members `seen` lets through.
    fn shown(&self, seen: impl Fn(&Person) -> bool) -> impl Iterator<Item = &Member> {
        self.members.values().filter(move |member| seen(&member.person))
    }
}

/// The events of `pending` that member `id` is owed, encoded with `encoder`, for a member
/// that leaves mid-batch; `None` when that is nothing.
fn tail_for(pending: &[Pending], id: ClientId, encoder: &'static dyn Encode) -> Option<Part> {
    let mut bytes = Vec::new();
    let owed = pending.iter().filter(|p| p.skip.as_ref().is_none_or(|skip| !skip.contains(&id)));
    let events = owed.map(|pending| encoder.encode(&pending.event, &mut bytes)).count();
    (!bytes.is_empty()).then(|| Part { chunk: bytes.into(), events })
}

/// About how long `event` is as a line: its names and text, and the overhead of a line.
fn line_size(event: &Event) -> usize {
    let (room, names, text) = match event {
        Event::Message { room, from, text }
        | Event::Action { room, from, text }
        | Event::Notice { room, from, text } => {
            (room.as_str().len(), from.as_str().len(), text.len())
        }
        Event::Topic { room, by, text } => (room.as_str().len(), by.as_str().len(), text.len()),
        Event::Join { room, nick } => (room.as_str().len(), nick.as_str().len(), 0),
        Event::Status { text } => (0, 0, text.len()),
        Event::Kick { room, nick, by, reason } => (
            room.as_str().len(),
            nick.as_str().len() + by.as_str().len(),
            reason.as_ref().map_or(0, String::len),
        ),
        Event::Part { room, nick, words } => {
            (room.as_str().len(), nick.as_str().len(), words.as_ref().map_or(0, String::len))
        }
        Event::Quit { nick, why } => (0, nick.as_str().len(), 24 + words_len(why)),
        Event::Rename { old, new } => (0, old.as_str().len() + new.as_str().len(), 0),
        Event::Away { nick, message } => {
            (0, nick.as_str().len(), message.as_ref().map_or(0, String::len))
        }
        Event::Private { from, to, text, .. } => {
            (0, from.as_str().len() + to.as_str().len(), text.len())
        }
    };
    LINE_OVERHEAD + room + names + text
}

/// The length of a departure's own words, if it has any.
fn words_len(why: &Departure) -> usize {
    match why {
        Departure::Quit(Some(words)) => words.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        let name = RoomName::parse("#test").expect("a valid name");
        let key = name.key();
        let scope = crate::core::Scope::Room(key.fold.clone());
        let kept = crate::core::chronicle::Kept { replay: 0, age: std::time::Duration::MAX };
        let chronicle = Chronicle::new(scope, kept, Arc::new(crate::core::Forgetful), Vec::new());
        Room::new(name, key, Arc::default(), chronicle)
    }

    fn say(room: &Room, text: &str) -> Event {
        let from = Nick::parse("ann", 32).expect("a valid nick");
        Event::Message { room: room.name.clone(), from, text: text.into() }
    }

    fn arrive(room: &Room, nick: &str) -> Event {
        let nick = Nick::parse(nick, 32).expect("a valid nick");
        Event::Join { room: room.name.clone(), nick }
    }

    #[test]
    fn a_batch_asks_for_a_flush_when_it_starts_and_again_when_talk_joins_it() {
        smol::block_on(async {
            let room = room();
            room.lock().await.announce(0, arrive(&room, "bob"), None);
            assert_eq!(room.flush_requests.len(), 1, "a new batch asks for a flush");
            assert_eq!(
                room.pending_kind().await.map(|(talk, members, _)| (talk, members)),
                Some((false, 0))
            );
            assert!(room.flush_requests.try_recv().is_ok());

            room.lock().await.announce(0, arrive(&room, "cid"), None);
            assert!(room.flush_requests.is_empty(), "more presence is covered by the request");

            room.lock().await.announce(0, say(&room, "hello"), None);
            assert_eq!(room.flush_requests.len(), 1, "talk cuts the presence wait short");
            assert_eq!(
                room.pending_kind().await.map(|(talk, members, _)| (talk, members)),
                Some((true, 0))
            );
            assert!(room.flush_requests.try_recv().is_ok());

            room.lock().await.announce(0, say(&room, "again"), None);
            assert!(room.flush_requests.is_empty(), "the batch is already marked as talk");
        });
    }

    #[test]
    fn a_stale_request_does_not_cut_a_presence_wait_short() {
        smol::block_on(async {
            let room = room();
            room.lock().await.announce(0, arrive(&room, "bob"), None);
            assert!(room.flush_requests.try_recv().is_ok(), "the flusher takes the request");
            // A request left over from a batch that went out with a reply.
            assert!(room.lock().await.wake.try_send(()).is_ok());
            let mut wait = Box::pin(room.talk_arrives());
            assert!(future::poll_once(&mut wait).await.is_none(), "presence alone keeps waiting");
            room.lock().await.announce(0, say(&room, "hello"), None);
            assert!(future::poll_once(&mut wait).await.is_some(), "talk ends the wait");
        });
    }

    #[test]
    fn a_join_storm_is_flushed_every_twenty_eight_hundred_or_so_joins() {
        smol::block_on(async {
            let room = room();
            let mut state = room.lock().await;
            let mut joins = 0;
            while !state.pending.is_empty() || joins == 0 {
                state.announce(0, arrive(&room, &format!("b{joins:04}")), None);
                joins += 1;
            }
            // `JOIN #test b1234` and a newline: 18 bytes on the wire, 22 estimated.
            assert!((2_600..=3_200).contains(&joins), "{joins}");
        });
    }

    #[test]
    fn a_flush_starts_the_next_batch_as_presence() {
        smol::block_on(async {
            let room = room();
            room.lock().await.announce(0, say(&room, "hello"), None);
            room.lock().await.flush();
            assert_eq!(room.pending_kind().await, None, "a request for it finds nothing to do");
            room.lock().await.announce(0, arrive(&room, "bob"), None);
            assert_eq!(
                room.pending_kind().await.map(|(talk, members, _)| (talk, members)),
                Some((false, 0))
            );
        });
    }
}

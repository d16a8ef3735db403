//! The chat core: who is online, which rooms exist, and what happens in them, in one order
//! per room. No wire format and no socket: sessions speak protocols, the core speaks
//! [`Event`]s, and each protocol's [`Encode`] writes them.
//!
//! - [`Chat`] owns the nick directory (one per server) and the rooms; its methods are what
//!   any session can do: register, join, part, talk, rename, message privately, quit.
//! - A [`Room`] keeps its members and its pending events, batches them, and hands each
//!   batch to its members' [`Outbox`]es encoded once per protocol in use, never once per
//!   member.
//! - Names ([`Nick`], [`RoomName`]) are unique under Unicode folding, and look-alikes of a
//!   name in use are refused ([`Key`]).
//! - [`Stats`] counts rooms, members, batches and deliveries in plain atomics, for whoever
//!   reports on the server (`/metrics`) to read; the core depends on no metrics library.
//!
//! Locks are always taken in one order: the directory, then the room map, then rooms by
//! their key. None is held across a wait on a client.

mod accounts;
mod batch;
mod chronicle;
mod event;
mod fan_out;
mod history;
mod listing;
mod memory;
mod name;
mod once;
mod order;
mod outbox;
mod ownership;
mod pace;
mod people;
mod person;
mod registry;
mod room;
mod rooms;
mod stats;
mod writing;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_lock::Mutex;

pub use accounts::{AccountError, Identified, MAX_ACCOUNT_PASSWORD, MIN_ACCOUNT_PASSWORD};
pub use event::{Departure, Encode, Event, Form, Speech, Stamped};
pub use history::HistoryError;
pub use listing::Listing;
pub use memory::{
    Account, Change, Forgetful, Memory, MemoryError, MemoryStats, Recalled, Recalling, RoomRecord,
    Scope,
};
pub use name::{Key, Nick, NickError, RoomName, RoomNameError, DEFAULT_MAX_NICK, MAX_ROOM_NAME};
pub use order::{Intent, Order, Place, Unavailable, Waiting};
pub use outbox::{Chunk, Cut, Outbox, PushError, TryWrite};
pub(crate) use people::is_guest;
pub use people::{Arrival, NickRefused, WhisperError};
pub use person::{ClientId, Person, Recipient};
pub use room::{Room, Topic};
pub use rooms::{JoinError, Joined, Landing, RoomError, RoomSummary};
pub use stats::{BatchSizes, Stats, BATCH_BOUNDS};
pub use writing::{gather, Delivery, Queue, Turn};

use accounts::Accounts;
use people::Directory;
use rooms::Rooms;

/// How much the core lets people make, and how much it remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rooms one person may be in at once.
    pub rooms_per_client: usize,
    /// Rooms the server may have at once.
    pub rooms: usize,
    /// Rooms one account may own (register).
    pub rooms_per_account: usize,
    /// Accounts the server may keep: each is kept in every server's memory and in the
    /// store for good, so registering without end must stop somewhere.
    pub accounts: usize,
    /// Longest topic, in characters.
    pub topic_len: usize,
    /// The most of a room's (or a conversation's) history anyone may ask for: what the
    /// memory keeps of each.
    pub history_len: usize,
    /// How much of a room's history a newcomer is given, kept in memory by each room.
    pub history_replay: usize,
    /// How old history may grow before nobody is given it.
    pub history_age: Duration,
    /// How long someone who takes a registered nickname has to identify before they are
    /// renamed to a guest name.
    pub identify_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            rooms_per_client: 20,
            rooms: 10_000,
            rooms_per_account: 10,
            accounts: 100_000,
            topic_len: 300,
            history_len: 500,
            history_replay: 50,
            history_age: Duration::from_secs(7 * 24 * 3600),
            identify_grace: Duration::from_secs(30),
        }
    }
}

/// Everyone online and every room: the state every session shares.
pub struct Chat {
    /// What people may make.
    limits: Limits,
    /// Who is online, by nickname.
    people: Mutex<Directory>,
    /// Which rooms exist, by name.
    rooms: Mutex<Rooms>,
    /// Source of connection ids.
    next_id: AtomicU64,
    /// The most people online at once so far.
    peak: AtomicUsize,
    /// What the rooms count as they run, shared with each of them and with whoever
    /// reports on the server.
    stats: Arc<Stats>,
    /// Where history, accounts and registered rooms are kept across restarts.
    memory: Arc<dyn Memory>,
    /// Registered nicknames and rooms.
    accounts: Accounts,
    /// The order shared with other servers that every change waits for, in a cluster.
    order: Option<Arc<dyn Order>>,
}

impl Chat {
    /// A chat with nobody in it and no rooms, that keeps nothing across restarts.
    pub fn new(limits: Limits) -> Chat {
        Chat::remembering(limits, Arc::new(Forgetful), Recalled::default())
    }

    /// A chat that keeps its history, accounts and registered rooms in `memory`, which
    /// held `recalled` at start.
    pub fn remembering(limits: Limits, memory: Arc<dyn Memory>, recalled: Recalled) -> Chat {
        Chat {
            limits,
            people: Mutex::new(Directory::default()),
            rooms: Mutex::new(Rooms::default()),
            next_id: AtomicU64::new(1),
            peak: AtomicUsize::new(0),
            stats: Arc::default(),
            memory,
            accounts: Accounts::new(recalled),
            order: None,
        }
    }

    /// This chat, with every change a session asks for put in `order` first and applied
    /// when its turn comes (a cluster's servers share the order).
    pub fn ordered_by(mut self, order: Arc<dyn Order>) -> Chat {
        self.order = Some(order);
        self
    }

    /// Waits for the turn of `intent` (made only when there is an order to put it in),
    /// asked by the connection `client`; the change is applied while the place is held.
    async fn turn(
        &self,
        client: ClientId,
        intent: impl FnOnce() -> Intent,
    ) -> Result<Option<Place>, Unavailable> {
        match &self.order {
            None => Ok(None),
            Some(order) => order.turn(client, intent()).await.map(Some),
        }
    }

    /// The counters of rooms, members and deliveries, to read whenever asked.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Where history, accounts and registered rooms are kept.
    pub fn memory(&self) -> &Arc<dyn Memory> {
        &self.memory
    }

    /// The most people online at once since the server started.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Shuts the chat: every room delivers what is pending and stops, and nobody can
    /// register, rename, join or talk afterwards. Each session then says goodbye itself.
    /// People and rooms let go of each other, so that nothing (a connection least of all)
    /// outlives the chat when it is dropped.
    pub async fn close(&self) {
        let everyone = {
            let mut people = self.people.lock().await;
            people.closed = true;
            people.clear()
        };
        let rooms = {
            let mut rooms = self.rooms.lock().await;
            rooms.closed = true;
            rooms.clear()
        };
        for room in rooms {
            let mut state = room.lock().await;
            state.kill();
            state.clear();
            self.stats.room_gone();
        }
        for person in everyone {
            person.take_rooms();
        }
    }
}

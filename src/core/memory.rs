//! What the chat remembers across restarts, as the core sees it: the [`Memory`] a store
//! implements, and the records it keeps. The core never waits for a disk: it hands each
//! change over and goes on, and only what must be durable before it is answered
//! (an account) waits for [`Memory::settled`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use thiserror::Error;

use super::event::Stamped;
use super::name::{Nick, RoomName};
use super::room::Topic;

/// A future a [`Memory`] answers with, boxed so that the trait can be an object.
pub type Recalling<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whose history: a room's, or the private conversation of two accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A room, by its name's fold.
    Room(Arc<str>),
    /// Two accounts, by their ids (nickname fold, `@`, registration time), the smaller
    /// first.
    Pair(Arc<str>, Arc<str>),
}

impl Scope {
    /// The conversation of the accounts with ids `a` and `b`, in either order.
    pub fn pair(a: Arc<str>, b: Arc<str>) -> Scope {
        if a <= b {
            Scope::Pair(a, b)
        } else {
            Scope::Pair(b, a)
        }
    }
}

/// A registered nickname.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The nickname as its owner registered it.
    pub nick: Nick,
    /// Its password's argon2id hash, in the PHC string format.
    pub hash: String,
    /// When it was registered.
    pub registered: SystemTime,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("nick", &self.nick).finish_non_exhaustive()
    }
}

/// A registered room: who owns it, and the topic it keeps while empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    /// The room's name as it was registered.
    pub name: RoomName,
    /// The fold of its owner's account.
    pub owner: Arc<str>,
    /// Its topic, if one is set.
    pub topic: Option<Topic>,
}

/// One change for the memory to keep, in the order the core hands them over.
#[derive(Debug, Clone)]
pub enum Change {
    /// Something said: a room's message or action, or a private message between two
    /// accounts.
    Said {
        /// Whose history it belongs to.
        scope: Scope,
        /// What was said, and when.
        event: Stamped,
    },
    /// An account registered (`Some`) or dropped (`None`), by its nickname's fold.
    Account {
        /// The nickname's fold.
        fold: Arc<str>,
        /// The account, or `None` once dropped.
        account: Option<Account>,
    },
    /// Every private conversation of a dropped account, by its id: forgotten in both
    /// directions, whoever it was with.
    Forget {
        /// The dropped account's id.
        account: Arc<str>,
    },
    /// A room registered or changed (`Some`), or no longer registered (`None`), by its
    /// name's fold.
    Room {
        /// The name's fold.
        fold: Arc<str>,
        /// The record, or `None` once it is no longer registered.
        record: Option<RoomRecord>,
    },
}

/// What a memory holds when the server starts: every account and registered room.
#[derive(Debug, Clone, Default)]
pub struct Recalled {
    /// The accounts, by nickname fold.
    pub accounts: Vec<(Arc<str>, Account)>,
    /// The registered rooms, by name fold.
    pub rooms: Vec<(Arc<str>, RoomRecord)>,
}

/// Why a memory could not keep what it was given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MemoryError {
    /// The store failed to write; the text says how.
    #[error("the store could not write: {0}")]
    Write(String),
    /// The store has stopped.
    #[error("the store is closed")]
    Closed,
}

/// What a memory has done so far, for whoever reports on the server (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Transactions committed (each one disk sync).
    pub commits: u64,
    /// Changes written: things said, accounts and rooms.
    pub changes: u64,
    /// Things said written to history.
    pub history_written: u64,
    /// Changes dropped because the memory could not take them in time.
    pub dropped: u64,
    /// Bytes the memory takes on disk.
    pub bytes: u64,
}

/// Where the chat keeps what survives a restart. Implemented by the embedded store (and by
/// nothing at all for a server that keeps nothing); the core calls it from anywhere,
/// under its locks included, so [`Memory::keep`] must never wait.
pub trait Memory: Send + Sync {
    /// Takes `change` to keep, in order after every change handed over before it; returns
    /// at once. A change the memory cannot take (its queue full) is counted and dropped,
    /// never waited for.
    fn keep(&self, change: Change);

    /// Completes once every change handed over before the call is durably written.
    fn settled(&self) -> Recalling<'_, Result<(), MemoryError>>;

    /// The last `last` things said in `scope`, oldest first, every change handed over
    /// before the call included. The question is asked when this is called, not when the
    /// answer is first awaited, so the answer can be awaited later, outside any lock.
    fn recall(&self, scope: Scope, last: usize) -> Recalling<'static, Vec<Stamped>>;

    /// What it has done so far; `None` for a memory that keeps nothing.
    fn stats(&self) -> Option<MemoryStats> {
        None
    }
}

/// The memory of a server that keeps nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Forgetful;

impl Memory for Forgetful {
    fn keep(&self, _change: Change) {}

    fn settled(&self) -> Recalling<'_, Result<(), MemoryError>> {
        Box::pin(async { Ok(()) })
    }

    fn recall(&self, _scope: Scope, _last: usize) -> Recalling<'static, Vec<Stamped>> {
        Box::pin(async { Vec::new() })
    }
}

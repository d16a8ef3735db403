//! Where the core's changes wait for their place in an order shared with other servers.
//!
//! A lone server orders everything itself: its locks decide. Servers that share rooms (a
//! cluster) must all apply the same changes in the same order, so each change a session
//! asks for is first handed to an [`Order`], which puts it in the shared order and
//! answers when its turn has come; the core applies it then, while the returned
//! [`Place`] is held. Changes that other servers made reach the core through the same
//! methods' `*_now` halves (see [`crate::cluster`]), never through an [`Order`].

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use thiserror::Error;

use super::event::{Departure, Speech};
use super::memory::Account;
use super::name::{Nick, RoomName};
use super::person::ClientId;

/// A change someone asks for, with everything another server needs to make it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Arriving with a nickname, landing in a room if one is given.
    Register {
        /// The nickname asked for.
        nick: Nick,
        /// The room to land in.
        room: Option<RoomName>,
        /// Whether their protocol echoes what they say.
        echo: bool,
    },
    /// Entering a room (making it if needed).
    Join {
        /// Which room.
        room: RoomName,
    },
    /// Leaving a room on purpose.
    Part {
        /// Which room.
        room: RoomName,
        /// Parting words.
        words: Option<String>,
    },
    /// Saying, acting or noticing something in a room.
    Talk {
        /// Where.
        room: RoomName,
        /// How.
        speech: Speech,
        /// What.
        text: String,
    },
    /// Setting or clearing a room's topic.
    Topic {
        /// Which room.
        room: RoomName,
        /// The topic; empty clears it.
        text: String,
    },
    /// Removing someone from a room, as its owner.
    Kick {
        /// Which room.
        room: RoomName,
        /// Who.
        nick: Nick,
        /// Why.
        reason: Option<String>,
    },
    /// Changing nickname.
    Rename {
        /// The nickname asked for.
        new: Nick,
    },
    /// Being renamed to a guest name the server chose.
    Guest {
        /// The guest name.
        new: Nick,
    },
    /// Messaging someone privately.
    Whisper {
        /// Who it is for, as written.
        to: String,
        /// How.
        speech: Speech,
        /// What.
        text: String,
    },
    /// Going away (`Some`) or coming back.
    Away {
        /// The away message.
        message: Option<String>,
    },
    /// Leaving the server.
    Quit {
        /// Why.
        why: Departure,
    },
    /// Being identified as an account, by its id.
    SignIn {
        /// The account's id.
        account: String,
    },
    /// No longer being identified as any account.
    SignOut,
    /// Registering one's nickname as `account`, and being identified as it.
    Registered {
        /// The account, its password's hash included.
        account: Account,
    },
    /// Dropping the account one is identified as, and the registration of its rooms.
    Dropped,
    /// Registering a room one is in to the account one is identified as.
    RoomRegistered {
        /// Which room.
        room: RoomName,
    },
    /// Dropping the registration of a room the account one is identified as owns.
    RoomDropped {
        /// Which room.
        room: RoomName,
    },
    /// Asking not to be found by strangers, or to be again.
    Hidden {
        /// Whether one is hidden from now on.
        hidden: bool,
    },
}

/// Why a change could not be put in order: the shared order is out of reach. Nothing of
/// the change happened, and the person is told so.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the cluster is unavailable; nothing was done, try again shortly")]
pub struct Unavailable;

/// A change's turn: while it is held, nothing else is applied; dropped, the order goes on.
pub struct Place {
    /// What keeps the turn; only ever dropped.
    _guard: Box<dyn Any + Send>,
}

impl Place {
    /// A turn held by whatever `guard` is, until it is dropped.
    pub fn new(guard: impl Any + Send) -> Place {
        Place { _guard: Box::new(guard) }
    }
}

/// What a turn is awaited as.
pub type Waiting<'a> = Pin<Box<dyn Future<Output = Result<Place, Unavailable>> + Send + 'a>>;

/// Puts changes in an order shared with other servers.
pub trait Order: Send + Sync {
    /// Puts `intent`, asked by the connection `client`, in the order; resolves when it is
    /// its turn to be applied here.
    fn turn(&self, client: ClientId, intent: Intent) -> Waiting<'_>;
}

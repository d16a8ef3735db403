//! What happens in the chat, in no wire format: the core orders these, and each protocol's
//! [`Encode`] writes them for its clients.

use std::time::SystemTime;

use super::name::{Nick, RoomName};

/// Something that happened, as every protocol's clients must hear of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Someone said something in a room.
    Message {
        /// Where.
        room: RoomName,
        /// Who.
        from: Nick,
        /// What.
        text: String,
    },
    /// Someone described an action in a room (`/me`).
    Action {
        /// Where.
        room: RoomName,
        /// Who.
        from: Nick,
        /// What they did.
        text: String,
    },
    /// Someone sent a notice to a room: talk that automatic clients (bots) must never
    /// answer, as IRC defines it.
    Notice {
        /// Where.
        room: RoomName,
        /// Who.
        from: Nick,
        /// What.
        text: String,
    },
    /// Someone entered a room.
    Join {
        /// Which room.
        room: RoomName,
        /// Who.
        nick: Nick,
    },
    /// Someone left a room on purpose.
    Part {
        /// Which room.
        room: RoomName,
        /// Who.
        nick: Nick,
        /// Their parting words, if any.
        words: Option<String>,
    },
    /// A room's owner removed someone from it; everyone in it hears it, the one removed
    /// included.
    Kick {
        /// Which room.
        room: RoomName,
        /// Who was removed.
        nick: Nick,
        /// Who removed them: the room's owner.
        by: Nick,
        /// Why, if the owner said.
        reason: Option<String>,
    },
    /// Someone set (or, with empty text, cleared) a room's topic.
    Topic {
        /// Which room.
        room: RoomName,
        /// Who set it.
        by: Nick,
        /// The topic.
        text: String,
    },
    /// Someone left the server; each person who shared a room with them hears it once.
    Quit {
        /// Who.
        nick: Nick,
        /// Why.
        why: Departure,
    },
    /// Someone changed nickname; each person who shared a room with them hears it once.
    Rename {
        /// The nickname they had.
        old: Nick,
        /// The nickname they have now.
        new: Nick,
    },
    /// Someone went away, with a message, or came back (`None`); each person who shares a
    /// room with them hears it once, they themselves do not.
    Away {
        /// Who.
        nick: Nick,
        /// Their away message, or `None` now that they are back.
        message: Option<String>,
    },
    /// A message from one person to another.
    Private {
        /// Who sent it.
        from: Nick,
        /// Who it is for.
        to: Nick,
        /// What they said.
        text: String,
        /// Whether it was said, acted or noticed.
        kind: Speech,
    },
    /// A word from the server to each of its own people: that the cluster is out of
    /// reach, or back.
    Status {
        /// What the server says.
        text: String,
    },
}

/// The ways of saying something that every protocol can carry: a message, an action
/// (`/me`, IRC's CTCP `ACTION`), or a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speech {
    /// A plain message.
    Say,
    /// An action described in the third person.
    Act,
    /// A notice, which automatic clients never answer.
    Notice,
    /// A request from one client program to another (IRC's CTCP: `VERSION`, `PING`,
    /// `DCC`), in its text; protocols without such requests do not show it.
    ClientQuery,
    /// The answer to a [`Speech::ClientQuery`].
    ClientAnswer,
}

/// Why someone left the server: each protocol words it its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departure {
    /// They said goodbye, with their words if any.
    Quit(Option<String>),
    /// The connection ended without a goodbye.
    Closed,
    /// They stopped reading and their send queue overflowed.
    QueueFull,
    /// They stayed over the flood rate.
    Flood,
    /// They started a line and never finished it.
    LineTimeout,
    /// They did not answer a ping.
    PingTimeout,
    /// The server they were connected to, in a cluster, stopped answering.
    ServerLost,
}

/// An event and the server's time when it happened: history and protocols that carry
/// timestamps (IRC's `server-time`) read it; the order comes from the room, not the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// When the server took it in.
    pub at: SystemTime,
    /// What happened.
    pub event: Event,
}

impl Stamped {
    /// `event`, stamped now.
    pub fn now(event: Event) -> Stamped {
        Stamped { at: SystemTime::now(), event }
    }
}

impl Event {
    /// Talk is what people say; a batch holding talk is delivered sooner than one holding
    /// only arrivals, departures and renames (see the room's pacing).
    pub fn is_talk(&self) -> bool {
        matches!(
            self,
            Event::Message { .. }
                | Event::Action { .. }
                | Event::Notice { .. }
                | Event::Topic { .. }
        )
    }
}

/// How one protocol writes events for its clients. The core encodes a room's batch once
/// per encoder in use among its members, never once per member, so an encoder must write
/// the same bytes for every recipient: anything that depends on who receives a line
/// belongs in the session, not here.
pub trait Encode: Send + Sync {
    /// Appends the wire form of `event` to `out`: one line, several, or none for an event
    /// this protocol does not show.
    fn encode(&self, event: &Stamped, out: &mut Vec<u8>);

    /// Which bytes this encoder writes: encoders of one form write the same bytes for
    /// every event, and encoders of different forms may not.
    fn form(&self) -> Form;
}

/// What tells one encoder's output from another's: its type, and which of that type's
/// variants it is. Compared rather than the encoders' addresses, which the compiler may
/// give two encoders that hold nothing (a chat client and an IRC client once shared a
/// batch that way, in release builds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    /// The encoder's type.
    kind: std::any::TypeId,
    /// Which variant of it.
    variant: u8,
}

impl Form {
    /// The form of variant `variant` of the encoder type `T`.
    pub fn of<T: 'static>(variant: u8) -> Form {
        Form { kind: std::any::TypeId::of::<T>(), variant }
    }
}

/// Whether two encoders write alike, so a batch encoded for one serves the other.
pub(crate) fn same_encoder(a: &'static dyn Encode, b: &'static dyn Encode) -> bool {
    a.form() == b.form()
}

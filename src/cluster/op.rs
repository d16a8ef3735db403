//! What one server asks the whole cluster to apply: an [`Op`], one of the core's mutating
//! calls with its arguments, and its bytes. A session's call on the core becomes an
//! operation appended to the log (inside a [`Body::Operation`](super::body::Body)); every
//! server reads it back and applies it in the log's order, for a ghost person when the
//! operation comes from another server.
//!
//! The bytes follow the store's records (`store/record.rs`), whose primitives they reuse:
//! a version byte, the kind of operation, the [`Client`] it is for, then the kind's fields
//! in a fixed order. Strings are a u32 little-endian length and UTF-8, at most
//! [`MAX_TEXT`] bytes; names are written as text and parsed again when read, so an entry
//! that holds a name no server accepts is an error, never a panic.

use thiserror::Error;

use super::ServerId;
use crate::core::{Account, ClientId, Departure, Intent, Nick, RoomName, Speech};
use crate::store::record::{speech, speech_byte, Out, Reader};
use crate::store::RecordError;

/// The format this file writes; an operation with another first byte is not read.
const VERSION: u8 = 1;

/// The longest string an operation carries, in bytes: far more than any line a client may
/// send, so only a corrupt entry (or a server configured with absurd lines) reaches it.
pub const MAX_TEXT: usize = 1 << 20;

/// The byte after the version: which operation follows.
mod kind {
    /// [`Op::Register`](super::Op::Register).
    pub const REGISTER: u8 = 1;
    /// [`Op::Join`](super::Op::Join).
    pub const JOIN: u8 = 2;
    /// [`Op::Part`](super::Op::Part).
    pub const PART: u8 = 3;
    /// [`Op::Talk`](super::Op::Talk).
    pub const TALK: u8 = 4;
    /// [`Op::Topic`](super::Op::Topic).
    pub const TOPIC: u8 = 5;
    /// [`Op::Kick`](super::Op::Kick).
    pub const KICK: u8 = 6;
    /// [`Op::Rename`](super::Op::Rename).
    pub const RENAME: u8 = 7;
    /// [`Op::Guest`](super::Op::Guest).
    pub const GUEST: u8 = 8;
    /// [`Op::Whisper`](super::Op::Whisper).
    pub const WHISPER: u8 = 9;
    /// [`Op::Away`](super::Op::Away).
    pub const AWAY: u8 = 10;
    /// [`Op::Quit`](super::Op::Quit).
    pub const QUIT: u8 = 11;
    /// [`Op::SignIn`](super::Op::SignIn).
    pub const SIGN_IN: u8 = 12;
    /// [`Op::SignOut`](super::Op::SignOut).
    pub const SIGN_OUT: u8 = 13;
    /// [`Op::Registered`](super::Op::Registered).
    pub const REGISTERED: u8 = 14;
    /// [`Op::Dropped`](super::Op::Dropped).
    pub const DROPPED: u8 = 15;
    /// [`Op::RoomRegistered`](super::Op::RoomRegistered).
    pub const ROOM_REGISTERED: u8 = 16;
    /// [`Op::RoomDropped`](super::Op::RoomDropped).
    pub const ROOM_DROPPED: u8 = 17;
    /// [`Op::Hidden`](super::Op::Hidden).
    pub const HIDDEN: u8 = 18;
}

/// One person of the cluster, named the same way by every server: the server they are
/// connected to and the id it gave their connection. Every server keys its ghosts by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Client {
    /// The server the person is connected to.
    pub server: ServerId,
    /// Their connection, as that server numbers them.
    pub id: ClientId,
}

/// What one server asks every server to apply, in the log's order: one of the core's
/// mutating calls, with its arguments. Each names the [`Client`] who does it. Accounts and
/// registered rooms are not here: [`RedisMemory`](super::RedisMemory) keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Someone arrives with a nickname, landing in a room if one is given.
    Register {
        /// Who.
        client: Client,
        /// The nickname they asked for.
        nick: Nick,
        /// The room to land in, if any.
        room: Option<RoomName>,
        /// Whether their protocol echoes what they say back to them.
        echo: bool,
    },
    /// Someone enters a room (making it if it does not exist).
    Join {
        /// Who.
        client: Client,
        /// Which room.
        room: RoomName,
    },
    /// Someone leaves a room on purpose.
    Part {
        /// Who.
        client: Client,
        /// Which room.
        room: RoomName,
        /// Their parting words, if any.
        words: Option<String>,
    },
    /// Someone says, acts or notices something in a room.
    Talk {
        /// Who.
        client: Client,
        /// Where.
        room: RoomName,
        /// How.
        speech: Speech,
        /// What.
        text: String,
    },
    /// Someone sets (or, with empty text, clears) a room's topic.
    Topic {
        /// Who.
        client: Client,
        /// Which room.
        room: RoomName,
        /// The topic.
        text: String,
    },
    /// A room's owner removes someone from it.
    Kick {
        /// The owner.
        client: Client,
        /// Which room.
        room: RoomName,
        /// Who is removed.
        nick: Nick,
        /// Why, if the owner said.
        reason: Option<String>,
    },
    /// Someone changes nickname, by asking for it.
    Rename {
        /// Who.
        client: Client,
        /// The nickname they asked for.
        new: Nick,
    },
    /// The server renames someone to a guest name it chose (their grace to identify ran
    /// out, or the nickname's owner took it back): a name nobody may ask for, so applying
    /// it skips the checks that [`Op::Rename`] makes. The name is chosen once, by the
    /// server that appends this, and carried, so every server gives the same one.
    Guest {
        /// Who is renamed.
        client: Client,
        /// The guest name.
        new: Nick,
    },
    /// Someone messages someone else privately.
    Whisper {
        /// Who sends it.
        client: Client,
        /// Who it is for, as the sender wrote the name (found under folding).
        to: String,
        /// How it is said.
        speech: Speech,
        /// What.
        text: String,
    },
    /// Someone goes away with a message, or comes back (`None`).
    Away {
        /// Who.
        client: Client,
        /// Their away message.
        message: Option<String>,
    },
    /// Someone leaves the server.
    Quit {
        /// Who.
        client: Client,
        /// Why.
        why: Departure,
    },
    /// Someone is identified as an account (by password or SASL, checked by their server).
    SignIn {
        /// Who.
        client: Client,
        /// The account's id (its nickname's fold, `@`, the millisecond it was registered),
        /// so that every server identifies them as this very account, not one registered
        /// again under the same name.
        account: String,
    },
    /// Someone is no longer identified as any account (they dropped it).
    SignOut {
        /// Who.
        client: Client,
    },
    /// Someone registers their nickname as an account, and is identified as it.
    Registered {
        /// Who.
        client: Client,
        /// The account, its password's hash included (Redis keeps it anyway).
        account: Account,
    },
    /// Someone drops the account they are identified as, and its rooms' registrations.
    Dropped {
        /// Who.
        client: Client,
    },
    /// Someone registers a room they are in to the account they are identified as.
    RoomRegistered {
        /// Who.
        client: Client,
        /// Which room.
        room: RoomName,
    },
    /// Someone drops the registration of a room their account owns.
    RoomDropped {
        /// Who.
        client: Client,
        /// Which room.
        room: RoomName,
    },
    /// Someone asks not to be found by strangers, or to be again.
    Hidden {
        /// Who.
        client: Client,
        /// Whether they are hidden from now on.
        hidden: bool,
    },
}

/// Why an operation could not be written or read. An entry from a newer or broken server
/// is an error for the log's reader to weigh, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpError {
    /// The bytes do not hold a well-formed operation: cut short, followed by more, of an
    /// unknown version, with a string that is not UTF-8 or a name that is not valid, or
    /// an unknown kind of speech.
    #[error("an operation's bytes: {0}")]
    Format(#[from] RecordError),
    /// A kind of operation (or of departure, or a flag) that does not exist.
    #[error("unknown operation kind {0}")]
    Kind(u8),
    /// A server's name that is not a server id.
    #[error("{0:?} is not a server id")]
    Server(String),
    /// A string longer than [`MAX_TEXT`] bytes.
    #[error("a string of {0} bytes is longer than an operation carries")]
    TooLong(usize),
}

impl Op {
    /// The operation of `client` asking for `intent`.
    pub fn of(client: Client, intent: Intent) -> Op {
        match intent {
            Intent::Register { nick, room, echo } => Op::Register { client, nick, room, echo },
            Intent::Join { room } => Op::Join { client, room },
            Intent::Part { room, words } => Op::Part { client, room, words },
            Intent::Talk { room, speech, text } => Op::Talk { client, room, speech, text },
            Intent::Topic { room, text } => Op::Topic { client, room, text },
            Intent::Kick { room, nick, reason } => Op::Kick { client, room, nick, reason },
            Intent::Rename { new } => Op::Rename { client, new },
            Intent::Guest { new } => Op::Guest { client, new },
            Intent::Whisper { to, speech, text } => Op::Whisper { client, to, speech, text },
            Intent::Away { message } => Op::Away { client, message },
            Intent::Quit { why } => Op::Quit { client, why },
            Intent::SignIn { account } => Op::SignIn { client, account },
            Intent::SignOut => Op::SignOut { client },
            Intent::Registered { account } => Op::Registered { client, account },
            Intent::Dropped => Op::Dropped { client },
            Intent::RoomRegistered { room } => Op::RoomRegistered { client, room },
            Intent::RoomDropped { room } => Op::RoomDropped { client, room },
            Intent::Hidden { hidden } => Op::Hidden { client, hidden },
        }
    }

    /// Who asks for what: the inverse of [`Op::of`].
    pub fn split(self) -> (Client, Intent) {
        match self {
            Op::Register { client, nick, room, echo } => {
                (client, Intent::Register { nick, room, echo })
            }
            Op::Join { client, room } => (client, Intent::Join { room }),
            Op::Part { client, room, words } => (client, Intent::Part { room, words }),
            Op::Talk { client, room, speech, text } => {
                (client, Intent::Talk { room, speech, text })
            }
            Op::Topic { client, room, text } => (client, Intent::Topic { room, text }),
            Op::Kick { client, room, nick, reason } => {
                (client, Intent::Kick { room, nick, reason })
            }
            Op::Rename { client, new } => (client, Intent::Rename { new }),
            Op::Guest { client, new } => (client, Intent::Guest { new }),
            Op::Whisper { client, to, speech, text } => {
                (client, Intent::Whisper { to, speech, text })
            }
            Op::Away { client, message } => (client, Intent::Away { message }),
            Op::Quit { client, why } => (client, Intent::Quit { why }),
            Op::SignIn { client, account } => (client, Intent::SignIn { account }),
            Op::SignOut { client } => (client, Intent::SignOut),
            Op::Registered { client, account } => (client, Intent::Registered { account }),
            Op::Dropped { client } => (client, Intent::Dropped),
            Op::RoomRegistered { client, room } => (client, Intent::RoomRegistered { room }),
            Op::RoomDropped { client, room } => (client, Intent::RoomDropped { room }),
            Op::Hidden { client, hidden } => (client, Intent::Hidden { hidden }),
        }
    }

    /// Who does it.
    pub fn client(&self) -> &Client {
        match self {
            Op::Register { client, .. }
            | Op::Join { client, .. }
            | Op::Part { client, .. }
            | Op::Talk { client, .. }
            | Op::Topic { client, .. }
            | Op::Kick { client, .. }
            | Op::Rename { client, .. }
            | Op::Guest { client, .. }
            | Op::Whisper { client, .. }
            | Op::Away { client, .. }
            | Op::Quit { client, .. }
            | Op::SignIn { client, .. }
            | Op::SignOut { client }
            | Op::Registered { client, .. }
            | Op::Dropped { client }
            | Op::RoomRegistered { client, .. }
            | Op::RoomDropped { client, .. }
            | Op::Hidden { client, .. } => client,
        }
    }

    /// The bytes to append (as the payload of a [`Body::Operation`](super::body::Body)),
    /// or why they cannot be: a string longer than [`MAX_TEXT`].
    pub fn encode(&self) -> Result<Vec<u8>, OpError> {
        let mut out = Write(Out::versioned(VERSION));
        match self {
            Op::Register { client, nick, room, echo } => {
                out.head(kind::REGISTER, client)?;
                out.text(nick.as_str())?;
                out.maybe(room.as_ref().map(RoomName::as_str))?;
                out.flag(*echo);
            }
            Op::Join { client, room } => {
                out.head(kind::JOIN, client)?;
                out.text(room.as_str())?;
            }
            Op::Part { client, room, words } => {
                out.head(kind::PART, client)?;
                out.text(room.as_str())?;
                out.maybe(words.as_deref())?;
            }
            Op::Talk { client, room, speech, text } => {
                out.head(kind::TALK, client)?;
                out.text(room.as_str())?;
                out.0.byte(speech_byte(*speech));
                out.text(text)?;
            }
            Op::Topic { client, room, text } => {
                out.head(kind::TOPIC, client)?;
                out.text(room.as_str())?;
                out.text(text)?;
            }
            Op::Kick { client, room, nick, reason } => {
                out.head(kind::KICK, client)?;
                out.text(room.as_str())?;
                out.text(nick.as_str())?;
                out.maybe(reason.as_deref())?;
            }
            Op::Rename { client, new } => {
                out.head(kind::RENAME, client)?;
                out.text(new.as_str())?;
            }
            Op::Guest { client, new } => {
                out.head(kind::GUEST, client)?;
                out.text(new.as_str())?;
            }
            Op::Whisper { client, to, speech, text } => {
                out.head(kind::WHISPER, client)?;
                out.text(to)?;
                out.0.byte(speech_byte(*speech));
                out.text(text)?;
            }
            Op::Away { client, message } => {
                out.head(kind::AWAY, client)?;
                out.maybe(message.as_deref())?;
            }
            Op::Quit { client, why } => {
                out.head(kind::QUIT, client)?;
                out.departure(why)?;
            }
            Op::SignIn { client, account } => {
                out.head(kind::SIGN_IN, client)?;
                out.text(account)?;
            }
            Op::SignOut { client } => out.head(kind::SIGN_OUT, client)?,
            Op::Registered { client, account } => {
                out.head(kind::REGISTERED, client)?;
                out.text(account.nick.as_str())?;
                out.text(&account.hash)?;
                out.0.time(account.registered);
            }
            Op::Dropped { client } => out.head(kind::DROPPED, client)?,
            Op::RoomRegistered { client, room } => {
                out.head(kind::ROOM_REGISTERED, client)?;
                out.text(room.as_str())?;
            }
            Op::RoomDropped { client, room } => {
                out.head(kind::ROOM_DROPPED, client)?;
                out.text(room.as_str())?;
            }
            Op::Hidden { client, hidden } => {
                out.head(kind::HIDDEN, client)?;
                out.flag(*hidden);
            }
        }
        Ok(out.0.into_bytes())
    }

    /// An operation, read back from its bytes.
    pub fn decode(bytes: &[u8]) -> Result<Op, OpError> {
        let mut read = Read(Reader::versioned(bytes, VERSION)?);
        let kind = read.0.byte()?;
        let client = read.client()?;
        let op = match kind {
            kind::REGISTER => Op::Register {
                client,
                nick: read.0.nick()?,
                room: read.maybe_room()?,
                echo: read.flag()?,
            },
            kind::JOIN => Op::Join { client, room: read.0.room()? },
            kind::PART => Op::Part { client, room: read.0.room()?, words: read.maybe()? },
            kind::TALK => Op::Talk {
                client,
                room: read.0.room()?,
                speech: speech(read.0.byte()?)?,
                text: read.text()?,
            },
            kind::TOPIC => Op::Topic { client, room: read.0.room()?, text: read.text()? },
            kind::KICK => Op::Kick {
                client,
                room: read.0.room()?,
                nick: read.0.nick()?,
                reason: read.maybe()?,
            },
            kind::RENAME => Op::Rename { client, new: read.0.nick()? },
            kind::GUEST => Op::Guest { client, new: read.0.nick()? },
            kind::WHISPER => Op::Whisper {
                client,
                to: read.text()?,
                speech: speech(read.0.byte()?)?,
                text: read.text()?,
            },
            kind::AWAY => Op::Away { client, message: read.maybe()? },
            kind::QUIT => Op::Quit { client, why: read.departure()? },
            kind::SIGN_IN => Op::SignIn { client, account: read.text()? },
            kind::SIGN_OUT => Op::SignOut { client },
            kind::REGISTERED => Op::Registered {
                client,
                account: Account {
                    nick: read.0.nick()?,
                    hash: read.text()?,
                    registered: read.0.time()?,
                },
            },
            kind::DROPPED => Op::Dropped { client },
            kind::ROOM_REGISTERED => Op::RoomRegistered { client, room: read.0.room()? },
            kind::ROOM_DROPPED => Op::RoomDropped { client, room: read.0.room()? },
            kind::HIDDEN => Op::Hidden { client, hidden: read.flag()? },
            other => return Err(OpError::Kind(other)),
        };
        read.0.end()?;
        Ok(op)
    }
}

/// The byte that stands for each way of leaving, in [`Departure`]'s order.
mod departure {
    /// [`Departure::Quit`](crate::core::Departure::Quit), followed by its words if any.
    pub const QUIT: u8 = 0;
    /// [`Departure::Closed`](crate::core::Departure::Closed).
    pub const CLOSED: u8 = 1;
    /// [`Departure::QueueFull`](crate::core::Departure::QueueFull).
    pub const QUEUE_FULL: u8 = 2;
    /// [`Departure::Flood`](crate::core::Departure::Flood).
    pub const FLOOD: u8 = 3;
    /// [`Departure::LineTimeout`](crate::core::Departure::LineTimeout).
    pub const LINE_TIMEOUT: u8 = 4;
    /// [`Departure::PingTimeout`](crate::core::Departure::PingTimeout).
    pub const PING_TIMEOUT: u8 = 5;
    /// [`Departure::ServerLost`](crate::core::Departure::ServerLost).
    pub const SERVER_LOST: u8 = 6;
}

/// An operation being written: the record's writer, with what operations hold besides.
struct Write(Out);

impl Write {
    /// Appends what every operation starts with: its kind and its client.
    fn head(&mut self, kind: u8, client: &Client) -> Result<(), OpError> {
        self.0.byte(kind);
        self.text(client.server.as_str())?;
        self.0.u64(client.id);
        Ok(())
    }

    /// Appends a string of at most [`MAX_TEXT`] bytes.
    fn text(&mut self, text: &str) -> Result<(), OpError> {
        if text.len() > MAX_TEXT {
            return Err(OpError::TooLong(text.len()));
        }
        Ok(self.0.str(text)?)
    }

    /// Appends a string that may be missing: a 0, or a 1 and the string.
    fn maybe(&mut self, text: Option<&str>) -> Result<(), OpError> {
        match text {
            None => self.0.byte(0),
            Some(text) => {
                self.0.byte(1);
                self.text(text)?;
            }
        }
        Ok(())
    }

    /// Appends a yes (1) or no (0).
    fn flag(&mut self, flag: bool) {
        self.0.byte(u8::from(flag));
    }

    /// Appends why someone left.
    fn departure(&mut self, why: &Departure) -> Result<(), OpError> {
        match why {
            Departure::Quit(words) => {
                self.0.byte(departure::QUIT);
                self.maybe(words.as_deref())?;
            }
            Departure::Closed => self.0.byte(departure::CLOSED),
            Departure::QueueFull => self.0.byte(departure::QUEUE_FULL),
            Departure::Flood => self.0.byte(departure::FLOOD),
            Departure::LineTimeout => self.0.byte(departure::LINE_TIMEOUT),
            Departure::PingTimeout => self.0.byte(departure::PING_TIMEOUT),
            Departure::ServerLost => self.0.byte(departure::SERVER_LOST),
        }
        Ok(())
    }
}

/// An operation being read: the record's reader, with what operations hold besides.
struct Read<'a>(Reader<'a>);

impl Read<'_> {
    /// The next string, owned, if it is at most [`MAX_TEXT`] bytes.
    fn text(&mut self) -> Result<String, OpError> {
        let text = self.0.str()?;
        if text.len() > MAX_TEXT {
            return Err(OpError::TooLong(text.len()));
        }
        Ok(text.to_owned())
    }

    /// Whether what may be missing follows.
    fn present(&mut self) -> Result<bool, OpError> {
        match self.0.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(OpError::Kind(other)),
        }
    }

    /// The next string that may be missing.
    fn maybe(&mut self) -> Result<Option<String>, OpError> {
        if self.present()? {
            return self.text().map(Some);
        }
        Ok(None)
    }

    /// The next room name that may be missing.
    fn maybe_room(&mut self) -> Result<Option<RoomName>, OpError> {
        if self.present()? {
            return Ok(Some(self.0.room()?));
        }
        Ok(None)
    }

    /// The next yes or no.
    fn flag(&mut self) -> Result<bool, OpError> {
        self.present()
    }

    /// The next client.
    fn client(&mut self) -> Result<Client, OpError> {
        let server = self.0.str()?;
        let server = ServerId::parse(server).map_err(|_| OpError::Server(server.to_owned()))?;
        Ok(Client { server, id: self.0.u64()? })
    }

    /// The next reason for leaving.
    fn departure(&mut self) -> Result<Departure, OpError> {
        Ok(match self.0.byte()? {
            departure::QUIT => Departure::Quit(self.maybe()?),
            departure::CLOSED => Departure::Closed,
            departure::QUEUE_FULL => Departure::QueueFull,
            departure::FLOOD => Departure::Flood,
            departure::LINE_TIMEOUT => Departure::LineTimeout,
            departure::PING_TIMEOUT => Departure::PingTimeout,
            departure::SERVER_LOST => Departure::ServerLost,
            other => return Err(OpError::Kind(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use proptest::prelude::*;

    use super::*;

    fn nick(text: &str) -> Nick {
        Nick::parse(text, 32).expect("a valid nickname")
    }

    fn room(text: &str) -> RoomName {
        RoomName::parse(text).expect("a valid room name")
    }

    fn client(server: &str, id: ClientId) -> Client {
        Client { server: ServerId::parse(server).expect("a valid server id"), id }
    }

    /// Every kind of operation, with every way of leaving and of speaking, and missing
    /// and present optional fields.
    fn every_op() -> Vec<Op> {
        let (a, b) = (client("eu-1", 7), client("us.2_b", u64::MAX));
        let (lobby, text) = (room("#Lobby"), "héllo\u{0}wörld 🦀".to_string());
        let mut ops = vec![
            Op::Register { client: a.clone(), nick: nick("Zoë"), room: None, echo: false },
            Op::Register {
                client: b.clone(),
                nick: nick("bob"),
                room: Some(room("#été")),
                echo: true,
            },
            Op::Join { client: a.clone(), room: lobby.clone() },
            Op::Part { client: a.clone(), room: lobby.clone(), words: None },
            Op::Part { client: a.clone(), room: lobby.clone(), words: Some(text.clone()) },
            Op::Topic { client: b.clone(), room: lobby.clone(), text: String::new() },
            Op::Kick { client: b.clone(), room: lobby.clone(), nick: nick("Zoë"), reason: None },
            Op::Kick {
                client: b.clone(),
                room: lobby.clone(),
                nick: nick("x[y]"),
                reason: Some("spam".into()),
            },
            Op::Rename { client: a.clone(), new: nick("Zoe") },
            Op::Guest { client: a.clone(), new: nick("Guest004217") },
            Op::Away { client: a.clone(), message: None },
            Op::Away { client: a.clone(), message: Some(text.clone()) },
            Op::SignIn { client: b.clone(), account: "bob@1700000000123".into() },
            Op::SignOut { client: b.clone() },
            Op::Registered {
                client: b.clone(),
                account: Account {
                    nick: nick("Bob"),
                    hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                    registered: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
                },
            },
            Op::Dropped { client: b.clone() },
            Op::RoomRegistered { client: b.clone(), room: lobby.clone() },
            Op::RoomDropped { client: b.clone(), room: lobby.clone() },
            Op::Hidden { client: b.clone(), hidden: true },
            Op::Hidden { client: b.clone(), hidden: false },
        ];
        for speech in
            [Speech::Say, Speech::Act, Speech::Notice, Speech::ClientQuery, Speech::ClientAnswer]
        {
            let (room, text) = (lobby.clone(), text.clone());
            ops.push(Op::Talk { client: a.clone(), room, speech, text: text.clone() });
            ops.push(Op::Whisper { client: a.clone(), to: "BOB".into(), speech, text });
        }
        for why in [
            Departure::Quit(None),
            Departure::Quit(Some("bye".into())),
            Departure::Closed,
            Departure::QueueFull,
            Departure::Flood,
            Departure::LineTimeout,
            Departure::PingTimeout,
            Departure::ServerLost,
        ] {
            ops.push(Op::Quit { client: b.clone(), why });
        }
        ops
    }

    #[test]
    fn every_op_round_trips() {
        let ops = every_op();
        let kinds: std::collections::HashSet<u8> =
            ops.iter().map(|op| op.encode().expect("encodes")[1]).collect();
        assert_eq!(kinds.len(), usize::from(kind::HIDDEN), "every kind of operation is tried");
        for op in ops {
            let bytes = op.encode().expect("encodes");
            assert_eq!(bytes[0], VERSION);
            assert_eq!(Op::decode(&bytes), Ok(op));
        }
    }

    #[test]
    fn every_truncation_and_extension_is_an_error() {
        for op in every_op() {
            let bytes = op.encode().expect("encodes");
            for cut in 0..bytes.len() {
                assert!(Op::decode(&bytes[..cut]).is_err(), "{op:?} cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(Op::decode(&longer), Err(OpError::Format(RecordError::Trailing(1))));
        }
    }

    #[test]
    fn garbage_is_refused_by_kind() {
        let join = Op::Join { client: client("a", 1), room: room("#a") };
        let bytes = join.encode().expect("encodes");
        let with = |at: usize, byte: u8| {
            let mut bytes = bytes.clone();
            bytes[at] = byte;
            Op::decode(&bytes)
        };
        assert_eq!(with(0, 2), Err(OpError::Format(RecordError::Version(2))));
        assert_eq!(with(1, 0), Err(OpError::Kind(0)));
        assert_eq!(with(1, 200), Err(OpError::Kind(200)));
        // The server id's one byte, then the room's `#`.
        assert_eq!(with(6, b' '), Err(OpError::Server(" ".into())));
        let no_hash = with(19, b'x');
        assert!(matches!(no_hash, Err(OpError::Format(RecordError::Name(_)))), "{no_hash:?}");
        assert_eq!(Op::decode(&[]), Err(OpError::Format(RecordError::Truncated)));
        let huge = [VERSION, kind::SIGN_OUT, 0xff, 0xff, 0xff, 0xff, b'a'];
        assert_eq!(Op::decode(&huge), Err(OpError::Format(RecordError::Truncated)));
    }

    #[test]
    fn strings_are_capped() {
        let long = "x".repeat(MAX_TEXT + 1);
        let away = Op::Away { client: client("a", 1), message: Some(long) };
        assert_eq!(away.encode(), Err(OpError::TooLong(MAX_TEXT + 1)));
        let fits = Op::Away { client: client("a", 1), message: Some("x".repeat(MAX_TEXT)) };
        let mut bytes = fits.encode().expect("fits");
        assert_eq!(Op::decode(&bytes), Ok(fits));
        // One character more, and a length to match: version, kind, server (4 + 1), id (8)
        // and the flag come before the message's length.
        bytes.push(b'x');
        let len = u32::try_from(MAX_TEXT + 1).expect("small").to_le_bytes();
        bytes[16..20].copy_from_slice(&len);
        assert_eq!(Op::decode(&bytes), Err(OpError::TooLong(MAX_TEXT + 1)));
    }

    /// A server id as `ServerId::parse` accepts it.
    fn server() -> impl Strategy<Value = ServerId> {
        "[A-Za-z0-9._-]{1,64}".prop_map(|id| ServerId::parse(&id).expect("a valid server id"))
    }

    fn any_client() -> impl Strategy<Value = Client> {
        (server(), any::<u64>()).prop_map(|(server, id)| Client { server, id })
    }

    /// A nickname as the server would have accepted it, IRC's specials included.
    fn any_nick() -> impl Strategy<Value = Nick> {
        "[\\p{L}\\p{N}_\\[\\]`^{}|-]{1,32}"
            .prop_filter_map("a valid nick", |n| Nick::parse(&n, 32).ok())
    }

    /// A room name as the server would have accepted it.
    fn any_room() -> impl Strategy<Value = RoomName> {
        "#[\\p{L}\\p{N}_-]{1,50}".prop_filter_map("a valid room", |r| RoomName::parse(&r).ok())
    }

    /// Any text at all: the format carries every string, controls included.
    fn text() -> impl Strategy<Value = String> {
        ".{0,200}|\\PC{0,50}|[\\x00-\\x1f]{0,10}"
    }

    fn any_speech() -> impl Strategy<Value = Speech> {
        prop_oneof![
            Just(Speech::Say),
            Just(Speech::Act),
            Just(Speech::Notice),
            Just(Speech::ClientQuery),
            Just(Speech::ClientAnswer),
        ]
    }

    fn any_departure() -> impl Strategy<Value = Departure> {
        prop_oneof![
            proptest::option::of(text()).prop_map(Departure::Quit),
            Just(Departure::Closed),
            Just(Departure::QueueFull),
            Just(Departure::Flood),
            Just(Departure::LineTimeout),
            Just(Departure::PingTimeout),
            Just(Departure::ServerLost),
        ]
    }

    fn any_op() -> impl Strategy<Value = Op> {
        let words = || proptest::option::of(text());
        prop_oneof![
            (any_client(), any_nick(), proptest::option::of(any_room()), any::<bool>())
                .prop_map(|(client, nick, room, echo)| Op::Register { client, nick, room, echo }),
            (any_client(), any_room()).prop_map(|(client, room)| Op::Join { client, room }),
            (any_client(), any_room(), words()).prop_map(|(client, room, words)| Op::Part {
                client,
                room,
                words
            }),
            (any_client(), any_room(), any_speech(), text())
                .prop_map(|(client, room, speech, text)| Op::Talk { client, room, speech, text }),
            (any_client(), any_room(), text()).prop_map(|(client, room, text)| Op::Topic {
                client,
                room,
                text
            }),
            (any_client(), any_room(), any_nick(), words())
                .prop_map(|(client, room, nick, reason)| Op::Kick { client, room, nick, reason }),
            (any_client(), any_nick()).prop_map(|(client, new)| Op::Rename { client, new }),
            (any_client(), any_nick()).prop_map(|(client, new)| Op::Guest { client, new }),
            (any_client(), text(), any_speech(), text())
                .prop_map(|(client, to, speech, text)| Op::Whisper { client, to, speech, text }),
            (any_client(), words()).prop_map(|(client, message)| Op::Away { client, message }),
            (any_client(), any_departure()).prop_map(|(client, why)| Op::Quit { client, why }),
            (any_client(), text()).prop_map(|(client, account)| Op::SignIn { client, account }),
            any_client().prop_map(|client| Op::SignOut { client }),
            (any_client(), any_nick(), text(), any::<u32>()).prop_map(
                |(client, nick, hash, ms)| {
                    let registered = UNIX_EPOCH + Duration::from_millis(u64::from(ms));
                    Op::Registered { client, account: Account { nick, hash, registered } }
                }
            ),
            any_client().prop_map(|client| Op::Dropped { client }),
            (any_client(), any_room())
                .prop_map(|(client, room)| Op::RoomRegistered { client, room }),
            (any_client(), any_room()).prop_map(|(client, room)| Op::RoomDropped { client, room }),
            (any_client(), any::<bool>())
                .prop_map(|(client, hidden)| Op::Hidden { client, hidden }),
        ]
    }

    proptest! {
        #[test]
        fn decode_reads_what_encode_wrote(op in any_op()) {
            let bytes = op.encode().expect("encodes");
            prop_assert_eq!(Op::decode(&bytes), Ok(op));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Op::decode(&bytes);
        }

        #[test]
        fn decode_never_panics_on_a_damaged_op(
            op in any_op(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = op.encode().expect("encodes");
            let at = at.index(bytes.len());
            bytes[at] = byte;
            let _ = Op::decode(&bytes);
        }
    }
}

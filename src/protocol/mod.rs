//! The wire protocol, for both sides: lines on the wire <-> typed messages. Pure, no I/O.
//!
//! UTF-8 text lines ending in `\n` (`\r\n` accepted). The server asks for a nickname with
//! a `NICK` line, the client answers with the nickname alone, and from then on a client
//! line is a [`Command`] and a server line is an [`Event`]. `docs/PROTOCOL.md` is the
//! prose version of this module; a change to one is a change to the other.

mod command;
mod event;
mod frame;
mod nick;
mod text;

pub use command::{Command, CommandError, HELP};
pub use event::{ErrorCode, Event, EventError};
pub use frame::{Frame, LineFramer, DEFAULT_MAX_LINE};
pub use nick::{nick_key, Nick, NickError, DEFAULT_MAX_NICK};
pub use text::{decode_line, is_forbidden, sanitize, TextError};

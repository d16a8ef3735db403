//! The smolchat line protocol, for both sides: lines on the wire <-> typed messages. Pure,
//! no I/O.
//!
//! UTF-8 text lines ending in `\n` (`\r\n` accepted). A server with a password asks for it
//! with a `PASS` line ([`Line::PassRequest`]) and the client answers with the password alone;
//! then the server asks for a nickname with a `NICK` line, the client answers with the
//! nickname alone, and from then on a client line is a [`Command`] and a server line is a
//! [`Line`]; [`encode`] writes the core's events as lines. `docs/PROTOCOL.md` is the prose
//! version of this module; a change to one is a change to the other.

mod command;
mod encode;
mod error_code;
mod frame;
mod line;
mod text;

pub use command::{is_room_name, Command, CommandError, HELP};
pub use encode::{departure_reason, ChatEncoder, CHAT};
pub use frame::{Frame, LineFramer, DEFAULT_MAX_LINE};
pub use line::{ErrorCode, Line, LineError, PROTOCOL_VERSION};
pub use text::{decode_line, decode_with, is_bidi_control, is_forbidden, sanitize, TextError};

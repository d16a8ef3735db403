//! IRC, pure: client messages as RFC 1459/2812 and the Modern IRC document define them,
//! the server's replies and numerics, capabilities, SASL, the services' commands, and the
//! core's events (live or replayed as history) as IRC lines. Nothing here touches a
//! socket; the IRC session (`server::session::irc`) does.

mod caps;
mod encode;
mod message;
pub mod numeric;
mod replay;
mod reply;
pub mod sasl;
mod services;
mod text;

pub use caps::{Cap, CapRequest, Caps};
pub use encode::{quit_reason, IrcEncoder, HOST, USER};
pub use message::{end_line, pack, Message, MessageError, MAX_LINE, MAX_TAGS};
pub use replay::{time_prefix, Replay};
pub use reply::Replies;
pub use services::{ChanServ, NickServ, Service};
pub use text::{decode_line, plain, Ctcp};

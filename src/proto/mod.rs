//! Wire formats, pure: bytes and lines in, typed commands and events out, and back. No I/O.
//!
//! Each protocol the server speaks is a folder here (and `time`, how both write times); the
//! core knows none of them, and a session adapter in `server::session` joins one of them
//! to the core.

pub mod chat;
pub mod irc;
pub mod time;

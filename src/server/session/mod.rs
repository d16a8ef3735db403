//! Sessions: one adapter per protocol, between a client's connection and the chat core.
//!
//! A session reads its protocol's lines through a [`link::Link`] (bounded lines, flood
//! control, timeouts, keep-alive), turns them into calls on the core, and answers in its
//! protocol; the core's events reach the client through the session's encoder. A new
//! protocol is a new folder here beside `chat`, and the core does not change.

pub mod chat;
mod claim;
pub mod irc;
mod link;

use super::metrics::Disconnect;
use crate::core::Departure;

/// How many lines of a long answer (a room list, the people of a big room) a session
/// queues before it waits for the client to read: tens of kilobytes, so such an answer
/// costs the server a queue's worth of memory per client, not its whole length.
const PAGE: usize = 64;

/// How a registered client's session ended, in any protocol: it decides what the
/// client's rooms hear.
pub(crate) enum Ending {
    /// The client said goodbye, with its words.
    Quit(Option<String>),
    /// The connection closed without a goodbye (or was cut off for not reading).
    Closed,
    /// The server is shutting down: nobody is told, everybody is leaving.
    Stopped,
    /// It stayed over the flood rate.
    Flood,
    /// It started a line and stalled.
    LineTimeout,
    /// It did not answer a ping.
    PingTimeout,
}

impl Ending {
    /// Why the connection ends, for `/metrics` (the queue overflowing, behind a close, is
    /// told apart when the link is dropped).
    pub(crate) fn disconnect(&self) -> Disconnect {
        match self {
            Ending::Quit(_) => Disconnect::Quit,
            Ending::Closed => Disconnect::Closed,
            Ending::Stopped => Disconnect::Shutdown,
            Ending::Flood => Disconnect::Flood,
            Ending::LineTimeout => Disconnect::LineTimeout,
            Ending::PingTimeout => Disconnect::PingTimeout,
        }
    }

    /// What the rooms are told, given whether the client's queue overflowed; `None` at
    /// shutdown, when nobody is told.
    pub(crate) fn departure(self, overflowed: bool) -> Option<Departure> {
        Some(match self {
            Ending::Stopped => return None,
            Ending::Quit(words) => Departure::Quit(words),
            Ending::Closed if overflowed => Departure::QueueFull,
            Ending::Closed => Departure::Closed,
            Ending::Flood => Departure::Flood,
            Ending::LineTimeout => Departure::LineTimeout,
            Ending::PingTimeout => Departure::PingTimeout,
        })
    }
}

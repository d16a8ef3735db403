//! Sessions: one adapter per protocol, between a client's connection and the chat core.
//!
//! A session reads its protocol's lines through a [`link::Link`] (bounded lines, flood
//! control, timeouts, keep-alive), turns them into calls on the core, and answers in its
//! protocol; the core's events reach the client through the session's encoder. A new
//! protocol is a new folder here beside `chat`, and the core does not change.

pub mod chat;
mod link;

//! `smolchat-bench`, the load generator that measures the server: many clients join, some
//! send stamped messages, every reader times each delivery end to end. The clients speak
//! smolchat's line protocol or IRC (`--protocol irc`), so the same load can be put on
//! smolchat's IRC listener and on another IRC server, over plain TCP or TLS (`--tls`); the
//! chat protocol also over WebSocket (`--websocket`). Against a cluster, `--addr` names
//! several servers, comma-separated, and the clients are dealt to them in turn.
//!
//! The conductor (the calling thread) runs the phases and samples the timeline; the
//! generator threads each own a share of the clients on a single-threaded executor and read
//! their sockets in large chunks, so the generator stays cheaper than the server it drives.
//! [`run`] returns a [`Report`]: a table when printed, JSON with [`Report::to_json`], and an
//! SVG with [`plot::write_svg`].

#![forbid(unsafe_code)]

pub mod baseline;
mod board;
mod conductor;
pub mod config;
mod connection;
mod encrypted;
mod fd_limit;
mod framed;
pub mod irc;
mod join;
mod join_irc;
pub mod local_server;
pub mod message;
mod meter;
pub mod plot;
pub mod protocol;
mod receive;
pub mod report;
pub mod rooms;
mod send;
mod shard;
mod tally;
pub mod tls;
mod watch;
mod websocket;
mod window;

use std::io;

use thiserror::Error;

pub use conductor::run;
pub use config::{Options, Plan, PlanError, Preset, Target};
pub use protocol::Protocol;
pub use report::Report;
pub use rooms::Rooms;
pub use tls::TlsTrust;

/// Why a benchmark could not run to the end.
#[derive(Debug, Error)]
pub enum BenchError {
    /// The options do not make a run.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The server address does not resolve.
    #[error("cannot resolve the server address {0}")]
    Resolve(String),
    /// The in-process server could not be started or stopped.
    #[error("in-process server: {0}")]
    Spawn(io::Error),
    /// The TLS client could not be set up (a CA file that cannot be read, a host that is
    /// not a name).
    #[error("TLS: {0}")]
    Tls(String),
    /// A generator thread could not be started.
    #[error("cannot start a generator thread: {0}")]
    Threads(io::Error),
    /// A generator thread panicked.
    #[error("a generator thread panicked")]
    ThreadPanicked,
    /// No client got into the room.
    #[error("no client could join the server: {0}")]
    NobodyJoined(String),
}

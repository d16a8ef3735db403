//! smolchat: a chat server and terminal client on the `smol` runtime.
//!
//! People meet in rooms over TCP. The [`core`] knows who is online and which rooms exist,
//! and keeps each room's events in one order for all its members; it knows no wire format.
//! The [`server`] accepts connections and runs a session per client that speaks a protocol
//! from [`proto`] to the core, writing every sender's name itself and fanning each room's
//! events out through one bounded queue per client, so a slow reader never stalls a room.
//! The [`client`] speaks the same protocol from the other side, for the terminal client,
//! the bots and the tests alike; [`script`] runs the bots. [`store`] keeps history, accounts and
//! registered rooms on disk for the core's [`core::Memory`]. [`tls`] is what both ends
//! share of TLS, and [`paths`] where smolchat keeps its files. [`cluster`] is what servers
//! sharing one Redis keep there to be one chat.

#![forbid(unsafe_code)]

pub mod client;
pub mod cluster;
pub mod core;
pub mod framed;
pub mod paths;
pub mod proto;
pub mod script;
pub mod server;
pub mod store;
pub mod tls;
pub mod unicode;

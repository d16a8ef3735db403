//! smolchat: a chat server and terminal client on the `smol` runtime.
//!
//! Several people type into one shared room over TCP. The [`server`] owns the room: it asks
//! each newcomer for a nickname, writes every sender's name itself, and fans each line out
//! through one bounded queue per client so that a slow reader never stalls the room. The
//! [`client`] speaks the same [`protocol`] from the other side, for the terminal client,
//! the bots and the tests alike; [`script`] runs the bots.

pub mod client;
pub mod framed;
pub mod protocol;
pub mod script;
pub mod server;

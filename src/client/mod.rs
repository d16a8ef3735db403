//! The client side of the protocol: connect, register a nickname, send commands, receive
//! typed events. The terminal client, the bots, the benchmark and the tests all use it.

mod connection;

pub use connection::{
    Client, ClientError, Events, Sender, Welcome, DEFAULT_SERVER, MAX_SERVER_LINE,
};

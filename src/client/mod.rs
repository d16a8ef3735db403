//! The client side of the protocol: connect, register a nickname, send commands, receive
//! typed events. The terminal client, the bots, the benchmark and the tests all use it.
//!
//! On top of the connection sit the two front ends of the `smolchat` binary: [`run`] picks
//! the interactive line editor when both stdin and stdout are terminals, and plain piped
//! lines otherwise. [`Renderer`] is how every server line looks, in both and in bot scripts.
//! [`Resume`] and [`reconnect`] take a lost connection's place again (nickname, rooms,
//! identification); [`Roster`] is the names Tab completes.

mod connection;
mod echo;
mod editor;
mod incoming;
mod input;
mod piped;
mod printer;
mod render;
mod resume;
mod roster;
mod session;
mod target;
mod terminal;
mod tls;
mod wake;

use std::io::IsTerminal;

pub use connection::{
    Client, ClientError, Events, Sender, Welcome, DEFAULT_SERVER, MAX_SERVER_LINE,
};
pub use echo::Echo;
pub use incoming::Incoming;
pub use input::{Input, CLIENT_HELP};
pub use render::{clean, colour_allowed, same_name, Renderer, Style};
pub use resume::{reconnect, Backoff, Resume};
pub use roster::Roster;
pub use session::{
    connect, connect_asking, default_history_path, describe, ChatError, Destination, Options,
    Secret,
};
pub use target::{Target, DEFAULT_PORT};
pub use tls::{describe_tls, Trust};

/// Runs the client: interactive on a terminal, piped otherwise.
pub fn run(options: &Options) -> Result<(), ChatError> {
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        terminal::run(options)
    } else {
        piped::run(options)
    }
}

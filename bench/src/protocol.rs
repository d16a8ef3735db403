//! Which protocol the bench's clients speak (`--protocol`), and everything that differs
//! between the two: nicknames, how a message is framed, how server lines are sorted, how a
//! ping is answered, and whether the server echoes a message to its sender.

use clap::ValueEnum;
use serde::Serialize;

use super::irc;
use super::message::{self, Line};
use super::rooms::Venue;

/// The protocol the clients speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// smolchat's line protocol (`NICK` prompt, `MSG #room nick text`).
    #[default]
    Chat,
    /// IRC: `NICK`/`USER`, `JOIN`, `PRIVMSG`; for smolchat's IRC listener or any IRC server.
    Irc,
}

impl Protocol {
    /// The nickname of client `index`.
    pub fn nick(self, index: usize) -> String {
        match self {
            Protocol::Chat => format!("b{index}"),
            Protocol::Irc => irc::nick(index),
        }
    }

    /// Whether the server sends a message back to its sender. The chat server does; IRC
    /// servers do not unless `echo-message` is negotiated, which the bench does not ask for.
    pub fn echoes(self) -> bool {
        self == Protocol::Chat
    }

    /// What a message said at `venue` is written between: the bytes before its text and
    /// the line end after it.
    pub fn framing(self, venue: Venue) -> (Vec<u8>, &'static [u8]) {
        match self {
            Protocol::Chat => {
                let prefix = venue.room().map_or_else(String::new, |room| format!("/msg {room} "));
                (prefix.into_bytes(), b"\n")
            }
            Protocol::Irc => (irc::privmsg_prefix(&self.channel(venue)), irc::LINE_END),
        }
    }

    /// The IRC channel of a venue: the room's name, or [`irc::DEFAULT_CHANNEL`].
    fn channel(self, venue: Venue) -> String {
        venue.room().unwrap_or_else(|| irc::DEFAULT_CHANNEL.to_string())
    }

    /// The rooms an IRC client joins when the run has none of its own: the default channel.
    pub fn default_rooms(self) -> Vec<String> {
        match self {
            Protocol::Chat => Vec::new(),
            Protocol::Irc => vec![irc::DEFAULT_CHANNEL.to_string()],
        }
    }

    /// Sorts one server line (without its `\n`).
    pub fn classify(self, line: &[u8]) -> Line<'_> {
        match self {
            Protocol::Chat => message::classify(line),
            Protocol::Irc => irc::classify(line),
        }
    }

    /// The answer to the server's `PING token`.
    pub fn pong(self, token: &[u8]) -> Vec<u8> {
        match self {
            Protocol::Chat => {
                let mut line = b"/pong ".to_vec();
                line.extend_from_slice(token);
                line.push(b'\n');
                line
            }
            Protocol::Irc => irc::pong(token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_framed_for_its_protocol_and_venue() {
        assert_eq!(Protocol::Chat.framing(Venue::Default), (Vec::new(), &b"\n"[..]));
        assert_eq!(Protocol::Chat.framing(Venue::Room(3)), (b"/msg #r3 ".to_vec(), &b"\n"[..]));
        let (prefix, end) = Protocol::Irc.framing(Venue::Default);
        assert_eq!((prefix.as_slice(), end), (&b"PRIVMSG #lobby :"[..], &b"\r\n"[..]));
        assert_eq!(Protocol::Irc.framing(Venue::Shared).0, b"PRIVMSG #all :");
    }

    #[test]
    fn only_the_chat_server_echoes_and_each_answers_pings_its_way() {
        assert!(Protocol::Chat.echoes() && !Protocol::Irc.echoes());
        assert_eq!(Protocol::Chat.pong(b"7"), b"/pong 7\n");
        assert_eq!(Protocol::Irc.pong(b"7"), b"PONG :7\r\n");
        assert_eq!((Protocol::Chat.nick(4), Protocol::Irc.nick(4)), ("b4".into(), "bench4".into()));
        assert!(Protocol::Chat.default_rooms().is_empty());
        assert_eq!(Protocol::Irc.default_rooms(), ["#lobby"]);
    }
}

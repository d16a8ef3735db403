//! The core's events as lines of the chat protocol.

use std::io::Write as _;

use crate::core::{Departure, Encode, Event, Form, Speech, Stamped};

/// Writes core events as chat protocol lines; the same bytes for every recipient.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChatEncoder;

/// The one chat encoder every chat session shares, so the core sees one protocol in use.
pub static CHAT: ChatEncoder = ChatEncoder;

impl Encode for ChatEncoder {
    fn form(&self) -> Form {
        Form::of::<ChatEncoder>(0)
    }

    fn encode(&self, stamped: &Stamped, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = match &stamped.event {
            Event::Message { room, from, text } => writeln!(out, "MSG {room} {from} {text}"),
            Event::Action { room, from, text } => writeln!(out, "ACTION {room} {from} {text}"),
            Event::Notice { room, from, text } => writeln!(out, "NOTICE {room} {from} {text}"),
            Event::Join { room, nick } => writeln!(out, "JOIN {room} {nick}"),
            Event::Part { room, nick, words: None } => writeln!(out, "LEAVE {room} {nick} part"),
            Event::Part { room, nick, words: Some(words) } => {
                writeln!(out, "LEAVE {room} {nick} part: {words}")
            }
            Event::Kick { room, nick, by, reason } => {
                writeln!(out, "KICK {room} {nick} {by} {}", reason.as_deref().unwrap_or(""))
            }
            Event::Topic { room, by, text } => writeln!(out, "TOPIC {room} {by} {text}"),
            Event::Quit { nick, why } => writeln!(out, "QUIT {nick} {}", departure_reason(why)),
            Event::Rename { old, new } => writeln!(out, "RENAME {old} {new}"),
            Event::Status { text } => writeln!(out, "INFO {text}"),
            // The chat protocol has no away status to show.
            Event::Away { .. } => Ok(()),
            Event::Private { from, to, text, kind } => {
                let keyword = match kind {
                    Speech::Say => "PRIV",
                    Speech::Act => "PRIVACTION",
                    Speech::Notice => "PRIVNOTICE",
                    // Requests between client programs mean nothing to this protocol.
                    Speech::ClientQuery | Speech::ClientAnswer => return,
                };
                writeln!(out, "{keyword} {from} {to} {text}")
            }
        };
    }
}

/// The reason a `QUIT` line gives for a departure.
pub fn departure_reason(why: &Departure) -> String {
    match why {
        Departure::Quit(None) => "quit".into(),
        Departure::Quit(Some(words)) => format!("quit: {words}"),
        Departure::Closed => "connection closed".into(),
        Departure::QueueFull => "send queue full".into(),
        Departure::Flood => "flooding".into(),
        Departure::LineTimeout => "line timeout".into(),
        Departure::PingTimeout => "ping timeout".into(),
        Departure::ServerLost => "server lost".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Nick, RoomName};
    use crate::proto::chat::Line;

    fn nick(text: &str) -> Nick {
        Nick::parse(text, 32).expect("a valid nick")
    }

    fn room() -> RoomName {
        RoomName::parse("#lobby").expect("a valid room")
    }

    fn s(text: &str) -> String {
        text.to_string()
    }

    /// Every core event, and the line a client reads back from its encoding.
    fn cases() -> Vec<(Event, Line)> {
        let (a, b, r) = (nick("alice"), nick("bob"), room());
        let lobby = s("#lobby");
        vec![
            (
                Event::Message { room: r.clone(), from: a.clone(), text: s("hi  there") },
                Line::Message { room: lobby.clone(), from: s("alice"), text: s("hi  there") },
            ),
            (
                Event::Action { room: r.clone(), from: a.clone(), text: s("waves") },
                Line::Action { room: lobby.clone(), from: s("alice"), text: s("waves") },
            ),
            (
                Event::Join { room: r.clone(), nick: b.clone() },
                Line::Join { room: lobby.clone(), nick: s("bob") },
            ),
            (
                Event::Part { room: r.clone(), nick: b.clone(), words: None },
                Line::Leave { room: lobby.clone(), nick: s("bob"), reason: s("part") },
            ),
            (
                Event::Part { room: r.clone(), nick: b.clone(), words: Some(s("bye now")) },
                Line::Leave { room: lobby.clone(), nick: s("bob"), reason: s("part: bye now") },
            ),
            (
                Event::Topic { room: r.clone(), by: a.clone(), text: s("all about it") },
                Line::Topic { room: lobby, by: s("alice"), text: s("all about it") },
            ),
            (
                Event::Quit { nick: b.clone(), why: Departure::Quit(Some(s("lunch"))) },
                Line::Quit { nick: s("bob"), reason: s("quit: lunch") },
            ),
            (
                Event::Quit { nick: b.clone(), why: Departure::QueueFull },
                Line::Quit { nick: s("bob"), reason: s("send queue full") },
            ),
            (
                Event::Rename { old: b.clone(), new: nick("rob") },
                Line::Rename { old: s("bob"), new: s("rob") },
            ),
            (
                Event::Notice { room: r.clone(), from: a.clone(), text: s("heads up") },
                Line::Notice { room: s("#lobby"), from: s("alice"), text: s("heads up") },
            ),
            (
                Event::Private {
                    from: a.clone(),
                    to: b.clone(),
                    text: s("psst"),
                    kind: Speech::Say,
                },
                Line::Private { from: s("alice"), to: s("bob"), text: s("psst") },
            ),
            (
                Event::Private {
                    from: a.clone(),
                    to: b.clone(),
                    text: s("nods"),
                    kind: Speech::Act,
                },
                Line::PrivateAction { from: s("alice"), to: s("bob"), text: s("nods") },
            ),
            (
                Event::Private { from: a, to: b, text: s("fyi"), kind: Speech::Notice },
                Line::PrivateNotice { from: s("alice"), to: s("bob"), text: s("fyi") },
            ),
        ]
    }

    #[test]
    fn every_event_encodes_to_the_line_clients_read() {
        for (event, want) in cases() {
            let mut out = Vec::new();
            CHAT.encode(&Stamped::now(event.clone()), &mut out);
            let text = std::str::from_utf8(&out).expect("utf-8");
            let line = text.strip_suffix('\n').expect("one line ending in a newline");
            assert!(!line.contains('\n'), "{line:?}");
            assert_eq!(Line::parse(line), Ok(want), "{event:?}");
        }
    }
}

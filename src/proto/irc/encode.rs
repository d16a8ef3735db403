//! The core's events as IRC lines, sourced by the person they are about.

use std::io::Write as _;

use crate::core::{Departure, Encode, Event, Form, Nick, Speech, Stamped};

use super::message::{end_line, MAX_LINE};

/// The user part of every person's source (`nick!chat@smolchat`). The same for everyone,
/// whatever client they use: nobody's address, ident or protocol shows.
pub const USER: &str = "chat";

/// The host part of every person's source.
pub const HOST: &str = "smolchat";

/// Writes core events as IRC lines. Four variants exist, one per kind of client a room
/// may hold: with the `server-time` tag or without, told of `AWAY` changes
/// (`away-notify`) or not; a room encodes a batch once for each variant its members use.
#[derive(Debug, Clone, Copy)]
pub struct IrcEncoder {
    /// Whether lines carry `@time=...`.
    timed: bool,
    /// Whether `AWAY` changes of others are written.
    away_notify: bool,
}

/// The encoders, by `[server_time][away_notify]`.
static IRC_VARIANTS: [[IrcEncoder; 2]; 2] = [
    [
        IrcEncoder { timed: false, away_notify: false },
        IrcEncoder { timed: false, away_notify: true },
    ],
    [IrcEncoder { timed: true, away_notify: false }, IrcEncoder { timed: true, away_notify: true }],
];

impl IrcEncoder {
    /// The encoder for a client with or without `server-time` and `away-notify`.
    pub fn for_client(server_time: bool, away_notify: bool) -> &'static IrcEncoder {
        &IRC_VARIANTS[usize::from(server_time)][usize::from(away_notify)]
    }
}

impl Encode for IrcEncoder {
    fn form(&self) -> Form {
        Form::of::<IrcEncoder>(u8::from(self.timed) | u8::from(self.away_notify) << 1)
    }

    fn encode(&self, stamped: &Stamped, out: &mut Vec<u8>) {
        let line = Line { stamped, timed: self.timed };
        match &stamped.event {
            Event::Message { room, from, text } => {
                line.talk(out, from, room.as_str(), Speech::Say, text)
            }
            Event::Action { room, from, text } => {
                line.talk(out, from, room.as_str(), Speech::Act, text)
            }
            Event::Notice { room, from, text } => {
                line.talk(out, from, room.as_str(), Speech::Notice, text)
            }
            Event::Private { from, to, text, kind } => {
                line.talk(out, from, to.as_str(), *kind, text)
            }
            Event::Join { room, nick } => line.write(out, nick, format_args!("JOIN {room}")),
            Event::Part { room, nick, words: None } => {
                line.write(out, nick, format_args!("PART {room}"))
            }
            Event::Part { room, nick, words: Some(words) } => {
                line.write(out, nick, format_args!("PART {room} :{words}"))
            }
            Event::Topic { room, by, text } => {
                line.write(out, by, format_args!("TOPIC {room} :{text}"))
            }
            Event::Kick { room, nick, by, reason } => {
                let reason = reason.as_deref().unwrap_or(by.as_str());
                line.write(out, by, format_args!("KICK {room} {nick} :{reason}"))
            }
            Event::Quit { nick, why } => {
                line.write(out, nick, format_args!("QUIT :{}", quit_reason(why)))
            }
            Event::Rename { old, new } => line.write(out, old, format_args!("NICK {new}")),
            Event::Away { .. } if !self.away_notify => {}
            Event::Away { nick, message: Some(message) } => {
                line.write(out, nick, format_args!("AWAY :{message}"))
            }
            Event::Away { nick, message: None } => line.write(out, nick, format_args!("AWAY")),
            // From the server itself: a line without a prefix comes from the connection's
            // other end (RFC 1459, 2.3).
            Event::Status { text } => {
                let body = out.len();
                let _ = write!(out, "NOTICE * :{text}");
                end_line(out, body);
            }
        }
    }
}

/// One event being written.
struct Line<'a> {
    stamped: &'a Stamped,
    timed: bool,
}

impl Line<'_> {
    /// Writes `:source COMMAND...` with the time tag if wanted, and `\r\n`.
    fn write(&self, out: &mut Vec<u8>, source: &Nick, rest: std::fmt::Arguments<'_>) {
        let body = self.start(out, source);
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{rest}");
        end_line(out, body);
    }

    /// Writes the tags and the source; returns where the message (after the tags) starts.
    fn start(&self, out: &mut Vec<u8>, source: &Nick) -> usize {
        if self.timed {
            let at = crate::proto::time::rfc3339_millis(self.stamped.at);
            let _ = write!(out, "@time={at} ");
        }
        let body = out.len();
        let _ = write!(out, ":{source}!{USER}@{HOST} ");
        body
    }

    /// A `PRIVMSG` or `NOTICE` (an action is a CTCP `ACTION`), cut into several lines at
    /// character boundaries when it would pass 512 bytes: a chat client's line may be
    /// longer than IRC allows.
    fn talk(&self, out: &mut Vec<u8>, from: &Nick, target: &str, kind: Speech, text: &str) {
        let (command, open, close) = match kind {
            Speech::Say => ("PRIVMSG", "", ""),
            Speech::Act => ("PRIVMSG", "\x01ACTION ", "\x01"),
            Speech::Notice => ("NOTICE", "", ""),
            Speech::ClientQuery => ("PRIVMSG", "\x01", "\x01"),
            Speech::ClientAnswer => ("NOTICE", "\x01", "\x01"),
        };
        let fixed = 1
            + from.as_str().len()
            + 1
            + USER.len()
            + 1
            + HOST.len()
            + 1
            + command.len()
            + 1
            + target.len()
            + 2
            + open.len()
            + close.len()
            + 2;
        let room = MAX_LINE.saturating_sub(fixed).max(64);
        for piece in pieces(text, room) {
            self.start(out, from);
            let _ = write!(out, "{command} {target} :{open}{piece}{close}\r\n");
        }
    }
}

/// `text` in pieces of at most `max` bytes, cut at character boundaries; one empty piece
/// for empty text.
fn pieces(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        if text.len() <= max {
            rest = None;
            return Some(text);
        }
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, after) = text.split_at(cut);
        rest = Some(after);
        Some(piece)
    })
}

/// A departure as IRC clients word it in `QUIT`.
pub fn quit_reason(why: &Departure) -> String {
    match why {
        Departure::Quit(None) => "Quit".into(),
        Departure::Quit(Some(words)) => format!("Quit: {words}"),
        Departure::Closed => "Connection closed".into(),
        Departure::QueueFull => "SendQ exceeded".into(),
        Departure::Flood => "Excess Flood".into(),
        Departure::LineTimeout => "Line timeout".into(),
        Departure::PingTimeout => "Ping timeout".into(),
        Departure::ServerLost => "Server lost".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::core::RoomName;

    /// A room encodes a batch once per form among its members: each protocol's variants
    /// must have forms of their own, whatever addresses the compiler gives them.
    #[test]
    fn every_encoder_has_a_form_of_its_own() {
        let chat: &dyn Encode = &crate::proto::chat::CHAT;
        let mut forms = vec![chat.form()];
        for (timed, away) in [(false, false), (false, true), (true, false), (true, true)] {
            let irc = IrcEncoder::for_client(timed, away);
            assert_eq!(irc.form(), IrcEncoder::for_client(timed, away).form());
            forms.push(irc.form());
        }
        for (i, form) in forms.iter().enumerate() {
            assert!(!forms[i + 1..].contains(form), "encoder {i} shares its form");
        }
    }

    fn nick(text: &str) -> Nick {
        Nick::parse(text, 32).expect("a valid nick")
    }

    fn encode(encoder: &IrcEncoder, event: Event) -> String {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let mut out = Vec::new();
        encoder.encode(&Stamped { at, event }, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn events_are_written_as_irc_lines_from_their_subject() {
        let room = RoomName::parse("#lobby").expect("a valid room");
        let (a, b) = (nick("alice"), nick("bob"));
        let text = |t: &str| t.to_string();
        let cases = [
            (
                Event::Message { room: room.clone(), from: a.clone(), text: text("hi") },
                ":alice!chat@smolchat PRIVMSG #lobby :hi\r\n",
            ),
            (
                Event::Action { room: room.clone(), from: a.clone(), text: text("waves") },
                ":alice!chat@smolchat PRIVMSG #lobby :\x01ACTION waves\x01\r\n",
            ),
            (
                Event::Notice { room: room.clone(), from: a.clone(), text: text("fyi") },
                ":alice!chat@smolchat NOTICE #lobby :fyi\r\n",
            ),
            (
                Event::Private {
                    from: a.clone(),
                    to: b.clone(),
                    text: text("psst"),
                    kind: Speech::Say,
                },
                ":alice!chat@smolchat PRIVMSG bob :psst\r\n",
            ),
            (
                Event::Join { room: room.clone(), nick: b.clone() },
                ":bob!chat@smolchat JOIN #lobby\r\n",
            ),
            (
                Event::Part { room: room.clone(), nick: b.clone(), words: Some(text("bye all")) },
                ":bob!chat@smolchat PART #lobby :bye all\r\n",
            ),
            (
                Event::Topic { room, by: a, text: text("news") },
                ":alice!chat@smolchat TOPIC #lobby :news\r\n",
            ),
            (
                Event::Quit { nick: b.clone(), why: Departure::QueueFull },
                ":bob!chat@smolchat QUIT :SendQ exceeded\r\n",
            ),
            (Event::Rename { old: b, new: nick("rob") }, ":bob!chat@smolchat NICK rob\r\n"),
        ];
        for (event, want) in cases {
            assert_eq!(encode(IrcEncoder::for_client(false, false), event), want);
        }
    }

    #[test]
    fn server_time_is_a_tag_in_utc_milliseconds() {
        let event = Event::Join { room: RoomName::parse("#a").expect("valid"), nick: nick("bob") };
        assert_eq!(
            encode(IrcEncoder::for_client(true, false), event),
            "@time=2023-11-14T22:13:20.123Z :bob!chat@smolchat JOIN #a\r\n"
        );
    }

    #[test]
    fn away_changes_reach_only_clients_with_away_notify() {
        let gone = Event::Away { nick: nick("bob"), message: Some("lunch".into()) };
        let back = Event::Away { nick: nick("bob"), message: None };
        assert_eq!(encode(IrcEncoder::for_client(false, false), gone.clone()), "");
        let notified = IrcEncoder::for_client(false, true);
        assert_eq!(encode(notified, gone), ":bob!chat@smolchat AWAY :lunch\r\n");
        assert_eq!(encode(notified, back), ":bob!chat@smolchat AWAY\r\n");
    }

    #[test]
    fn long_text_is_cut_into_lines_of_at_most_512_bytes_at_character_boundaries() {
        let room = RoomName::parse("#a").expect("valid");
        let text = "é".repeat(700);
        let lines = encode(
            IrcEncoder::for_client(false, false),
            Event::Message { room, from: nick("alice"), text: text.clone() },
        );
        let mut joined = String::new();
        for line in lines.split_inclusive("\r\n") {
            assert!(line.len() <= MAX_LINE, "{}", line.len());
            let (_, said) = line.split_once(" :").expect("a trailing parameter");
            joined.push_str(said.trim_end_matches("\r\n"));
        }
        assert_eq!(joined, text);
    }
}

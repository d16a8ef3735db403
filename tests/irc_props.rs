//! Property tests of the IRC protocol module: no input makes it panic, text comes out
//! plain, and no line written for an IRC client is longer than IRC allows.

use std::time::SystemTime;

use proptest::prelude::*;
use smolchat::core::{Departure, Encode, Event, Nick, RoomName, Speech, Stamped};
use smolchat::proto::irc::{decode_line, plain, Ctcp, IrcEncoder, Message, MAX_LINE};

/// A nickname as the server would have accepted it, IRC's specials included.
fn nick() -> impl Strategy<Value = Nick> {
    "[\\p{L}\\p{N}_\\[\\]`^{}|-]{1,32}"
        .prop_filter_map("a valid nick", |n| Nick::parse(&n, 32).ok())
}

/// A room name as the server would have accepted it.
fn room() -> impl Strategy<Value = RoomName> {
    "#[\\p{L}\\p{N}_-]{1,50}".prop_filter_map("a valid room", |r| RoomName::parse(&r).ok())
}

/// Text as any protocol's client could have sent it: anything but controls, up to the
/// chat protocol's longest line.
fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{0,1500}"
}

/// Every event that carries text an IRC line must hold.
fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (room(), nick(), text()).prop_map(|(room, from, text)| Event::Message { room, from, text }),
        (room(), nick(), text()).prop_map(|(room, from, text)| Event::Action { room, from, text }),
        (room(), nick(), text()).prop_map(|(room, from, text)| Event::Notice { room, from, text }),
        (room(), nick(), text()).prop_map(|(room, by, text)| Event::Topic { room, by, text }),
        (room(), nick(), text()).prop_map(|(room, nick, w)| Event::Part {
            room,
            nick,
            words: Some(w)
        }),
        (nick(), text()).prop_map(|(nick, w)| Event::Quit { nick, why: Departure::Quit(Some(w)) }),
        (nick(), text()).prop_map(|(nick, m)| Event::Away { nick, message: Some(m) }),
        (nick(), nick(), text()).prop_map(|(from, to, text)| Event::Private {
            from,
            to,
            text,
            kind: Speech::Act
        }),
    ]
}

proptest! {
    #[test]
    fn parsers_never_panic(line in any::<String>(), bytes in any::<Vec<u8>>()) {
        let _ = decode_line(&bytes);
        let _ = Message::parse(&line);
        let _ = Ctcp::parse(&line);
        let _ = plain(&line);
    }

    #[test]
    fn plain_text_holds_no_control_character_but_tab(line in any::<String>()) {
        prop_assert!(!plain(&line).chars().any(|c| c.is_control() && c != '\t'));
    }

    #[test]
    fn every_line_for_an_irc_client_fits_in_512_bytes(event in event(), timed: bool) {
        let mut out = Vec::new();
        IrcEncoder::for_client(timed, true).encode(&Stamped { at: SystemTime::now(), event }, &mut out);
        let text = std::str::from_utf8(&out).expect("whole characters");
        prop_assert!(text.ends_with("\r\n"));
        for line in text.split_terminator("\r\n") {
            let body = if line.starts_with('@') { line.split_once(' ').map_or(line, |(_, b)| b) } else { line };
            prop_assert!(body.len() + 2 <= MAX_LINE, "{} bytes", body.len() + 2);
            prop_assert!(!line.contains(['\r', '\n', '\0']));
        }
    }
}

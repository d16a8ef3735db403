//! Property tests of the protocol module: no input makes a parser panic, and whatever the
//! server can encode, a client decodes back to the same line.

use proptest::prelude::*;
use smolchat::proto::chat::{decode_line, Command, ErrorCode, Frame, Line, LineFramer};

/// A nickname as the server would have accepted it.
fn nick() -> impl Strategy<Value = String> {
    "[\\p{L}\\p{N}_-]{1,32}"
}

/// A room name as the server would have accepted it.
fn room() -> impl Strategy<Value = String> {
    "#[\\p{L}\\p{N}_-]{1,50}"
}

/// Message text as the server would have accepted it: no control characters, not blank.
fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{0,200}".prop_map(|t| format!("x{t}"))
}

/// Every kind of line the server sends, with fields it would send.
fn server_line() -> impl Strategy<Value = Line> {
    prop_oneof![
        Just(Line::NickRequest),
        (nick(), 1usize..100_000, 1u32..10).prop_map(|(nick, online, protocol)| Line::Welcome {
            nick,
            online,
            protocol
        }),
        (room(), nick(), text()).prop_map(|(room, from, text)| Line::Message { room, from, text }),
        (nick(), nick(), text()).prop_map(|(from, to, text)| Line::Private { from, to, text }),
        (room(), nick(), text()).prop_map(|(room, from, text)| Line::Action { room, from, text }),
        (room(), nick()).prop_map(|(room, nick)| Line::Join { room, nick }),
        (room(), nick(), text()).prop_map(|(room, nick, reason)| Line::Leave {
            room,
            nick,
            reason
        }),
        (nick(), text()).prop_map(|(nick, reason)| Line::Quit { nick, reason }),
        (nick(), nick()).prop_map(|(old, new)| Line::Rename { old, new }),
        (room(), nick(), text()).prop_map(|(room, by, text)| Line::Topic { room, by, text }),
        (room(), prop::collection::vec(nick(), 0..20))
            .prop_map(|(room, nicks)| Line::Names { room, nicks }),
        (room(), 0usize..100_000, text()).prop_map(|(room, members, topic)| Line::List {
            room,
            members,
            topic
        }),
        (0usize..100_000).prop_map(|rooms| Line::ListEnd { rooms }),
        prop::option::of(room()).prop_map(|room| Line::Room { room }),
        text().prop_map(|text| Line::Info { text }),
        ("[a-z-]{1,20}", text())
            .prop_map(|(code, text)| Line::Error { code: ErrorCode::from_wire(&code), text }),
        "[0-9]{1,10}".prop_map(|token| Line::Ping { token }),
        text().prop_map(|reason| Line::Bye { reason }),
    ]
}

proptest! {
    #[test]
    fn server_lines_round_trip(event in server_line()) {
        let wire = event.encode();
        let line = std::str::from_utf8(&wire[..wire.len() - 1]).expect("utf-8");
        prop_assert!(!line.contains('\n'));
        prop_assert_eq!(Line::parse(line), Ok(event));
    }

    #[test]
    fn client_commands_round_trip(text in text(), nick in nick()) {
        for command in [
            Command::Say(text.clone()),
            Command::Say(format!("/{text}")),
            Command::Me(text.clone()),
            Command::Msg { to: nick.clone(), text: text.clone() },
            Command::Nick(nick.clone()),
            Command::Join(format!("#{nick}")),
            // Their last field is trimmed, as typed commands are.
            Command::Part { room: Some(format!("#{nick}")), reason: Some(text.trim_end().into()) },
            Command::Topic { room: Some(format!("#{nick}")), text: Some(text.trim_end().into()) },
            Command::Names(Some(format!("#{nick}"))),
        ] {
            prop_assert_eq!(Command::parse(&command.to_line()), Ok(Some(command.clone())));
        }
    }

    #[test]
    fn parsers_never_panic(line in any::<String>(), bytes in any::<Vec<u8>>()) {
        let _ = Line::parse(&line);
        let _ = Command::parse(&line);
        let _ = decode_line(&bytes);
        let _ = decode_line(line.as_bytes());
    }

    #[test]
    fn framer_never_holds_more_than_the_limit_and_loses_no_short_line(
        lines in prop::collection::vec("[a-z]{0,40}", 0..30),
        cuts in prop::collection::vec(1usize..50, 1..20),
        max in 16usize..32,
    ) {
        let input: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
        let mut framer = LineFramer::new(max);
        let mut got = Vec::new();
        let mut rest = &input[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let spare = framer.spare();
            let n = spare.len().min(rest.len()).min(*cut.next().unwrap_or(&1));
            spare[..n].copy_from_slice(&rest[..n]);
            framer.commit(n);
            rest = &rest[n..];
            while let Some(frame) = framer.next_frame() {
                got.push(match frame {
                    Frame::Line(range) => Some(String::from_utf8_lossy(&framer.bytes()[range]).into_owned()),
                    Frame::TooLong => None,
                });
            }
            prop_assert!(framer.pending() <= max + 2);
        }
        let want: Vec<Option<String>> =
            lines.iter().map(|l| (l.len() <= max).then(|| l.clone())).collect();
        prop_assert_eq!(got, want);
    }
}

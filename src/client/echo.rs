//! Knowing that a line went through: the server sends every message, action and private
//! message back to its sender, so a client that is about to leave can wait for that echo
//! and be sure nothing it sent is lost by quitting early.

use super::render::same_name;
use crate::proto::chat::{is_room_name, Command, ErrorCode, Line};

/// The server line that confirms one sent line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// Our nickname when the line was sent: the server names us so in its echo.
    from: String,
    /// What kind of line, and its text.
    kind: Kind,
}

/// The lines that are echoed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A message to a room (the one named, or the current one): `MSG #room from text`.
    Message(Option<String>, String),
    /// `/me`: `ACTION #room from text`.
    Action(String),
    /// `/msg NICK`: `PRIV from to text`, or `ERROR no-such-nick` when `to` is not online.
    Private {
        /// The recipient as we wrote it; the server may spell it differently.
        to: String,
        /// The text.
        text: String,
    },
}

impl Echo {
    /// The echo to expect for `line` sent while we are `me`; `None` for lines the server
    /// does not echo (commands such as `/names` or `/nick`).
    pub fn of(line: &str, me: &str) -> Option<Echo> {
        let kind = match Command::parse(line) {
            Ok(Some(Command::Say(text))) => Kind::Message(None, text),
            Ok(Some(Command::Me(text))) => Kind::Action(text),
            Ok(Some(Command::Msg { to, text })) if is_room_name(&to) => {
                Kind::Message(Some(to), text)
            }
            Ok(Some(Command::Msg { to, text })) => Kind::Private { to, text },
            _ => return None,
        };
        Some(Echo { from: me.to_string(), kind })
    }

    /// Whether `line` is the server's answer to the line: its echo, or the error that
    /// refused it.
    pub fn is_answered_by(&self, line: &Line) -> bool {
        let ours = |from: &str| same_name(from, &self.from);
        match (&self.kind, line) {
            (Kind::Message(want_room, want), Line::Message { room, from, text }) => {
                ours(from) && text == want && want_room.as_ref().is_none_or(|r| same_name(r, room))
            }
            (Kind::Action(want), Line::Action { from, text, .. }) => ours(from) && text == want,
            (Kind::Private { to: want_to, text: want }, Line::Private { from, to, text }) => {
                ours(from) && same_name(to, want_to) && text == want
            }
            (Kind::Private { .. }, Line::Error { code: ErrorCode::NoSuchNick, .. }) => true,
            (
                Kind::Message(..) | Kind::Action(_),
                Line::Error { code: ErrorCode::NotInRoom | ErrorCode::RoomInvalid, .. },
            ) => true,
            // Refusals of anything said: too fast, or while the cluster cannot order it.
            (
                _,
                Line::Error {
                    code: ErrorCode::RateLimited | ErrorCode::ClusterUnavailable, ..
                },
            ) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn message(room: &str, from: &str, text: &str) -> Line {
        Line::Message { room: s(room), from: s(from), text: s(text) }
    }

    #[test]
    fn messages_actions_and_private_messages_are_echoed() {
        let echo = Echo::of("hi  there", "alice").expect("echoed");
        assert!(echo.is_answered_by(&message("#a", "Alice", "hi  there")));
        assert!(!echo.is_answered_by(&message("#a", "bob", "hi  there")));
        assert!(!echo.is_answered_by(&message("#a", "alice", "hi")));

        let echo = Echo::of("//slash", "alice").expect("echoed");
        assert!(echo.is_answered_by(&message("#a", "alice", "/slash")));

        let echo = Echo::of("/msg #b to b", "alice").expect("echoed");
        assert!(echo.is_answered_by(&message("#B", "alice", "to b")));
        assert!(!echo.is_answered_by(&message("#a", "alice", "to b")));

        let echo = Echo::of("/me waves", "alice").expect("echoed");
        let action = Line::Action { room: s("#a"), from: s("alice"), text: s("waves") };
        assert!(echo.is_answered_by(&action));

        let echo = Echo::of("/msg BOB psst", "alice").expect("echoed");
        let private = Line::Private { from: s("alice"), to: s("bob"), text: s("psst") };
        assert!(echo.is_answered_by(&private));
        let absent = Line::Error { code: ErrorCode::NoSuchNick, text: s("BOB is not online") };
        assert!(echo.is_answered_by(&absent));
    }

    #[test]
    fn a_message_refused_for_want_of_a_room_is_answered_too() {
        let echo = Echo::of("hello?", "alice").expect("echoed");
        let refused = Line::Error { code: ErrorCode::NotInRoom, text: s("you are in no room") };
        assert!(echo.is_answered_by(&refused));
    }

    #[test]
    fn anything_said_too_fast_or_without_the_cluster_is_answered_by_its_refusal() {
        for said in ["hello?", "/me waves", "/msg bob psst", "/msg #a hi"] {
            let echo = Echo::of(said, "alice").expect("echoed");
            for code in [ErrorCode::RateLimited, ErrorCode::ClusterUnavailable] {
                assert!(echo.is_answered_by(&Line::Error { code, text: s("no") }), "{said}");
            }
        }
    }

    #[test]
    fn commands_are_not_echoed() {
        for line in ["/who", "/nick rob", "/help", "/pong 1", "/quit", "", "/bogus", "/join #a"] {
            assert_eq!(Echo::of(line, "alice"), None, "{line}");
        }
    }
}

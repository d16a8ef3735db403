//! Knowing that a line went through: the server sends every message, action and private
//! message back to its sender, so a client that is about to leave can wait for that echo
//! and be sure nothing it sent is lost by quitting early.

use crate::protocol::{nick_key, Command, ErrorCode, Event};

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
    /// A message: `MSG from text`.
    Message(String),
    /// `/me`: `ACTION from text`.
    Action(String),
    /// `/msg`: `PRIV from to text`, or `ERROR no-such-nick` when `to` is not online.
    Private {
        /// The recipient as we wrote it; the server may spell it differently.
        to: String,
        /// The text.
        text: String,
    },
}

impl Echo {
    /// The echo to expect for `line` sent while we are `me`; `None` for lines the server
    /// does not echo (commands such as `/who` or `/nick`).
    pub fn of(line: &str, me: &str) -> Option<Echo> {
        let kind = match Command::parse(line) {
            Ok(Some(Command::Say(text))) => Kind::Message(text),
            Ok(Some(Command::Me(text))) => Kind::Action(text),
            Ok(Some(Command::Msg { to, text })) => Kind::Private { to, text },
            _ => return None,
        };
        Some(Echo { from: me.to_string(), kind })
    }

    /// Whether `event` is the server's answer to the line.
    pub fn is_answered_by(&self, event: &Event) -> bool {
        let ours = |from: &str| nick_key(from) == nick_key(&self.from);
        match (&self.kind, event) {
            (Kind::Message(want), Event::Message { from, text }) => ours(from) && text == want,
            (Kind::Action(want), Event::Action { from, text }) => ours(from) && text == want,
            (Kind::Private { to: want_to, text: want }, Event::Private { from, to, text }) => {
                ours(from) && nick_key(to) == nick_key(want_to) && text == want
            }
            (Kind::Private { .. }, Event::Error { code: ErrorCode::NoSuchNick, .. }) => true,
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

    #[test]
    fn messages_actions_and_private_messages_are_echoed() {
        let echo = Echo::of("hi  there", "alice").expect("echoed");
        assert!(echo.is_answered_by(&Event::Message { from: s("Alice"), text: s("hi  there") }));
        assert!(!echo.is_answered_by(&Event::Message { from: s("bob"), text: s("hi  there") }));
        assert!(!echo.is_answered_by(&Event::Message { from: s("alice"), text: s("hi") }));

        let echo = Echo::of("//slash", "alice").expect("echoed");
        assert!(echo.is_answered_by(&Event::Message { from: s("alice"), text: s("/slash") }));

        let echo = Echo::of("/me waves", "alice").expect("echoed");
        assert!(echo.is_answered_by(&Event::Action { from: s("alice"), text: s("waves") }));

        let echo = Echo::of("/msg BOB psst", "alice").expect("echoed");
        let private = Event::Private { from: s("alice"), to: s("bob"), text: s("psst") };
        assert!(echo.is_answered_by(&private));
        let absent = Event::Error { code: ErrorCode::NoSuchNick, text: s("BOB is not online") };
        assert!(echo.is_answered_by(&absent));
    }

    #[test]
    fn commands_are_not_echoed() {
        for line in ["/who", "/nick rob", "/help", "/pong 1", "/quit", "", "/bogus"] {
            assert_eq!(Echo::of(line, "alice"), None, "{line}");
        }
    }
}

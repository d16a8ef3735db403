//! What the server sends: one keyword per kind of line, then its fields.

use std::fmt;
use std::io::Write as _;

use thiserror::Error;

use super::command::split_word;

/// One line from the server, as a client understands it.
///
/// Every nickname in these lines is written by the server, never copied from what a client
/// typed as message text, so nobody can make a line appear to come from someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `NICK hint`: the server asks for a nickname (the client answers with it alone).
    NickRequest,
    /// `WELCOME nick online`: registration succeeded; `online` counts everyone, you included.
    Welcome {
        /// The nickname that was granted.
        nick: String,
        /// How many people are in the room now.
        online: usize,
    },
    /// `MSG from text`: a message to the room.
    Message {
        /// Who sent it.
        from: String,
        /// What they said.
        text: String,
    },
    /// `PRIV from to text`: a private message, seen only by sender and recipient.
    Private {
        /// Who sent it.
        from: String,
        /// Who it is for.
        to: String,
        /// What they said.
        text: String,
    },
    /// `ACTION from text`: a `/me` action.
    Action {
        /// Who acted.
        from: String,
        /// The action.
        text: String,
    },
    /// `JOIN nick`: someone entered the room.
    Join {
        /// Who joined.
        nick: String,
    },
    /// `LEAVE nick reason`: someone left the room, and why.
    Leave {
        /// Who left.
        nick: String,
        /// Why: `quit`, `quit: their words`, `connection closed`, `send queue full`, ...
        reason: String,
    },
    /// `RENAME old new`: someone changed nickname.
    Rename {
        /// The nickname they had.
        old: String,
        /// The nickname they have now.
        new: String,
    },
    /// `WHO nick nick ...`: everyone online, in alphabetical order.
    Who {
        /// The nicknames.
        nicks: Vec<String>,
    },
    /// `INFO text`: a notice from the server (help text, for instance).
    Info {
        /// The notice.
        text: String,
    },
    /// `ERROR code text`: something the client sent was refused; `code` is stable.
    Error {
        /// What went wrong, for programs.
        code: ErrorCode,
        /// What went wrong, for people.
        text: String,
    },
    /// `PING token`: the server checks the client is alive; answer `/pong token`.
    Ping {
        /// Echo this back.
        token: String,
    },
    /// `BYE reason`: the server is closing this connection.
    Bye {
        /// Why it is closing.
        reason: String,
    },
}

/// The stable error codes of `ERROR` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// The nickname is in use (case-insensitively).
    NickTaken,
    /// The nickname holds characters that are not allowed, or is empty.
    NickInvalid,
    /// The nickname is longer than the limit.
    NickTooLong,
    /// The line was longer than the limit; it was dropped.
    LineTooLong,
    /// The line was not UTF-8; it was dropped.
    InvalidUtf8,
    /// The line held a control character; it was dropped.
    ControlChar,
    /// The command does not exist.
    UnknownCommand,
    /// The command lacked arguments.
    Usage,
    /// `/msg` named someone who is not online.
    NoSuchNick,
    /// The server is at its client limit.
    ServerFull,
    /// No nickname was chosen in time.
    HandshakeTimeout,
    /// Too many connections from this IP address.
    TooManyConnections,
    /// Over the flood rate: the line was dropped (a warning).
    RateLimited,
    /// Stayed over the flood rate: disconnected.
    Flood,
    /// A started line was not finished in time: disconnected.
    LineTimeout,
    /// A `PING` went unanswered: disconnected.
    PingTimeout,
    /// A code this version does not know, kept as sent.
    Other(String),
}

const CODES: &[(ErrorCode, &str)] = &[
    (ErrorCode::NickTaken, "nick-taken"),
    (ErrorCode::NickInvalid, "nick-invalid"),
    (ErrorCode::NickTooLong, "nick-too-long"),
    (ErrorCode::LineTooLong, "line-too-long"),
    (ErrorCode::InvalidUtf8, "invalid-utf8"),
    (ErrorCode::ControlChar, "control-char"),
    (ErrorCode::UnknownCommand, "unknown-command"),
    (ErrorCode::Usage, "usage"),
    (ErrorCode::NoSuchNick, "no-such-nick"),
    (ErrorCode::ServerFull, "server-full"),
    (ErrorCode::HandshakeTimeout, "handshake-timeout"),
    (ErrorCode::TooManyConnections, "too-many-connections"),
    (ErrorCode::RateLimited, "rate-limited"),
    (ErrorCode::Flood, "flood"),
    (ErrorCode::LineTimeout, "line-timeout"),
    (ErrorCode::PingTimeout, "ping-timeout"),
];

impl ErrorCode {
    /// The code as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::Other(code) => code,
            known => CODES.iter().find(|(c, _)| c == known).map_or("other", |(_, s)| s),
        }
    }

    /// Reads a code from the wire; unknown codes are kept as [`ErrorCode::Other`].
    pub fn from_wire(code: &str) -> ErrorCode {
        CODES
            .iter()
            .find(|(_, s)| *s == code)
            .map_or_else(|| ErrorCode::Other(code.to_string()), |(c, _)| c.clone())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a server line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    /// The keyword is not one of the protocol's.
    #[error("unknown server line kind {0:?}")]
    UnknownKind(String),
    /// A required field is missing or malformed.
    #[error("malformed {0} line")]
    Malformed(&'static str),
}

impl Event {
    /// Appends this event as one wire line, `\n` included.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = writeln!(out, "{self}");
    }

    /// This event as one wire line, `\n` included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    /// Reads one server line (without its `\n`).
    pub fn parse(line: &str) -> Result<Event, EventError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        let field = |name| {
            move |s: &str| (!s.is_empty()).then(|| s.to_string()).ok_or(EventError::Malformed(name))
        };
        let event = match kind {
            "NICK" => Event::NickRequest,
            "WELCOME" => {
                let (nick, rest) = split_word(rest);
                let (online, _) = split_word(rest);
                let online = online.parse().map_err(|_| EventError::Malformed("WELCOME"))?;
                Event::Welcome { nick: field("WELCOME")(nick)?, online }
            }
            "MSG" | "ACTION" => {
                let (from, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let from = field("MSG")(from)?;
                let text = text.to_string();
                if kind == "MSG" {
                    Event::Message { from, text }
                } else {
                    Event::Action { from, text }
                }
            }
            "PRIV" => {
                let (from, rest) = rest.split_once(' ').ok_or(EventError::Malformed("PRIV"))?;
                let (to, text) = rest.split_once(' ').unwrap_or((rest, ""));
                Event::Private {
                    from: field("PRIV")(from)?,
                    to: field("PRIV")(to)?,
                    text: text.to_string(),
                }
            }
            "JOIN" => Event::Join { nick: field("JOIN")(rest)? },
            "LEAVE" => {
                let (nick, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                Event::Leave { nick: field("LEAVE")(nick)?, reason: reason.to_string() }
            }
            "RENAME" => {
                let (old, new) = rest.split_once(' ').ok_or(EventError::Malformed("RENAME"))?;
                Event::Rename { old: field("RENAME")(old)?, new: field("RENAME")(new)? }
            }
            "WHO" => Event::Who {
                nicks: rest.split(' ').filter(|s| !s.is_empty()).map(String::from).collect(),
            },
            "INFO" => Event::Info { text: rest.to_string() },
            "ERROR" => {
                let (code, text) = rest.split_once(' ').unwrap_or((rest, ""));
                Event::Error {
                    code: ErrorCode::from_wire(&field("ERROR")(code)?),
                    text: text.to_string(),
                }
            }
            "PING" => Event::Ping { token: rest.to_string() },
            "BYE" => Event::Bye { reason: rest.to_string() },
            other => return Err(EventError::UnknownKind(other.chars().take(32).collect())),
        };
        Ok(event)
    }
}

impl fmt::Display for Event {
    /// The wire form, without the `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::NickRequest => write!(f, "NICK choose a nickname"),
            Event::Welcome { nick, online } => write!(f, "WELCOME {nick} {online} online"),
            Event::Message { from, text } => write!(f, "MSG {from} {text}"),
            Event::Private { from, to, text } => write!(f, "PRIV {from} {to} {text}"),
            Event::Action { from, text } => write!(f, "ACTION {from} {text}"),
            Event::Join { nick } => write!(f, "JOIN {nick}"),
            Event::Leave { nick, reason } => write!(f, "LEAVE {nick} {reason}"),
            Event::Rename { old, new } => write!(f, "RENAME {old} {new}"),
            Event::Who { nicks } => write!(f, "WHO {}", nicks.join(" ")),
            Event::Info { text } => write!(f, "INFO {text}"),
            Event::Error { code, text } => write!(f, "ERROR {code} {text}"),
            Event::Ping { token } => write!(f, "PING {token}"),
            Event::Bye { reason } => write!(f, "BYE {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn every_kind() -> Vec<Event> {
        vec![
            Event::NickRequest,
            Event::Welcome { nick: s("zoë"), online: 3 },
            Event::Message { from: s("alice"), text: s("hello  world\tand /slashes") },
            Event::Private { from: s("alice"), to: s("bob"), text: s("psst") },
            Event::Action { from: s("bob"), text: s("waves") },
            Event::Join { nick: s("carol") },
            Event::Leave { nick: s("carol"), reason: s("quit: see you") },
            Event::Rename { old: s("carol"), new: s("caroline") },
            Event::Who { nicks: vec![s("alice"), s("bob")] },
            Event::Info { text: s("/who lists people") },
            Event::Error { code: ErrorCode::NickTaken, text: s("nickname alice is taken") },
            Event::Error { code: ErrorCode::Other(s("from-the-future")), text: s("?") },
            Event::Ping { token: s("17") },
            Event::Bye { reason: s("server shutting down") },
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for event in every_kind() {
            let wire = event.encode();
            assert_eq!(wire.last(), Some(&b'\n'));
            let line = std::str::from_utf8(&wire[..wire.len() - 1]).expect("utf-8");
            assert_eq!(Event::parse(line), Ok(event.clone()), "{line}");
        }
    }

    #[test]
    fn every_error_code_round_trips() {
        for (code, text) in CODES {
            assert_eq!(code.as_str(), *text);
            assert_eq!(ErrorCode::from_wire(text), code.clone());
        }
    }

    #[test]
    fn lines_start_with_their_keyword() {
        let nick = Event::NickRequest.to_string();
        assert!(nick.starts_with("NICK"), "{nick}");
        assert_eq!(Event::Join { nick: s("a") }.to_string(), "JOIN a");
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        assert_eq!(Event::parse("HELLO x"), Err(EventError::UnknownKind(s("HELLO"))));
        assert_eq!(Event::parse("WELCOME bob many"), Err(EventError::Malformed("WELCOME")));
        assert_eq!(Event::parse("RENAME bob"), Err(EventError::Malformed("RENAME")));
        assert_eq!(Event::parse("JOIN"), Err(EventError::Malformed("JOIN")));
        assert_eq!(Event::parse("WHO"), Ok(Event::Who { nicks: vec![] }));
    }
}

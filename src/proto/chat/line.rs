//! What the server sends: one keyword per kind of line, then its fields.

use std::fmt;
use std::io::Write as _;
use std::time::SystemTime;

use thiserror::Error;

use super::command::split_word;
pub use super::error_code::ErrorCode;

/// The version of this protocol, announced in `WELCOME`. Version 1 had one room and no
/// room names in its lines; version 2 has rooms.
pub const PROTOCOL_VERSION: u32 = 2;

/// One line from the server, as a client understands it.
///
/// Every nickname in these lines is written by the server, never copied from what a client
/// typed as message text, so nobody can make a line appear to come from someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `PASS hint`: a server with a password asks for it, before `NICK`; the client
    /// answers with the password alone, and is asked again after a wrong one.
    PassRequest,
    /// `NICK hint`: the server asks for a nickname (the client answers with it alone).
    NickRequest,
    /// `WELCOME nick online online smolchat/VERSION`: registration succeeded.
    Welcome {
        /// The nickname that was granted.
        nick: String,
        /// How many people are on the server now, you included.
        online: usize,
        /// The protocol version the server speaks ([`PROTOCOL_VERSION`]).
        protocol: u32,
    },
    /// `LIMITS flood-rate=N flood-burst=M`: sent right after `WELCOME`, the limits the
    /// server holds this client to, as `key=value` words; a key a client does not know is
    /// ignored, and an old client ignores the whole line (an unknown kind).
    Limits {
        /// `flood-rate`: lines per second a client may send on average; 0 means no flood
        /// control (and so does a line without the key).
        flood_rate: u32,
        /// `flood-burst`: lines a client may send at once before the rate applies
        /// (1 when the key is missing).
        flood_burst: u32,
    },
    /// `MSG #room from text`: a message to a room.
    Message {
        /// The room it was said in.
        room: String,
        /// Who sent it.
        from: String,
        /// What they said.
        text: String,
    },
    /// `ACTION #room from text`: a `/me` action in a room.
    Action {
        /// The room it happened in.
        room: String,
        /// Who acted.
        from: String,
        /// The action.
        text: String,
    },
    /// `NOTICE #room from text`: a notice to a room (from IRC), which bots never answer.
    Notice {
        /// The room it was sent to.
        room: String,
        /// Who sent it.
        from: String,
        /// What it says.
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
    /// `PRIVACTION from to text`: a private action (an IRC user's `/me` in a query).
    PrivateAction {
        /// Who acted.
        from: String,
        /// Who it is for.
        to: String,
        /// The action.
        text: String,
    },
    /// `PRIVNOTICE from to text`: a private notice (from IRC), which bots never answer.
    PrivateNotice {
        /// Who sent it.
        from: String,
        /// Who it is for.
        to: String,
        /// What it says.
        text: String,
    },
    /// `JOIN #room nick`: someone entered a room (you too: that is your confirmation).
    Join {
        /// The room.
        room: String,
        /// Who joined.
        nick: String,
    },
    /// `LEAVE #room nick reason`: someone left a room with `/part` (you too).
    Leave {
        /// The room.
        room: String,
        /// Who left.
        nick: String,
        /// `part`, or `part: their words`.
        reason: String,
    },
    /// `QUIT nick reason`: someone you share a room with left the server; told once.
    Quit {
        /// Who left.
        nick: String,
        /// Why: `quit`, `quit: their words`, `connection closed`, `send queue full`, ...
        reason: String,
    },
    /// `RENAME old new`: someone you share a room with (or you) changed nickname; told once.
    Rename {
        /// The nickname they had.
        old: String,
        /// The nickname they have now.
        new: String,
    },
    /// `TOPIC #room by text`: a room's topic, set by `by`; empty text means none.
    Topic {
        /// The room.
        room: String,
        /// Who set it.
        by: String,
        /// The topic.
        text: String,
    },
    /// `NAMES #room nick nick ...`: who is in a room, in alphabetical order.
    Names {
        /// The room.
        room: String,
        /// The nicknames.
        nicks: Vec<String>,
    },
    /// `ONLINE nick nick ...`: those of an `/ison`'s nicknames who are online, spelled as
    /// they are now; none, if nobody is.
    Online {
        /// The nicknames online.
        nicks: Vec<String>,
    },
    /// `LIST #room members topic`: one room of a `/list`.
    List {
        /// The room.
        room: String,
        /// How many people are in it.
        members: usize,
        /// Its topic; empty if none.
        topic: String,
    },
    /// `LISTEND count`: the end of a `/list`, with how many rooms it held.
    ListEnd {
        /// How many `LIST` lines came before.
        rooms: usize,
    },
    /// `ROOM #room`: plain text now goes to this room; `ROOM` alone: you are in no room.
    Room {
        /// The current room, if any.
        room: Option<String>,
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
    /// `HISTORY time line`: something said before, replayed: `line` is the `MSG`,
    /// `ACTION`, `PRIV` or `PRIVACTION` as it was sent then, `time` when the server took it.
    History {
        /// When it was said (RFC 3339, UTC, to the millisecond on the wire).
        at: SystemTime,
        /// The line as it was sent live.
        line: Box<Line>,
    },
    /// `HISTORYEND #room|nick count`: the end of a replay of a room's or a private
    /// conversation's history; what follows is live.
    HistoryEnd {
        /// The room, or the other person of a private conversation.
        of: String,
        /// How many `HISTORY` lines came before.
        count: usize,
    },
    /// `KICK #room nick by reason`: the owner of a registered room removed someone (you,
    /// if `nick` is yours: you are no longer in the room).
    Kick {
        /// The room.
        room: String,
        /// Who was removed.
        nick: String,
        /// The room's owner, who removed them.
        by: String,
        /// Why; may be empty.
        reason: String,
    },
    /// `IDENTIFY nick seconds hint`: your nickname is registered; `/identify PASSWORD`
    /// within `seconds`, or you are renamed to a guest name.
    Identify {
        /// The registered nickname.
        nick: String,
        /// How long you have.
        seconds: u64,
    },
    /// `ACCOUNT nick`: you are identified as the account `nick`; `ACCOUNT` alone: you are
    /// identified as nobody any more.
    Account {
        /// The account's nickname, if any.
        nick: Option<String>,
    },
}

/// Why a server line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    /// The keyword is not one of the protocol's.
    #[error("unknown server line kind {0:?}")]
    UnknownKind(String),
    /// A required field is missing or malformed.
    #[error("malformed {0} line")]
    Malformed(&'static str),
}

impl Line {
    /// Appends this line to `out`, `\n` included.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = writeln!(out, "{self}");
    }

    /// This line as bytes, `\n` included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    /// Reads one server line (without its `\n`).
    pub fn parse(line: &str) -> Result<Line, LineError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        let fields = Fields { kind: keyword(kind), rest };
        let parsed = match kind {
            "PASS" => Line::PassRequest,
            "NICK" => Line::NickRequest,
            "WELCOME" => fields.welcome()?,
            "LIMITS" => fields.limits()?,
            "MSG" => {
                let (room, from, text) = fields.room_nick_text()?;
                Line::Message { room, from, text }
            }
            "ACTION" => {
                let (room, from, text) = fields.room_nick_text()?;
                Line::Action { room, from, text }
            }
            "NOTICE" => {
                let (room, from, text) = fields.room_nick_text()?;
                Line::Notice { room, from, text }
            }
            "PRIV" => {
                let (from, to, text) = fields.word_word_text()?;
                Line::Private { from, to, text }
            }
            "PRIVACTION" => {
                let (from, to, text) = fields.word_word_text()?;
                Line::PrivateAction { from, to, text }
            }
            "PRIVNOTICE" => {
                let (from, to, text) = fields.word_word_text()?;
                Line::PrivateNotice { from, to, text }
            }
            "JOIN" => {
                let (room, nick) = fields.two_words()?;
                Line::Join { room, nick }
            }
            "LEAVE" => {
                let (room, nick, reason) = fields.room_nick_text()?;
                Line::Leave { room, nick, reason }
            }
            "QUIT" => {
                let (nick, reason) = fields.word_text()?;
                Line::Quit { nick, reason }
            }
            "RENAME" => {
                let (old, new) = fields.two_words()?;
                Line::Rename { old, new }
            }
            "TOPIC" => {
                let (room, by, text) = fields.room_nick_text()?;
                Line::Topic { room, by, text }
            }
            "NAMES" => fields.names()?,
            "ONLINE" => Line::Online { nicks: fields.words() },
            "LIST" => fields.list()?,
            "LISTEND" => Line::ListEnd { rooms: fields.number(rest)? },
            "ROOM" => Line::Room { room: (!rest.is_empty()).then(|| rest.to_string()) },
            "INFO" => Line::Info { text: rest.to_string() },
            "ERROR" => {
                let (code, text) = fields.word_text()?;
                Line::Error { code: ErrorCode::from_wire(&code), text }
            }
            "PING" => Line::Ping { token: rest.to_string() },
            "BYE" => Line::Bye { reason: rest.to_string() },
            "HISTORY" => fields.history()?,
            "HISTORYEND" => {
                let (of, count) = fields.two_words()?;
                Line::HistoryEnd { of, count: fields.number(&count)? }
            }
            "KICK" => {
                let (room, rest) = rest.split_once(' ').ok_or_else(|| fields.malformed())?;
                let (nick, by, reason) = Fields { kind: "KICK", rest }.word_word_text()?;
                Line::Kick { room: fields.word(room)?, nick, by, reason }
            }
            "IDENTIFY" => {
                let (nick, rest) = split_word(rest);
                let (seconds, _) = split_word(rest);
                Line::Identify { nick: fields.word(nick)?, seconds: fields.number(seconds)? as u64 }
            }
            "ACCOUNT" => Line::Account { nick: (!rest.is_empty()).then(|| rest.to_string()) },
            other => return Err(LineError::UnknownKind(other.chars().take(32).collect())),
        };
        Ok(parsed)
    }
}

/// The keyword as a static name for errors; unknown ones never reach [`Fields`].
fn keyword(kind: &str) -> &'static str {
    const KINDS: &[&str] = &[
        "WELCOME",
        "LIMITS",
        "MSG",
        "ACTION",
        "PRIV",
        "JOIN",
        "LEAVE",
        "QUIT",
        "RENAME",
        "TOPIC",
        "NAMES",
        "ONLINE",
        "LIST",
        "LISTEND",
        "ERROR",
        "HISTORY",
        "HISTORYEND",
        "KICK",
        "IDENTIFY",
    ];
    KINDS.iter().find(|k| **k == kind).copied().unwrap_or("server")
}

/// The fields after a line's keyword, taken apart in the shapes the lines have.
struct Fields<'a> {
    /// The keyword, for the error.
    kind: &'static str,
    /// Everything after it.
    rest: &'a str,
}

impl Fields<'_> {
    fn malformed(&self) -> LineError {
        LineError::Malformed(self.kind)
    }

    /// A non-empty word, or the malformed error.
    fn word(&self, word: &str) -> Result<String, LineError> {
        (!word.is_empty()).then(|| word.to_string()).ok_or_else(|| self.malformed())
    }

    fn number(&self, word: &str) -> Result<usize, LineError> {
        word.parse().map_err(|_| self.malformed())
    }

    /// `word text...` where the text may be empty or hold spaces.
    fn word_text(&self) -> Result<(String, String), LineError> {
        let (word, text) = self.rest.split_once(' ').unwrap_or((self.rest, ""));
        Ok((self.word(word)?, text.to_string()))
    }

    /// `word word text...`.
    fn word_word_text(&self) -> Result<(String, String, String), LineError> {
        let (first, rest) = self.rest.split_once(' ').ok_or_else(|| self.malformed())?;
        let (second, text) = rest.split_once(' ').unwrap_or((rest, ""));
        Ok((self.word(first)?, self.word(second)?, text.to_string()))
    }

    /// `#room nick text...`.
    fn room_nick_text(&self) -> Result<(String, String, String), LineError> {
        self.word_word_text()
    }

    /// Exactly two words.
    fn two_words(&self) -> Result<(String, String), LineError> {
        let (first, second) = self.rest.split_once(' ').ok_or_else(|| self.malformed())?;
        if second.contains(' ') {
            return Err(self.malformed());
        }
        Ok((self.word(first)?, self.word(second)?))
    }

    fn welcome(&self) -> Result<Line, LineError> {
        let (nick, rest) = split_word(self.rest);
        let (online, rest) = split_word(rest);
        let (_, rest) = split_word(rest);
        let (version, _) = split_word(rest);
        // A server of version 1 sent no version.
        let protocol = match version.strip_prefix("smolchat/") {
            Some(number) => number.parse().map_err(|_| self.malformed())?,
            None => 1,
        };
        Ok(Line::Welcome { nick: self.word(nick)?, online: self.number(online)?, protocol })
    }

    /// `key=value ...`: the limits a client is held to; unknown keys are skipped, with or
    /// without a value, so a later server may say more, in any shape.
    fn limits(&self) -> Result<Line, LineError> {
        let (mut flood_rate, mut flood_burst) = (0, 1);
        for word in self.rest.split(' ').filter(|word| !word.is_empty()) {
            let (key, value) = word.split_once('=').unwrap_or((word, ""));
            let number = || value.parse::<u32>().map_err(|_| self.malformed());
            match key {
                "flood-rate" => flood_rate = number()?,
                "flood-burst" => flood_burst = number()?,
                _ => {}
            }
        }
        Ok(Line::Limits { flood_rate, flood_burst })
    }

    /// `time line...`: a replayed line and when it was said.
    fn history(&self) -> Result<Line, LineError> {
        let (time, line) = split_word(self.rest);
        let at = humantime::parse_rfc3339(time).map_err(|_| self.malformed())?;
        // Only talk is replayed; checked before parsing, so that a hostile server cannot
        // nest `HISTORY` lines until the parser runs out of stack.
        const REPLAYED: &[&str] = &["MSG", "ACTION", "NOTICE", "PRIV", "PRIVACTION", "PRIVNOTICE"];
        if !REPLAYED.contains(&split_word(line).0) {
            return Err(self.malformed());
        }
        let line = Line::parse(line).map_err(|_| self.malformed())?;
        Ok(Line::History { at, line: Box::new(line) })
    }

    /// Every word of the rest, in order.
    fn words(&self) -> Vec<String> {
        self.rest.split(' ').filter(|s| !s.is_empty()).map(String::from).collect()
    }

    fn names(&self) -> Result<Line, LineError> {
        let (room, rest) = split_word(self.rest);
        let nicks = rest.split(' ').filter(|s| !s.is_empty()).map(String::from).collect();
        Ok(Line::Names { room: self.word(room)?, nicks })
    }

    fn list(&self) -> Result<Line, LineError> {
        let (room, rest) = self.rest.split_once(' ').ok_or_else(|| self.malformed())?;
        let (members, topic) = rest.split_once(' ').unwrap_or((rest, ""));
        let members = self.number(members)?;
        Ok(Line::List { room: self.word(room)?, members, topic: topic.to_string() })
    }
}

impl fmt::Display for Line {
    /// The wire form, without the `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::PassRequest => write!(f, "PASS enter the server password"),
            Line::NickRequest => write!(f, "NICK choose a nickname"),
            Line::Welcome { nick, online, protocol } => {
                write!(f, "WELCOME {nick} {online} online smolchat/{protocol}")
            }
            Line::Limits { flood_rate, flood_burst } => {
                write!(f, "LIMITS flood-rate={flood_rate} flood-burst={flood_burst}")
            }
            Line::Message { room, from, text } => write!(f, "MSG {room} {from} {text}"),
            Line::Action { room, from, text } => write!(f, "ACTION {room} {from} {text}"),
            Line::Notice { room, from, text } => write!(f, "NOTICE {room} {from} {text}"),
            Line::Private { from, to, text } => write!(f, "PRIV {from} {to} {text}"),
            Line::PrivateAction { from, to, text } => write!(f, "PRIVACTION {from} {to} {text}"),
            Line::PrivateNotice { from, to, text } => write!(f, "PRIVNOTICE {from} {to} {text}"),
            Line::Join { room, nick } => write!(f, "JOIN {room} {nick}"),
            Line::Leave { room, nick, reason } => write!(f, "LEAVE {room} {nick} {reason}"),
            Line::Quit { nick, reason } => write!(f, "QUIT {nick} {reason}"),
            Line::Rename { old, new } => write!(f, "RENAME {old} {new}"),
            Line::Topic { room, by, text } => write!(f, "TOPIC {room} {by} {text}"),
            Line::Names { room, nicks } => write!(f, "NAMES {room} {}", nicks.join(" ")),
            Line::Online { nicks } if nicks.is_empty() => write!(f, "ONLINE"),
            Line::Online { nicks } => write!(f, "ONLINE {}", nicks.join(" ")),
            Line::List { room, members, topic } => write!(f, "LIST {room} {members} {topic}"),
            Line::ListEnd { rooms } => write!(f, "LISTEND {rooms}"),
            Line::Room { room: Some(room) } => write!(f, "ROOM {room}"),
            Line::Room { room: None } => write!(f, "ROOM"),
            Line::Info { text } => write!(f, "INFO {text}"),
            Line::Error { code, text } => write!(f, "ERROR {code} {text}"),
            Line::Ping { token } => write!(f, "PING {token}"),
            Line::Bye { reason } => write!(f, "BYE {reason}"),
            Line::History { at, line } => {
                write!(f, "HISTORY {} {line}", crate::proto::time::rfc3339_millis(*at))
            }
            Line::HistoryEnd { of, count } => write!(f, "HISTORYEND {of} {count}"),
            Line::Kick { room, nick, by, reason } => write!(f, "KICK {room} {nick} {by} {reason}"),
            Line::Identify { nick, seconds } => write!(
                f,
                "IDENTIFY {nick} {seconds} {nick} is registered: /identify PASSWORD within {seconds} s, or you will be renamed"
            ),
            Line::Account { nick: Some(nick) } => write!(f, "ACCOUNT {nick}"),
            Line::Account { nick: None } => write!(f, "ACCOUNT"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn every_kind() -> Vec<Line> {
        vec![
            Line::PassRequest,
            Line::NickRequest,
            Line::Welcome { nick: s("zoë"), online: 3, protocol: PROTOCOL_VERSION },
            Line::Limits { flood_rate: 10, flood_burst: 20 },
            Line::Limits { flood_rate: 0, flood_burst: 1 },
            Line::Message { room: s("#a"), from: s("alice"), text: s("hello  world\tand /x") },
            Line::Message { room: s("#a"), from: s("alice"), text: s("") },
            Line::Private { from: s("alice"), to: s("bob"), text: s("psst") },
            Line::Action { room: s("#a"), from: s("bob"), text: s("waves") },
            Line::Join { room: s("#lobby"), nick: s("carol") },
            Line::Leave { room: s("#a"), nick: s("carol"), reason: s("part: see you") },
            Line::Quit { nick: s("carol"), reason: s("quit: see you") },
            Line::Quit { nick: s("carol"), reason: s("") },
            Line::Rename { old: s("carol"), new: s("caroline") },
            Line::Topic { room: s("#a"), by: s("alice"), text: s("all  about a") },
            Line::Topic { room: s("#a"), by: s("alice"), text: s("") },
            Line::Names { room: s("#a"), nicks: vec![s("alice"), s("bob")] },
            Line::Names { room: s("#a"), nicks: vec![] },
            Line::Online { nicks: vec![s("ann"), s("Bob")] },
            Line::Online { nicks: vec![] },
            Line::List { room: s("#a"), members: 2, topic: s("all about a") },
            Line::List { room: s("#b"), members: 1, topic: s("") },
            Line::ListEnd { rooms: 2 },
            Line::Room { room: Some(s("#a")) },
            Line::Room { room: None },
            Line::Info { text: s("/who lists people") },
            Line::Error { code: ErrorCode::NickTaken, text: s("nickname alice is taken") },
            Line::Error { code: ErrorCode::Other(s("from-the-future")), text: s("?") },
            Line::Ping { token: s("17") },
            Line::Bye { reason: s("server shutting down") },
            Line::History {
                at: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_764_487_838_123),
                line: Box::new(Line::Message { room: s("#a"), from: s("ann"), text: s("hi  x") }),
            },
            Line::HistoryEnd { of: s("#a"), count: 50 },
            Line::Kick { room: s("#a"), nick: s("bob"), by: s("ann"), reason: s("be  nice") },
            Line::Kick { room: s("#a"), nick: s("bob"), by: s("ann"), reason: s("") },
            Line::Identify { nick: s("ann"), seconds: 30 },
            Line::Account { nick: Some(s("ann")) },
            Line::Account { nick: None },
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for line in every_kind() {
            let wire = line.encode();
            assert_eq!(wire.last(), Some(&b'\n'));
            let text = std::str::from_utf8(&wire[..wire.len() - 1]).expect("utf-8");
            assert_eq!(Line::parse(text), Ok(line.clone()), "{text}");
        }
    }

    #[test]
    fn welcome_names_the_protocol_and_a_version_one_welcome_still_reads() {
        let line = Line::Welcome { nick: s("a"), online: 1, protocol: PROTOCOL_VERSION };
        assert_eq!(line.to_string(), "WELCOME a 1 online smolchat/2");
        assert_eq!(
            Line::parse("WELCOME a 5 online"),
            Ok(Line::Welcome { nick: s("a"), online: 5, protocol: 1 })
        );
    }

    #[test]
    fn limits_skip_keys_they_do_not_know() {
        let line = Line::Limits { flood_rate: 10, flood_burst: 20 };
        assert_eq!(line.to_string(), "LIMITS flood-rate=10 flood-burst=20");
        let later = "LIMITS max-line=8192 flood-burst=5 flood-rate=2 colour=yes quiet";
        assert_eq!(Line::parse(later), Ok(Line::Limits { flood_rate: 2, flood_burst: 5 }));
        assert_eq!(Line::parse("LIMITS"), Ok(Line::Limits { flood_rate: 0, flood_burst: 1 }));
        assert_eq!(Line::parse("LIMITS flood-rate"), Err(LineError::Malformed("LIMITS")));
        assert_eq!(Line::parse("LIMITS flood-rate=x"), Err(LineError::Malformed("LIMITS")));
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        assert_eq!(Line::parse("HELLO x"), Err(LineError::UnknownKind(s("HELLO"))));
        assert_eq!(Line::parse("WELCOME bob many"), Err(LineError::Malformed("WELCOME")));
        assert_eq!(Line::parse("RENAME bob"), Err(LineError::Malformed("RENAME")));
        assert_eq!(Line::parse("JOIN"), Err(LineError::Malformed("JOIN")));
        assert_eq!(Line::parse("JOIN #a"), Err(LineError::Malformed("JOIN")));
        assert_eq!(Line::parse("MSG #a"), Err(LineError::Malformed("MSG")));
        assert_eq!(Line::parse("LIST #a many"), Err(LineError::Malformed("LIST")));
        assert_eq!(Line::parse("NAMES"), Err(LineError::Malformed("NAMES")));
        let nested = "HISTORY 2026-11-30T07:30:38.123Z ".repeat(40_000) + "MSG #a b c";
        assert_eq!(Line::parse(&nested), Err(LineError::Malformed("HISTORY")));
        let joined = "HISTORY 2026-11-30T07:30:38.123Z JOIN #a b";
        assert_eq!(Line::parse(joined), Err(LineError::Malformed("HISTORY")));
    }
}

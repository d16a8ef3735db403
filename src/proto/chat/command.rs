//! What a registered client may send: a plain line is a message to its current room, `/`
//! starts a command.

use thiserror::Error;

/// One line from a registered client, as the server understands it. Its `Debug` form
/// never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    /// A message to the current room (a plain line, or `//text` for a literal `/text`).
    Say(String),
    /// `/me action`: an action in the current room, shown as `* nick action`.
    Me(String),
    /// `/msg TARGET text`: a private message to a person, or a message to one of your rooms.
    Msg {
        /// A nickname, or a room name (starting with `#`).
        to: String,
        /// What to tell them.
        text: String,
    },
    /// `/join #room`: enter a room (creating it if needed) and make it the current room.
    Join(String),
    /// `/part [#room] [reason]`: leave a room, the current one by default.
    Part {
        /// The room; `None` is the current room.
        room: Option<String>,
        /// Their parting words, if any.
        reason: Option<String>,
    },
    /// `/list`: the rooms, with how many people are in each and their topics.
    List,
    /// `/topic [#room] [text]`: show a room's topic, or set it (`-` clears it).
    Topic {
        /// The room; `None` is the current room.
        room: Option<String>,
        /// The new topic; `None` asks for the current one.
        text: Option<String>,
    },
    /// `/names [#room]` (or `/who`): who is in a room, the current one by default.
    Names(Option<String>),
    /// `/ison NICK...`: which of these are online, anywhere on the server.
    Ison(Vec<String>),
    /// `/nick NEW`: change nickname.
    Nick(String),
    /// `/quit [reason]`: leave the server.
    Quit(Option<String>),
    /// `/help`: list the commands.
    Help,
    /// `/pong TOKEN`: the automatic answer to a server `PING`.
    Pong(String),
    /// `/register PASSWORD`: registers your nickname as an account.
    Register(String),
    /// `/identify [NICK] PASSWORD`: proves you own an account (your nickname's, or
    /// NICK's, which you then take).
    Identify {
        /// The account's nickname; `None` is your own.
        nick: Option<String>,
        /// Its password.
        password: String,
    },
    /// `/drop`: unregisters the account you identified as.
    Drop,
    /// `/register-room [#room]`: registers a room (the current one by default) to your
    /// account, making you its owner.
    RegisterRoom(Option<String>),
    /// `/drop-room [#room]`: drops the registration of a room your account owns (the
    /// current one by default).
    DropRoom(Option<String>),
    /// `/kick [#room] NICK [reason]`: the owner of a registered room removes someone.
    Kick {
        /// The room; `None` is the current room.
        room: Option<String>,
        /// Who to remove.
        nick: String,
        /// Why, if said.
        reason: Option<String>,
    },
    /// `/history [#room|NICK] [N]`: the last N messages of a room (the current one by
    /// default) or of a private conversation.
    History {
        /// A room, or a nickname; `None` is the current room.
        of: Option<String>,
        /// How many; `None` is the server's default.
        count: Option<usize>,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Register(_) => f.write_str("Register(<redacted>)"),
            Command::Identify { nick, .. } => {
                f.debug_struct("Identify").field("nick", nick).finish_non_exhaustive()
            }
            // The rest hold nothing secret; shown as their line.
            other => write!(f, "Command({:?})", other.to_line()),
        }
    }
}

/// Why a line starting with `/` was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The command name is not one the server knows.
    #[error("unknown command /{0}; /help lists the commands")]
    Unknown(String),
    /// A known command with missing or extra arguments.
    #[error("usage: {0}")]
    Usage(&'static str),
}

/// The server's `/help` text, one entry per line.
pub const HELP: &[&str] = &[
    "text                  send text to your current room (//text sends a line starting with /)",
    "/join #room           enter a room (made if it does not exist) and talk there",
    "/part [#room] [why]   leave a room (your current one by default)",
    "/list                 list the rooms with their people and topics",
    "/topic [#room] [text] show or set a room's topic (- clears it)",
    "/names [#room]        who is in a room (also /who)",
    "/ison NICK...         which of these are online",
    "/msg NICK text        send a private message (/msg #room text talks in one of your rooms)",
    "/me action            describe an action",
    "/nick NEW             change your nickname",
    "/quit [reason]        leave",
    "/history [#room|NICK] [N]  the last N messages of a room, or with a registered NICK",
    "/register PASSWORD    register your nickname (then only you may use it)",
    "/identify [NICK] PASS prove it is yours (NICK's, which you then take)",
    "/drop                 unregister the nickname you identified as",
    "/register-room [#room] own a room: only you set its topic and /kick",
    "/drop-room [#room]    give up owning a room",
    "/kick [#room] NICK [why] remove someone from a room you own",
    "/help                 show this list",
];

/// True for words that name a room rather than a person.
pub fn is_room_name(word: &str) -> bool {
    word.starts_with('#')
}

impl Command {
    /// Parses one line of text. `None` means the line is empty and is ignored.
    pub fn parse(line: &str) -> Result<Option<Command>, CommandError> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        let Some(rest) = line.strip_prefix('/') else {
            return Ok(Some(Command::Say(line.to_string())));
        };
        if rest.starts_with('/') {
            return Ok(Some(Command::Say(rest.to_string())));
        }
        let (name, args) = split_word(rest);
        parse_named(name, args).map(Some)
    }

    /// The line a client sends for this command (without the `\n`).
    pub fn to_line(&self) -> String {
        match self {
            Command::Say(text) if text.starts_with('/') => format!("/{text}"),
            Command::Say(text) => text.clone(),
            Command::Me(text) => format!("/me {text}"),
            Command::Msg { to, text } => format!("/msg {to} {text}"),
            Command::Join(room) => format!("/join {room}"),
            Command::Part { room, reason } => with_args("/part", &[room, reason]),
            Command::List => "/list".to_string(),
            Command::Topic { room, text } => with_args("/topic", &[room, text]),
            Command::Names(room) => with_args("/names", &[room]),
            Command::Ison(nicks) => format!("/ison {}", nicks.join(" ")),
            Command::Nick(nick) => format!("/nick {nick}"),
            Command::Quit(reason) => with_args("/quit", &[reason]),
            Command::Help => "/help".to_string(),
            Command::Pong(token) => format!("/pong {token}"),
            Command::Register(password) => format!("/register {password}"),
            Command::Identify { nick, password } => {
                with_args("/identify", &[nick, &Some(password.clone())])
            }
            Command::Drop => "/drop".to_string(),
            Command::RegisterRoom(room) => with_args("/register-room", &[room]),
            Command::DropRoom(room) => with_args("/drop-room", &[room]),
            Command::Kick { room, nick, reason } => {
                with_args("/kick", &[room, &Some(nick.clone()), reason])
            }
            Command::History { of, count } => {
                with_args("/history", &[of, &count.map(|n| n.to_string())])
            }
        }
    }
}

/// The most nicknames one `/ison` asks about: an answer stays one short line.
pub const MAX_ISON: usize = 20;

/// `name` followed by each argument that is present.
fn with_args(name: &str, args: &[&Option<String>]) -> String {
    let mut line = name.to_string();
    for arg in args.iter().filter_map(|arg| arg.as_deref()) {
        line.push(' ');
        line.push_str(arg);
    }
    line
}

fn parse_named(name: &str, args: &str) -> Result<Command, CommandError> {
    let command = match name.to_ascii_lowercase().as_str() {
        "msg" => {
            let (to, text) = split_word(args);
            if to.is_empty() || text.trim().is_empty() {
                return Err(CommandError::Usage("/msg NICK text"));
            }
            Command::Msg { to: to.to_string(), text: text.to_string() }
        }
        "me" if !args.trim().is_empty() => Command::Me(args.to_string()),
        "me" => return Err(CommandError::Usage("/me action")),
        "join" => Command::Join(one_word(args).ok_or(CommandError::Usage("/join #room"))?),
        "part" => {
            let (room, reason) = room_and_rest(args);
            Command::Part { room, reason }
        }
        "list" => Command::List,
        "topic" => {
            let (room, text) = room_and_rest(args);
            Command::Topic { room, text }
        }
        "names" | "who" => {
            let (room, rest) = room_and_rest(args);
            if rest.is_some() {
                return Err(CommandError::Usage("/names [#room]"));
            }
            Command::Names(room)
        }
        "ison" => {
            let nicks: Vec<String> = args.split_whitespace().map(String::from).collect();
            if nicks.is_empty() || nicks.len() > MAX_ISON {
                return Err(CommandError::Usage("/ison NICK... (at most 20)"));
            }
            Command::Ison(nicks)
        }
        "nick" => Command::Nick(one_word(args).ok_or(CommandError::Usage("/nick NEW"))?),
        "quit" => Command::Quit(non_blank(args)),
        "help" => Command::Help,
        "pong" => Command::Pong(args.trim().to_string()),
        "register" => {
            Command::Register(one_word(args).ok_or(CommandError::Usage("/register PASSWORD"))?)
        }
        "identify" => identify(args)?,
        "drop" if args.trim().is_empty() => Command::Drop,
        "drop" => return Err(CommandError::Usage("/drop")),
        "register-room" => match room_and_rest(args) {
            (room, None) => Command::RegisterRoom(room),
            _ => return Err(CommandError::Usage("/register-room [#room]")),
        },
        "drop-room" => match room_and_rest(args) {
            (room, None) => Command::DropRoom(room),
            _ => return Err(CommandError::Usage("/drop-room [#room]")),
        },
        "kick" => kick(args)?,
        "history" => history(args)?,
        _ => return Err(CommandError::Unknown(name.to_string())),
    };
    Ok(command)
}

/// `/identify [NICK] PASSWORD`.
fn identify(args: &str) -> Result<Command, CommandError> {
    let usage = CommandError::Usage("/identify [NICK] PASSWORD");
    let (first, rest) = split_word(args);
    let (second, extra) = split_word(rest);
    match (first.is_empty(), second.is_empty(), extra.trim().is_empty()) {
        (false, true, _) => Ok(Command::Identify { nick: None, password: first.to_string() }),
        (false, false, true) => {
            Ok(Command::Identify { nick: Some(first.to_string()), password: second.to_string() })
        }
        _ => Err(usage),
    }
}

/// `/kick [#room] NICK [reason]`.
fn kick(args: &str) -> Result<Command, CommandError> {
    let (room, rest) = room_and_rest(args);
    let rest = rest.unwrap_or_default();
    let (nick, reason) = split_word(&rest);
    if nick.is_empty() || is_room_name(nick) {
        return Err(CommandError::Usage("/kick [#room] NICK [reason]"));
    }
    Ok(Command::Kick { room, nick: nick.to_string(), reason: non_blank(reason) })
}

/// `/history [#room|NICK] [N]`.
fn history(args: &str) -> Result<Command, CommandError> {
    let usage = CommandError::Usage("/history [#room|NICK] [N]");
    let words: Vec<&str> = args.split_whitespace().collect();
    let number = |word: &str| word.parse::<usize>().ok().filter(|n| *n > 0);
    // A word of digits alone is a count, even one that is not a count (`0`): taken for a
    // nickname, it would be answered as a private conversation nobody asked for.
    let is_count = |word: &str| word.bytes().all(|byte| byte.is_ascii_digit());
    let (of, count) = match words.as_slice() {
        [] => (None, None),
        [one] if is_count(one) => (None, Some(number(one).ok_or(usage)?)),
        [one] => (Some(one.to_string()), None),
        [of, n] => (Some(of.to_string()), Some(number(n).ok_or(usage)?)),
        _ => return Err(usage),
    };
    Ok(Command::History { of, count })
}

/// An optional leading room name, then the rest (if not blank).
fn room_and_rest(args: &str) -> (Option<String>, Option<String>) {
    let (first, rest) = split_word(args);
    if is_room_name(first) {
        (Some(first.to_string()), non_blank(rest))
    } else {
        (None, non_blank(args))
    }
}

/// The text, trimmed, unless there is none.
fn non_blank(text: &str) -> Option<String> {
    Some(text.trim()).filter(|text| !text.is_empty()).map(String::from)
}

/// Splits off the first space-separated word; the rest keeps its inner spacing.
pub(crate) fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches(' ');
    match text.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (text, ""),
    }
}

/// The single argument of a command such as `/nick`, if exactly one was given.
fn one_word(args: &str) -> Option<String> {
    let (word, rest) = split_word(args);
    (!word.is_empty() && rest.trim().is_empty()).then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Option<Command>, CommandError> {
        Command::parse(line)
    }

    fn s(text: &str) -> Option<String> {
        Some(text.to_string())
    }

    #[test]
    fn plain_lines_are_messages_and_blank_lines_are_ignored() {
        assert_eq!(parse("hello  there"), Ok(Some(Command::Say("hello  there".into()))));
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("   \t"), Ok(None));
    }

    #[test]
    fn double_slash_sends_a_literal_slash() {
        assert_eq!(parse("//shrug"), Ok(Some(Command::Say("/shrug".into()))));
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(parse("/nick bob"), Ok(Some(Command::Nick("bob".into()))));
        assert_eq!(parse("/WHO"), Ok(Some(Command::Names(None))));
        assert_eq!(parse("/names #rust"), Ok(Some(Command::Names(s("#rust")))));
        let asked = vec!["ann".to_string(), "bob".to_string()];
        assert_eq!(parse("/ison ann  bob"), Ok(Some(Command::Ison(asked))));
        assert!(parse("/ison").is_err());
        assert!(parse(&format!("/ison {}", "a ".repeat(MAX_ISON + 1))).is_err());
        assert_eq!(
            parse("/msg bob hi  there"),
            Ok(Some(Command::Msg { to: "bob".into(), text: "hi  there".into() }))
        );
        assert_eq!(parse("/me waves"), Ok(Some(Command::Me("waves".into()))));
        assert_eq!(parse("/join #rust"), Ok(Some(Command::Join("#rust".into()))));
        assert_eq!(parse("/quit"), Ok(Some(Command::Quit(None))));
        assert_eq!(parse("/quit see you"), Ok(Some(Command::Quit(s("see you")))));
        assert_eq!(parse("/list"), Ok(Some(Command::List)));
        assert_eq!(parse("/help"), Ok(Some(Command::Help)));
        assert_eq!(parse("/pong 7"), Ok(Some(Command::Pong("7".into()))));
    }

    #[test]
    fn part_and_topic_take_an_optional_room_first() {
        assert_eq!(parse("/part"), Ok(Some(Command::Part { room: None, reason: None })));
        assert_eq!(
            parse("/part #rust  off to bed "),
            Ok(Some(Command::Part { room: s("#rust"), reason: s("off to bed") }))
        );
        assert_eq!(
            parse("/part bored now"),
            Ok(Some(Command::Part { room: None, reason: s("bored now") }))
        );
        assert_eq!(parse("/topic"), Ok(Some(Command::Topic { room: None, text: None })));
        assert_eq!(parse("/topic #a"), Ok(Some(Command::Topic { room: s("#a"), text: None })));
        assert_eq!(
            parse("/topic #a all  about a"),
            Ok(Some(Command::Topic { room: s("#a"), text: s("all  about a") }))
        );
        assert_eq!(
            parse("/topic about here"),
            Ok(Some(Command::Topic { room: None, text: s("about here") }))
        );
    }

    #[test]
    fn missing_arguments_are_usage_errors() {
        assert_eq!(parse("/nick"), Err(CommandError::Usage("/nick NEW")));
        assert_eq!(parse("/nick a b"), Err(CommandError::Usage("/nick NEW")));
        assert_eq!(parse("/msg bob"), Err(CommandError::Usage("/msg NICK text")));
        assert_eq!(parse("/me "), Err(CommandError::Usage("/me action")));
        assert_eq!(parse("/join"), Err(CommandError::Usage("/join #room")));
        assert_eq!(parse("/join #a #b"), Err(CommandError::Usage("/join #room")));
        assert_eq!(parse("/names #a b"), Err(CommandError::Usage("/names [#room]")));
        assert_eq!(parse("/names bob"), Err(CommandError::Usage("/names [#room]")));
    }

    #[test]
    fn debug_output_never_shows_a_password() {
        let shown = format!(
            "{:?} {:?}",
            Command::Register("hunter22".into()),
            Command::Identify { nick: s("ann"), password: "hunter22".into() }
        );
        assert!(!shown.contains("hunter22"), "{shown}");
        assert_eq!(format!("{:?}", Command::List), "Command(\"/list\")");
    }

    #[test]
    fn account_commands_need_their_arguments() {
        assert_eq!(parse("/register"), Err(CommandError::Usage("/register PASSWORD")));
        assert_eq!(parse("/register a b"), Err(CommandError::Usage("/register PASSWORD")));
        let identify = CommandError::Usage("/identify [NICK] PASSWORD");
        assert_eq!(parse("/identify"), Err(identify.clone()));
        assert_eq!(parse("/identify a b c"), Err(identify));
        assert_eq!(parse("/drop now"), Err(CommandError::Usage("/drop")));
        assert_eq!(parse("/kick #a"), Err(CommandError::Usage("/kick [#room] NICK [reason]")));
        assert_eq!(
            parse("/history #a many"),
            Err(CommandError::Usage("/history [#room|NICK] [N]"))
        );
        assert_eq!(parse("/history #a 0"), Err(CommandError::Usage("/history [#room|NICK] [N]")));
        assert_eq!(parse("/history 0"), Err(CommandError::Usage("/history [#room|NICK] [N]")));
        let huge = "/history 99999999999999999999999";
        assert_eq!(parse(huge), Err(CommandError::Usage("/history [#room|NICK] [N]")));
        assert_eq!(parse("/history 7"), Ok(Some(Command::History { of: None, count: Some(7) })));
    }

    #[test]
    fn unknown_commands_are_named() {
        assert_eq!(parse("/ban bob"), Err(CommandError::Unknown("ban".into())));
        assert_eq!(parse("/"), Err(CommandError::Unknown("".into())));
    }

    #[test]
    fn every_command_round_trips() {
        let all = [
            Command::Say("hi there".into()),
            Command::Say("/not a command".into()),
            Command::Me("waves".into()),
            Command::Msg { to: "bob".into(), text: "psst  hi".into() },
            Command::Msg { to: "#rust".into(), text: "hello room".into() },
            Command::Join("#rust".into()),
            Command::Part { room: None, reason: None },
            Command::Part { room: s("#rust"), reason: None },
            Command::Part { room: s("#rust"), reason: s("bye all") },
            Command::Part { room: None, reason: s("bye all") },
            Command::List,
            Command::Topic { room: None, text: None },
            Command::Topic { room: s("#a"), text: s("a topic") },
            Command::Names(None),
            Command::Names(s("#a")),
            Command::Nick("zoë".into()),
            Command::Quit(None),
            Command::Quit(s("bye now")),
            Command::Help,
            Command::Pong("42".into()),
            Command::Register("s3cret-pw".into()),
            Command::Identify { nick: None, password: "s3cret-pw".into() },
            Command::Identify { nick: s("ann"), password: "s3cret-pw".into() },
            Command::Drop,
            Command::RegisterRoom(None),
            Command::RegisterRoom(s("#a")),
            Command::DropRoom(None),
            Command::DropRoom(s("#a")),
            Command::Kick { room: None, nick: "bob".into(), reason: None },
            Command::Kick { room: s("#a"), nick: "bob".into(), reason: s("be nice") },
            Command::History { of: None, count: None },
            Command::History { of: s("#a"), count: Some(20) },
            Command::History { of: s("bob"), count: None },
            Command::History { of: None, count: Some(5) },
        ];
        for command in all {
            assert_eq!(parse(&command.to_line()), Ok(Some(command.clone())), "{command:?}");
        }
    }
}

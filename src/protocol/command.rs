//! What a registered client may send: a plain line is a message, `/` starts a command.

use thiserror::Error;

/// One line from a registered client, as the server understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A message to the whole room (a plain line, or `//text` for a literal `/text`).
    Say(String),
    /// `/nick NEW`: change nickname.
    Nick(String),
    /// `/who`: list the people online.
    Who,
    /// `/msg NICK text`: a private message only the two of them see.
    Msg {
        /// The recipient's nickname.
        to: String,
        /// What to tell them.
        text: String,
    },
    /// `/me action`: an action, shown as `* nick action`.
    Me(String),
    /// `/quit [reason]`: leave the room.
    Quit(Option<String>),
    /// `/help`: list the commands.
    Help,
    /// `/pong TOKEN`: the automatic answer to a server `PING`.
    Pong(String),
}

/// Why a line starting with `/` was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The command name is not one the server knows.
    #[error("unknown command /{0}; /help lists the commands")]
    Unknown(String),
    /// A known command with missing arguments.
    #[error("usage: {0}")]
    Usage(&'static str),
}

/// The server's `/help` text, one entry per line.
pub const HELP: &[&str] = &[
    "text             send text to the room (//text sends a line starting with /)",
    "/nick NEW        change your nickname",
    "/who             list the people online",
    "/msg NICK text   send a private message",
    "/me action       describe an action",
    "/quit [reason]   leave",
    "/help            show this list",
];

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
            Command::Nick(nick) => format!("/nick {nick}"),
            Command::Who => "/who".to_string(),
            Command::Msg { to, text } => format!("/msg {to} {text}"),
            Command::Me(text) => format!("/me {text}"),
            Command::Quit(None) => "/quit".to_string(),
            Command::Quit(Some(reason)) => format!("/quit {reason}"),
            Command::Help => "/help".to_string(),
            Command::Pong(token) => format!("/pong {token}"),
        }
    }
}

fn parse_named(name: &str, args: &str) -> Result<Command, CommandError> {
    let command = match name.to_ascii_lowercase().as_str() {
        "nick" => Command::Nick(one_word(args).ok_or(CommandError::Usage("/nick NEW"))?),
        "who" => Command::Who,
        "msg" => {
            let (to, text) = split_word(args);
            if to.is_empty() || text.trim().is_empty() {
                return Err(CommandError::Usage("/msg NICK text"));
            }
            Command::Msg { to: to.to_string(), text: text.to_string() }
        }
        "me" if !args.trim().is_empty() => Command::Me(args.to_string()),
        "me" => return Err(CommandError::Usage("/me action")),
        "quit" => Command::Quit(Some(args.trim()).filter(|r| !r.is_empty()).map(String::from)),
        "help" => Command::Help,
        "pong" => Command::Pong(args.trim().to_string()),
        _ => return Err(CommandError::Unknown(name.to_string())),
    };
    Ok(command)
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
        assert_eq!(parse("/WHO"), Ok(Some(Command::Who)));
        assert_eq!(
            parse("/msg bob hi  there"),
            Ok(Some(Command::Msg { to: "bob".into(), text: "hi  there".into() }))
        );
        assert_eq!(parse("/me waves"), Ok(Some(Command::Me("waves".into()))));
        assert_eq!(parse("/quit"), Ok(Some(Command::Quit(None))));
        assert_eq!(parse("/quit see you"), Ok(Some(Command::Quit(Some("see you".into())))));
        assert_eq!(parse("/help"), Ok(Some(Command::Help)));
        assert_eq!(parse("/pong 7"), Ok(Some(Command::Pong("7".into()))));
    }

    #[test]
    fn missing_arguments_are_usage_errors() {
        assert_eq!(parse("/nick"), Err(CommandError::Usage("/nick NEW")));
        assert_eq!(parse("/nick a b"), Err(CommandError::Usage("/nick NEW")));
        assert_eq!(parse("/msg bob"), Err(CommandError::Usage("/msg NICK text")));
        assert_eq!(parse("/me "), Err(CommandError::Usage("/me action")));
    }

    #[test]
    fn unknown_commands_are_named() {
        assert_eq!(parse("/kick bob"), Err(CommandError::Unknown("kick".into())));
        assert_eq!(parse("/"), Err(CommandError::Unknown("".into())));
    }

    #[test]
    fn every_command_round_trips() {
        let all = [
            Command::Say("hi there".into()),
            Command::Say("/not a command".into()),
            Command::Nick("zoë".into()),
            Command::Who,
            Command::Msg { to: "bob".into(), text: "psst  hi".into() },
            Command::Me("waves".into()),
            Command::Quit(None),
            Command::Quit(Some("bye now".into())),
            Command::Help,
            Command::Pong("42".into()),
        ];
        for command in all {
            assert_eq!(parse(&command.to_line()), Ok(Some(command.clone())), "{command:?}");
        }
    }
}

//! What the person typed: the few lines the client acts on itself, and everything else,
//! which goes to the server exactly as typed.

use crate::proto::chat::Command;

/// The client's own commands and keys, shown by `/help` before the server's list.
pub const CLIENT_HELP: &[&str] = &[
    "client: /quit [reason] or Ctrl-D leaves; Ctrl-C clears the line",
    "client: Up/Down walk the history, Ctrl-R searches it (lines with passwords are not kept)",
    "client: /register or /identify alone asks for the password without showing it",
    "client: Tab completes nicknames of the current room, and room names after /join",
    "client: a lost connection is made again by itself, back in the same rooms",
    "client: /help shows this, then the server's commands:",
];

/// One typed line, as the client understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// Blank: nothing to send.
    Empty,
    /// `/quit [reason]`: leave, then exit.
    Quit(Option<&'a str>),
    /// `/help`: show the client's help, then ask the server for its own.
    Help,
    /// `/register` or `/identify` without a password: a terminal asks for it unseen, then
    /// sends the line with it.
    AskPassword(&'a str),
    /// Anything else, sent as typed; the server answers mistakes with an `ERROR`.
    Send(&'a str),
}

impl Input<'_> {
    /// Classifies one typed line (without its newline).
    pub fn parse(line: &str) -> Input<'_> {
        match Command::parse(line) {
            Ok(None) => Input::Empty,
            Ok(Some(Command::Quit(_))) => Input::Quit(quit_reason(line)),
            Ok(Some(Command::Help)) => Input::Help,
            _ if ASKS_PASSWORD.iter().any(|verb| line.trim().eq_ignore_ascii_case(verb)) => {
                Input::AskPassword(line.trim())
            }
            _ => Input::Send(line),
        }
    }
}

/// The commands that, typed alone, ask for their password unseen.
const ASKS_PASSWORD: &[&str] = &["/register", "/identify"];

/// Whether `line` may hold a password: `/register ...` or `/identify ...`, well formed or
/// not (a mistyped one holds the password all the same). Such a line is never kept in the
/// line history, in memory or on disk.
pub fn holds_secret(line: &str) -> bool {
    let word = line.split_whitespace().next().unwrap_or("");
    ASKS_PASSWORD.iter().any(|verb| word.eq_ignore_ascii_case(verb))
}

/// The reason of a `/quit reason` line, borrowed from it.
fn quit_reason(line: &str) -> Option<&str> {
    let rest = line.trim_start().get("/quit".len()..).unwrap_or("").trim();
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_lines() {
        assert_eq!(Input::parse("  "), Input::Empty);
        assert_eq!(Input::parse("/quit"), Input::Quit(None));
        assert_eq!(Input::parse("/QUIT  gone fishing "), Input::Quit(Some("gone fishing")));
        assert_eq!(Input::parse("/help"), Input::Help);
        assert_eq!(Input::parse("hello"), Input::Send("hello"));
        assert_eq!(Input::parse("//quit"), Input::Send("//quit"));
        assert_eq!(Input::parse("/frobnicate"), Input::Send("/frobnicate"));
        assert_eq!(Input::parse("/msg bob hi"), Input::Send("/msg bob hi"));
        assert_eq!(Input::parse(" /Identify "), Input::AskPassword("/Identify"));
        assert_eq!(Input::parse("/register"), Input::AskPassword("/register"));
        assert_eq!(Input::parse("/identify hunter2"), Input::Send("/identify hunter2"));
    }

    #[test]
    fn lines_with_passwords_are_known_even_when_mistyped() {
        for line in ["/register hunter2", "/IDENTIFY ann hunter2", "  /identify a b c", "/register"]
        {
            assert!(holds_secret(line), "{line}");
        }
        for line in ["/register-room #a", "/registered", "hello /identify x", "//identify x", ""] {
            assert!(!holds_secret(line), "{line}");
        }
    }
}

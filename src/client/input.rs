//! What the person typed: the few lines the client acts on itself, and everything else,
//! which goes to the server exactly as typed.

use crate::proto::chat::Command;

/// The client's own commands and keys, shown by `/help` before the server's list.
pub const CLIENT_HELP: &[&str] = &[
    "client: /quit [reason] or Ctrl-D leaves; Ctrl-C clears the line",
    "client: Up/Down walk the history, Ctrl-R searches it",
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
            _ => Input::Send(line),
        }
    }
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
    }
}

//! Reading a script: one step per line, every mistake reported with its line number before
//! anything is sent.

use std::time::Duration;

use thiserror::Error;

use super::{Action, Script, Step};
use crate::proto::chat::{is_forbidden, Command, CommandError};

/// A line of a script that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl Script {
    /// Parses a whole script; the first bad line is the error.
    pub fn parse(text: &str) -> Result<Script, ParseError> {
        let mut steps: Vec<Step> = Vec::new();
        let mut last_line = 0;
        for (index, text) in text.lines().enumerate() {
            let line = index + 1;
            last_line = line;
            let fail = |message| ParseError { line, message };
            let Some(action) = parse_line(text).map_err(fail)? else { continue };
            if let Some(quit) = steps.last().filter(|s| matches!(s.action, Action::Quit(_))) {
                return Err(fail(format!("nothing can follow the /quit on line {}", quit.line)));
            }
            steps.push(Step { line, action });
        }
        Ok(Script { steps, last_line })
    }
}

/// One line: `None` for blank lines and comments.
fn parse_line(text: &str) -> Result<Option<Action>, String> {
    if text.trim().is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    if let Some(c) = text.chars().find(|&c| is_forbidden(c)) {
        return Err(format!(
            "control character U+{:04X}; the server would refuse it",
            u32::from(c)
        ));
    }
    let Some(rest) = text.strip_prefix('/').filter(|rest| !rest.starts_with('/')) else {
        return Ok(Some(Action::Send(text.to_string())));
    };
    let (name, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let args = args.trim();
    let action = match name.to_ascii_lowercase().as_str() {
        "sleep" => Action::Sleep(duration(args)?),
        "expect" if args.is_empty() => return Err("usage: /expect TEXT".into()),
        "expect" => Action::Expect(args.to_string()),
        "quit" => Action::Quit((!args.is_empty()).then(|| args.to_string())),
        _ => server_command(text)?,
    };
    Ok(Some(action))
}

/// The argument of `/sleep`.
fn duration(args: &str) -> Result<Duration, String> {
    if args.is_empty() {
        return Err("usage: /sleep DURATION (for example 250ms or 2s)".into());
    }
    humantime::parse_duration(args)
        .map_err(|error| format!("bad duration {args:?}: {error} (for example 250ms or 2s)"))
}

/// Any other `/command` must be one the server knows, with its arguments.
fn server_command(text: &str) -> Result<Action, String> {
    match Command::parse(text) {
        Ok(_) => Ok(Action::Send(text.to_string())),
        Err(CommandError::Unknown(name)) => Err(format!(
            "unknown command /{name}: a script may use /sleep, /expect, /quit and the \
             server's commands (/join, /part, /list, /topic, /names, /msg, /me, /nick, /help)"
        )),
        Err(error @ CommandError::Usage(_)) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> Vec<(usize, Action)> {
        let script = Script::parse(text).unwrap_or_else(|e| panic!("{e}"));
        script.steps.into_iter().map(|step| (step.line, step.action)).collect()
    }

    fn error(text: &str) -> (usize, String) {
        match Script::parse(text) {
            Ok(script) => panic!("parsed: {script:?}"),
            Err(error) => (error.line, error.message),
        }
    }

    fn send(text: &str) -> Action {
        Action::Send(text.to_string())
    }

    #[test]
    fn lines_and_server_commands_are_sent_as_typed() {
        let script =
            "hello  there\n/me waves\n/msg bob hi\n//not a command\n/WHO\n/nick rob\n/help";
        let want = [
            send("hello  there"),
            send("/me waves"),
            send("/msg bob hi"),
            send("//not a command"),
            send("/WHO"),
            send("/nick rob"),
            send("/help"),
        ];
        let got: Vec<Action> = steps(script).into_iter().map(|(_, action)| action).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_but_counted() {
        let script = "# a bot\n\n   \n  # not a comment\nhi\r\n# the end\n";
        assert_eq!(steps(script), vec![(4, send("  # not a comment")), (5, send("hi"))]);
        assert_eq!(Script::parse(script).map(|s| s.last_line), Ok(6));
    }

    #[test]
    fn directives() {
        let script = "/sleep 250ms\n/SLEEP 2s\n/expect <bob>  pong 1 \n/quit good game";
        assert_eq!(
            steps(script),
            vec![
                (1, Action::Sleep(Duration::from_millis(250))),
                (2, Action::Sleep(Duration::from_secs(2))),
                (3, Action::Expect("<bob>  pong 1".into())),
                (4, Action::Quit(Some("good game".into()))),
            ]
        );
        assert_eq!(steps("/quit"), vec![(1, Action::Quit(None))]);
        assert_eq!(steps("/sleep 1m 30s"), vec![(1, Action::Sleep(Duration::from_secs(90)))]);
    }

    #[test]
    fn bad_lines_name_their_line() {
        assert_eq!(error("hi\n/sleep").0, 2);
        assert!(error("/sleep").1.starts_with("usage: /sleep DURATION"));
        let (line, message) = error("\n\n/sleep soon");
        assert_eq!(line, 3);
        assert!(message.starts_with("bad duration \"soon\""), "{message}");
        assert_eq!(error("/expect   "), (1, "usage: /expect TEXT".to_string()));
        let (line, message) = error("ok\n/exepct pong");
        assert_eq!(line, 2);
        assert!(message.starts_with("unknown command /exepct"), "{message}");
        assert_eq!(error("/msg bob"), (1, "usage: /msg NICK text".to_string()));
        assert_eq!(error("/me"), (1, "usage: /me action".to_string()));
        let (line, message) = error("a\x1b[31mred");
        assert_eq!(line, 1);
        assert!(message.contains("U+001B"), "{message}");
    }

    #[test]
    fn nothing_follows_quit() {
        assert_eq!(
            error("/quit\n# comments are fine\n\nhello"),
            (4, "nothing can follow the /quit on line 1".to_string())
        );
    }

    #[test]
    fn an_empty_script_has_no_steps() {
        assert_eq!(Script::parse(""), Ok(Script { steps: vec![], last_line: 0 }));
    }
}

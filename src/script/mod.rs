//! Bot scripts: what a person would type, one line at a time, plus a few client-side
//! directives (`/sleep`, `/expect`, `/quit`). `bots/README.md` documents the format.
//!
//! [`Script::parse`] checks a whole script before anything is sent; [`run`] plays it
//! against a server, printing what it receives in the plain rendering that `/expect`
//! matches against; [`run_file`] is the `smolchat --script FILE` mode.

mod parse;
mod run;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use crate::client::Destination;

pub use parse::ParseError;
pub use run::{run, Failure};

/// A parsed script: its steps in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// What to do, in order; blank lines and comments are gone.
    pub steps: Vec<Step>,
    /// The number of the file's last line, where the closing `/quit` is reported.
    pub last_line: usize,
}

/// One step, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The 1-based line number in the script.
    pub line: usize,
    /// What the step does.
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this line to the server exactly as written (a message or a server command).
    Send(String),
    /// `/sleep DURATION`: pause, still printing what arrives.
    Sleep(Duration),
    /// `/expect TEXT`: wait until a line received after the previous step contains TEXT.
    Expect(String),
    /// `/quit [reason]`: leave; it is always the last step.
    Quit(Option<String>),
}

/// How to run a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOptions {
    /// Where the server is.
    pub destination: Destination,
    /// The bot's nickname; [`run_file`] defaults it to the file's name without extension.
    pub nick: Option<String>,
    /// How long each `/expect` (and the final wait for the server to close) may take.
    pub expect_timeout: Duration,
}

/// Why a script file failed: `FILE:LINE: what went wrong`.
#[derive(Debug, Error)]
pub struct ScriptError {
    /// The script's path as given (`-` for standard input).
    pub file: String,
    /// The line it failed at, when there is one.
    pub line: Option<usize>,
    /// What went wrong.
    pub what: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.what),
            None => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

/// Reads the script at `path` (`-` for standard input), parses it, and runs it, printing
/// what the bot receives to standard output.
pub fn run_file(path: &str, options: &ScriptOptions) -> Result<(), ScriptError> {
    let fail = |line, what: String| ScriptError { file: path.to_string(), line, what };
    let text =
        read(path).map_err(|error| fail(None, format!("cannot read the script: {error}")))?;
    let script = Script::parse(&text).map_err(|error| fail(Some(error.line), error.message))?;
    let nick = options.nick.clone().or_else(|| nick_from_path(path));
    let nick =
        nick.ok_or_else(|| fail(None, "a script from standard input needs --nick".into()))?;
    let options = ScriptOptions { nick: Some(nick), ..options.clone() };
    let mut out = std::io::stdout();
    smol::block_on(run(&script, &options, &mut out))
        .map_err(|failure| fail(Some(failure.line), failure.what))
}

fn read(path: &str) -> std::io::Result<String> {
    if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
}

/// `bots/greeter.chat` plays as `greeter`.
fn nick_from_path(path: &str) -> Option<String> {
    if path == "-" {
        return None;
    }
    Path::new(path).file_stem().map(|stem| stem.to_string_lossy().into_owned())
}

//! Bot scripts: what a person would type, one line at a time, plus client-side directives
//! (`/sleep`, `/expect`, `/await`, `/set`, `/pick`, `/quit`) and blocks that answer what
//! arrives (`/on`) or run on a clock (`/every`, `/after`). `bots/README.md` documents the
//! format.
//!
//! [`Script::parse`] checks a whole script before anything is sent; [`run`] plays it
//! against a server, printing what it receives in the plain rendering that patterns match
//! against; [`run_file`] is the `smolchat --script FILE` mode.

mod pace;
mod parse;
mod pattern;
mod run;
mod vars;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use crate::client::Destination;

pub use pace::Pace;
pub use parse::ParseError;
pub use pattern::Pattern;
pub use run::{run, Failure};

/// A parsed script: its steps in order, and the blocks that run beside them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// What to do, in order; blank lines, comments and blocks are gone.
    pub steps: Vec<Step>,
    /// The `/on` blocks, in the order written: each runs whenever a line matches it.
    pub rules: Vec<Rule>,
    /// The `/every` and `/after` blocks, in the order written.
    pub timers: Vec<Timed>,
    /// The number of the file's last line, where the closing `/quit` is reported.
    pub last_line: usize,
}

impl Script {
    /// Whether the bot stays after its last step, answering (it has rules or timers).
    pub fn stays(&self) -> bool {
        !self.rules.is_empty() || !self.timers.is_empty()
    }
}

/// One step, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The 1-based line number in the script.
    pub line: usize,
    /// What the step does.
    pub action: Action,
}

/// What a step does. Texts may hold variables (`$1`, `$name`, `$$`), filled in when the
/// step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this line to the server as written (a message or a server command).
    Send(String),
    /// `/sleep DURATION`: pause, still printing (and answering) what arrives.
    Sleep(Duration),
    /// `/expect PATTERN`: wait until a line received after the previous step matches.
    Expect(Pattern),
    /// `/await NICK`: wait until NICK is in the current room (at once if already there).
    Await(String),
    /// `/set NAME value`: give a variable a value.
    Set {
        /// The variable, without its `$`.
        name: String,
        /// Its value, itself expanded when the step runs.
        value: String,
    },
    /// `/pick a | b | c`: send one of these lines, at random.
    Pick(Vec<String>),
    /// `/once-per DURATION KEY` (in a block): stop the block here if it already went past
    /// this line with the same KEY within DURATION.
    OncePer {
        /// How long a KEY is remembered.
        period: Duration,
        /// What is remembered, expanded (`$1`, for the person a rule answers).
        key: String,
    },
    /// `/quit [reason]`: leave; in the main steps it is always the last.
    Quit(Option<String>),
}

/// `/on [#room] PATTERN` ... `/end`: steps run each time a received line matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The line of the `/on`.
    pub line: usize,
    /// Only lines of this room match, when given.
    pub room: Option<String>,
    /// What a line must match (its printed form).
    pub pattern: Pattern,
    /// What to do then; never a step that waits.
    pub body: Vec<Step>,
}

/// `/every DURATION` or `/after DURATION` ... `/end`: steps run on a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed {
    /// The line of the `/every` or `/after`.
    pub line: usize,
    /// How long after the bot joins (and, for `/every`, between runs).
    pub period: Duration,
    /// `/every` runs again and again; `/after` once.
    pub repeat: bool,
    /// What to do then; never a step that waits.
    pub body: Vec<Step>,
}

/// How to run a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOptions {
    /// Where the server is.
    pub destination: Destination,
    /// The bot's nickname; [`run_file`] defaults it to the file's name without extension.
    pub nick: Option<String>,
    /// How long each `/expect` and `/await` (and the final wait for the server to close)
    /// may take.
    pub expect_timeout: Duration,
    /// Seeds `/pick`, so that a bot picks the same way every run; random when `None`.
    pub seed: Option<u64>,
    /// Whether a lost connection is taken up again rather than the end of the bot.
    pub reconnect: bool,
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

//! The line editor of the interactive client: rustyline, with its history kept in a file
//! across runs and Tab completing the names the [`Roster`] has heard of.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustyline::completion::Completer;
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, ExternalPrinter, Helper};

use super::input::holds_secret;
use super::roster::{word_start, Roster};
use super::session::ChatError;

/// How many lines the history keeps.
const HISTORY_SIZE: usize = 1000;

/// The most names one Tab offers: rustyline panics past 65,535, and nobody reads more
/// than a few screens of them.
const MAX_CANDIDATES: usize = 1000;

/// What one `readline` produced.
pub(super) enum Typed {
    /// A line (Enter).
    Line(String),
    /// Ctrl-C, or a wake from the printer thread.
    Interrupted,
    /// Ctrl-D on an empty line.
    Eof,
}

/// rustyline's helper: completes names from the roster the printer thread keeps.
pub(super) struct Names {
    /// Shared with the thread that reads the server's lines.
    roster: Arc<Mutex<Roster>>,
}

impl Completer for Names {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(complete(&self.roster.lock().unwrap_or_else(|e| e.into_inner()), line, pos))
    }
}

/// Where the word at `pos` starts, and what it may become: at most [`MAX_CANDIDATES`]
/// words, the first in order.
fn complete(roster: &Roster, line: &str, pos: usize) -> (usize, Vec<String>) {
    let start = word_start(line, pos);
    let word = line.get(start..pos).unwrap_or("");
    let mut candidates = roster.candidates(line.get(..pos).unwrap_or(line), word);
    candidates.truncate(MAX_CANDIDATES);
    (start, candidates)
}

// Completion is all the help the editor needs: no hints, colours or multi-line input.
impl Hinter for Names {
    type Hint = String;
}
impl Highlighter for Names {}
impl Validator for Names {}
impl Helper for Names {}

/// The line editor and where its history is kept.
pub(super) struct Editor {
    /// rustyline itself.
    lines: rustyline::Editor<Names, FileHistory>,
    /// The history file, if any.
    history: Option<PathBuf>,
}

impl Editor {
    /// A line editor with the history from `history` loaded (a missing file is fine),
    /// completing names from `roster`.
    pub(super) fn open(
        history: Option<PathBuf>,
        roster: Arc<Mutex<Roster>>,
    ) -> Result<Editor, ChatError> {
        let config = Config::builder()
            .max_history_size(HISTORY_SIZE)
            .and_then(|builder| builder.history_ignore_dups(true))
            .map_err(terminal_error)?
            .history_ignore_space(true)
            .auto_add_history(false)
            // Like a shell: complete what is common, list the rest on a second Tab.
            .completion_type(CompletionType::List)
            .build();
        let mut lines = rustyline::Editor::with_config(config).map_err(terminal_error)?;
        lines.set_helper(Some(Names { roster }));
        if let Some(path) = &history {
            let _ = lines.load_history(path);
        }
        Ok(Editor { lines, history })
    }

    /// Reads one line at `prompt`, starting from `draft` (a line that could not be sent).
    pub(super) fn read(&mut self, prompt: &str, draft: &str) -> Result<Typed, ChatError> {
        match self.lines.readline_with_initial(prompt, (draft, "")) {
            Ok(line) => Ok(Typed::Line(line)),
            Err(ReadlineError::Interrupted) => Ok(Typed::Interrupted),
            Err(ReadlineError::Eof) => Ok(Typed::Eof),
            Err(error) => Err(terminal_error(error)),
        }
    }

    /// A way to print above the prompt from another thread, even while `read` waits.
    pub(super) fn printer(&mut self) -> Result<impl ExternalPrinter + Send + 'static, ChatError> {
        self.lines.create_external_printer().map_err(terminal_error)
    }

    /// Adds a sent line to the history, unless it holds a password: the history is a
    /// plain file, and Up would show the password to whoever is at the keyboard next.
    pub(super) fn remember(&mut self, line: &str) {
        if !holds_secret(line) {
            let _ = self.lines.add_history_entry(line);
        }
    }

    /// Writes the history back; a failure is reported but does not change the exit code.
    pub(super) fn save_history(&mut self) {
        let Some(path) = &self.history else { return };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(error) = self.lines.save_history(path) {
            let _ = writeln!(
                io::stderr(),
                "smolchat: cannot save history to {}: {error}",
                path.display()
            );
        }
    }
}

fn terminal_error(error: ReadlineError) -> ChatError {
    ChatError::Terminal(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::chat::Line;

    #[test]
    fn tab_completes_the_word_before_the_cursor() {
        let mut roster = Roster::new("alice");
        roster.follow(&Line::Join { room: "#lobby".into(), nick: "alice".into() });
        roster.follow(&Line::Names {
            room: "#lobby".into(),
            nicks: vec!["alice".into(), "bob".into(), "bobby".into()],
        });
        roster.follow(&Line::Room { room: Some("#lobby".into()) });
        roster.follow(&Line::List { room: "#rust".into(), members: 2, topic: String::new() });
        assert_eq!(complete(&roster, "hi bo", 5), (3, vec!["bob".into(), "bobby".into()]));
        assert_eq!(complete(&roster, "hi bo there", 5), (3, vec!["bob".into(), "bobby".into()]));
        assert_eq!(complete(&roster, "/join #ru", 9), (6, vec!["#rust".into()]));
        assert_eq!(complete(&roster, "/join #ru", 2), (0, vec![]));
    }

    #[test]
    fn tab_offers_at_most_a_thousand_names() {
        // rustyline panics past 65,535 candidates; nobody reads more than a screenful.
        let mut roster = Roster::new("alice");
        roster.follow(&Line::Join { room: "#lobby".into(), nick: "alice".into() });
        let nicks = (0..1500).map(|n| format!("bob{n}")).collect();
        roster.follow(&Line::Names { room: "#lobby".into(), nicks });
        roster.follow(&Line::Room { room: Some("#lobby".into()) });
        let (_, offered) = complete(&roster, "b", 1);
        assert_eq!(offered.len(), MAX_CANDIDATES);
        assert!(offered.iter().all(|name| name.starts_with("bob")));
    }
}
